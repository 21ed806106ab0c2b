"""Tables of the lineage registry. Other domains use the functions of :mod:`airsoc.lineage`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from airsoc.store.base import Base, UTCDateTime


class SystemRow(Base):
    """An AI system: what it is, who owns it, how critical it is, what it falls back to."""

    __tablename__ = "lineage_systems"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(200))
    criticality: Mapped[str] = mapped_column(String(16))
    fallback: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: How the system is retrained (``{"hook": "module:function"}`` or ``{"command": [...]}``).
    retrain: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ModelVersionRow(Base):
    """A trained model version of a system, with its artifact hash and known-good flag."""

    __tablename__ = "lineage_model_versions"
    __table_args__ = (UniqueConstraint("system_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("lineage_systems.id"), index=True)
    version: Mapped[str] = mapped_column(String(100))
    artifact_uri: Mapped[str] = mapped_column(String(1000))
    sha256: Mapped[str] = mapped_column(String(64))
    framework: Mapped[str] = mapped_column(String(64))
    input_schema: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), index=True)
    known_good: Mapped[bool] = mapped_column(Boolean, default=False)
    known_good_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    known_good_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    known_good_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DataBatchRow(Base):
    """A batch of training data from one source, with its content hash and validation result."""

    __tablename__ = "lineage_data_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[str] = mapped_column(String(200), index=True)
    uri: Mapped[str] = mapped_column(String(1000), default="")
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    time_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    time_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    rows: Mapped[int] = mapped_column(BigInteger)
    schema: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sha256: Mapped[str] = mapped_column(String(64))
    validation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    #: Who approved the batch for training while its source was on probation, and the
    #: screening verdict the approval rests on.
    approved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    screening: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class SourceRow(Base):
    """A data source (vendor) whose trust level is not the default ``trusted``."""

    __tablename__ = "lineage_sources"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    trust: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TrainingLinkRow(Base):
    """A model version was trained on a data batch."""

    __tablename__ = "lineage_training_links"
    __table_args__ = (UniqueConstraint("model_version_id", "batch_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("lineage_model_versions.id"), index=True
    )
    batch_id: Mapped[int] = mapped_column(ForeignKey("lineage_data_batches.id"), index=True)


class DeploymentRow(Base):
    """A model version served a system from ``started_at`` until ``ended_at`` (open: still)."""

    __tablename__ = "lineage_deployments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("lineage_systems.id"), index=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("lineage_model_versions.id"))
    role: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    switched_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
