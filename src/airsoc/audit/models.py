"""Tables of the audit timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from airsoc.store.base import Base, UTCDateTime


class AuditChain(Base):
    """The registry row of one chain: how many entries it holds and its head, under a keyed tag.

    Locking this row serialises appends to the chain. ``head_mac`` is the HMAC of
    (chain, count, head hash) under the key ``key_id``, so a head rewound by hand is named.
    A chain written before keyed audit has no ``head_mac`` until it is upgraded.
    """

    __tablename__ = "audit_chains"

    chain: Mapped[str] = mapped_column(String(200), primary_key=True)
    head_seq: Mapped[int] = mapped_column(Integer, default=0)
    head_hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    head_mac: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AuditEntry(Base):
    """One entry: who did what to which subject, when and why, hash-chained to the previous."""

    __tablename__ = "audit_entries"
    __table_args__ = (UniqueConstraint("chain", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain: Mapped[str] = mapped_column(String(200), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    #: The audit key the hash is an HMAC under; ``None``: a plain sha256 of before keyed audit.
    key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
