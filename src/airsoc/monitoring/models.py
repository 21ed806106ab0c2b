"""Tables of monitoring: signals and monitor state. Other domains use
:mod:`airsoc.monitoring.signals`, never these."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from airsoc.store.base import Base, UTCDateTime

__all__ = ["MonitorStateRow", "SignalRow"]


class SignalRow(Base):
    """One verdict of one monitor run (or one ingested external alert), kept for history."""

    __tablename__ = "alert_signals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    monitor: Mapped[str] = mapped_column(String(200), index=True)
    system: Mapped[str] = mapped_column(String(200), index=True)
    detector: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(300))
    decision: Mapped[str] = mapped_column(String(16))
    statistic: Mapped[float | None] = mapped_column(Float, nullable=True)
    p_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(String(50))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    verdict: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class MonitorStateRow(Base):
    """When a monitor last ran and is next due."""

    __tablename__ = "monitor_state"

    monitor: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
