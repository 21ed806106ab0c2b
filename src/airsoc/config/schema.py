"""The schema of ``airsoc.yaml`` (pydantic, unknown keys rejected).

Each domain owns its section; this module holds the top level and the shared field types.

Example:
    >>> cfg = AirsocConfig.model_validate({"systems": {"fraud-detector": {
    ...     "kind": "tabular-classifier", "owner": "risk-ml", "criticality": "high"}}})
    >>> cfg.systems["fraud-detector"].criticality
    'high'
    >>> parse_duration("15m")
    datetime.timedelta(seconds=900)
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

__all__ = [
    "AirsocConfig",
    "Duration",
    "FallbackConfig",
    "IncidentRuleConfig",
    "MonitorConfig",
    "ReceiverConfig",
    "RouteConfig",
    "StrictModel",
    "SystemConfig",
    "parse_duration",
]

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """Return a duration from ``"30s"``, ``"15m"``, ``"1h"``, ``"7d"``, ``"2w"`` or seconds.

    >>> parse_duration("1h30m")
    Traceback (most recent call last):
    ...
    ValueError: invalid duration '1h30m': use a number and one unit, e.g. 30s, 15m, 1h, 7d
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match:
            return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    raise ValueError(
        f"invalid duration {value!r}: use a number and one unit, e.g. 30s, 15m, 1h, 7d"
    )


def _format_duration(value: timedelta) -> str:
    return f"{int(value.total_seconds())}s"


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(_format_duration, return_type=str)
]


class StrictModel(BaseModel):
    """A config model that rejects unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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


class MonitorConfig(StrictModel):
    """A detector run on a window of a system's telemetry on a schedule."""

    name: str
    system: str
    detector: str
    window: Duration
    reference: dict[str, Any] = Field(default_factory=dict)
    every: Duration | None = None
    cron: str | None = None
    thresholds: dict[str, float] = Field(default_factory=dict)
    severity: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class RouteConfig(StrictModel):
    """A node of the Alertmanager-style routing tree."""

    receiver: str | None = None
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    matchers: list[str] = Field(default_factory=list)
    # "continue" is a Python keyword, hence the alias.
    continue_: bool = Field(default=False, alias="continue")
    routes: list[RouteConfig] = Field(default_factory=list)


class ReceiverConfig(StrictModel):
    """Where notifications go; each key is one integration."""

    slack: dict[str, Any] | None = None
    email: dict[str, Any] | None = None
    webhook: dict[str, Any] | None = None
    pagerduty: dict[str, Any] | None = None


class IncidentRuleConfig(StrictModel):
    """When an alert group becomes an incident."""

    when: str
    declare: bool = True
    severity: str | None = None


class AirsocConfig(StrictModel):
    """The whole ``airsoc.yaml``."""

    systems: dict[str, SystemConfig] = Field(default_factory=dict)
    monitors: list[MonitorConfig] = Field(default_factory=list)
    routes: RouteConfig | None = None
    receivers: dict[str, ReceiverConfig] = Field(default_factory=dict)
    incident_rules: list[IncidentRuleConfig] = Field(default_factory=list)
    playbooks: list[str] = Field(default_factory=list)
