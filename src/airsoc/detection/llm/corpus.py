"""The labelled text sets the project ships: the known-attack corpus the injection detector
compares against, and the held-out test set the benchmark scores it on (never used to fit).

Example:
    >>> corpus = load_labelled_texts("injection_corpus")
    >>> sorted({e.label for e in corpus})
    ['attack', 'benign']
    >>> len({e.lang for e in corpus if e.label == "attack"}) >= 8
    True
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from airsoc.errors import DataFileError

__all__ = ["LabelledText", "load_labelled_texts", "read_jsonl"]


@dataclass(frozen=True)
class LabelledText:
    """One labelled text: ``attack`` or ``benign``, its attack category and language."""

    id: str
    text: str
    label: str
    category: str
    lang: str


def read_jsonl(path: Path | str, *, required: tuple[str, ...]) -> list[dict[str, object]]:
    """Return the JSON objects of a JSON-lines file, checking each has the ``required`` keys.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x.jsonl"
    >>> _ = p.write_text('{"id": 1}\\nnot json\\n')
    >>> read_jsonl(p, required=("id",))
    Traceback (most recent call last):
    ...
    airsoc.errors.DataFileError: ...x.jsonl:2: not a JSON object (Expecting value)
    """
    rows: list[dict[str, object]] = []
    text = Path(path).read_text(encoding="utf-8")
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFileError(f"{path}:{lineno}: not a JSON object ({exc.msg})") from None
        if not isinstance(row, dict):
            raise DataFileError(f"{path}:{lineno}: not a JSON object")
        missing = [k for k in required if k not in row]
        if missing:
            raise DataFileError(f"{path}:{lineno}: missing key(s) {', '.join(missing)}")
        rows.append(row)
    return rows


def load_labelled_texts(name_or_path: str | Path) -> list[LabelledText]:
    """Return a shipped set by name (``injection_corpus``, ``injection_testset``) or a file path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = Path(str(resources.files("airsoc.detection.llm") / "data" / f"{name_or_path}.jsonl"))
    rows = read_jsonl(path, required=("id", "text", "label"))
    return [
        LabelledText(
            id=str(r["id"]),
            text=str(r["text"]),
            label=str(r["label"]),
            category=str(r.get("category", "")),
            lang=str(r.get("lang", "")),
        )
        for r in rows
    ]
