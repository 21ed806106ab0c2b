"""Hand-written benign traffic and attacks for training and calibrating the injection model.

The generators (:mod:`~airsoc.detection.llm.training_data`, ``training_variety``,
``training_chat``) compose short texts from word lists: their documents stay under about 600
characters and their tool outputs are a few key-value pairs. Real traffic is longer and
rougher: documentation, e-mails, release notes and code of one to five thousand characters,
JSON responses, logs, search results and help-desk cases that quote passwords, admin rights,
"ignore" and "override" in their everyday senses. ``data/written_traffic.yaml`` holds such
texts, written by hand for airsoc, apart from the held-out evaluation texts
(:mod:`~airsoc.detection.llm.heldout`), and a few attacks of the same shapes;
``data/written_traffic_more.yaml`` adds, in the same shapes, more hard negatives, knowledge-base
paragraphs and tool outputs, and long role-play, persona and multilingual jailbreaks and
instructions planted in content; ``data/written_traffic_3.yaml`` adds jailbreaks in twenty
languages, emotional, fiction and personal-story frames, mode switches and planted instructions
in other languages, each next to benign texts of the same languages and lengths;
``data/written_traffic_4.yaml`` adds documents and tool output that address people in the second
person, instructions planted for the AI in one part of such documents (an attack's optional
``source`` says whether it is read as a retrieved document or as tool output) and long
jailbreaks hidden in innocent preambles, with benign twins; ``data/written_traffic_5.yaml`` adds
jailbreaks without the usual cliches, instructions planted for "whoever summarises this page"
without naming an AI, planted fields of many tool formats, and their benign twins;
``data/written_traffic_6.yaml`` adds short user turns that mention system prompts, instructions
and guardrails without asking for the assistant's own, next to twins that do ask;
``data/written_traffic_7.yaml`` adds forbidden asks in fiction, game and personal-story frames,
staff impersonation, fake policy notices and asks to act outside the bot's role, instructions
planted in pages and tool output that change what the bot tells the user or which tools it
calls, and benign twins of each shape; ``data/written_traffic_8.yaml`` adds asks to skip identity
checks for someone else, falsified claims, harmful extras tucked into long harmless requests and
prompt leaks through read-backs and exports, instructions planted in bills, notices, device
names, CI logs and records that redirect payments or send data out, and their benign twins. The
lists of the files are read one after the other. Every planted instruction marks the pieces of
its text that are the instruction (an attack's ``planted`` list), so that training can tell them
from the ordinary content around them.

Every list is cut in two parts: ``train`` (three items in four) and ``calibration`` (every
fourth item), so that thresholds are set on texts the models never saw. Long texts are
assembled from the paragraphs, code and tool outputs of one part only, by a seeded draw, so
that each part gets documents of one to five thousand characters.

Example:
    >>> rows = written_set("train", seed=1)
    >>> {r.label for r in rows} == {"attack", "benign"}
    True
    >>> long = [r for r in rows if r.category == "long_prose"]
    >>> min(len(r.text) for r in long) >= 1000, max(len(r.text) for r in long) <= 5000
    (True, True)
    >>> train = {r.text for r in rows}
    >>> any(r.text in train for r in written_set("calibration", seed=1) if r.label == "attack")
    False
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from airsoc.detection.llm.corpus import LabelledText
from airsoc.errors import DataFileError, InputError

__all__ = ["FILES", "PARTS", "WrittenText", "load_written_traffic", "written_set"]

Part = Literal["train", "calibration"]
#: The two disjoint parts of every list.
PARTS: tuple[str, ...] = ("train", "calibration")

#: The lists of benign texts in the file, and the (category, source) each is read as.
_BENIGN_LISTS: dict[str, tuple[str, str]] = {
    "support_questions": ("support_question", "user"),
    "hard_negatives": ("hard_negative", "user"),
    "policy_statements": ("policy", "retrieved"),
    "paragraphs": ("prose", "retrieved"),
    "code_snippets": ("code", "tool"),
    "tool_outputs": ("tool_output", "tool"),
}


@dataclass(frozen=True)
class WrittenText(LabelledText):
    """A written text and the source it is read as (``user``, ``retrieved`` or ``tool``);
    for an instruction planted in a document or tool output, ``planted`` holds the exact
    pieces of the text (one per line) that are the instruction, the rest being ordinary
    content."""

    source: str = "user"
    planted: tuple[str, ...] = ()


#: The shipped written-traffic files, read in this order and their lists concatenated.
FILES: tuple[str, ...] = (
    "written_traffic.yaml",
    "written_traffic_more.yaml",
    "written_traffic_3.yaml",
    "written_traffic_4.yaml",
    "written_traffic_5.yaml",
    "written_traffic_6.yaml",
    "written_traffic_7.yaml",
    "written_traffic_8.yaml",
)


def _path(name: str) -> Path:
    return Path(str(resources.files("airsoc.detection.llm") / "data" / name))


@functools.lru_cache(maxsize=2)
def load_written_traffic(path: str | None = None) -> dict[str, tuple[Any, ...]]:
    """Return the lists of the written-traffic file ``path``, checked; by default those of the
    shipped files (:data:`FILES`), concatenated list by list in that order.

    >>> traffic = load_written_traffic()
    >>> len(traffic["tool_outputs"]) >= 65, len(traffic["paragraphs"]) >= 80
    (True, True)
    >>> sum(a["category"] == "jailbreak" for a in traffic["attacks"]) >= 100
    True
    """
    if path:
        return _read_file(Path(path))
    out: dict[str, tuple[Any, ...]] = {}
    for name in FILES:
        for key, items in _read_file(_path(name)).items():
            out[key] = out.get(key, ()) + items
    return out


def _read_file(where: Path) -> dict[str, tuple[Any, ...]]:
    """Return the checked lists of one written-traffic file."""
    try:
        data = yaml.safe_load(where.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataFileError(f"{where}: cannot read the written traffic ({exc})") from None
    if not isinstance(data, dict):
        raise DataFileError(f"{where}: expected a mapping of lists")
    out: dict[str, tuple[Any, ...]] = {}
    for key in [*_BENIGN_LISTS, "attacks"]:
        items = data.get(key)
        if not isinstance(items, list) or not items:
            raise DataFileError(f"{where}: {key!r} must be a non-empty list")
        for i, item in enumerate(items):
            text = item.get("text") if key == "attacks" and isinstance(item, dict) else item
            if not isinstance(text, str) or not text.strip():
                raise DataFileError(f"{where}: {key}[{i}] is not a text")
            if key == "attacks" and item.get("source", "user") not in ("user", "retrieved", "tool"):
                raise DataFileError(
                    f"{where}: attacks[{i}].source must be user, retrieved or tool, "
                    f"got {item.get('source')!r}"
                )
            if key == "attacks":
                _check_planted(where, i, text, item.get("planted", []))
        out[key] = tuple(items)
    return out


def _check_planted(where: Path, i: int, text: str, planted: Any) -> None:
    """Refuse a ``planted`` list that is not pieces of one line each, found in ``text``."""
    if not isinstance(planted, list) or not all(isinstance(p, str) and p for p in planted):
        raise DataFileError(f"{where}: attacks[{i}].planted must be a list of texts")
    for j, piece in enumerate(planted):
        if "\n" in piece or piece not in text:
            raise DataFileError(
                f"{where}: attacks[{i}].planted[{j}] is not one line of the attack's text: "
                f"{piece[:60]!r}"
            )


def _split(items: Sequence[Any], part: str) -> list[Any]:
    """Every fourth item is calibration, the rest train."""
    if part not in PARTS:
        raise InputError(f"unknown part {part!r}; expected one of {', '.join(PARTS)}", loc="part")
    return [x for i, x in enumerate(items) if (i % 4 == 3) == (part == "calibration")]


_OPEN = ("", "", "Hi all,\n\n", "Hello,\n\n", "Dear colleagues,\n\n", "Subject: Update\n\n",
         "# Notes\n\n", "## Overview\n\n", "From: team lead\nTo: support\n\n")  # fmt: skip
_CLOSE = ("", "", "\n\nThanks,\nSam", "\n\nBest regards,\nthe support team",
          "\n\n-- \nSent from my phone", "\n\nQuestions? Reply to this message.")  # fmt: skip


def _long_texts(
    rng: random.Random, paragraphs: Sequence[str], extras: Sequence[str], count: int
) -> list[str]:
    """Return ``count`` documents of 1,000-5,000 characters drawn from ``paragraphs`` (with,
    now and then, a code snippet or tool output in between)."""
    out: list[str] = []
    for _ in range(count):
        target = rng.randint(1000, 4800)
        body: list[str] = []
        while sum(len(b) + 2 for b in body) < target:
            pool = extras if extras and rng.random() < 0.15 else paragraphs
            body.append(pool[rng.randrange(len(pool))])
        text = rng.choice(_OPEN) + "\n\n".join(body) + rng.choice(_CLOSE)
        out.append(text[:5000])
    return out


def written_set(part: str, *, seed: int = 1, long_texts: int = 60) -> list[WrittenText]:
    """Return the written texts of ``part`` (``train`` or ``calibration``): every benign text
    and attack of that part, plus ``long_texts`` documents assembled from its paragraphs and
    as many attacks planted in such documents (a late attack, after pages of benign text).
    """
    traffic = load_written_traffic()
    rng = random.Random(f"{part}:{seed}")
    rows: list[WrittenText] = []
    for key, (category, source) in _BENIGN_LISTS.items():
        for i, text in enumerate(_split(traffic[key], part)):
            rows.append(WrittenText(f"w-{part}-{key}-{i}", text, "benign", category, "en", source))
    paragraphs = _split(traffic["paragraphs"], part)
    extras = _split(traffic["code_snippets"], part) + _split(traffic["tool_outputs"], part)
    for i, text in enumerate(_long_texts(rng, paragraphs, extras, long_texts)):
        source = "retrieved" if i % 3 else "user"
        rows.append(WrittenText(f"w-{part}-long-{i}", text, "benign", "long_prose", "en", source))
    attacks = _split(traffic["attacks"], part)
    for i, item in enumerate(attacks):
        # An attack may say where it was written to be read (a planted instruction as a
        # retrieved document or as tool output); otherwise planted ones are read as tool output.
        source = item.get("source") or ("tool" if item["category"] == "indirect" else "user")
        rows.append(
            WrittenText(
                f"w-{part}-attack-{i}",
                item["text"],
                "attack",
                item["category"],
                "en",
                source,
                tuple(item.get("planted", ())),
            )
        )
    planted = [a["text"] for a in attacks if a["category"] == "indirect"]
    for i, host in enumerate(_long_texts(rng, paragraphs, [], long_texts // 3 if planted else 0)):
        cut = host.rfind("\n\n", 0, rng.randint(len(host) // 2, len(host)))
        text = f"{host[:cut]}\n\n{planted[i % len(planted)]}\n\n{host[cut:]}".strip()
        rows.append(
            WrittenText(f"w-{part}-late-{i}", text, "attack", "indirect", "en", "retrieved")
        )
    return rows
