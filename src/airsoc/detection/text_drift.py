"""Drift of text columns: vocabulary, sentence embeddings and the model's confidence.

Text length alone misses the usual change in a text column: new words (slang, a product name,
a campaign) in a share of the documents. For a reference and a current window of texts:

* :func:`vocabulary_drift`: the share of current documents with a term the reference never
  used (out of vocabulary), and every term whose document frequency rose, each tested with
  the hypergeometric (one-sided Fisher) test against the pooled counts, Benjamini-Hochberg
  corrected over the terms tested; the top emerging terms are the evidence;
* :func:`embedding_drift`: maximum mean discrepancy (RBF kernel, median bandwidth) between the
  embeddings of the two windows, with a permutation p-value. Embeddings come from the
  ``embedder`` given (e.g. ``airsoc.detection.llm.embeddings.MiniLMEmbedder``), else from
  hashed TF-IDF weighted on the reference (no extra needed);
* :func:`check_text_drift`: both, plus confidence decay of the model's outputs on the texts
  (:func:`~airsoc.detection.outputs.check_outputs`) when probabilities are given.

A shift alarms (``drift``, failure mode ``data_drift``) only when a test is significant and its
effect passes a gate (``min_share`` of the documents carry the emerging terms).

Example:
    >>> ref = ["great phone, fast delivery", "battery died after a week", "love the screen"] * 200
    >>> cur = ref[:400] + ["this phone is bussin fr", "mid battery no cap"] * 100
    >>> verdict = vocabulary_drift(ref, cur)
    >>> verdict.decision, sorted(verdict.evidence["emerging_terms"])[:3]
    ('drift', ['bussin', 'cap', 'fr'])
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import sparse
from scipy import stats as sps
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

from airsoc.detection._cache import FITTED, fingerprint
from airsoc.detection.outputs import check_outputs
from airsoc.detection.stats import benjamini_hochberg
from airsoc.detection.verdict import Decision, Verdict
from airsoc.errors import InputError

__all__ = ["TextDriftReport", "check_text_drift", "embedding_drift", "vocabulary_drift"]

_TOKEN = re.compile(r"[a-z0-9][a-z0-9'_-]*")


def _texts(values: Sequence[Any], where: str) -> list[str]:
    texts = ["" if v is None else str(v) for v in values]
    if not texts:
        raise InputError(f"no texts in the {where} window", loc=where)
    return texts


def _doc_terms(texts: Sequence[str]) -> list[set[str]]:
    return [set(_TOKEN.findall(t.lower())) for t in texts]


def _doc_freq(docs: Sequence[set[str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for terms in docs:
        for term in terms:
            counts[term] = counts.get(term, 0) + 1
    return counts


def vocabulary_drift(
    reference: Sequence[Any],
    current: Sequence[Any],
    *,
    alpha: float = 0.01,
    min_count: int = 5,
    min_share: float = 0.01,
    top: int = 10,
    subject: str = "text",
) -> Verdict:
    """Return the vocabulary-drift verdict of ``current`` texts against ``reference`` texts.

    Terms are lower-cased words. A term is tested when the two windows use it in at least
    ``min_count`` documents together; it is emerging when its BH q-value is at most ``alpha``
    and at least ``min_share`` of the current documents use it. ``evidence`` holds the top
    emerging terms (with their document shares), the out-of-vocabulary rate of each window and
    the example documents.

    >>> vocabulary_drift(["a fine day"] * 300, ["a fine day"] * 300).decision
    'ok'
    """
    ref_docs = _doc_terms(_texts(reference, "reference"))
    cur_docs = _doc_terms(_texts(current, "current"))
    n_ref, n_cur = len(ref_docs), len(cur_docs)
    ref_df, cur_df = _doc_freq(ref_docs), _doc_freq(cur_docs)
    terms = [t for t, c in cur_df.items() if c + ref_df.get(t, 0) >= min_count]
    k_cur = np.array([cur_df[t] for t in terms], dtype=float)
    k_all = k_cur + np.array([ref_df.get(t, 0) for t in terms], dtype=float)
    # One-sided Fisher: drawing n_cur documents out of the pooled windows, at least k_cur of
    # them carry the term.
    p = (
        sps.hypergeom.sf(k_cur - 1, n_ref + n_cur, k_all, n_cur)
        if terms
        else np.ones(0, dtype=float)
    )
    q = benjamini_hochberg(np.asarray(p, dtype=float))
    share_cur = k_cur / n_cur
    share_ref = (k_all - k_cur) / n_ref
    emerging = np.flatnonzero((q <= alpha) & (share_cur >= min_share))
    order = emerging[np.argsort(q[emerging], kind="stable")][:top]
    # Out-of-vocabulary: the reference's own rate comes from its second half against its first.
    half = n_ref // 2
    first_vocab = set().union(*ref_docs[:half]) if half else set()
    ref_oov = float(np.mean([bool(d - first_vocab) for d in ref_docs[half:]])) if half else 0.0
    vocab = set(ref_df)
    new_docs = [i for i, d in enumerate(cur_docs) if d - vocab]
    cur_oov = len(new_docs) / n_cur
    new_terms = sorted({t for t in cur_df if t not in vocab}, key=lambda t: (-cur_df[t], t))[:top]
    decision: Decision = "drift" if len(order) else "ok"
    if decision == "ok" and len(np.flatnonzero(q <= alpha)):
        decision = "warn"
    named = {terms[i]: round(float(share_cur[i]), 4) for i in order}
    reason = (
        f"{len(emerging)} emerging term(s) in {subject}, top: "
        + ", ".join(f"{t} ({s:.1%} of documents)" for t, s in list(named.items())[:5])
        if len(order)
        else f"no emerging term in {subject} (q <= {alpha} in {min_share:.0%} of documents)"
    )
    reason += f"; documents with a new term {cur_oov:.1%} (reference {ref_oov:.1%})"
    examples = [str(current[i])[:200] for i in new_docs[:3]]
    return Verdict(
        detector="text_drift",
        method="vocabulary",
        subject=subject,
        failure_mode="data_drift" if decision == "drift" else None,
        statistic=float(max(named.values())) if named else 0.0,
        p_value=float(p[order[0]]) if len(order) else (float(p.min()) if len(p) else None),
        q_value=float(q[order[0]]) if len(order) else (float(q.min()) if len(q) else None),
        threshold=alpha,
        threshold_source="fixed",
        decision=decision,
        effect_size=round(cur_oov - ref_oov, 4),
        n_reference=n_ref,
        n_current=n_cur,
        correction_group=f"text_drift:{subject}:terms",
        reason=reason,
        evidence={
            "emerging_terms": named,
            "reference_shares": {terms[i]: round(float(share_ref[i]), 4) for i in order},
            "new_terms": new_terms,
            "oov_document_rate": round(cur_oov, 4),
            "reference_oov_document_rate": round(ref_oov, 4),
            "terms_tested": len(terms),
            "examples": examples,
        },
    )


def _hashed_embedding(reference: list[str]) -> Any:
    """Return an embedding function: hashed word counts, TF-IDF weighted on the reference."""
    key = fingerprint("text-embedding", reference)
    hasher = HashingVectorizer(n_features=2**16, alternate_sign=False, norm=None)

    def fit() -> TfidfTransformer:
        return TfidfTransformer().fit(hasher.transform(reference))

    tfidf = FITTED.get_or_fit(key, fit)

    def embed(texts: Sequence[str]) -> Any:
        return tfidf.transform(hasher.transform(texts))

    return embed


def _mmd2(kernel: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Return the biased MMD^2 for each column of ``labels`` (1 = reference, 0 = current)."""
    a = labels.astype(float)
    b = 1.0 - a
    ka, kb = kernel @ a, kernel @ b
    na, nb = a.sum(axis=0), b.sum(axis=0)
    return np.asarray(
        (a * ka).sum(0) / na**2 + (b * kb).sum(0) / nb**2 - 2 * (a * kb).sum(0) / (na * nb)
    )


def embedding_drift(
    reference: Sequence[Any],
    current: Sequence[Any],
    *,
    embedder: Any | None = None,
    alpha: float = 0.01,
    n_permutations: int = 500,
    max_rows: int = 600,
    random_state: int = 0,
    subject: str = "text",
) -> Verdict:
    """Return the embedding-drift verdict: MMD between the windows, permutation p-value.

    At most ``max_rows`` texts of each window are embedded (a seeded sample). ``embedder`` is
    anything with ``embed(texts)`` returning one row per text; without it, hashed TF-IDF
    weighted on the reference (new words still count).

    >>> ref = [f"order arrived {w}" for w in ["today", "late", "early"] * 100]
    >>> embedding_drift(ref, ref[::-1]).decision
    'ok'
    >>> embedding_drift(ref, ["refund now"] * 300).decision
    'drift'
    """
    ref = _texts(reference, "reference")
    cur = _texts(current, "current")
    rng = np.random.default_rng(random_state)
    ref_s = [ref[i] for i in rng.choice(len(ref), min(max_rows, len(ref)), replace=False)]
    cur_s = [cur[i] for i in rng.choice(len(cur), min(max_rows, len(cur)), replace=False)]
    if embedder is None:
        embed = _hashed_embedding(ref)
        rows = [embed(ref_s), embed(cur_s)]
        method = "mmd[hashed-tfidf]"
    else:
        rows = [embedder.embed(ref_s), embedder.embed(cur_s)]
        method = f"mmd[{getattr(embedder, 'name', type(embedder).__name__)}]"
    if any(sparse.issparse(r) for r in rows):
        stacked = sparse.vstack([sparse.csr_matrix(r) for r in rows]).tocsr()
        gram = np.asarray((stacked @ stacked.T).toarray())
    else:
        dense = np.vstack([np.asarray(r, dtype=float) for r in rows])
        gram = dense @ dense.T
    norms = np.diag(gram)
    sq = np.maximum(norms[:, None] + norms[None, :] - 2 * gram, 0.0)
    bandwidth = float(np.median(sq[np.triu_indices(len(sq), 1)])) or 1.0
    kernel = np.exp(-sq / bandwidth)
    n = len(ref_s)
    labels = (np.arange(len(kernel)) < n)[:, None]
    observed = float(_mmd2(kernel, labels)[0])
    shuffled = np.column_stack([rng.permutation(labels[:, 0]) for _ in range(n_permutations)])
    beats = int((_mmd2(kernel, shuffled) >= observed - 1e-12).sum())
    p = (1 + beats) / (1 + n_permutations)
    decision: Decision = "drift" if p <= alpha else "warn" if p <= 5 * alpha else "ok"
    return Verdict(
        detector="text_drift",
        method=method,
        subject=subject,
        failure_mode="data_drift" if decision == "drift" else None,
        statistic=round(observed, 6),
        p_value=p,
        threshold=alpha,
        threshold_source="bootstrap",
        decision=decision,
        effect_size=round(observed, 6),
        n_reference=len(ref_s),
        n_current=len(cur_s),
        reason=f"MMD^2 {observed:.4g} between embeddings, permutation p {p:.3g} "
        f"({n_permutations} permutations)",
        evidence={"bandwidth": bandwidth, "permutations": n_permutations},
    )


class TextDriftReport(BaseModel):
    """Return-type of :func:`check_text_drift`: each check's verdicts and the overall one."""

    model_config = ConfigDict(frozen=True)

    vocabulary: Verdict
    embedding: Verdict
    confidence: list[Verdict]
    overall: Verdict


def check_text_drift(
    reference: Sequence[Any],
    current: Sequence[Any],
    *,
    reference_outputs: Any | None = None,
    current_outputs: Any | None = None,
    embedder: Any | None = None,
    alpha: float = 0.01,
    subject: str = "text",
    random_state: int = 0,
) -> TextDriftReport:
    """Return vocabulary, embedding and (with outputs) confidence-decay verdicts for a column.

    ``reference_outputs`` / ``current_outputs`` are the model's class probabilities on the
    texts (n x k), for confidence decay. The checks share ``alpha`` (Bonferroni).

    >>> ref = ["good product"] * 300 + ["bad product"] * 300
    >>> report = check_text_drift(ref, ref[::-1])
    >>> report.overall.decision
    'ok'
    """
    # The checks share alpha (Bonferroni), so the column alarms at most at rate alpha.
    checks = 3 if reference_outputs is not None and current_outputs is not None else 2
    vocabulary = vocabulary_drift(reference, current, alpha=alpha / checks, subject=subject)
    embedding = embedding_drift(
        reference,
        current,
        embedder=embedder,
        alpha=alpha / checks,
        subject=subject,
        random_state=random_state,
    )
    confidence: list[Verdict] = []
    if reference_outputs is not None and current_outputs is not None:
        outputs = check_outputs(reference_outputs, current_outputs, alpha=alpha / checks)
        confidence = [
            v for v in outputs.verdicts if v.method in ("mean_confidence", "low_margin_share")
        ]
    verdicts = [vocabulary, embedding, *confidence]
    alarms = [f"{v.method}" for v in verdicts if v.decision == "drift"]
    decision: Decision = (
        "drift" if alarms else "warn" if any(v.decision == "warn" for v in verdicts) else "ok"
    )
    overall = Verdict(
        detector="text_drift",
        method="vocabulary+embedding+confidence",
        subject=subject,
        failure_mode="data_drift" if decision == "drift" else None,
        decision=decision,
        n_reference=vocabulary.n_reference,
        n_current=vocabulary.n_current,
        reason=(
            f"text drift in {subject}: {', '.join(alarms)}"
            + (
                f"; emerging terms {', '.join(list(vocabulary.evidence['emerging_terms'])[:5])}"
                if vocabulary.decision == "drift"
                else ""
            )
            if alarms
            else f"no text drift in {subject}"
        ),
        evidence={"emerging_terms": vocabulary.evidence["emerging_terms"]},
    )
    return TextDriftReport(
        vocabulary=vocabulary, embedding=embedding, confidence=confidence, overall=overall
    )
