"""Return ADWIN, the adaptive-window detector (Bifet and Gavalda, 2007).

ADWIN keeps a window of recent values and drops its older part whenever some split of the
window into an old and a new part shows means further apart than the bound

    eps = sqrt(2 / m * var * ln(2 / d)) + 2 / (3 m) * ln(2 / d),   m = 1 / (1/n0 + 1/n1),
    d = delta / ln(n),

so the window is always the longest recent stretch consistent with a stationary mean. This
implementation keeps the values themselves (up to ``max_window``) and checks every split with
prefix sums every ``clock`` values, instead of river's exponential histogram: the same test,
exact rather than compressed.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> stream = np.concatenate([rng.normal(0, 1, 1000), rng.normal(1.5, 1, 500)])
    >>> d = ADWIN()
    >>> hits = []
    >>> for i, x in enumerate(stream):
    ...     d.update(x)
    ...     if d.drift_detected:
    ...         hits.append(i)
    >>> len(hits), 1000 <= hits[0] < 1100
    (1, True)
"""

from __future__ import annotations

import math

import numpy as np

from airsoc.detection.streaming.base import StreamingDetector
from airsoc.errors import InputError

__all__ = ["ADWIN"]


class ADWIN(StreamingDetector):
    """Return-type of ``ADWIN(...)``: an adaptive-window mean-change detector."""

    name = "adwin"

    def __init__(
        self,
        delta: float = 0.002,
        clock: int = 32,
        min_window_length: int = 5,
        max_window: int = 20_000,
    ) -> None:
        if not 0 < delta < 1:
            raise InputError(f"adwin: delta must be in (0, 1), got {delta}")
        if clock < 1 or min_window_length < 1 or max_window < 2 * min_window_length:
            raise InputError("adwin: clock, min_window_length and max_window must be positive")
        self.delta = delta
        self.clock = clock
        self.min_window_length = min_window_length
        self.max_window = max_window
        super().__init__()

    def _reset_state(self) -> None:
        self.window_: list[float] = []
        self.width_ = 0

    @property
    def estimation(self) -> float:
        """Return the mean of the current window."""
        return float(np.mean(self.window_)) if self.window_ else 0.0

    def _update(self, x: float) -> None:
        self.window_.append(x)
        if len(self.window_) > self.max_window:
            del self.window_[0]
        self.width_ = len(self.window_)
        if self.n_seen_ % self.clock or self.width_ < 2 * self.min_window_length:
            return
        while self._cut():
            self.drift_detected = True
        self.width_ = len(self.window_)

    def _cut(self) -> bool:
        values = np.asarray(self.window_)
        n = len(values)
        if n < 2 * self.min_window_length:
            return False
        k = self.min_window_length
        cums = np.cumsum(values)
        n0 = np.arange(k, n - k + 1, dtype=np.float64)
        n1 = n - n0
        mu0 = cums[k - 1 : n - k] / n0
        mu1 = (cums[-1] - cums[k - 1 : n - k]) / n1
        var = float(values.var())
        d = self.delta / math.log(n)
        m = 1.0 / (1.0 / n0 + 1.0 / n1)
        log_term = math.log(2.0 / d)
        eps = np.sqrt(2.0 / m * var * log_term) + 2.0 / (3.0 * m) * log_term
        over = np.nonzero(np.abs(mu0 - mu1) > eps)[0]
        if not len(over):
            return False
        # Drop the oldest part up to the last split that shows the change.
        del self.window_[: int(n0[over[-1]])]
        return True
