"""Return the Page-Hinkley test: a cumulative deviation from the running mean (Page, 1954).

``sum`` accumulates ``x - mean - delta`` (fading by ``alpha``); a rise of ``sum`` above its
minimum by more than ``threshold`` is an upward change, a fall below its maximum a downward one
(``mode`` picks which count). As in river, nothing fires before ``min_instances`` values.
``delta`` and ``threshold`` are in the units of the data; the defaults (river's) suit error
rates and scores in [0, 1]; rescale them for wider streams.

Example:
    >>> d = PageHinkley(mode="down")
    >>> for x in [10.0] * 100 + [0.0] * 20:
    ...     d.update(x)
    ...     if d.drift_detected:
    ...         break
    >>> d.drift_detected, d.n_seen_
    (True, 106)
"""

from __future__ import annotations

from typing import Literal

from airsoc.detection.streaming.base import StreamingDetector
from airsoc.errors import InputError

__all__ = ["PageHinkley"]


class PageHinkley(StreamingDetector):
    """Return-type of ``PageHinkley(...)``: a change detector on a stream's mean."""

    name = "page_hinkley"

    def __init__(
        self,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 0.0001,
        mode: Literal["up", "down", "both"] = "both",
    ) -> None:
        if mode not in ("up", "down", "both"):
            raise InputError(f"page_hinkley: mode must be up, down or both, got {mode!r}")
        if threshold <= 0 or not 0 < alpha <= 1:
            raise InputError("page_hinkley: threshold must be positive and alpha in (0, 1]")
        self.min_instances = min_instances
        self.delta = delta
        self.threshold = threshold
        self.alpha = alpha
        self.mode = mode
        super().__init__()

    def _reset_state(self) -> None:
        self.mean_ = 0.0
        self.sum_ = 0.0
        self.min_ = 0.0
        self.max_ = 0.0

    def _update(self, x: float) -> None:
        self.mean_ += (x - self.mean_) / self.n_seen_
        self.sum_ = self.alpha * self.sum_ + (x - self.mean_ - self.delta)
        self.min_ = min(self.min_, self.sum_)
        self.max_ = max(self.max_, self.sum_)
        if self.n_seen_ < self.min_instances:
            return
        up = self.sum_ - self.min_ > self.threshold
        down = self.max_ - self.sum_ > self.threshold
        self.drift_detected = (up and self.mode != "down") or (down and self.mode != "up")
