"""Streaming drift detectors in river's shape: ADWIN, Page-Hinkley, DDM and CUSUM.

Example:
    >>> sorted(STREAMING_DETECTORS)
    ['adwin', 'cusum', 'ddm', 'page_hinkley']
"""

from __future__ import annotations

from airsoc.detection.streaming.adwin import ADWIN
from airsoc.detection.streaming.base import StreamingDetector
from airsoc.detection.streaming.cusum import CUSUM
from airsoc.detection.streaming.ddm import DDM
from airsoc.detection.streaming.page_hinkley import PageHinkley

__all__ = ["ADWIN", "CUSUM", "DDM", "STREAMING_DETECTORS", "PageHinkley", "StreamingDetector"]

#: Every streaming detector by name (the conventions test runs over all of them).
STREAMING_DETECTORS: dict[str, type[StreamingDetector]] = {
    cls.name: cls for cls in (ADWIN, CUSUM, DDM, PageHinkley)
}
