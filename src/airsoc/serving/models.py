"""Tables of the serving gateway. Other domains use :mod:`airsoc.serving.control`, never these."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from airsoc.store.base import Base, UTCDateTime


class RoutingRevisionRow(Base):
    """One row whose counter grows with every routing or client-rule change.

    Gateways poll it (a primary-key read) to see changes made by other processes.
    """

    __tablename__ = "gateway_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)


class RouteRow(Base):
    """How a system's traffic is routed now."""

    __tablename__ = "gateway_routes"

    system: Mapped[str] = mapped_column(String(200), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    primary_version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    candidate_version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    candidate_share: Mapped[float] = mapped_column(Float, default=0.0)
    resume_mode: Mapped[str | None] = mapped_column(String(16), nullable=True)
    fallback: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text, default="")


class ClientRuleRow(Base):
    """A per-client rule: blocked, or limited to a request rate."""

    __tablename__ = "gateway_client_rules"

    client_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    rate_per_second: Mapped[float | None] = mapped_column(Float, nullable=True)
    burst: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text, default="")


class HandoffRow(Base):
    """A request parked for a person while a system is in human-handoff fallback."""

    __tablename__ = "gateway_handoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    system: Mapped[str] = mapped_column(String(200), index=True)
    request_id: Mapped[str] = mapped_column(String(100), index=True)
    client_id: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RetrievalControlRow(Base):
    """Whether a RAG system may retrieve, and the documents taken out of its index."""

    __tablename__ = "gateway_retrieval"

    system: Mapped[str] = mapped_column(String(200), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    removed_documents: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text, default="")
