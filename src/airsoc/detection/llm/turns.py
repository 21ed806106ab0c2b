"""Conversation turns as the LLM detectors read them, parsed strictly from JSON or JSON lines.

Example:
    >>> turns = parse_turns('[{"session_id": "s1", "at": "2026-03-01T09:00:00Z", '
    ...                     '"user": "hi", "answer": "Hello!"}]')
    >>> turns[0].session_id, turns[0].at.isoformat()
    ('s1', '2026-03-01T09:00:00+00:00')
    >>> parse_turns('[{"session_id": "s1"}')
    Traceback (most recent call last):
    ...
    airsoc.errors.InputError: turns: malformed JSON at line 1 column 22: Expecting ',' delimiter
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from airsoc.clock import ensure_utc
from airsoc.detection.llm.grounding import RetrievedChunk
from airsoc.errors import InputError

__all__ = ["ChunkRef", "Turn", "parse_turns"]


class ChunkRef(BaseModel):
    """A retrieved chunk as logged with a turn."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    doc_id: str
    text: str
    section: str | None = None
    sha256: str | None = None

    def to_chunk(self) -> RetrievedChunk:
        """Return the chunk as the grounding checker takes it."""
        return RetrievedChunk(self.doc_id, self.text, self.section, self.sha256)


class Turn(BaseModel):
    """One question and answer of a RAG conversation, with feedback and re-ingestion flags."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    session_id: str = Field(min_length=1)
    at: datetime
    user: str = ""
    answer: str = ""
    retrieved: list[ChunkRef] = Field(default_factory=list)
    feedback: int | None = Field(default=None, description="+1 thumbs up, -1 thumbs down")
    reingested: bool = Field(default=False, description="the answer was added to the index")

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return ensure_utc(value)


def parse_turns(raw: str | bytes, *, source: str = "turns") -> list[Turn]:
    """Return the turns of a JSON array or JSON-lines text; InputError names the bad place.

    >>> parse_turns('{"session_id": "s", "at": "2026-01-01T00:00:00Z", "feedback": "yes"}')
    Traceback (most recent call last):
    ...
    airsoc.errors.InputError: turns[0].feedback: Input should be a valid integer, ...
    """
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"not valid UTF-8 at byte {exc.start}", loc=source) from None
    text = raw.strip()
    if not text:
        return []
    items: list[Any]
    try:
        if text.startswith("["):
            items = json.loads(text)
        else:
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise InputError(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", loc=source
        ) from None
    turns: list[Turn] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError(
                f"expected a JSON object, got {type(item).__name__}", loc=f"{source}[{i}]"
            )
        try:
            turns.append(Turn.model_validate(item))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise InputError(err["msg"], loc=f"{source}[{i}].{where}") from None
    return turns
