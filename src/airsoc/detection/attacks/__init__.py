"""Detectors for attacks on tabular models: evasion, extraction and training-data poisoning.

Example:
    >>> from airsoc.detection.attacks import PoisoningScreen
    >>> PoisoningScreen().name
    'data_poisoning'
"""

from __future__ import annotations

from airsoc.detection.attacks.evasion import EvasionDetector, EvasionScores
from airsoc.detection.attacks.extraction import ExtractionDetector
from airsoc.detection.attacks.poisoning import (
    LabelDisagreement,
    PoisoningScreen,
    ScreeningResult,
    TrustedModel,
    fit_trusted,
    label_disagreement,
    near_duplicates,
    read_frame,
    screen_batch,
    spectral_signature,
)

__all__ = [
    "EvasionDetector",
    "EvasionScores",
    "ExtractionDetector",
    "LabelDisagreement",
    "PoisoningScreen",
    "ScreeningResult",
    "TrustedModel",
    "fit_trusted",
    "label_disagreement",
    "near_duplicates",
    "read_frame",
    "screen_batch",
    "spectral_signature",
]
