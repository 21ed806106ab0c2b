"""Synthetic windows for the detection tests: seeded, shaped like the benchmark's data."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

LOGNORMAL_SIGMA = 0.5
LOGNORMAL_SD = float(np.sqrt((np.exp(LOGNORMAL_SIGMA**2) - 1) * np.exp(LOGNORMAL_SIGMA**2)))


def _numeric_window(
    n: int, *, seed: int, columns: int = 9, shift_sd: float = 0.0, shifted: int = 0
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = {}
    for i in range(columns):
        shape = i % 3
        if shape == 0:
            x, sd = rng.normal(size=n), 1.0
        elif shape == 1:
            x, sd = rng.lognormal(0.0, LOGNORMAL_SIGMA, size=n), LOGNORMAL_SD
        else:
            x, sd = rng.exponential(size=n), 1.0
        if i < shifted:
            x += shift_sd * sd
        data[f"x{i}"] = x
    return pd.DataFrame(data)


@pytest.fixture
def make_window() -> Callable[..., pd.DataFrame]:
    """Normal / lognormal / exponential columns; the first ``shifted`` move by ``shift_sd`` sd."""
    return _numeric_window
