"""Hallucination cascades over a window of RAG turns.

Three signals:

* the ungrounded-answer rate and how fast it grows; a Bernoulli CUSUM against the baseline rate
  finds when the cascade started;
* the same unsupported claim repeating across sessions (near-duplicate clustering of the
  unsupported sentences), with how fast it spreads (new sessions per hour);
* feedback amplification: ungrounded answers that users rate up, or that are re-ingested into
  the index.

Example:
    >>> from datetime import datetime, timedelta, timezone
    >>> from airsoc.detection.llm.grounding import DocumentIndex, GroundingChecker
    >>> from airsoc.detection.llm.turns import Turn
    >>> t0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
    >>> good = "Full-time employees receive 28 days of paid annual leave per year (POL-HR-001 §1)."
    >>> bad = "Unused leave is paid out in cash under POL-HR-099."
    >>> chunk = {"doc_id": "POL-HR-001", "section": "1",
    ...          "text": "Full-time employees receive 28 days of paid annual leave per year."}
    >>> turns = [Turn(session_id=f"s{i}", at=t0 + timedelta(minutes=10 * i),
    ...               answer=good if i < 30 else bad, retrieved=[chunk],
    ...               feedback=1 if i >= 30 else None) for i in range(60)]
    >>> index = DocumentIndex.from_records([{"id": "POL-HR-001", "title": "Annual leave",
    ...     "version": "4", "sections": {"1": chunk["text"]}}])
    >>> v = CascadeDetector(GroundingChecker(index)).detect(turns)
    >>> v.decision, v.evidence["started_at"][:16], v.evidence["repeated_claims"][0]["sessions"]
    ('drift', '2026-03-01T05:00', 30)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from airsoc.detection.llm.embeddings import TfidfEmbedder, cosine_matrix
from airsoc.detection.llm.grounding import GroundingChecker
from airsoc.detection.llm.turns import Turn
from airsoc.detection.verdict import Decision, Verdict

__all__ = ["CascadeDetector"]

HALLUCINATION = "AML.T0062"
RAG_POISONING = "AML.T0070"
FALSE_RAG_ENTRY = "AML.T0071"


class CascadeDetector:
    """Judge a window of turns for a hallucination cascade; return one :class:`Verdict`.

    ``baseline_rate`` is the tolerated ungrounded rate; ``cusum_h`` the CUSUM alarm level (in
    excess ungrounded answers); ``duplicate_cosine`` the similarity at which two unsupported
    claims are the same claim; ``min_sessions`` how many sessions make a claim a repeated one.
    A rising ungrounded rate alone warns; it alarms together with a repeated claim or with
    feedback amplification.
    """

    name = "hallucination_cascade"

    def __init__(
        self,
        checker: GroundingChecker,
        *,
        baseline_rate: float = 0.05,
        cusum_h: float = 4.0,
        bucket: timedelta = timedelta(hours=1),
        duplicate_cosine: float = 0.8,
        min_sessions: int = 3,
        min_upvoted: int = 3,
    ) -> None:
        self.checker = checker
        self.baseline_rate = baseline_rate
        self.cusum_h = cusum_h
        self.bucket = bucket
        self.duplicate_cosine = duplicate_cosine
        self.min_sessions = min_sessions
        self.min_upvoted = min_upvoted

    def detect(self, turns: Sequence[Turn], *, subject: str = "rag") -> Verdict:
        """Return the cascade verdict for ``turns`` (any order; sorted by time here)."""
        turns = sorted(turns, key=lambda t: t.at)
        if not turns:
            return Verdict(
                detector=self.name,
                method="cusum+clusters",
                subject=subject,
                failure_mode="hallucination_cascade",
                decision="ok",
                n_current=0,
                reason="no turns in the window",
            )
        verdicts = [
            self.checker.check(t.answer, [c.to_chunk() for c in t.retrieved], subject=t.session_id)
            for t in turns
        ]
        ungrounded = np.array([v.decision == "drift" for v in verdicts], dtype=float)
        onset, alarm_at = self._cusum(ungrounded)
        series = self._series(turns, ungrounded)
        growth = self._growth(series)
        claims = self._repeated_claims(turns, verdicts)
        upvoted = int(
            sum(1 for t, u in zip(turns, ungrounded, strict=True) if u and (t.feedback or 0) > 0)
        )
        reingested = int(
            sum(1 for t, u in zip(turns, ungrounded, strict=True) if u and t.reingested)
        )
        rate = float(ungrounded.mean())
        signals: list[str] = []
        if alarm_at is not None:
            signals.append("ungrounded rate above baseline")
        if claims:
            signals.append(f"unsupported claim repeated in {claims[0]['sessions']} sessions")
        if upvoted >= self.min_upvoted:
            signals.append(f"{upvoted} ungrounded answers rated up")
        if reingested:
            signals.append(f"{reingested} ungrounded answers re-ingested")
        decision: Decision = (
            "drift"
            if alarm_at is not None and (claims or upvoted >= self.min_upvoted or reingested)
            else "warn"
            if signals
            else "ok"
        )
        atlas: list[str] = []
        if decision != "ok":
            atlas.append(HALLUCINATION)
            if reingested:
                atlas += [RAG_POISONING, FALSE_RAG_ENTRY]
        started = turns[onset].at.isoformat() if onset is not None else None
        reason = (
            f"ungrounded rate {rate:.0%} over {len(turns)} turns"
            + (f"; cascade started {started}" if started else "")
            + (f", growing {growth:+.2f}/h" if started else "")
            + (f"; {'; '.join(signals)}" if signals else "; no cascade signal")
        )
        return Verdict(
            detector=self.name,
            method="cusum+clusters",
            subject=subject,
            failure_mode="hallucination_cascade",
            statistic=round(rate, 4),
            threshold=self.baseline_rate,
            threshold_source="fixed",
            decision=decision,
            effect_size=round(growth, 4),
            n_current=len(turns),
            reason=reason,
            evidence={
                "atlas": atlas,
                "started_at": started,
                "alarm_at": turns[alarm_at].at.isoformat() if alarm_at is not None else None,
                "growth_per_hour": round(growth, 4),
                "ungrounded_rate_by_bucket": series,
                "repeated_claims": claims,
                "feedback": {"upvoted_ungrounded": upvoted, "reingested_ungrounded": reingested},
            },
        )

    def _cusum(self, x: np.ndarray) -> tuple[int | None, int | None]:
        """Return (onset, alarm) indices of a one-sided Bernoulli CUSUM, or Nones."""
        # Reference value halfway to the shift worth catching: 20% of the grounded share lost.
        k = self.baseline_rate + 0.5 * (1 - self.baseline_rate) * 0.2
        s, start = 0.0, 0
        for i, value in enumerate(x):
            if s == 0.0:
                start = i
            s = max(0.0, s + value - k)
            if s >= self.cusum_h:
                return start, i
        return None, None

    def _series(self, turns: Sequence[Turn], flags: np.ndarray) -> list[dict[str, Any]]:
        origin = turns[0].at
        buckets: dict[int, list[float]] = {}
        for t, f in zip(turns, flags, strict=True):
            buckets.setdefault(int((t.at - origin) / self.bucket), []).append(float(f))
        return [
            {
                "start": (origin + i * self.bucket).isoformat(),
                "turns": len(v),
                "ungrounded_rate": round(sum(v) / len(v), 4),
            }
            for i, v in sorted(buckets.items())
        ]

    def _growth(self, series: list[dict[str, Any]]) -> float:
        """Return the least-squares slope of the ungrounded rate per hour over the window."""
        if len(series) < 2:
            return 0.0
        origin = datetime.fromisoformat(series[0]["start"])
        hours = [
            (datetime.fromisoformat(p["start"]) - origin).total_seconds() / 3600 for p in series
        ]
        rates = [p["ungrounded_rate"] for p in series]
        return float(np.polyfit(np.array(hours), np.array(rates), 1)[0])

    def _repeated_claims(
        self, turns: Sequence[Turn], verdicts: Sequence[Verdict]
    ) -> list[dict[str, Any]]:
        claims: list[tuple[str, Turn]] = []
        for t, v in zip(turns, verdicts, strict=True):
            for s in v.evidence.get("sentences", []):
                if not s["supported"]:
                    claims.append((s["sentence"], t))
            for issue in v.evidence.get("issues", []):
                if issue["kind"] == "fabricated_citation":
                    claims.append((f"cites {issue['citation']}", t))
        if not claims:
            return []
        texts = [c for c, _ in claims]
        emb = TfidfEmbedder().fit(texts)
        sims = cosine_matrix(emb.embed(texts), emb.embed(texts))
        parent = list(range(len(texts)))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for i, j in zip(*np.nonzero(np.triu(sims >= self.duplicate_cosine, 1)), strict=True):
            parent[find(int(i))] = find(int(j))
        groups: dict[int, list[int]] = {}
        for i in range(len(texts)):
            groups.setdefault(find(i), []).append(i)
        out = []
        for members in groups.values():
            sessions = {claims[i][1].session_id for i in members}
            if len(sessions) < self.min_sessions:
                continue
            times = sorted(claims[i][1].at for i in members)
            hours = max((times[-1] - times[0]).total_seconds() / 3600, 1e-9)
            out.append(
                {
                    "claim": texts[members[0]],
                    "sessions": len(sessions),
                    "first_seen": times[0].isoformat(),
                    "last_seen": times[-1].isoformat(),
                    "sessions_per_hour": round((len(sessions) - 1) / hours, 3),
                }
            )
        return sorted(out, key=lambda c: -c["sessions"])
