"""The demo RAG support bot: retrieval, an extractive answer that cites policy IDs, a scripted
fallback, and a human-handoff queue.

Its switches are the targets of response actions: ``retrieval_enabled`` (disable retrieval,
answer from scripts), ``scripted_only`` (full fallback), the index's ``remove_document``, and an
optional guard (a prompt-injection detector) that routes attacks to a human and drops
retrieved chunks that carry injected instructions.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> bot = SupportBot.demo(clock=SimulatedClock())
    >>> reply = bot.answer("How many days of annual leave do full-time employees get?")
    >>> reply.mode, reply.citations
    ('rag', ['POL-HR-001'])
    >>> reply.text
    'Full-time employees receive 28 days of paid annual leave per year (POL-HR-001 §1).'
    >>> bot.retrieval_enabled = False
    >>> bot.answer("What is the refund policy?").mode
    'scripted'
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from airsoc.clock import Clock
from airsoc.detection.llm.grounding import RetrievedChunk
from airsoc.detection.verdict import Verdict
from airsoc.errors import NotFoundError
from airsoc.fleet.rag.policies import load_policies
from airsoc.fleet.rag.retrieval import Backend, RetrievalHit, RetrievalIndex

__all__ = ["SCRIPTED_RESPONSES", "BotReply", "HandoffQueue", "HandoffTicket", "SupportBot"]

ReplyMode = Literal["rag", "scripted", "handoff"]

#: Keyword -> canned answer used when retrieval is off or finds nothing good enough.
SCRIPTED_RESPONSES: dict[str, str] = {
    "refund": "Refund requests are handled by the billing team: open a ticket from the billing "
    "page and we will reply within one business day.",
    "cancel": "You can cancel your subscription from the billing page at any time.",
    "password": "Reset your password from the sign-in page. We never ask for your password.",
    "invoice": "Invoices are available on the billing page.",
    "leave": "Questions about leave are answered by HR: please contact your HR partner.",
    "expense": "Expense questions are answered by the finance team.",
    "security": "Report security concerns to the security team right away.",
}
_WORDS = re.compile(r"[a-z]+")
_HUMAN = re.compile(r"\b(?:human|agent|person|representative|operator)\b", re.IGNORECASE)


@dataclass(frozen=True)
class HandoffTicket:
    """A conversation handed to a human: who, what, why and when."""

    id: int
    session_id: str
    question: str
    reason: str
    at: datetime


class HandoffQueue:
    """First-in first-out queue of conversations waiting for a human agent.

    >>> from airsoc.clock import SimulatedClock
    >>> q = HandoffQueue(clock=SimulatedClock())
    >>> q.put(session_id="s1", question="help", reason="asked for a human").id
    1
    >>> q.take().question, len(q)
    ('help', 0)
    """

    def __init__(self, *, clock: Clock) -> None:
        self.clock = clock
        self._items: deque[HandoffTicket] = deque()
        self._ids = itertools.count(1)

    def put(self, *, session_id: str, question: str, reason: str) -> HandoffTicket:
        """Queue a conversation for a human and return its ticket."""
        ticket = HandoffTicket(next(self._ids), session_id, question, reason, self.clock.now())
        self._items.append(ticket)
        return ticket

    def take(self) -> HandoffTicket:
        """Return the oldest waiting ticket and remove it; NotFoundError when the queue is empty."""
        if not self._items:
            raise NotFoundError("the handoff queue is empty")
        return self._items.popleft()

    def pending(self) -> list[HandoffTicket]:
        """Return the waiting tickets, oldest first."""
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)


class InputGuard(Protocol):
    """Anything that judges a text, such as the prompt-injection detector."""

    def detect(self, text: str, *, source: Literal["user", "retrieved"] = "user") -> Verdict:
        """Return a verdict on ``text`` coming from ``source``."""
        ...


@dataclass(frozen=True)
class BotReply:
    """The bot's answer: text, how it was produced, the policy IDs cited and chunks used."""

    text: str
    mode: ReplyMode
    citations: list[str] = field(default_factory=list)
    chunks: list[RetrievedChunk] = field(default_factory=list)
    ticket: HandoffTicket | None = None
    guard: Verdict | None = None


class SupportBot:
    """Answer support questions from the policy corpus, with fallbacks a responder can switch."""

    def __init__(
        self,
        index: RetrievalIndex,
        *,
        clock: Clock,
        guard: InputGuard | None = None,
        min_score: float = 0.12,
        max_sources: int = 2,
    ) -> None:
        self.index = index
        self.clock = clock
        self.guard = guard
        self.min_score = min_score
        self.max_sources = max_sources
        self.retrieval_enabled = True
        self.scripted_only = False
        self.handoffs = HandoffQueue(clock=clock)

    @classmethod
    def demo(
        cls, *, clock: Clock, backend: Backend = "tfidf", guard: InputGuard | None = None
    ) -> SupportBot:
        """Return the bot over the shipped policy corpus."""
        return cls(RetrievalIndex(load_policies(), backend=backend), clock=clock, guard=guard)

    def answer(
        self,
        question: str,
        *,
        session_id: str = "anonymous",
        retrieval: bool = True,
        exclude: Collection[str] = (),
    ) -> BotReply:
        """Return the bot's reply to ``question``; hand off to a human when it cannot answer.

        ``retrieval=False`` answers from the scripts for this question only; documents in
        ``exclude`` are not retrieved (a retrieval control read from the gateway's store).

        >>> from airsoc.clock import SimulatedClock
        >>> bot = SupportBot.demo(clock=SimulatedClock())
        >>> r = bot.answer("Can I talk to a human please?", session_id="s9")
        >>> r.mode, r.ticket.reason
        ('handoff', 'customer asked for a human')
        """
        question = question.strip()
        if not question:
            return BotReply("Could you tell me what you need help with?", "scripted")
        if _HUMAN.search(question):
            return self._handoff(question, session_id, "customer asked for a human")
        if self.guard is not None:
            verdict = self.guard.detect(question, source="user")
            if verdict.is_alarm:
                ticket = self.handoffs.put(
                    session_id=session_id, question=question, reason=f"blocked: {verdict.reason}"
                )
                return BotReply(
                    "I can't help with that request. A colleague will review this conversation.",
                    "handoff",
                    ticket=ticket,
                    guard=verdict,
                )
        if retrieval and self.retrieval_enabled and not self.scripted_only:
            hits = [
                h
                for h in self.index.search(question, k=5)
                if h.score >= self.min_score and h.chunk.doc_id not in exclude
            ]
            if self.guard is not None:
                # Indirect injection: a poisoned document never reaches the answer.
                guard = self.guard
                hits = [
                    h for h in hits if not guard.detect(h.chunk.text, source="retrieved").is_alarm
                ]
            if hits:
                return self._compose(hits)
        scripted = self._scripted(question)
        if scripted is not None:
            return BotReply(scripted, "scripted")
        return self._handoff(question, session_id, "no grounded or scripted answer")

    def _compose(self, hits: list[RetrievalHit]) -> BotReply:
        chosen = [hits[0]]
        for hit in hits[1:]:
            if len(chosen) >= self.max_sources:
                break
            if hit.score >= 0.75 * hits[0].score and hit.chunk.doc_id == hits[0].chunk.doc_id:
                chosen.append(hit)
        sentences = []
        for hit in chosen:
            body = hit.chunk.text.rstrip(".")
            sentences.append(f"{body} ({hit.chunk.doc_id} §{hit.chunk.section}).")
        cited = list(dict.fromkeys(h.chunk.doc_id for h in chosen))
        return BotReply(" ".join(sentences), "rag", cited, [h.chunk for h in chosen])

    def _scripted(self, question: str) -> str | None:
        words = set(_WORDS.findall(question.lower()))
        for key, text in SCRIPTED_RESPONSES.items():
            if any(w.startswith(key) for w in words):
                return text
        return None

    def _handoff(self, question: str, session_id: str, reason: str) -> BotReply:
        ticket = self.handoffs.put(session_id=session_id, question=question, reason=reason)
        return BotReply(
            "I've passed your question to a colleague who will get back to you.",
            "handoff",
            ticket=ticket,
        )
