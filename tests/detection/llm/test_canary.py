from __future__ import annotations

import base64
import random

import pytest

from airsoc.detection.llm.canary import find_canary_leaks, new_canary

TOKEN = new_canary(random.Random(3))


@pytest.mark.parametrize(
    ("text", "form"),
    [
        (f"rules: {TOKEN}", "verbatim"),
        (f"rules: {TOKEN.upper()}", "case-folded"),
        (" ".join(TOKEN), "spaced out"),
        (TOKEN[::-1], "reversed"),
        (base64.b64encode(f"x {TOKEN} y".encode()).decode(), None),
        (base64.b64encode(TOKEN.encode()).decode(), "base64"),
    ],
)
def test_canary_forms(text: str, form: str | None) -> None:
    leaks = find_canary_leaks(text, [TOKEN])
    assert [leak.form for leak in leaks] == ([form] if form else [])


def test_canaries_are_unique_and_absent_from_clean_text() -> None:
    assert new_canary() != new_canary()
    assert find_canary_leaks("a normal answer about refunds", [TOKEN, ""]) == []
