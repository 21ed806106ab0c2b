"""Traffic through the demo RAG support bot, with one policy document corrupted at a known time
and (optionally) a feedback loop that re-ingests the bot's answers into its index.

The investigation sees only the logged turns and the approved index; the :class:`RagWorld`
keeps the truth to grade it.

>>> world = rag_world(sessions=30, seed=1)
>>> world.corrupted, len(world.turns) > 30
('POL-CS-001', True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from airsoc.clock import SimulatedClock
from airsoc.detection.llm.grounding import ApprovedDocument
from airsoc.detection.llm.turns import ChunkRef, Turn
from airsoc.fleet.rag.bot import SupportBot
from airsoc.fleet.rag.policies import load_policies

START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@dataclass
class RagWorld:
    """The logged turns and the truth: which document changed, when, and who saw it."""

    turns: list[Turn]
    corrupted: str
    changed_at: datetime
    exposed_sessions: set[str] = field(default_factory=set)


def questions() -> list[tuple[str, str]]:
    """Return (document, question) pairs: one question per policy section, in its own words."""
    out = []
    for doc in load_policies():
        for text in doc.sections.values():
            words = text.rstrip(".").split()
            out.append((doc.id, f"{doc.title}: {' '.join(words[:9])}?"))
    return out


def rag_world(
    *,
    sessions: int = 300,
    hours: float = 12.0,
    change_after: float = 0.4,
    corrupted: str = "POL-CS-001",
    reingest_share: float = 0.0,
    seed: int = 0,
) -> RagWorld:
    """Run ``sessions`` conversations (1 to 3 questions each) over ``hours``; a share
    ``change_after`` of the way through, ``corrupted`` has its figures rewritten in the index
    (same ID, same version label). With ``reingest_share``, that share of the answers citing
    the corrupted document are added back to the index as FAQ entries (a feedback loop).
    """
    rng = np.random.default_rng(seed)
    clock = SimulatedClock(START)
    bot = SupportBot.demo(clock=clock)
    pool = questions()
    # Refund questions are common: a third of the traffic asks about the corrupted document.
    hot = [q for q in pool if q[0] == corrupted]
    starts = np.sort(rng.uniform(0, hours * 3600, sessions))
    change_at = START + timedelta(hours=hours * change_after)
    original = next(d for d in load_policies() if d.id == corrupted)
    changed = False
    turns: list[Turn] = []
    exposed: set[str] = set()
    faq = 0
    for i, offset in enumerate(starts):
        at = START + timedelta(seconds=float(offset))
        session = f"sess-{i:04d}"
        for j in range(int(rng.integers(1, 4))):
            now = at + timedelta(minutes=2 * j)
            if not changed and now >= change_at:
                corrupt = {
                    k: v.replace("14 days", "365 days")
                    .replace("90 days", "3 years")
                    .replace("10 business days", "24 hours")
                    for k, v in original.sections.items()
                }
                bot.index.add_document(
                    ApprovedDocument.build(corrupted, original.title, original.version, corrupt)
                )
                changed = True
            _doc, question = (
                hot[int(rng.integers(len(hot)))]
                if rng.random() < 0.33
                else pool[int(rng.integers(len(pool)))]
            )
            reply = bot.answer(question, session_id=session)
            chunks = [
                ChunkRef(doc_id=c.doc_id, text=c.text, section=c.section, sha256=c.sha256)
                for c in reply.chunks
            ]
            reingested = False
            if changed and any(c.doc_id == corrupted for c in reply.chunks):
                exposed.add(session)
                if rng.random() < reingest_share:
                    faq += 1
                    bot.index.add_document(
                        ApprovedDocument.build(
                            f"FAQ-{faq:03d}", "Customer FAQ", "1", {"1": reply.text}
                        )
                    )
                    reingested = True
            if any(c.doc_id.startswith("FAQ-") for c in reply.chunks):
                exposed.add(session)
            turns.append(
                Turn(
                    session_id=session,
                    at=now,
                    user=question,
                    answer=reply.text,
                    retrieved=chunks,
                    reingested=reingested,
                )
            )
    return RagWorld(
        turns=turns, corrupted=corrupted, changed_at=change_at, exposed_sessions=exposed
    )
