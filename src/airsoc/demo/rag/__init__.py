"""The demo RAG support bot: policy corpus, retrieval index, answer composer, fallbacks.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.demo.rag import SupportBot
    >>> SupportBot.demo(clock=SimulatedClock()).answer("How long are backups kept?").citations
    ['POL-IT-004']
"""

from __future__ import annotations

from airsoc.demo.rag.bot import BotReply, HandoffQueue, HandoffTicket, SupportBot
from airsoc.demo.rag.policies import load_policies, policy_index
from airsoc.demo.rag.retrieval import RetrievalHit, RetrievalIndex

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
