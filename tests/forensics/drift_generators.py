"""Seeded event logs for the drift investigation: views, clicks and purchases with their
features, and the faults the investigation must tell apart.

>>> log = event_log(1000, seed=0)
>>> sorted(log["event"].unique())
['click', 'purchase', 'view']
>>> len(event_log(1000, seed=0, click_kept=0.5)) < 1000
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REGIONS = ("north", "south", "east", "west")
EVENT_SHARES = {"view": 0.75, "click": 0.2, "purchase": 0.05}


def event_log(
    n: int,
    *,
    seed: int,
    click_kept: float = 1.0,
    region_shift: tuple[str, float] | None = None,
    concept_flip: float = 0.0,
) -> pd.DataFrame:
    """Return ``n`` logged events (fewer when a logging bug keeps only ``click_kept`` of the
    clicks); ``region_shift`` moves the ``age`` of one region by a number of years;
    ``concept_flip`` turns that share of the labels against what the model learnt.

    Each row carries a ``label`` (the delayed outcome) and the ``prediction`` the model served:
    the model learnt ``label = price > 25``.
    """
    rng = np.random.default_rng(seed)
    kinds = np.array(list(EVENT_SHARES))
    event = rng.choice(kinds, n, p=list(EVENT_SHARES.values()))
    region = rng.choice(np.array(REGIONS), n)
    price = rng.lognormal(3.0, 0.5, n) + np.where(event == "purchase", 10.0, 0.0)
    dwell = rng.gamma(2.0, 5.0, n) + np.where(event == "click", 3.0, 0.0)
    age = rng.normal(40.0, 10.0, n)
    if region_shift is not None:
        age = age + np.where(region == region_shift[0], region_shift[1], 0.0)
    prediction = (price > 25).astype(int)
    noise = rng.random(n) < 0.05
    label = np.where(noise, 1 - prediction, prediction)
    flip = rng.random(n) < concept_flip
    label = np.where(flip, 1 - label, label)
    frame = pd.DataFrame(
        {
            "event": event,
            "region": region,
            "price": price,
            "dwell": dwell,
            "age": age,
            "label": label,
            "prediction": prediction,
        }
    )
    if click_kept < 1.0:
        dropped = (frame["event"] == "click").to_numpy() & (rng.random(n) >= click_kept)
        frame = frame[~dropped].reset_index(drop=True)
    return frame
