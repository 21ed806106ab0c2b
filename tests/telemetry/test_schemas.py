"""Event validation at the boundary: hostile values are refused naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from airsoc.errors import InvalidEventError
from airsoc.telemetry import (
    FeedbackEvent,
    LabelEvent,
    LLMTurnEvent,
    PredictionEvent,
    TrainingBatchEvent,
    validate_event,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event", "loc", "words"),
    [
        (LabelEvent(request_id="x", ts=T0, system="s", row_index=2**31), "row_index", "int32"),
        (LabelEvent(request_id="x", ts=T0, system="s", row_index=-(2**31) - 1), "row_index", ""),
        (PredictionEvent(request_id="x", ts=T0, system="s", row_index=2**40), "row_index", ""),
        (LLMTurnEvent(request_id="x", ts=T0, system="s", prompt_tokens=2**63), "prompt_tokens", ""),
        (LabelEvent(request_id=chr(0xD800), ts=T0, system="s"), "request_id", "Unicode"),
        (
            LabelEvent(request_id="x", ts=T0, system="s", client_id="a" + chr(0xDFFF)),
            "client_id",
            "",
        ),
        (FeedbackEvent(request_id="x", ts=T0, system="s", comment=chr(0xD83D)), "comment", ""),
        (FeedbackEvent(request_id="x", ts=T0, system="s", score="1"), "score", "number"),  # type: ignore[arg-type]
        (LabelEvent(request_id="x", ts=T0, system="s", row_index=True), "row_index", "integer"),
        (LabelEvent(request_id=3, ts=T0, system="s"), "request_id", "text"),  # type: ignore[arg-type]
        (LabelEvent(request_id="x", ts="2026", system="s"), "ts", "datetime"),  # type: ignore[arg-type]
        (LabelEvent(request_id="x", ts=T0, system="../etc"), "system", "system"),
        (TrainingBatchEvent(request_id="x", ts=T0, system="s", rows=2**64), "rows", "int64"),
    ],
)
def test_a_value_that_does_not_fit_its_column_is_refused_naming_the_field(
    event: Any, loc: str, words: str
) -> None:
    with pytest.raises(InvalidEventError) as caught:
        validate_event(event)
    assert caught.value.loc == loc
    assert words in caught.value.message
    assert caught.value.code == "event_invalid"
    assert caught.value.http_status == 422


def test_an_oversized_event_is_refused() -> None:
    big = LLMTurnEvent(request_id="x", ts=T0, system="s", messages=[{"content": "a" * 2000}])
    with pytest.raises(InvalidEventError, match="exceeds 1000 bytes") as caught:
        validate_event(big, max_event_bytes=1000)
    assert caught.value.loc == "messages"
    assert validate_event(big)["messages"].startswith('[{"content"')


def test_json_that_cannot_be_encoded_is_refused() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(InvalidEventError) as caught:
        validate_event(PredictionEvent(request_id="x", ts=T0, system="s", output=loop))
    assert caught.value.loc == "output"


def test_the_largest_values_that_fit_are_accepted() -> None:
    record = validate_event(
        LabelEvent(request_id="é€😀", ts=T0, system="s", row_index=2**31 - 1, label="\x00")
    )
    assert (record["row_index"], record["request_id"]) == (2**31 - 1, "é€😀")
