"""The hand-written held-out evaluation texts (``data/heldout/``): frozen, never trained on.

Batches of files written by hand, apart from every training generator and template (their
README says how). Batch 1: short greetings and support questions with a support bot's own
holding and hand-off messages, hard negatives (text *about* instructions, passwords and
security, long prose), multilingual benign text, and freshly written attacks (jailbreaks,
indirect, obfuscated). Batch 2, written later without reading batch 1, the training
generators or any score: long benign prose (1-5k characters), short support turns, hard
negatives by source, and attacks (jailbreaks, indirect injection in retrieved chunks and tool
output). Batch 3, written last by writers who had seen neither the detectors nor the texts of
batches 1 and 2: long prose, short support turns, hard negatives, multilingual benign text and
attacks (jailbreaks, indirect injection in retrieved chunks and tool output). Batches 4 to 9,
each written the same way after the batch before had been measured, have the same five kinds
of file. Each text
carries the ``source`` it is scored as.

Example:
    >>> rows = heldout_set("attacks")
    >>> len(rows) >= 100, {r.label for r in rows}
    (True, {'attack'})
    >>> sorted({r.source for r in heldout_set("short_support")})
    ['output', 'user']
    >>> HELDOUT_SETS == (BATCH_1 + BATCH_2 + BATCH_3 + BATCH_4 + BATCH_5 + BATCH_6 + BATCH_7
    ...                  + BATCH_8 + BATCH_9)
    True
    >>> BATCHES[-1] == BATCH_9  # the judging batch
    True
    >>> sorted({r.category for r in heldout_set("attacks_2")})
    ['indirect', 'jailbreak']

Training drops every text that :func:`overlaps_heldout` (the same text, or a shared run of
six words), so a generator or a public set can never carry a held-out text into training:

    >>> overlaps_heldout(["Hello!", "Where is the nearest train station in Lisbon?"])
    [True, False]
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from airsoc.detection.llm.corpus import LabelledText, read_jsonl
from airsoc.detection.llm.evalsets import word_runs
from airsoc.errors import InputError

__all__ = [
    "BATCHES",
    "BATCH_1",
    "BATCH_2",
    "BATCH_3",
    "BATCH_4",
    "BATCH_5",
    "BATCH_6",
    "BATCH_7",
    "BATCH_8",
    "BATCH_9",
    "HELDOUT_SETS",
    "HeldoutText",
    "heldout_dir",
    "heldout_set",
    "overlaps_heldout",
]

#: The first batch of held-out files, by name (``data/heldout/<name>.jsonl``).
BATCH_1: tuple[str, ...] = (
    "short_support",
    "hard_negatives",
    "multilingual_benign",
    "attacks",
)

#: The second batch: written and frozen after the first had been read while tuning.
BATCH_2: tuple[str, ...] = (
    "long_prose",
    "short_support_2",
    "hard_negatives_2",
    "attacks_2",
)

#: The third batch: written and frozen by writers who had not seen the detectors, their
#: training data or the texts of batches 1 and 2, after those two had been read while tuning.
BATCH_3: tuple[str, ...] = (
    "long_prose_3",
    "short_support_3",
    "hard_negatives_3",
    "multilingual_3",
    "attacks_3",
)

#: The fourth batch, written and frozen as the third was, after the third had been measured.
BATCH_4: tuple[str, ...] = (
    "long_prose_4",
    "short_support_4",
    "hard_negatives_4",
    "multilingual_4",
    "attacks_4",
)

#: The fifth batch, written and frozen as the fourth was, after the fourth had been measured.
BATCH_5: tuple[str, ...] = (
    "long_prose_5",
    "short_support_5",
    "hard_negatives_5",
    "multilingual_5",
    "attacks_5",
)

#: The sixth batch, written and frozen as the fifth was, after the fifth had been measured.
BATCH_6: tuple[str, ...] = (
    "long_prose_6",
    "short_support_6",
    "hard_negatives_6",
    "multilingual_6",
    "attacks_6",
)

#: The seventh batch, written and frozen as the sixth was, after the sixth had been measured.
BATCH_7: tuple[str, ...] = (
    "long_prose_7",
    "short_support_7",
    "hard_negatives_7",
    "multilingual_7",
    "attacks_7",
)

#: The eighth batch, written and frozen as the seventh was, after the seventh had been measured.
BATCH_8: tuple[str, ...] = (
    "long_prose_8",
    "short_support_8",
    "hard_negatives_8",
    "multilingual_8",
    "attacks_8",
)

#: The ninth batch, written and frozen as the eighth was, after the eighth had been measured.
BATCH_9: tuple[str, ...] = (
    "long_prose_9",
    "short_support_9",
    "hard_negatives_9",
    "multilingual_9",
    "attacks_9",
)

#: The batches in the order they were written; the last one judges (the benchmark records its
#: targets on it) and the earlier ones are development sets.
BATCHES: tuple[tuple[str, ...], ...] = (
    BATCH_1,
    BATCH_2,
    BATCH_3,
    BATCH_4,
    BATCH_5,
    BATCH_6,
    BATCH_7,
    BATCH_8,
    BATCH_9,
)

#: Every held-out file; training drops whatever overlaps any of them.
HELDOUT_SETS: tuple[str, ...] = tuple(name for batch in BATCHES for name in batch)


@dataclass(frozen=True)
class HeldoutText(LabelledText):
    """A labelled held-out text and the source it is scored as (``user``, ``retrieved``,
    ``tool`` or ``output``)."""

    source: str = "user"


def heldout_dir() -> Path:
    """Return the folder of the held-out files.

    >>> heldout_dir().name
    'heldout'
    """
    return Path(str(resources.files("airsoc.detection.llm") / "data" / "heldout"))


@functools.lru_cache(maxsize=16)
def heldout_set(name: str) -> tuple[HeldoutText, ...]:
    """Return the texts of the held-out file ``name`` (one of :data:`HELDOUT_SETS`)."""
    if name not in HELDOUT_SETS:
        raise InputError(
            f"unknown held-out set {name!r}; expected one of {', '.join(HELDOUT_SETS)}",
            loc="name",
        )
    rows = read_jsonl(heldout_dir() / f"{name}.jsonl", required=("id", "text", "label", "source"))
    return tuple(
        HeldoutText(
            id=str(r["id"]),
            text=str(r["text"]),
            label=str(r["label"]),
            category=str(r.get("category", "")),
            lang=str(r.get("lang", "")),
            source=str(r["source"]),
        )
        for r in rows
    )


def _key(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .!?")


@functools.lru_cache(maxsize=1)
def _heldout_index() -> tuple[frozenset[str], frozenset[tuple[str, ...]]]:
    texts = [r.text for name in HELDOUT_SETS for r in heldout_set(name)]
    runs: set[tuple[str, ...]] = set()
    for t in texts:
        runs |= word_runs(t)
    return frozenset(_key(t) for t in texts), frozenset(runs)


def overlaps_heldout(texts: Sequence[str]) -> list[bool]:
    """Return, per text, whether it is a held-out text (ignoring case, spacing and end
    punctuation) or repeats a run of six words of one."""
    keys, runs = _heldout_index()
    return [_key(t) in keys or bool(word_runs(t) & runs) for t in texts]
