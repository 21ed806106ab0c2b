"""RAG root cause: which documents drive ungrounded answers, which document changed and when,
how the cascade started and spread, and which sessions it reached.

:func:`investigate_rag` reads the logged turns of a RAG application (question, answer, the
chunks retrieved with the hash of the document each came from, feedback, re-ingestion) and the
approved document index:

1. **Grounding.** Every answer is judged against its retrieved chunks and the approved index
   (:class:`~airsoc.detection.llm.grounding.GroundingChecker`); an alarm marks it ungrounded.
2. **Documents.** For each retrieved document, the lift of the ungrounded flag among the answers
   that retrieved it (its changed version, for a document that changed) over the other answers,
   with a one-sided Fisher exact test.
3. **Changes.** A retrieved chunk whose document hash is not the approved version's means the
   document changed: when it was last seen approved and first seen changed, bound the change.
   Documents retrieved that the approved index does not hold (a re-ingested answer, say) are
   listed too.
4. **Cascade.** The origin (a CUSUM over the ungrounded flags, from
   :class:`~airsoc.detection.llm.cascade.CascadeDetector`), how fast it spread (new affected
   sessions per hour), and the feedback loop: repeated unsupported claims, answers that cite
   earlier answers (a retrieved chunk that is an earlier answer's text), up-voted and
   re-ingested ungrounded answers.
5. **Sessions.** The sessions that received an ungrounded answer, with when and from which
   documents: the list a customer notice needs.

The documents are ranked by a score in [0, 1] that puts a document that both changed and drives
the ungrounded answers first.

Example:
    >>> from datetime import datetime, timedelta, timezone
    >>> from airsoc.detection.llm.grounding import ApprovedDocument, DocumentIndex
    >>> from airsoc.detection.llm.turns import ChunkRef, Turn
    >>> good = ApprovedDocument.build("POL-1", "Refunds", "1", {"1": "Refunds within 14 days."})
    >>> bad = ApprovedDocument.build("POL-1", "Refunds", "1", {"1": "Refunds within 365 days."})
    >>> t0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
    >>> def turn(i, doc):
    ...     text = doc.sections["1"]
    ...     chunk = ChunkRef(doc_id="POL-1", text=text, section="1", sha256=doc.sha256)
    ...     return Turn(session_id=f"s{i}", at=t0 + timedelta(minutes=i),
    ...                 answer=f"{text} (POL-1 §1).", retrieved=[chunk])
    >>> turns = [turn(i, good if i < 20 else bad) for i in range(40)]
    >>> found = investigate_rag(turns, approved=DocumentIndex([good]))
    >>> found.documents[0].doc_id, found.documents[0].changed_at[11:16]
    ('POL-1', '00:20')
    >>> len(found.affected_sessions)
    20
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from pydantic import BaseModel
from scipy import stats
from sqlalchemy.orm import Session

from airsoc.clock import Clock
from airsoc.detection.llm.cascade import CascadeDetector
from airsoc.detection.llm.grounding import DocumentIndex, GroundingChecker
from airsoc.detection.llm.turns import Turn
from airsoc.errors import InputError
from airsoc.forensics.record import Found, InvestigationRecord, record_investigation
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.findings import FindingKind

__all__ = [
    "AffectedSession",
    "Cascade",
    "DocumentSuspicion",
    "RagInvestigation",
    "investigate_rag",
    "rag_findings",
    "record_rag_findings",
]

METHOD = "forensics.rag[grounding,lift,hash_vs_approved,cusum,feedback_loop]"


class DocumentSuspicion(BaseModel):
    """One retrieved document: how much it drives ungrounded answers, and whether it changed."""

    doc_id: str
    score: float
    retrieved_by: int
    ungrounded: int
    ungrounded_rate: float
    rate_elsewhere: float
    lift: float
    p_value: float
    approved: bool
    changed: bool
    approved_sha256: str | None
    seen_sha256: list[str]
    last_seen_approved: str | None
    changed_at: str | None
    changed_sections: list[str]
    reason: str


class Cascade(BaseModel):
    """When the cascade started, how fast it spread, and what amplified it."""

    started_at: str | None
    alarm_at: str | None
    first_ungrounded_at: str | None
    sessions_per_hour: float
    growth_per_hour: float
    ungrounded_rate_before: float
    ungrounded_rate_after: float
    repeated_claims: list[dict[str, Any]]
    cites_earlier_answers: int
    upvoted_ungrounded: int
    reingested_ungrounded: int


class AffectedSession(BaseModel):
    """A session that received at least one ungrounded answer."""

    session_id: str
    first_at: str
    last_at: str
    ungrounded_turns: int
    documents: list[str]


class RagInvestigation(BaseModel):
    """The RAG root cause."""

    turns: int
    ungrounded: int
    documents: list[DocumentSuspicion]
    cascade: Cascade
    affected_sessions: list[AffectedSession]
    recommendation: str
    method: str = METHOD
    notes: list[str] = []
    duration_s: float = 0.0

    @property
    def changed_documents(self) -> list[DocumentSuspicion]:
        """Return the documents whose retrieved hash is not the approved one."""
        return [d for d in self.documents if d.changed]

    def to_json(self) -> dict[str, Any]:
        """Return the investigation as JSON-able data."""
        return self.model_dump(mode="json")


def investigate_rag(
    turns: Sequence[Turn],
    *,
    approved: DocumentIndex,
    checker: GroundingChecker | None = None,
    alpha: float = 0.01,
    baseline_rate: float = 0.05,
) -> RagInvestigation:
    """Return the root cause of ungrounded answers in ``turns``.

    Parameters
    ----------
    turns
        The logged turns, any order; each with the chunks it retrieved (with their document's
        sha256 where the application logs it).
    approved
        The approved documents (their approved versions and hashes).
    checker
        The grounding checker (default: one over ``approved``).
    alpha
        The significance level of each document's lift, Bonferroni-corrected.
    baseline_rate
        The tolerated ungrounded rate (the cascade's CUSUM reference).

    Raises
    ------
    InputError
        When there is no turn.

    Examples
    --------
    >>> investigate_rag([], approved=DocumentIndex([]))
    Traceback (most recent call last):
    airsoc.errors.InputError: turns: no turn to investigate
    """
    started = time.perf_counter()
    if not turns:
        raise InputError("no turn to investigate", loc="turns")
    turns = sorted(turns, key=lambda t: t.at)
    checker = checker or GroundingChecker(approved)
    verdicts = [
        checker.check(t.answer, [c.to_chunk() for c in t.retrieved], subject=t.session_id)
        for t in turns
    ]
    flags = np.array([v.decision == "drift" for v in verdicts])
    notes: list[str] = []
    documents = _documents(turns, flags, approved, alpha)
    cascade = _cascade(turns, flags, checker, baseline_rate)
    culprits = {d.doc_id for d in documents if d.score >= 0.5}
    affected = _sessions(turns, flags)
    if not flags.any():
        notes.append("no answer was judged ungrounded")
    top = documents[0] if documents and documents[0].score >= 0.5 else None
    if top is None:
        recommendation = "no document drives the ungrounded answers: look at the model or prompt"
    elif top.changed:
        recommendation = (
            f"remove {top.doc_id} from retrieval and restore its approved version "
            f"({(top.approved_sha256 or '')[:12]}); it changed at {top.changed_at}"
        )
    elif not top.approved:
        recommendation = f"remove {top.doc_id} from retrieval: it is not an approved document"
    else:
        recommendation = f"review {top.doc_id}: answers that retrieve it are often ungrounded"
    if cascade.cites_earlier_answers or cascade.reingested_ungrounded:
        recommendation += "; stop re-ingesting answers into the index"
    if culprits:
        notes.append(f"documents driving ungrounded answers: {sorted(culprits)}")
    return RagInvestigation(
        turns=len(turns),
        ungrounded=int(flags.sum()),
        documents=documents,
        cascade=cascade,
        affected_sessions=affected,
        recommendation=recommendation,
        notes=notes,
        duration_s=round(time.perf_counter() - started, 3),
    )


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _documents(
    turns: Sequence[Turn], flags: np.ndarray[Any, Any], approved: DocumentIndex, alpha: float
) -> list[DocumentSuspicion]:
    ids = sorted({c.doc_id for t in turns for c in t.retrieved})
    level = alpha / max(len(ids), 1)
    n = len(turns)
    total_bad = int(flags.sum())
    out: list[DocumentSuspicion] = []
    for doc_id in ids:
        doc = approved.get(doc_id)
        good = doc.sha256 if doc is not None else None
        used = np.array([any(c.doc_id == doc_id for c in t.retrieved) for t in turns])
        # A changed document drives the answers that retrieved its changed version: those are
        # weighed, not the answers of before the change.
        changed_use = np.array(
            [
                any(
                    c.doc_id == doc_id and c.sha256 and good is not None and c.sha256 != good
                    for c in t.retrieved
                )
                for t in turns
            ]
        )
        if changed_use.any():
            used = changed_use
        k, m = int(flags[used].sum()), int(used.sum())
        rest_bad, rest = total_bad - k, n - m
        rate = k / m
        elsewhere = rest_bad / rest if rest else 0.0
        p = float(
            stats.fisher_exact([[k, m - k], [rest_bad, rest - rest_bad]], alternative="greater")[1]
        )
        # Smoothed, so a document retrieved only by ungrounded answers has a finite lift.
        lift = ((k + 0.5) / (m + 1)) / ((rest_bad + 0.5) / (rest + 1))
        hashes = list(dict.fromkeys(c.sha256 for t in turns for c in t.retrieved
                                    if c.doc_id == doc_id and c.sha256))  # fmt: skip
        last_good: datetime | None = None
        first_bad: datetime | None = None
        changed_sections: set[str] = set()
        for t in turns:
            for c in t.retrieved:
                if c.doc_id != doc_id or not c.sha256 or good is None:
                    continue
                if c.sha256 == good and first_bad is None:
                    last_good = t.at
                elif c.sha256 != good:
                    first_bad = first_bad or t.at
                    section = c.section
                    if (
                        section is not None
                        and doc is not None
                        and (doc.sections.get(section, "").strip() != c.text.strip())
                    ):
                        changed_sections.add(section)
        changed = first_bad is not None
        # How far the document drives the ungrounded answers: the excess ungrounded rate among
        # the answers that retrieved it, when significant.
        excess = max(0.0, (rate - elsewhere) / (1 - elsewhere)) if elsewhere < 1 else 0.0
        drive = excess if p < level else excess * 0.5
        score = 0.5 + 0.5 * drive if (changed or doc is None) and p < level else drive * 0.5
        reasons = [
            f"{k} of {m} answers that retrieved it are ungrounded ({rate:.0%}, "
            f"{elsewhere:.0%} elsewhere, p={p:.2g})"
        ]
        if changed:
            reasons.append(
                f"its retrieved hash is not the approved one since {first_bad:%Y-%m-%d %H:%M}"
                if first_bad
                else "its retrieved hash is not the approved one"
            )
        if doc is None:
            reasons.append("it is not an approved document")
        out.append(
            DocumentSuspicion(
                doc_id=doc_id,
                score=round(min(score, 1.0), 6),
                retrieved_by=m,
                ungrounded=k,
                ungrounded_rate=round(rate, 6),
                rate_elsewhere=round(elsewhere, 6),
                lift=round(min(lift, 1e6), 4),
                p_value=p,
                approved=doc is not None,
                changed=changed,
                approved_sha256=good,
                seen_sha256=hashes,
                last_seen_approved=_iso(last_good),
                changed_at=_iso(first_bad),
                changed_sections=sorted(changed_sections),
                reason="; ".join(reasons),
            )
        )
    # A changed approved document before an unapproved one of the same score: the change is
    # the origin, a re-ingested answer its consequence.
    out.sort(key=lambda d: (-d.score, not d.changed, d.p_value, d.doc_id))
    return out


def _cascade(
    turns: Sequence[Turn],
    flags: np.ndarray[Any, Any],
    checker: GroundingChecker,
    baseline_rate: float,
) -> Cascade:
    verdict = CascadeDetector(checker, baseline_rate=baseline_rate).detect(turns)
    ev = verdict.evidence
    origin_text = ev.get("started_at")
    origin = datetime.fromisoformat(origin_text) if origin_text else None
    first_bad = next((t.at for t, f in zip(turns, flags, strict=True) if f), None)
    start = origin or first_bad
    after = np.array([start is not None and t.at >= start for t in turns])
    before_rate = float(flags[~after].mean()) if (~after).any() else 0.0
    after_rate = float(flags[after].mean()) if after.any() else 0.0
    # Sessions reached per hour from the origin to the last ungrounded answer.
    bad_times: dict[str, datetime] = {}
    for t, f in zip(turns, flags, strict=True):
        if f and t.session_id not in bad_times:
            bad_times[t.session_id] = t.at
    speed = 0.0
    if start is not None and bad_times:
        span = max(bad_times.values()) - start
        speed = len(bad_times) / max(span / timedelta(hours=1), 1 / 60)
    # An answer cites an earlier answer when it retrieved a chunk of a document that is not
    # approved whose text is an earlier ungrounded answer (re-ingested into the index).
    answers: dict[str, datetime] = {}
    cites_earlier = 0
    for t, f in zip(turns, flags, strict=True):
        if any(
            checker.index.get(c.doc_id) is None and (answers.get(_squash(c.text)) or t.at) < t.at
            for c in t.retrieved
        ):
            cites_earlier += 1
        if f and t.answer:
            for form in (t.answer, _strip_citations(t.answer)):
                answers.setdefault(_squash(form), t.at)
    feedback = ev.get("feedback", {})
    return Cascade(
        started_at=origin_text,
        alarm_at=ev.get("alarm_at"),
        first_ungrounded_at=_iso(first_bad),
        sessions_per_hour=round(speed, 4),
        growth_per_hour=float(ev.get("growth_per_hour", 0.0)),
        ungrounded_rate_before=round(before_rate, 6),
        ungrounded_rate_after=round(after_rate, 6),
        repeated_claims=list(ev.get("repeated_claims", []))[:20],
        cites_earlier_answers=cites_earlier,
        upvoted_ungrounded=int(feedback.get("upvoted_ungrounded", 0)),
        reingested_ungrounded=int(feedback.get("reingested_ungrounded", 0)),
    )


def _squash(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .")


_CITATION = re.compile(r"\s*\([A-Z][A-Z0-9-]+ §[^)]*\)")


def _strip_citations(answer: str) -> str:
    return _CITATION.sub("", answer)


def _sessions(turns: Sequence[Turn], flags: np.ndarray[Any, Any]) -> list[AffectedSession]:
    found: dict[str, dict[str, Any]] = {}
    for t, f in zip(turns, flags, strict=True):
        if not f:
            continue
        docs: dict[str, None] = {}
        s = found.setdefault(t.session_id, {"first": t.at, "last": t.at, "n": 0, "docs": docs})
        s["last"] = t.at
        s["n"] += 1
        for c in t.retrieved:
            s["docs"][c.doc_id] = None
    return [
        AffectedSession(
            session_id=sid,
            first_at=s["first"].isoformat(),
            last_at=s["last"].isoformat(),
            ungrounded_turns=s["n"],
            documents=list(s["docs"]),
        )
        for sid, s in sorted(found.items(), key=lambda kv: (kv[1]["first"], kv[0]))
    ]


# ---------------------------------------------------------------------------------- findings


def rag_findings(found: RagInvestigation) -> list[Found]:
    """Return the findings: the top changed or driving document as the root cause, the other
    driving documents, the cascade, and the affected sessions.

    >>> empty = RagInvestigation(turns=1, ungrounded=0, documents=[], recommendation="none",
    ...     cascade=Cascade(started_at=None, alarm_at=None, first_ungrounded_at=None,
    ...         sessions_per_hour=0, growth_per_hour=0, ungrounded_rate_before=0,
    ...         ungrounded_rate_after=0, repeated_claims=[], cites_earlier_answers=0,
    ...         upvoted_ungrounded=0, reingested_ungrounded=0), affected_sessions=[])
    >>> [f.kind.value for f in rag_findings(empty)]
    ['observation']
    """
    out: list[Found] = []
    driving = [d for d in found.documents if d.score >= 0.5]
    for rank, d in enumerate(driving):
        window = {"start": d.last_seen_approved, "end": d.changed_at} if d.changed else None
        what = (
            f"Document {d.doc_id} changed"
            + (f" at {d.changed_at}" if d.changed_at else "")
            + " and drives the ungrounded answers"
            if d.changed
            else f"Document {d.doc_id} drives the ungrounded answers"
            + ("" if d.approved else " (not an approved document)")
        )
        out.append(
            Found(
                kind=FindingKind.ROOT_CAUSE if rank == 0 else FindingKind.CONTRIBUTING_FACTOR,
                subject_type="document",
                subject=d.doc_id,
                score=d.score,
                title=what,
                detail=d.reason,
                recommendation=found.recommendation if rank == 0 else "",
                window=window,
                data={
                    "lift": d.lift,
                    "p_value": d.p_value,
                    "approved_sha256": d.approved_sha256,
                    "seen_sha256": d.seen_sha256,
                    "changed_sections": d.changed_sections,
                },
            )
        )
    c = found.cascade
    sessions = [s.session_id for s in found.affected_sessions]
    out.append(
        Found(
            kind=FindingKind.OBSERVATION,
            subject_type="segment",
            subject="sessions",
            score=min(1.0, found.ungrounded / max(found.turns, 1)),
            title=(
                f"{found.ungrounded} of {found.turns} answers ungrounded in {len(sessions)} "
                f"sessions; cascade from {c.started_at or c.first_ungrounded_at or 'unknown'}, "
                f"{c.sessions_per_hour:.1f} sessions/h"
            ),
            detail=(
                f"ungrounded rate {c.ungrounded_rate_before:.1%} before, "
                f"{c.ungrounded_rate_after:.1%} after the origin; {len(c.repeated_claims)} "
                f"repeated claims; {c.cites_earlier_answers} answers cite earlier answers; "
                f"{c.upvoted_ungrounded} up-voted, {c.reingested_ungrounded} re-ingested"
            ),
            window={"start": c.started_at or c.first_ungrounded_at, "end": None},
            data={"affected_sessions": sessions[:5000]},
        )
    )
    return out


def record_rag_findings(
    session: Session,
    *,
    clock: Clock,
    blobs: BlobStore,
    incident_id: int,
    investigation: RagInvestigation,
    actor: str,
) -> InvestigationRecord:
    """Attach the RAG investigation (as evidence) and its findings to the incident."""
    return record_investigation(
        session,
        clock=clock,
        blobs=blobs,
        incident_id=incident_id,
        actor=actor,
        name="rag-investigation.json",
        body=investigation.to_json(),
        method=investigation.method,
        findings=rag_findings(investigation),
    )
