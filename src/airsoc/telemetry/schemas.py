"""Telemetry event schemas: predictions, labels, LLM turns, feedback and training batches.

Each event is a small frozen dataclass with a ``kind`` and a matching Arrow schema in
:data:`EVENT_SCHEMAS`; free-form payloads (inputs, outputs, messages) are stored as JSON text so
one schema serves every system.

Example:
    >>> from datetime import datetime, timezone
    >>> e = PredictionEvent(request_id="r1", ts=datetime(2026, 1, 1, tzinfo=timezone.utc),
    ...                     system="fraud", version="v1", inputs={"amount": 3.5}, output=1)
    >>> record = e.to_record()
    >>> record["inputs"], record["output"], e.kind
    ('{"amount": 3.5}', '1', 'prediction')
    >>> sorted(EVENT_SCHEMAS)
    ['feedback', 'label', 'llm_turn', 'prediction', 'training_batch']
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar

import pyarrow as pa

__all__ = [
    "EVENT_SCHEMAS",
    "EVENT_TYPES",
    "Event",
    "FeedbackEvent",
    "LLMTurnEvent",
    "LabelEvent",
    "PredictionEvent",
    "TrainingBatchEvent",
]

_TS = pa.timestamp("us", tz="UTC")


def _json(value: Any) -> str:
    return json.dumps(value, separators=(", ", ": "), default=str)


@dataclass(frozen=True, slots=True)
class Event:
    """Fields every event has: the request it belongs to, when, and which system."""

    kind: ClassVar[str] = "event"
    #: Fields stored as JSON text.
    json_fields: ClassVar[tuple[str, ...]] = ()

    request_id: str
    ts: datetime
    system: str

    def to_record(self) -> dict[str, Any]:
        """Return the event as one row of its Arrow schema (JSON fields encoded)."""
        record = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in self.json_fields:
            record[name] = _json(record[name])
        return record


@dataclass(frozen=True, slots=True)
class PredictionEvent(Event):
    """One input row a model (or a fallback) answered, with its output, score and latency."""

    kind: ClassVar[str] = "prediction"
    json_fields: ClassVar[tuple[str, ...]] = ("inputs", "output")

    version: str | None = None
    mode: str = "primary"
    role: str = "primary"
    client_id: str = "anonymous"
    row_index: int = 0
    inputs: dict[str, Any] = field(default_factory=dict)
    output: Any = None
    score: float | None = None
    latency_ms: float = 0.0
    status: str = "ok"


@dataclass(frozen=True, slots=True)
class LabelEvent(Event):
    """A ground-truth label that arrived later for one row of an earlier request."""

    kind: ClassVar[str] = "label"
    json_fields: ClassVar[tuple[str, ...]] = ("label",)

    row_index: int = 0
    label: Any = None
    client_id: str = "anonymous"


@dataclass(frozen=True, slots=True)
class LLMTurnEvent(Event):
    """One chat turn an LLM system answered: the messages in, the reply out, tokens and latency."""

    kind: ClassVar[str] = "llm_turn"
    json_fields: ClassVar[tuple[str, ...]] = ("messages", "response")

    version: str | None = None
    mode: str = "primary"
    role: str = "primary"
    client_id: str = "anonymous"
    model: str = ""
    messages: list[Any] = field(default_factory=list)
    response: Any = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float = 0.0
    status: str = "ok"


@dataclass(frozen=True, slots=True)
class FeedbackEvent(Event):
    """A user's rating of an answer (thumbs up/down as +1/-1, or a score) and a comment."""

    kind: ClassVar[str] = "feedback"

    score: float = 0.0
    comment: str = ""
    client_id: str = "anonymous"


@dataclass(frozen=True, slots=True)
class TrainingBatchEvent(Event):
    """A data batch was used to train a model version of a system."""

    kind: ClassVar[str] = "training_batch"

    batch_id: str = ""
    source: str = ""
    rows: int = 0
    sha256: str = ""
    version: str | None = None


_COMMON = [("request_id", pa.string()), ("ts", _TS), ("system", pa.string())]

EVENT_SCHEMAS: dict[str, pa.Schema] = {
    "prediction": pa.schema(
        [
            *_COMMON,
            ("version", pa.string()),
            ("mode", pa.string()),
            ("role", pa.string()),
            ("client_id", pa.string()),
            ("row_index", pa.int32()),
            ("inputs", pa.string()),
            ("output", pa.string()),
            ("score", pa.float64()),
            ("latency_ms", pa.float64()),
            ("status", pa.string()),
        ]
    ),
    "label": pa.schema(
        [
            *_COMMON,
            ("row_index", pa.int32()),
            ("label", pa.string()),
            ("client_id", pa.string()),
        ]
    ),
    "llm_turn": pa.schema(
        [
            *_COMMON,
            ("version", pa.string()),
            ("mode", pa.string()),
            ("role", pa.string()),
            ("client_id", pa.string()),
            ("model", pa.string()),
            ("messages", pa.string()),
            ("response", pa.string()),
            ("prompt_tokens", pa.int64()),
            ("completion_tokens", pa.int64()),
            ("latency_ms", pa.float64()),
            ("status", pa.string()),
        ]
    ),
    "feedback": pa.schema(
        [
            *_COMMON,
            ("score", pa.float64()),
            ("comment", pa.string()),
            ("client_id", pa.string()),
        ]
    ),
    "training_batch": pa.schema(
        [
            *_COMMON,
            ("batch_id", pa.string()),
            ("source", pa.string()),
            ("rows", pa.int64()),
            ("version", pa.string()),
        ]
    ),
}

EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (PredictionEvent, LabelEvent, LLMTurnEvent, FeedbackEvent, TrainingBatchEvent)
}
