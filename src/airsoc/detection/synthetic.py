"""Return seeded synthetic windows with known shifts, for tests, examples and drills.

Columns cycle through three shapes (normal, lognormal with sigma 0.5, exponential); the first
``shifted`` columns move by ``shift_sd`` of their own standard deviation, so the right answer
of any drift check is known in advance.

Example:
    >>> w = numeric_window(1000, seed=0, columns=3, shift_sd=0.2, shifted=1)
    >>> list(w.columns), len(w)
    (['x0', 'x1', 'x2'], 1000)
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["LOGNORMAL_SD", "numeric_window"]

_SIGMA = 0.5
#: Standard deviation of a lognormal(0, 0.5) column.
LOGNORMAL_SD = float(np.sqrt((np.exp(_SIGMA**2) - 1) * np.exp(_SIGMA**2)))


def numeric_window(
    n: int, *, seed: int, columns: int = 9, shift_sd: float = 0.0, shifted: int = 0
) -> Any:
    """Return a pandas DataFrame of ``columns`` numeric columns named ``x0``, ``x1``, ...

    >>> numeric_window(5, seed=1, columns=1).shape
    (5, 1)
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    data = {}
    for i in range(columns):
        shape = i % 3
        if shape == 0:
            x, sd = rng.normal(size=n), 1.0
        elif shape == 1:
            x, sd = rng.lognormal(0.0, _SIGMA, size=n), LOGNORMAL_SD
        else:
            x, sd = rng.exponential(size=n), 1.0
        if i < shifted:
            x += shift_sd * sd
        data[f"x{i}"] = x
    return pd.DataFrame(data)
