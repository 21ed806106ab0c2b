"""Telemetry: event schemas and the durable, batched Parquet event log with its readers."""

from __future__ import annotations

from airsoc.telemetry.log import DrainReport, EventLog, OverflowPolicy, WriterHealth, partition_dir
from airsoc.telemetry.readers import export_events, query_events, read_events, read_frame
from airsoc.telemetry.schemas import (
    EVENT_SCHEMAS,
    EVENT_TYPES,
    MAX_EVENT_BYTES,
    Event,
    FeedbackEvent,
    LabelEvent,
    LLMTurnEvent,
    PredictionEvent,
    TrainingBatchEvent,
    checked_record,
    validate_event,
)

__all__ = [
    "EVENT_SCHEMAS",
    "EVENT_TYPES",
    "MAX_EVENT_BYTES",
    "DrainReport",
    "Event",
    "EventLog",
    "FeedbackEvent",
    "LLMTurnEvent",
    "LabelEvent",
    "OverflowPolicy",
    "PredictionEvent",
    "TrainingBatchEvent",
    "WriterHealth",
    "checked_record",
    "export_events",
    "partition_dir",
    "query_events",
    "read_events",
    "read_frame",
    "validate_event",
]
