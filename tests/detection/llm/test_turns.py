from __future__ import annotations

import pytest

from airsoc.detection.llm.turns import parse_turns
from airsoc.errors import InputError

LINE = '{"session_id": "s1", "at": "2026-03-01T09:00:00", "answer": "ok", "feedback": 1}'


def test_json_lines_and_arrays_parse_to_utc_turns() -> None:
    turns = parse_turns(f"{LINE}\n\n{LINE}\n")
    assert len(turns) == 2
    assert turns[0].at.tzinfo is not None
    assert parse_turns(f"[{LINE}]".encode()) == turns[:1]
    assert parse_turns("   ") == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("[1, 2]", r"turns\[0\]: expected a JSON object, got int"),
        ('{"session_id": "s"}', r"turns\[0\]\.at: Field required"),
        ('{"session_id": "s", "at": "2026-01-01", "extra": 1}', r"turns\[0\]\.extra"),
        (f"{LINE}\n{{broken", r"malformed JSON at line 1 column 2"),
        (b"\xff\xfe", r"not valid UTF-8 at byte 0"),
    ],
)
def test_malformed_turns_raise_input_errors_with_a_location(raw: str | bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_turns(raw)
