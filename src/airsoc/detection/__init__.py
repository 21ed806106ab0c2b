"""Detection: profiles, two-sample statistics and detectors that return :class:`Verdict` objects.

Example:
    >>> import numpy as np
    >>> from airsoc.detection import check_drift
    >>> rng = np.random.default_rng(3)
    >>> check_drift({"x": rng.normal(size=2000)}, {"x": rng.normal(size=2000)}).dataset.decision
    'ok'
"""

from __future__ import annotations

from airsoc.detection.classify import classify_failure_mode
from airsoc.detection.drift import Calibration, DriftReport, calibrate, check_drift
from airsoc.detection.fairness import FairnessReport, check_fairness
from airsoc.detection.inputs import Column, ColumnKind, Table, iter_tables, read_table
from airsoc.detection.profile import (
    ColumnProfile,
    DatasetProfile,
    is_profile_file,
    load_profile,
    merge,
    profile,
)
from airsoc.detection.quality import QualityReport, check_quality
from airsoc.detection.verdict import Decision, ThresholdSource, Verdict

__all__ = [
    "Calibration",
    "Column",
    "ColumnKind",
    "ColumnProfile",
    "DatasetProfile",
    "Decision",
    "DriftReport",
    "FairnessReport",
    "QualityReport",
    "Table",
    "ThresholdSource",
    "Verdict",
    "calibrate",
    "check_drift",
    "check_fairness",
    "check_quality",
    "classify_failure_mode",
    "is_profile_file",
    "iter_tables",
    "load_profile",
    "merge",
    "profile",
    "read_table",
]
