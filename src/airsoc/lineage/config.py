"""The ``systems`` section of ``airsoc.yaml``: the AI systems airsoc watches and protects.

Example:
    >>> LineageSection.model_validate({"systems": {"fraud-detector": {
    ...     "kind": "tabular-classifier", "owner": "risk-ml", "criticality": "high"}}}
    ... ).systems["fraud-detector"].criticality
    'high'
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from airsoc.types import StrictModel

__all__ = ["FallbackConfig", "LineageSection", "SystemConfig"]


class FallbackConfig(StrictModel):
    """What a system answers with when it is put in fallback."""

    type: Literal["rules", "scripted", "human_handoff"]
    path: str | None = None
    message: str | None = None


class SystemConfig(StrictModel):
    """An AI system airsoc watches and protects."""

    kind: Literal[
        "tabular-classifier", "tabular-regressor", "llm-app", "rag-app", "ranker", "other"
    ]
    owner: str
    criticality: Literal["low", "medium", "high", "critical"] = "medium"
    fallback: FallbackConfig | None = None
    description: str = ""


class LineageSection(StrictModel):
    """The sections of ``airsoc.yaml`` lineage owns."""

    systems: dict[str, SystemConfig] = Field(default_factory=dict)
