"""Canary tokens: unique strings planted in a system prompt whose appearance in an output proves
the prompt leaked, even when the model spaces them out, changes case, reverses or base64-encodes
them.

Example:
    >>> import random
    >>> token = new_canary(random.Random(7))
    >>> token.startswith("cnry-"), len(token)
    (True, 21)
    >>> [leak.form for leak in find_canary_leaks(f"my rules say {token.upper()}", [token])]
    ['case-folded']
"""

from __future__ import annotations

import base64
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["CanaryLeak", "find_canary_leaks", "new_canary"]

_SEPARATORS = re.compile(r"[\s\-_.·|/\\'\"`*]+")


@dataclass(frozen=True)
class CanaryLeak:
    """A canary found in a text, and the form it took (verbatim, spaced, reversed, base64...)."""

    canary: str
    form: str


def new_canary(rng: random.Random | None = None) -> str:
    """Return a fresh canary token ``cnry-<16 hex digits>``.

    >>> new_canary(random.Random(1)) == new_canary(random.Random(1))
    True
    """
    rng = rng or random.SystemRandom()
    return f"cnry-{rng.getrandbits(64):016x}"


def find_canary_leaks(text: str, canaries: Iterable[str]) -> list[CanaryLeak]:
    """Return every canary of ``canaries`` that appears in ``text``, with the form it took.

    >>> find_canary_leaks("c n r y - 0 0 a 1", ["cnry-00a1"])
    [CanaryLeak(canary='cnry-00a1', form='spaced out')]
    >>> find_canary_leaks("nothing here", ["cnry-00a1"])
    []
    """
    leaks: list[CanaryLeak] = []
    lowered = text.lower()
    squeezed = _SEPARATORS.sub("", lowered)
    for canary in canaries:
        if not canary:
            continue
        c = canary.lower()
        core = _SEPARATORS.sub("", c)
        encoded = base64.b64encode(canary.encode()).decode().rstrip("=")
        if canary in text:
            form = "verbatim"
        elif c in lowered:
            form = "case-folded"
        elif core in squeezed:
            form = "spaced out"
        elif core[::-1] in squeezed:
            form = "reversed"
        elif encoded[:-1] in text:
            form = "base64"
        else:
            continue
        leaks.append(CanaryLeak(canary, form))
    return leaks
