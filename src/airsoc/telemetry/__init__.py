"""Telemetry: event schemas and the durable, batched Parquet event log with its readers."""

from __future__ import annotations

from airsoc.telemetry.log import EventLog, partition_dir
from airsoc.telemetry.readers import export_events, query_events, read_events, read_frame
from airsoc.telemetry.schemas import (
    EVENT_SCHEMAS,
    EVENT_TYPES,
    Event,
    FeedbackEvent,
    LabelEvent,
    LLMTurnEvent,
    PredictionEvent,
    TrainingBatchEvent,
)

__all__ = [
    "EVENT_SCHEMAS",
    "EVENT_TYPES",
    "Event",
    "EventLog",
    "FeedbackEvent",
    "LLMTurnEvent",
    "LabelEvent",
    "PredictionEvent",
    "TrainingBatchEvent",
    "export_events",
    "partition_dir",
    "query_events",
    "read_events",
    "read_frame",
]
