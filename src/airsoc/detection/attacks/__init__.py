"""Detectors for attacks on tabular models: evasion, extraction and training-data poisoning.

Example:
    >>> from airsoc.detection.attacks import PoisoningScreen
    >>> PoisoningScreen().name
    'data_poisoning'
"""

from __future__ import annotations

from airsoc.detection.attacks.evasion import EvasionDetector, EvasionScores
from airsoc.detection.attacks.extraction import ExtractionDetector
from airsoc.detection.attacks.poisoning import PoisoningScreen, ScreeningResult

__all__ = [
    "EvasionDetector",
    "EvasionScores",
    "ExtractionDetector",
    "PoisoningScreen",
    "ScreeningResult",
]
