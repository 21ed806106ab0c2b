"""Seeded product reviews with and without new slang, for text-drift tests and the benchmark.

>>> len(reviews(10, seed=0)), reviews(1, seed=0)[0] == reviews(1, seed=0)[0]
(10, True)
"""

from __future__ import annotations

import numpy as np

SUBJECTS = [
    "phone",
    "battery",
    "screen",
    "charger",
    "case",
    "delivery",
    "camera",
    "speaker",
    "headphones",
    "keyboard",
    "price",
    "seller",
    "packaging",
    "app",
    "cable",
]
POSITIVE = [
    "great",
    "excellent",
    "good",
    "fast",
    "reliable",
    "solid",
    "lovely",
    "perfect",
    "nice",
    "sturdy",
    "bright",
    "clear",
    "quick",
    "amazing",
    "decent",
]
NEGATIVE = [
    "bad",
    "slow",
    "broken",
    "awful",
    "cheap",
    "flimsy",
    "poor",
    "noisy",
    "dull",
    "late",
    "faulty",
    "weak",
    "terrible",
    "dim",
    "useless",
]
FILLER = [
    "the",
    "is",
    "was",
    "really",
    "very",
    "quite",
    "and",
    "but",
    "overall",
    "i",
    "think",
    "my",
    "it",
    "this",
    "so",
    "after",
    "a",
    "week",
    "day",
    "honestly",
]
SLANG = ["bussin", "slaps", "mid", "nocap", "lowkey", "rizz", "goated", "bet", "sus", "vibes"]


def reviews(n: int, *, seed: int, slang_share: float = 0.0) -> list[str]:
    """Return ``n`` short reviews; ``slang_share`` of them carry one or two slang terms."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        words = list(rng.choice(FILLER, rng.integers(3, 7)))
        words += [
            str(rng.choice(SUBJECTS)),
            str(rng.choice(POSITIVE if rng.random() < 0.6 else NEGATIVE)),
        ]
        if rng.random() < 0.3:
            words += [str(rng.choice(SUBJECTS)), str(rng.choice(POSITIVE + NEGATIVE))]
        if rng.random() < slang_share:
            words += list(rng.choice(SLANG, rng.integers(1, 3), replace=False))
        rng.shuffle(words)
        out.append(" ".join(str(w) for w in words))
    return out
