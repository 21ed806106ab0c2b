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
import json.encoder
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar

import pyarrow as pa

from airsoc.errors import InvalidEventError

__all__ = [
    "EVENT_SCHEMAS",
    "EVENT_TYPES",
    "MAX_EVENT_BYTES",
    "CheckedColumns",
    "Event",
    "FeedbackEvent",
    "LLMTurnEvent",
    "LabelEvent",
    "PredictionEvent",
    "TrainingBatchEvent",
    "checked_columns",
    "checked_record",
    "validate_event",
]

_TS = pa.timestamp("us", tz="UTC")


_FIELD_NAMES: dict[type, tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]] = {}


# One encoder for every event (json.dumps with options builds a new one per call).
_ENCODER = json.JSONEncoder(separators=(", ", ": "), default=str)
# The same encoding, built once at C speed: JSONEncoder.encode builds its C encoder on every
# call, which costs more than encoding a row of a few features. No circular-reference markers:
# a cycle ends in RecursionError, which to_record reports like any unencodable value.
_C_ENCODE = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, str, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True
    )
    if getattr(json.encoder, "c_make_encoder", None) is not None
    else None
)


def _json(value: Any) -> str:
    """Return ``value`` as JSON text, as ``_ENCODER`` writes it.

    >>> _json({"amount": 12.5, "merchant": "fuel", "tags": [1, None]})
    '{"amount": 12.5, "merchant": "fuel", "tags": [1, null]}'
    """
    if _C_ENCODE is None or isinstance(value, str):
        return _ENCODER.encode(value)
    return "".join(_C_ENCODE(value, 0))


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
        cls = type(self)
        plan = _FIELD_NAMES.get(cls)
        if plan is None:
            names = tuple(f.name for f in fields(self))
            plan = _FIELD_NAMES[cls] = (names, operator.attrgetter(*names))
        names, values = plan
        record = dict(zip(names, values(self), strict=True))
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
    """One chat turn an LLM system answered: the messages in, the reply out, tokens and latency.

    Turns reported by an app's traces (OTLP) also keep their ids: ``trace_id`` and ``span_id``
    (hex), ``session_id`` (session or conversation), ``user_id``, and the ids of the documents
    retrieved for the turn (``document_ids``). ``content_captured`` is False when the trace
    carried no prompt or completion text (OpenTelemetry's default), so content-based detectors
    report the turn as skipped rather than clean.

    ``guard`` lists the gateway guard's decisions on the turn, one per check (stage ``input``,
    ``output`` or ``stream``; detector, verdict, action taken, score, time in ms).

    >>> from datetime import datetime, timezone
    >>> e = LLMTurnEvent(request_id="t:s", ts=datetime(2026, 1, 1, tzinfo=timezone.utc),
    ...                  system="bot", trace_id="t", span_id="s", document_ids=["policy-7"],
    ...                  content_captured=False)
    >>> r = validate_event(e)
    >>> r["document_ids"], r["content_captured"], r["messages"]
    ('["policy-7"]', False, '[]')
    """

    kind: ClassVar[str] = "llm_turn"
    json_fields: ClassVar[tuple[str, ...]] = ("messages", "response", "document_ids", "guard")

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
    trace_id: str | None = None
    span_id: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    document_ids: list[str] = field(default_factory=list)
    content_captured: bool = True
    guard: list[dict[str, Any]] = field(default_factory=list)


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
            # Since traces feed the log: files written before have none of these (read as null).
            ("trace_id", pa.string()),
            ("span_id", pa.string()),
            ("session_id", pa.string()),
            ("user_id", pa.string()),
            ("document_ids", pa.string()),
            ("content_captured", pa.bool_()),
            # Since the gateway guard: older files have no decisions (read as null).
            ("guard", pa.string()),
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


#: The largest event (sum of its text fields, UTF-8, JSON fields encoded) accepted by default:
#: 8 MiB, room for a 1 MiB request body whose non-ASCII text JSON escapes up to six-fold.
MAX_EVENT_BYTES = 8 << 20

_INT_BOUNDS = {
    pa.int32(): (-(2**31), 2**31 - 1),
    pa.int64(): (-(2**63), 2**63 - 1),
}


def validate_event(event: Event, *, max_event_bytes: int = MAX_EVENT_BYTES) -> dict[str, Any]:
    """Return the event as one row of its Arrow schema, or refuse it naming the bad field.

    Every value is checked against the column it is written to: integers must fit their
    int32/int64 column, text must be valid Unicode (no lone surrogates), floats must be numbers,
    the system must be usable as a partition name, and the event's text may not exceed
    ``max_event_bytes`` in UTF-8. A refused event never reaches the writer.

    Parameters
    ----------
    event
        The event to check.
    max_event_bytes
        The most UTF-8 bytes the event's text fields (JSON fields encoded) may hold together.

    Returns
    -------
    dict
        The event's record, ready to be written.

    Raises
    ------
    InvalidEventError
        With ``loc`` set to the field, e.g. ``row_index``.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> ts = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> validate_event(LabelEvent(request_id="r1", ts=ts, system="fraud", label=1))["label"]
    '1'
    >>> validate_event(LabelEvent(request_id="r1", ts=ts, system="fraud", row_index=2**31))
    Traceback (most recent call last):
    ...
    airsoc.errors.InvalidEventError: row_index: label event: 2147483648 does not fit the \
int32 column (-2147483648 to 2147483647)
    >>> validate_event(LabelEvent(request_id=chr(0xD800), ts=ts, system="fraud"))
    Traceback (most recent call last):
    ...
    airsoc.errors.InvalidEventError: request_id: label event: text is not valid Unicode \
(lone surrogate at position 0)
    """
    return checked_record(event, max_event_bytes=max_event_bytes)[0]


def checked_record(
    event: Event,
    *,
    max_event_bytes: int = MAX_EVENT_BYTES,
    seen: dict[str, tuple[Any, int]] | None = None,
) -> tuple[dict[str, Any], int]:
    """Return the event's record and its size in bytes, as :func:`validate_event` checks it.

    ``seen`` (an empty dict shared by the calls for one batch of events) remembers, per text
    field, the last text checked and its size: the events of one request share their request
    id, system, version and client, and the same text object is checked once.

    >>> from datetime import datetime, timezone
    >>> ts = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> checked_record(LabelEvent(request_id="r1", ts=ts, system="fraud", label=1))[1]
    17
    >>> seen: dict = {}
    >>> [checked_record(LabelEvent(request_id="r1", ts=ts, system="fraud", row_index=i),
    ...                 seen=seen)[1] for i in range(2)], sorted(seen)[:2]
    ([20, 20], ['client_id', 'label'])
    """
    kind = event.kind
    schema = EVENT_SCHEMAS.get(kind)
    if schema is None:
        raise InvalidEventError(f"unknown event kind {kind!r}", loc="kind")
    try:
        record = event.to_record()
    except (ValueError, TypeError, RecursionError) as exc:
        name = _failing_json_field(event)
        raise InvalidEventError(
            f"{kind} event: the value cannot be encoded as JSON ({type(exc).__name__})",
            loc=name,
        ) from None
    total = 0
    for name, check, low, high, nullable in _plan(kind):
        value = record.get(name)
        if value is None:
            if nullable:
                continue
            raise InvalidEventError(f"{kind} event: a value is required", loc=name)
        if check == "text":
            if seen is not None and (last := seen.get(name)) is not None and last[0] is value:
                total += last[1]  # this very text was checked in the batch already
            else:
                if type(value) is not str:
                    _check_value(kind, name, schema.field(name).type, value, nullable=nullable)
                try:
                    size = len(value.encode("utf-8"))
                except UnicodeEncodeError as exc:
                    raise InvalidEventError(
                        f"{kind} event: text is not valid Unicode (lone surrogate at position "
                        f"{exc.start})",
                        loc=name,
                    ) from None
                total += size
                if seen is not None:
                    seen[name] = (value, size)
            if total > max_event_bytes:
                raise InvalidEventError(
                    f"{kind} event: the event's text exceeds {max_event_bytes} bytes "
                    f"(reached at this field)",
                    loc=name,
                )
        elif not (
            (check == "int" and type(value) is int and low <= value <= high)
            or (check == "float" and type(value) is float)
            or (check == "bool" and type(value) is bool)
            or (check == "time" and type(value) is datetime)
        ):  # not the common case: the full check names what is wrong, if anything
            _check_value(kind, name, schema.field(name).type, value, nullable=nullable)
    system = record["system"]
    if system in {".", ".."} or any(c in system for c in "/\\\x00") or not system.strip():
        raise InvalidEventError(
            f"{kind} event: {system!r} cannot name a system (no slashes, NUL, '.' or '..')",
            loc="system",
        )
    return record, total


@dataclass(frozen=True)
class CheckedColumns:
    """A batch of events of one kind checked column by column (see :func:`checked_columns`):
    every column of the kind's schema as one list of ``n`` values (JSON fields encoded), and
    each event's size in bytes."""

    kind: str
    n: int
    columns: dict[str, list[Any]]
    sizes: list[int]
    system: str
    ts: datetime

    def head(self, k: int) -> CheckedColumns:
        """Return the first ``k`` events."""
        return CheckedColumns(
            self.kind,
            k,
            {name: values[:k] for name, values in self.columns.items()},
            self.sizes[:k],
            self.system,
            self.ts,
        )

    def records(self) -> list[dict[str, Any]]:
        """Return the events as records (one dict per event), as :func:`checked_record` does."""
        names = list(self.columns)
        return [
            dict(zip(names, row, strict=True))
            for row in zip(*(self.columns[n] for n in names), strict=True)
        ]


#: Columns every event of a column batch must share: a batch is one partition.
_SHARED = ("ts", "system")


def checked_columns(
    kind: str,
    shared: Mapping[str, Any],
    columns: Mapping[str, Sequence[Any]],
    *,
    max_event_bytes: int = MAX_EVENT_BYTES,
) -> CheckedColumns:
    """Check a batch of events of ``kind`` given column by column, as :func:`checked_record`
    checks each event, and return it ready to be written.

    ``shared`` holds the values every event of the batch has (checked once; ``ts`` and
    ``system`` must be among them), ``columns`` one sequence per field whose values differ
    (all of one length, the number of events); a field in neither takes its default. A bad
    value is refused with :class:`InvalidEventError` naming the event and the field
    (``events[i].field``), and nothing of the batch is returned.

    >>> from datetime import datetime, timezone
    >>> ts = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> batch = checked_columns("label", {"request_id": "r1", "ts": ts, "system": "fraud"},
    ...                         {"row_index": [0, 1], "label": [1, 0]})
    >>> batch.n, batch.columns["label"], batch.sizes
    (2, ['1', '0'], [17, 17])
    >>> checked_columns("label", {"request_id": "r1", "ts": ts, "system": "fraud"},
    ...                 {"row_index": [0, 2**31]})
    Traceback (most recent call last):
    ...
    airsoc.errors.InvalidEventError: events[1].row_index: label event: 2147483648 does not \
fit the int32 column (-2147483648 to 2147483647)
    """
    cls = EVENT_TYPES.get(kind)
    schema = EVENT_SCHEMAS.get(kind)
    if cls is None or schema is None:
        raise InvalidEventError(f"unknown event kind {kind!r}", loc="kind")
    known = {f.name: f for f in fields(cls)}
    for name in (*shared, *columns):
        if name not in known:
            raise InvalidEventError(f"{kind} event: no field {name!r}", loc=name)
        if name in shared and name in columns:
            raise InvalidEventError(
                f"{kind} event: field {name!r} is given both shared and as a column", loc=name
            )
    for name in _SHARED:
        if name in columns:
            raise InvalidEventError(
                f"{kind} event: every event of a batch shares its {name}", loc=name
            )
    lengths = {len(values) for values in columns.values()}
    if len(lengths) != 1:
        raise InvalidEventError(
            f"{kind} event: the columns must have one length, got {sorted(lengths)}", loc=kind
        )
    (n,) = lengths
    # The shared values and the first event's are checked as one event, so a shared value is
    # refused exactly as the row path refuses it.
    first = {name: values[0] for name, values in columns.items()} if n else {}
    try:
        checked_record(cls(**shared, **first), max_event_bytes=max_event_bytes)
    except TypeError as exc:  # a required field is missing
        raise InvalidEventError(f"{kind} event: {exc}", loc=kind) from None
    except InvalidEventError as exc:
        raise InvalidEventError(exc.message, loc=f"events[0].{exc.loc}") from None
    out: dict[str, list[Any]] = {}
    per_field: list[tuple[str, int | list[int]]] = []
    for name, check, low, high, nullable in _plan(kind):
        is_json = name in cls.json_fields
        if name in columns:
            values = list(columns[name])
            if is_json:
                values = _json_column(kind, name, values)
                sizes = [len(text) for text in values]  # JSON text is ASCII: a byte a character
            else:
                sizes = _column_sizes(
                    kind, schema.field(name).type, name, values, check, (low, high), nullable
                )
            out[name] = values
            if check == "text":
                per_field.append((name, sizes))
            continue
        if name in shared:
            value = shared[name]
        else:
            default = known[name]
            value = (
                default.default_factory()
                if default.default_factory is not MISSING
                else default.default
            )
        value = _json(value) if is_json else value
        if check == "text" and value is not None:
            per_field.append((name, len(value.encode("utf-8"))))
        out[name] = [value] * n
    totals = [0] * n
    for _, size in per_field:
        if isinstance(size, int):
            totals = [t + size for t in totals]
        else:
            totals = [t + s for t, s in zip(totals, size, strict=True)]
    for i, total in enumerate(totals):
        if total > max_event_bytes:
            reached, running = "", 0
            for name, size in per_field:
                running += size if isinstance(size, int) else size[i]
                if running > max_event_bytes:
                    reached = name
                    break
            raise InvalidEventError(
                f"{kind} event: the event's text exceeds {max_event_bytes} bytes "
                "(reached at this field)",
                loc=f"events[{i}].{reached}",
            )
    return CheckedColumns(kind, n, out, totals, shared["system"], shared["ts"])


#: Types whose values are encoded once per batch (outputs and labels repeat a few values).
_SCALAR_TYPES = (int, float, str, bool, type(None))


def _json_column(kind: str, name: str, values: list[Any]) -> list[str]:
    """Return each value as JSON text, as :func:`_json` writes it; refuse the first value that
    cannot be encoded, naming its place."""
    known: dict[tuple[type, Any], str] = {}
    out: list[str] = []
    try:
        for value in values:
            kind_of = type(value)
            if kind_of is dict and _C_ENCODE is not None:
                out.append("".join(_C_ENCODE(value, 0)))
            elif kind_of in _SCALAR_TYPES:
                key = (kind_of, value)
                text = known.get(key)
                if text is None:
                    text = known[key] = _json(value)
                out.append(text)
            else:
                out.append(_json(value))
    except (ValueError, TypeError, RecursionError) as exc:
        raise InvalidEventError(
            f"{kind} event: the value cannot be encoded as JSON ({type(exc).__name__})",
            loc=f"events[{len(out)}].{name}",
        ) from None
    return out


def _column_sizes(
    kind: str,
    dtype: pa.DataType,
    name: str,
    values: list[Any],
    check: str,
    bounds: tuple[int, int],
    nullable: bool,
) -> list[int]:
    """Check one column's values as :func:`checked_record` checks one; return each text's
    size in UTF-8 bytes (an empty list for a column that is not text)."""
    low, high = bounds
    kinds = set(map(type, values))
    # The common cases checked at C speed; anything else value by value, to name the culprit.
    if check == "int" and kinds == {int} and low <= min(values) and max(values) <= high:
        return []
    if check == "float" and kinds <= ({float, type(None)} if nullable else {float}):
        return []
    if check == "text" and kinds == {str}:
        try:
            return [len(value.encode("utf-8")) for value in values]
        except UnicodeEncodeError:
            pass
    sizes: list[int] = []
    for i, value in enumerate(values):
        if value is None:
            if nullable:
                if check == "text":
                    sizes.append(0)
                continue
        elif check == "text" and type(value) is str:
            try:
                sizes.append(len(value.encode("utf-8")))
            except UnicodeEncodeError as exc:
                raise InvalidEventError(
                    f"{kind} event: text is not valid Unicode (lone surrogate at position "
                    f"{exc.start})",
                    loc=f"events[{i}].{name}",
                ) from None
            continue
        elif (
            (check == "int" and type(value) is int and low <= value <= high)
            or (check == "float" and type(value) is float)
            or (check == "bool" and type(value) is bool)
            or (check == "time" and type(value) is datetime)
        ):
            continue
        try:  # not the common case: the full check names what is wrong, if anything
            size = _check_value(kind, name, dtype, value, nullable=nullable)
        except InvalidEventError as exc:
            raise InvalidEventError(exc.message, loc=f"events[{i}].{name}") from None
        if check == "text":
            sizes.append(size)
    return sizes


_REQUIRED = frozenset({"request_id", "ts", "system"})
_PLANS: dict[str, tuple[tuple[str, str, int, int, bool], ...]] = {}


def _plan(kind: str) -> tuple[tuple[str, str, int, int, bool], ...]:
    """Return, per column of ``kind``: name, check (text/int/float/bool/time/other), int bounds,
    nullable."""
    plan = _PLANS.get(kind)
    if plan is None:
        steps = []
        for column in EVENT_SCHEMAS[kind]:
            low, high = _INT_BOUNDS.get(column.type, (0, 0))
            if pa.types.is_string(column.type):
                check = "text"
            elif pa.types.is_integer(column.type):
                check = "int"
            elif pa.types.is_floating(column.type):
                check = "float"
            elif pa.types.is_boolean(column.type):
                check = "bool"
            elif pa.types.is_timestamp(column.type):
                check = "time"
            else:
                check = "other"
            steps.append((column.name, check, low, high, column.name not in _REQUIRED))
        plan = _PLANS[kind] = tuple(steps)
    return plan


def _check_value(kind: str, name: str, dtype: pa.DataType, value: Any, *, nullable: bool) -> int:
    """Check one value against its column; return its size in UTF-8 bytes (0 for non-text)."""

    def refuse(message: str) -> InvalidEventError:
        return InvalidEventError(f"{kind} event: {message}", loc=name)

    if value is None:
        if nullable:
            return 0
        raise refuse("a value is required")
    if pa.types.is_string(dtype):
        if not isinstance(value, str):
            raise refuse(f"expected text, got {type(value).__name__}")
        try:
            return len(value.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise refuse(
                f"text is not valid Unicode (lone surrogate at position {exc.start})"
            ) from None
    if pa.types.is_integer(dtype):
        if isinstance(value, bool) or not isinstance(value, int):
            raise refuse(f"expected an integer, got {type(value).__name__}")
        low, high = _INT_BOUNDS[dtype]
        if not low <= value <= high:
            raise refuse(f"{value} does not fit the {dtype} column ({low} to {high})")
        return 0
    if pa.types.is_floating(dtype):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise refuse(f"expected a number, got {type(value).__name__}")
        if isinstance(value, int) and abs(value) > 2**1023:
            raise refuse("the number is too large for a 64-bit float")
        return 0
    if pa.types.is_boolean(dtype):
        if not isinstance(value, bool):
            raise refuse(f"expected true or false, got {type(value).__name__}")
        return 0
    if pa.types.is_timestamp(dtype):
        if not isinstance(value, datetime):
            raise refuse(f"expected a datetime, got {type(value).__name__}")
        return 0
    raise refuse(f"no check for column type {dtype}")  # pragma: no cover - schema and code agree


def _failing_json_field(event: Event) -> str:
    for name in event.json_fields:
        try:
            _json(getattr(event, name))
        except (ValueError, TypeError, RecursionError):
            return name
    return event.json_fields[0] if event.json_fields else "event"
