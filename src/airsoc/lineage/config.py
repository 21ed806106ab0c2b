"""The ``systems`` section of ``airsoc.yaml``: the AI systems airsoc watches and protects.

Example:
    >>> LineageSection.model_validate({"systems": {"fraud-detector": {
    ...     "kind": "tabular-classifier", "owner": "risk-ml", "criticality": "high"}}}
    ... ).systems["fraud-detector"].criticality
    'high'
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from airsoc.types import Duration, StrictModel

__all__ = [
    "Criticality",
    "FallbackConfig",
    "GuardConfig",
    "LineageSection",
    "RetrainConfig",
    "SystemConfig",
]


#: How much a system matters; governance sets severity floors and approval rules by it.
Criticality = Literal["low", "medium", "high", "critical"]


class FallbackConfig(StrictModel):
    """What a system answers with when it is put in fallback."""

    type: Literal["rules", "scripted", "human_handoff"]
    path: str | None = None
    message: str | None = None


GuardAction = Literal["block", "redact", "log", "off"]
GuardSource = Literal["user", "retrieved", "tool"]


def _default_sources() -> list[GuardSource]:
    return ["user", "tool"]


class GuardConfig(StrictModel):
    """The inline guard of an LLM system's chat traffic on the gateway.

    ``input`` acts on a prompt injection in the new messages of a turn before the upstream sees
    them, ``output`` on harmful output before the caller does: ``block`` answers a refusal,
    ``redact`` removes the failing sentences and goes on, ``log`` only records the decision,
    ``off`` does not scan. ``on_error`` says what happens when a detector fails: ``open``
    serves as if it passed, ``closed`` refuses. ``sources`` are the kinds of message scanned
    for injection: ``user`` (user messages), ``tool`` (tool and function results) and
    ``retrieved`` (system messages after the first, where RAG apps put retrieved context).
    A stream is scanned every ``stream_window`` characters and at its end. ``documents`` is the
    system's approved document index (YAML or JSON), for grounding checks.

    >>> GuardConfig.model_validate({"input": "block", "on_error": "open"}).sources
    ['user', 'tool']
    """

    input: GuardAction = "off"
    output: GuardAction = "off"
    on_error: Literal["open", "closed"] = "closed"
    sources: list[GuardSource] = Field(default_factory=_default_sources)
    stream_window: int = Field(default=200, ge=20, le=10_000)
    message: str = "Sorry, I can't help with that request."
    documents: str | None = None


class RetrainConfig(StrictModel):
    """How a system is retrained: a Python callable (``package.module:function``) or a command.

    The callable is given a :class:`airsoc.forensics.recovery.RetrainRequest` and returns a
    :class:`airsoc.forensics.recovery.TrainedModel`; the command reads the request as JSON on
    its standard input and writes the trained model as JSON on its standard output.

    >>> RetrainConfig(hook="airsoc.fleet.retrain:train_fraud_version").hook
    'airsoc.fleet.retrain:train_fraud_version'
    >>> RetrainConfig(command=["python", "train.py"]).command
    ['python', 'train.py']
    """

    hook: str | None = Field(None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    command: list[str] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_of(self) -> RetrainConfig:
        if (self.hook is None) == (self.command is None):
            raise ValueError("give exactly one of hook (module:function) or command")
        return self


class SystemConfig(StrictModel):
    """An AI system airsoc watches and protects."""

    kind: Literal[
        "tabular-classifier", "tabular-regressor", "llm-app", "rag-app", "ranker", "other"
    ]
    owner: str
    criticality: Criticality = "medium"
    fallback: FallbackConfig | None = None
    retrain: RetrainConfig | None = None
    description: str = ""
    guard: GuardConfig | None = None
    #: How long an incident of each failure mode may take to be restored (e.g.
    #: ``{fairness_regression: 1d}``); ``record_sla`` measures and records it.
    restore_sla: dict[str, Duration] = Field(default_factory=dict)


class LineageSection(StrictModel):
    """The sections of ``airsoc.yaml`` lineage owns."""

    systems: dict[str, SystemConfig] = Field(default_factory=dict)
