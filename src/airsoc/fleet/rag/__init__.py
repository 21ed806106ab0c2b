"""The demo RAG support bot: policy corpus, retrieval index, answer composer, fallbacks.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.fleet.rag import SupportBot
    >>> SupportBot.demo(clock=SimulatedClock()).answer("How long are backups kept?").citations
    ['POL-IT-004']
"""

from __future__ import annotations

from airsoc.fleet.rag.bot import BotReply, HandoffQueue, HandoffTicket, SupportBot
from airsoc.fleet.rag.policies import load_policies, policy_index
from airsoc.fleet.rag.retrieval import RetrievalHit, RetrievalIndex

__all__ = [
    "BotReply",
    "HandoffQueue",
    "HandoffTicket",
    "RetrievalHit",
    "RetrievalIndex",
    "SupportBot",
    "load_policies",
    "policy_index",
]
