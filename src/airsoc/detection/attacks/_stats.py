"""Small statistics shared by the attack detectors: robust z-scores and tail scaling.

>>> robust_z(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0, 4.0, 5.0])).round(2).tolist()
[-1.35, -0.67, 0.0]
"""

from __future__ import annotations

import numpy as np

__all__ = ["robust_z", "tail_scale"]


def robust_z(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Return ``(values - median) / (1.4826 * MAD)`` of ``reference`` (a floor keeps it finite)."""
    reference = np.asarray(reference, dtype=float)
    if reference.size == 0:
        return np.zeros_like(values, dtype=float)
    median = float(np.median(reference))
    mad = 1.4826 * float(np.median(np.abs(reference - median)))
    scale = max(mad, float(np.std(reference)) * 0.1, 1e-9)
    return (np.asarray(values, dtype=float) - median) / scale


def tail_scale(values: np.ndarray, reference: np.ndarray, *, q: float = 0.99) -> np.ndarray:
    """Return ``values`` rescaled so the reference median maps to 0 and its ``q`` quantile to 1.

    Unlike a z-score this stays meaningful for skewed scores whose typical value is zero.

    >>> tail_scale(np.array([0.5, 0.9, 1.3]), np.linspace(0, 1, 101), q=0.9).round(6).tolist()
    [0.0, 1.0, 2.0]
    """
    reference = np.asarray(reference, dtype=float)
    low, high = np.quantile(reference, [0.5, q])
    return np.asarray((np.asarray(values, dtype=float) - low) / max(float(high - low), 1e-9))
