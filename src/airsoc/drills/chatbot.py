"""The support bot as a chaos drill runs it: the fleet's RAG bot
(:class:`~airsoc.fleet.rag.SupportBot`) served as an OpenAI-compatible chat upstream in a
thread of the drill's process, registered as the ``support-bot`` version the gateway's chat
endpoint forwards to, and reading its retrieval control from the store before each answer (so
``disable_retrieval`` and ``remove_document`` reach it).

What injectors may touch (:class:`DrillBot`): the documents in the bot's retrieval index (a
poisoned or corrupted document, answers re-ingested as FAQ entries), and the approved policy
index in the fleet's folder (a legitimate update published by the policy owners). The bot
remembers the replies it gave, as a team's FAQ pipeline reads them from the bot's own log. No
monitor reads any of this: they judge the turns the gateway logged.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.fleet.rag.policies import POLICIES_RESOURCE
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "policies.yaml").write_bytes(POLICIES_RESOURCE.read_bytes())
    >>> bot = DrillBot(clock=SimulatedClock(), folder=folder)
    >>> bot.bot.answer("How long are backups kept?").citations
    ['POL-IT-004']
    >>> [r.citations for _, r in bot.replies_since(None)]
    [['POL-IT-004']]
    >>> doc = bot.document("POL-IT-004")
    >>> bot.put_document(edit_document(doc, {"35 days": "5 days"}))
    >>> bot.bot.answer("How long are backups kept?").text[:36]
    'Backups are retained for 5 days and '
    >>> edit_document(doc, {"no such text": "x"})
    Traceback (most recent call last):
    ...
    airsoc.errors.InputError: replace: POL-IT-004 has no text 'no such text'
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from airsoc.clock import Clock
from airsoc.detection.llm.grounding import ApprovedDocument
from airsoc.errors import InputError, NotFoundError
from airsoc.fleet.rag import SupportBot
from airsoc.fleet.rag.bot import BotReply
from airsoc.fleet.rag.upstream import chat_app
from airsoc.fleet.setup import POLICY_INDEX, SUPPORT_BOT, register_support_bot
from airsoc.serving import RetrievalView, get_retrieval
from airsoc.serving.testing import serve_in_thread
from airsoc.store import Store

__all__ = ["DrillBot", "RecordingBot", "edit_document", "serve_support_bot"]


class RecordingBot(SupportBot):
    """The support bot, remembering each reply it gave with its time and question."""

    replies: list[tuple[datetime, str, BotReply]]

    def answer(
        self,
        question: str,
        *,
        session_id: str = "anonymous",
        retrieval: bool = True,
        exclude: Collection[str] = (),
    ) -> BotReply:
        """Answer as the support bot does, and remember the reply."""
        reply = super().answer(
            question, session_id=session_id, retrieval=retrieval, exclude=exclude
        )
        if not hasattr(self, "replies"):
            self.replies = []
        self.replies.append((self.clock.now(), question, reply))
        return reply


def edit_document(doc: ApprovedDocument, replace: Mapping[str, str]) -> ApprovedDocument:
    """Return ``doc`` with each text of ``replace`` replaced in its sections (its hash
    recomputed); raise :class:`~airsoc.errors.InputError` naming a text no section holds."""
    sections = dict(doc.sections)
    for old, new in replace.items():
        if not any(old in text for text in sections.values()):
            raise InputError(f"{doc.id} has no text {old!r}", loc="replace")
        sections = {k: v.replace(old, new) for k, v in sections.items()}
    return ApprovedDocument.build(doc.id, doc.title, doc.version, sections, url=doc.url)


class DrillBot:
    """The drill's support bot and the two document stores around it: its retrieval index and
    the approved policy index (``policies.yaml`` in the fleet's ``folder``)."""

    def __init__(self, *, clock: Clock, folder: Path) -> None:
        bot = RecordingBot.demo(clock=clock)
        assert isinstance(bot, RecordingBot)
        bot.replies = []
        self.bot: RecordingBot = bot
        self.clock = clock
        self.approved_path = folder / POLICY_INDEX

    def document(self, doc_id: str) -> ApprovedDocument:
        """Return the document ``doc_id`` of the bot's index; NotFoundError naming the known."""
        try:
            return self.bot.index.documents[doc_id]
        except KeyError:
            known = ", ".join(sorted(self.bot.index.documents))
            raise NotFoundError(
                f"the support bot's index has no document {doc_id!r}; it has {known}"
            ) from None

    def put_document(self, doc: ApprovedDocument) -> None:
        """Add ``doc`` to the bot's retrieval index, or replace the document of its id."""
        self.bot.index.add_document(doc)

    def publish_approved(self, doc: ApprovedDocument) -> None:
        """Write ``doc`` into the approved policy index (replacing the document of its id), as
        the policy owners publish a reviewed version."""
        raw = yaml.safe_load(self.approved_path.read_text(encoding="utf-8")) or []
        record = {
            "id": doc.id,
            "title": doc.title,
            "version": doc.version,
            "sections": dict(doc.sections),
        }
        if doc.url:
            record["url"] = doc.url
        raw = [r for r in raw if r.get("id") != doc.id] + [record]
        self.approved_path.write_text(
            yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )

    def replies_since(self, since: datetime | None) -> list[tuple[str, BotReply]]:
        """Return the (question, reply) pairs the bot gave after ``since`` (all when None)."""
        return [(q, r) for at, q, r in self.bot.replies if since is None or at > since]

    def app(self, store: Store) -> Any:
        """Return the bot's chat app, reading the support bot's retrieval control in ``store``
        before each answer."""

        def controls() -> RetrievalView:
            with store.read() as s:
                return get_retrieval(s, system=SUPPORT_BOT)

        return chat_app(self.bot, controls=controls)


@contextlib.contextmanager
def serve_support_bot(store: Store, clock: Clock, *, folder: Path) -> Iterator[DrillBot]:
    """Serve the drill's support bot on a free local port in a thread of this process, register
    it as the ``support-bot`` version the gateway serves, and yield it."""
    bot = DrillBot(clock=clock, folder=folder)
    with serve_in_thread(bot.app(store)) as url:
        register_support_bot(store, clock, folder=folder, url=f"{url}/v1")
        yield bot
