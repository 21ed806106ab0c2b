"""Fit the prompt-injection thresholds on a system's own benign text, per source.

A RAG bot's approved documents and its ordinary turns are the best sample of what *its*
benign text looks like. :func:`calibrate_injection` scores them with the detector and sets each
source's threshold just above the benign scores (a high quantile plus a margin), never below
the shipped threshold and never above ``cap`` (so that real attacks still alarm). Texts that
score above the cap are returned by name, for a person to read: they are either mislabelled
or a document that looks like an attack.

Example:
    >>> from airsoc.detection.llm.embeddings import TfidfEmbedder
    >>> detector = PromptInjectionDetector(embedder=TfidfEmbedder())
    >>> cal = calibrate_injection(documents=["Refunds are paid within 10 days."],
    ...                           turns=[{"user": "Where is my parcel?"}], detector=detector)
    >>> sorted(cal.thresholds), cal.samples["retrieved"]
    (['retrieved', 'tool', 'user'], 1)
    >>> tuned = cal.detector(detector)
    >>> tuned.threshold_for("retrieved") == cal.thresholds["retrieved"]
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from airsoc.detection.llm.grounding import ApprovedDocument
from airsoc.detection.llm.injection import SOURCES, PromptInjectionDetector
from airsoc.errors import InputError

__all__ = ["InjectionCalibration", "calibrate_injection"]


@dataclass(frozen=True)
class InjectionCalibration:
    """Thresholds per source, how many benign texts each rests on, and the outliers."""

    thresholds: dict[str, float]
    samples: dict[str, int]
    quantile_scores: dict[str, float | None]
    above_cap: list[dict[str, Any]] = field(default_factory=list)
    max_fpr: float = 0.005
    margin: float = 0.05

    def detector(self, base: PromptInjectionDetector | None = None) -> PromptInjectionDetector:
        """Return a detector like ``base`` that uses these thresholds."""
        base = base or PromptInjectionDetector()
        return PromptInjectionDetector(
            embedder=base.embedder,
            corpus=base.corpus,
            thresholds=dict(self.thresholds),
            warn_at=base.warn_at,
            max_chars=base.max_chars,
            canaries=base.canaries,
            model_path=base.model_path,
            model=base.model,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary (what ``airsoc calibrate`` prints or saves)."""
        return {
            "thresholds": self.thresholds,
            "samples": self.samples,
            "quantile_scores": self.quantile_scores,
            "above_cap": self.above_cap,
            "max_fpr": self.max_fpr,
            "margin": self.margin,
        }


def _turn_texts(turns: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {s: [] for s in SOURCES}
    for i, turn in enumerate(turns):
        if not isinstance(turn, Mapping):
            raise InputError(
                f"expected a JSON object, got {type(turn).__name__}", loc=f"turns[{i}]"
            )
        if turn.get("user"):
            out["user"].append(str(turn["user"]))
        for chunk in turn.get("retrieved") or []:
            text = chunk.get("text") if isinstance(chunk, Mapping) else chunk
            if text:
                out["retrieved"].append(str(text))
        for tool in turn.get("tools") or []:
            text = tool.get("text", tool.get("output")) if isinstance(tool, Mapping) else tool
            if text:
                out["tool"].append(str(text))
    return out


def calibrate_injection(
    *,
    documents: Iterable[ApprovedDocument | str] = (),
    turns: Iterable[Mapping[str, Any]] = (),
    detector: PromptInjectionDetector | None = None,
    max_fpr: float = 0.005,
    margin: float = 0.05,
    cap: float = 0.9,
    min_samples: int = 1,
) -> InjectionCalibration:
    """Return per-source thresholds fitted on a system's approved documents and sample turns.

    ``documents`` (approved documents, each section read as a ``retrieved`` text, or plain
    texts) and ``turns`` (objects with ``user``, ``retrieved`` = list of ``{text}`` or texts,
    and ``tools`` = list of texts or ``{text}``) must be benign. A source's threshold is the
    ``1 - max_fpr`` quantile of its benign scores plus ``margin``, at least the detector's
    shipped threshold and at most ``cap``. Sources with fewer than ``min_samples`` texts keep
    the shipped threshold (``samples`` says so with its count).
    """
    if not 0 < max_fpr < 1:
        raise InputError(f"max_fpr must be in (0, 1), got {max_fpr}", loc="max_fpr")
    detector = detector or PromptInjectionDetector()
    texts = _turn_texts(turns)
    for doc in documents:
        if isinstance(doc, ApprovedDocument):
            texts["retrieved"] += [t for t in doc.sections.values() if t.strip()]
        elif str(doc).strip():
            texts["retrieved"].append(str(doc))
    thresholds: dict[str, float] = {}
    quantiles: dict[str, float | None] = {}
    above: list[dict[str, Any]] = []
    for source in SOURCES:
        shipped = detector.threshold_for(source)
        sample = texts[source]
        if len(sample) < min_samples:
            thresholds[source] = shipped
            quantiles[source] = None
            continue
        scores = []
        for i, text in enumerate(sample):
            verdict = detector.detect(text, source=source)  # type: ignore[arg-type]
            score = float(verdict.statistic or 0.0)
            scores.append(score)
            if score >= cap:
                above.append(
                    {"source": source, "index": i, "score": round(score, 4), "excerpt": text[:160]}
                )
        q = float(np.quantile(np.array(scores), 1 - max_fpr))
        quantiles[source] = round(q, 4)
        thresholds[source] = round(min(max(q + margin, shipped), cap), 4)
    return InjectionCalibration(
        thresholds,
        {s: len(texts[s]) for s in SOURCES},
        quantiles,
        above,
        max_fpr,
        margin,
    )
