"""Return a two-sided tabular CUSUM on a stream's mean (Page, 1954; Montgomery's form).

The in-control mean and standard deviation come from the first ``warm_start`` values (or from
``target`` / ``sigma`` when given). ``S+ = max(0, S+ + z - k)`` and ``S- = max(0, S- - z - k)``
accumulate standardised deviations ``z`` beyond the slack ``k``; either above ``h`` is a drift,
above ``h / 2`` a warning. The defaults ``k = 0.5, h = 10`` with 500 warm-up values find a
one-sigma shift in about 25 values and stay quiet for tens of thousands of stable ones; the
textbook ``h = 5`` alarms every ~465 stable values, and parameters estimated from a short
warm-up shorten that further.

Example:
    >>> d = CUSUM(target=0.0, sigma=1.0)
    >>> for x in [0.2, -0.1, 0.0] * 10 + [1.5] * 20:
    ...     d.update(x)
    ...     if d.drift_detected:
    ...         break
    >>> d.drift_detected, d.n_seen_
    (True, 41)
"""

from __future__ import annotations

import math

from airsoc.detection.streaming.base import StreamingDetector
from airsoc.errors import InputError

__all__ = ["CUSUM"]


class CUSUM(StreamingDetector):
    """Return-type of ``CUSUM(...)``: a two-sided cumulative-sum mean-shift detector."""

    name = "cusum"

    def __init__(
        self,
        k: float = 0.5,
        h: float = 10.0,
        warm_start: int = 500,
        target: float | None = None,
        sigma: float | None = None,
    ) -> None:
        if k < 0 or h <= 0 or (sigma is not None and sigma <= 0):
            raise InputError("cusum: need k >= 0, h > 0 and a positive sigma")
        self.k = k
        self.h = h
        self.warm_start = warm_start
        self.target = target
        self.sigma = sigma
        super().__init__()

    def _reset_state(self) -> None:
        self.mean_ = 0.0
        self.m2_ = 0.0
        self.pos_ = 0.0
        self.neg_ = 0.0
        self.sd_ = 0.0

    def _update(self, x: float) -> None:
        if self.n_seen_ <= self.warm_start and (self.target is None or self.sigma is None):
            delta = x - self.mean_
            self.mean_ += delta / self.n_seen_
            self.m2_ += delta * (x - self.mean_)
            if self.n_seen_ < self.warm_start:
                return
            self.sd_ = math.sqrt(self.m2_ / max(self.n_seen_ - 1, 1))
        mu = self.target if self.target is not None else self.mean_
        sd = self.sigma or self.sd_ or 1.0
        z = (x - mu) / sd
        self.pos_ = max(0.0, self.pos_ + z - self.k)
        self.neg_ = max(0.0, self.neg_ - z - self.k)
        peak = max(self.pos_, self.neg_)
        self.drift_detected = peak > self.h
        self.warning_detected = not self.drift_detected and peak > self.h / 2
