"""The guarded stream reports its turn before the client is sent the stream's end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from airsoc.errors import InputError
from airsoc.serving.guard import GuardCheck
from airsoc.serving.streaming import SSE_DONE, StreamReport, guarded_stream


def _chunk(text: str, finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}],
    }


async def _upstream(texts: list[str], *, fail: bool = False) -> AsyncIterator[dict[str, Any]]:
    for i, text in enumerate(texts):
        yield _chunk(text, "stop" if i == len(texts) - 1 else None)
    if fail:
        raise InputError("upstream went away", loc="upstream")


def _run(texts: list[str], *, blocked_word: str | None = None, fail: bool = False) -> list[str]:
    """Return the events in the order the client and ``on_end`` saw them."""
    seen: list[str] = []

    async def check(context: str, text: str) -> GuardCheck:
        return GuardCheck(text, blocked=blocked_word is not None and blocked_word in text)

    def on_end(report: StreamReport) -> None:
        seen.append(f"logged:{report.status}")

    async def consume() -> None:
        stream = guarded_stream(
            _upstream(texts, fail=fail),
            check=check,
            action="block",
            window=8,
            report=StreamReport(),
            on_end=on_end,
        )
        async for data in stream:
            seen.append("done" if data == SSE_DONE else "event")

    asyncio.run(consume())
    return seen


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [({}, "ok"), ({"blocked_word": "bomb"}, "blocked"), ({"fail": True}, "error")],
    ids=["whole", "cut", "upstream error"],
)
def test_the_turn_is_logged_before_the_client_sees_the_end(
    kwargs: dict[str, Any], status: str
) -> None:
    seen = _run(["Refunds take ", "five days. ", "A bomb is ", "not needed."], **kwargs)
    assert seen.count(f"logged:{status}") == 1
    logged = seen.index(f"logged:{status}")
    # The stream's last event (the [DONE] marker, or the error) reaches the client after the
    # turn is logged; before, a client could read its whole answer while the turn was unlogged.
    assert logged < len(seen) - 1
    assert "done" not in seen[:logged]
    assert seen[-1] == ("event" if status == "error" else "done")
