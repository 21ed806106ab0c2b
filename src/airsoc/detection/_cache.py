"""Fitted references kept in memory, keyed by a hash of the reference data and the settings.

A monitor that runs every few minutes against the same trusted batches, training data or clean
calibration traffic fits its reference once; later runs only score the new window.

>>> import numpy as np
>>> cache = FittedCache(maxsize=2)
>>> calls = []
>>> key = fingerprint(np.arange(4.0), "k=5")
>>> cache.get_or_fit(key, lambda: calls.append(1) or "fitted")
'fitted'
>>> cache.get_or_fit(key, lambda: calls.append(1) or "again"), len(calls)
('fitted', 1)
>>> fingerprint(np.arange(4.0), "k=5") == fingerprint(np.arange(4.0), "k=6")
False
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

__all__ = ["FITTED", "FittedCache", "fingerprint", "one_thread"]

T = TypeVar("T")


def fingerprint(*parts: Any) -> str:
    """Return a sha256 hex digest of arrays, data frames and plain values (by ``repr``)."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, pd.DataFrame):
            digest.update(repr(list(part.columns)).encode())
            digest.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
        elif isinstance(part, np.ndarray):
            array = np.ascontiguousarray(part)
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            if array.dtype == object:
                digest.update(repr(array.tolist()).encode())
            else:
                digest.update(array.tobytes())
        else:
            digest.update(repr(part).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


class FittedCache:
    """A small thread-safe least-recently-used map from a reference fingerprint to its fit."""

    def __init__(self, *, maxsize: int = 16) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_fit(self, key: str, fit: Callable[[], T]) -> T:
        """Return the fit stored under ``key``, calling ``fit`` only when there is none."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                found: T = self._items[key]
                return found
        value = fit()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget every stored fit."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


#: The process-wide cache the attack detectors share.
FITTED = FittedCache(maxsize=32)


@functools.cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def one_thread() -> Any:
    """Return a context in which BLAS and OpenMP use one thread.

    Detectors run beside other work; threads waiting for a busy core cost more than they save
    on a window of a few thousand rows.

    >>> with one_thread():
    ...     pass
    """
    return _controller().limit(limits=1)
