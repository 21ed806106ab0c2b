"""The registry's records looked up by name, shared by every part of the lineage registry.

The two views every lineage walk returns (:class:`ModelVersionView`, :class:`BatchView`), the
rows behind systems, model versions and batches found by name (a clear :class:`NotFoundError`
otherwise), and the checks of a status vocabulary and of a sha256.

Example:
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> with store.read() as s:
    ...     system_row(s, "fraud")
    Traceback (most recent call last):
    ...
    airsoc.errors.NotFoundError: system 'fraud' is not registered (airsoc registry systems)
    >>> store.close()
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.errors import InputError, NotFoundError
from airsoc.lineage.models import DataBatchRow, ModelVersionRow, SystemRow, TrainingLinkRow

__all__ = [
    "BatchView",
    "ModelVersionView",
    "batch_chain",
    "batch_row",
    "check_choice",
    "check_sha256",
    "model_row",
    "model_view",
    "system_row",
]


class ModelVersionView(BaseModel):
    """A model version with its artifact hash, training batches and known-good flag."""

    system: str
    version: str
    artifact_uri: str
    sha256: str
    framework: str
    input_schema: dict[str, Any]
    metrics: dict[str, Any]
    params: dict[str, Any]
    status: str
    known_good: bool
    known_good_by: str | None
    known_good_at: datetime | None
    known_good_reason: str | None
    created_by: str
    created_at: datetime
    training_batches: list[str]


class BatchView(BaseModel):
    """A data batch: where it came from, what it covers, its hash and its status."""

    model_config = ConfigDict(from_attributes=True, serialize_by_alias=True, validate_by_name=True)

    batch_id: str
    source: str
    uri: str
    ingested_at: datetime
    time_start: datetime | None
    time_end: datetime | None
    rows: int
    schema_: dict[str, Any] = Field(alias="schema")
    sha256: str
    validation: dict[str, Any]
    status: str
    created_by: str
    approved_by: str | None = None
    approved_at: datetime | None = None
    screening: dict[str, Any] | None = None


def batch_chain(batch_id: str) -> str:
    """Return the audit chain of a data batch.

    >>> batch_chain("acme-7")
    'batch/acme-7'
    """
    return f"batch/{batch_id}"


def system_row(session: Session, name: str) -> SystemRow:
    row = session.execute(select(SystemRow).where(SystemRow.name == name)).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"system {name!r} is not registered (airsoc registry systems)")
    return row


def model_row(session: Session, system: str, version: str) -> ModelVersionRow:
    sys_row = system_row(session, system)
    row = session.execute(
        select(ModelVersionRow).where(
            ModelVersionRow.system_id == sys_row.id, ModelVersionRow.version == version
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"system {system} has no model version {version!r}")
    return row


def batch_row(session: Session, batch_id: str) -> DataBatchRow:
    row = session.execute(
        select(DataBatchRow).where(DataBatchRow.batch_id == batch_id)
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"data batch {batch_id!r} is not registered")
    return row


def model_view(session: Session, row: ModelVersionRow, system: str) -> ModelVersionView:
    batches = session.execute(
        select(DataBatchRow.batch_id)
        .join(TrainingLinkRow, TrainingLinkRow.batch_id == DataBatchRow.id)
        .where(TrainingLinkRow.model_version_id == row.id)
        .order_by(DataBatchRow.ingested_at, DataBatchRow.id)
    ).scalars()
    data = {c.key: getattr(row, c.key) for c in ModelVersionRow.__table__.columns}
    return ModelVersionView(system=system, training_batches=list(batches), **data)


def check_choice(value: str, allowed: Sequence[str], what: str) -> None:
    if value not in allowed:
        raise InputError(f"{what} {value!r} is not one of {', '.join(allowed)}")


def check_sha256(value: str, subject: str) -> None:
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise InputError(f"{subject}: sha256 must be 64 lowercase hex digits, got {value!r}")
