"""Return the shared shape of streaming drift detectors (river's): ``update(x)``, then read flags.

A streaming detector sees one value at a time (an error indicator, a score, a feature value)
and raises ``drift_detected`` when the stream's distribution changed; some also raise
``warning_detected`` first. Constructor arguments are the configuration and are stored
unchanged; everything learned lives in attributes ending in ``_`` and is cleared by
:meth:`StreamingDetector.reset`. :meth:`StreamingDetector.verdict` turns the current state into
a :class:`~airsoc.detection.verdict.Verdict`.

Example:
    >>> from airsoc.detection.streaming import PageHinkley
    >>> d = PageHinkley()
    >>> for x in [0.0] * 100 + [5.0] * 50:
    ...     d.update(x)
    ...     if d.drift_detected:
    ...         break
    >>> d.drift_detected, d.n_seen_
    (True, 111)
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal

from airsoc.detection.verdict import Verdict
from airsoc.errors import InputError

__all__ = ["StreamingDetector"]


class StreamingDetector(ABC):
    """Base of the streaming detectors: ``update`` one value, read the flags, ``reset``."""

    #: Registered name, used in verdicts.
    name: ClassVar[str]
    #: What ``update`` takes: any real number, or a 0/1 error indicator.
    input_kind: ClassVar[Literal["real", "binary"]] = "real"
    #: The failure mode a drift on this detector's usual input points at.
    failure_mode: ClassVar[str] = "concept_drift"

    drift_detected: bool
    warning_detected: bool
    n_seen_: int

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything learned; the configuration stays."""
        self.drift_detected = False
        self.warning_detected = False
        self.n_seen_ = 0
        self._reset_state()

    @abstractmethod
    def _reset_state(self) -> None: ...

    @abstractmethod
    def _update(self, x: float) -> None: ...

    def update(self, x: float) -> None:
        """Feed one value; afterwards ``drift_detected`` says whether this value set off drift."""
        value = float(x)
        if value != value:  # NaN
            raise InputError(f"{self.name}: cannot update with NaN")
        if self.input_kind == "binary" and value not in (0.0, 1.0):
            raise InputError(f"{self.name} takes 0/1 error indicators, got {x!r}")
        if self.drift_detected:
            # As in river: a detector that fired starts afresh on the next value.
            self.reset()
        self.n_seen_ += 1
        self._update(value)

    def get_params(self) -> dict[str, Any]:
        """Return the constructor arguments, as given."""
        names = inspect.signature(type(self).__init__).parameters
        return {n: getattr(self, n) for n in names if n != "self"}

    def verdict(self, subject: str = "stream") -> Verdict:
        """Return the current state as a verdict (``drift``, ``warn`` or ``ok``)."""
        decision: Literal["ok", "warn", "drift"] = (
            "drift" if self.drift_detected else "warn" if self.warning_detected else "ok"
        )
        return Verdict(
            detector=self.name,
            method=self.name,
            subject=subject,
            failure_mode=self.failure_mode if decision == "drift" else None,
            decision=decision,
            threshold_source="fixed",
            n_current=self.n_seen_,
            reason=f"{self.name} after {self.n_seen_} values: "
            + {"drift": "change detected", "warn": "warning zone", "ok": "no change"}[decision],
            evidence={"params": self.get_params()},
        )

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"
