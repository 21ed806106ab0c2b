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
from airsoc.detection.domain import DomainClassifierReport, domain_classifier
from airsoc.detection.drift import Calibration, DriftReport, calibrate, check_drift
from airsoc.detection.fairness import FairnessReport, check_fairness
from airsoc.detection.html import render_drift_html
from airsoc.detection.inputs import Column, ColumnKind, Table, iter_tables, read_table
from airsoc.detection.outputs import OutputReport, check_outputs
from airsoc.detection.performance import WindowMetrics, check_performance, window_metrics
from airsoc.detection.profiles import (
    ColumnProfile,
    DatasetProfile,
    is_profile_file,
    load_profile,
    merge,
    profile,
)
from airsoc.detection.quality import QualityReport, check_quality
from airsoc.detection.release import check_release
from airsoc.detection.streaming import ADWIN, CUSUM, DDM, PageHinkley, StreamingDetector
from airsoc.detection.text_drift import TextDriftReport, check_text_drift
from airsoc.detection.verdict import Decision, ThresholdSource, Verdict

__all__ = [
    "ADWIN",
    "CUSUM",
    "DDM",
    "Calibration",
    "Column",
    "ColumnKind",
    "ColumnProfile",
    "DatasetProfile",
    "Decision",
    "DomainClassifierReport",
    "DriftReport",
    "FairnessReport",
    "OutputReport",
    "PageHinkley",
    "QualityReport",
    "StreamingDetector",
    "Table",
    "TextDriftReport",
    "ThresholdSource",
    "Verdict",
    "WindowMetrics",
    "calibrate",
    "check_drift",
    "check_fairness",
    "check_outputs",
    "check_performance",
    "check_quality",
    "check_release",
    "check_text_drift",
    "classify_failure_mode",
    "domain_classifier",
    "is_profile_file",
    "iter_tables",
    "load_profile",
    "merge",
    "profile",
    "read_table",
    "render_drift_html",
    "window_metrics",
]
