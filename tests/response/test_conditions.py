"""The safe expression language: what it computes, and that it cannot be escaped."""

from __future__ import annotations

from typing import Any

import pytest

from airsoc.errors import ExpressionError
from airsoc.response.conditions import compile_condition, evaluate, render_value

CTX: dict[str, Any] = {
    "incident": {"severity": "sev2", "labels": {"client": "c-9"}, "data_batches": ["b1", "b2"]},
    "item": {"score": 0.95, "name": "b1"},
    "steps": {"investigate": {"suspect_batches": [{"id": "b1", "score": 0.97}]}},
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('incident.severity in ["sev1", "sev2"]', True),
        ("item.score > 0.9 and item.name != 'b2'", True),
        ("not (item.score >= 1) or false", True),
        ("len(incident.data_batches) * 2 - 1", 3),
        ("steps.investigate.suspect_batches[0].score", 0.97),
        ('incident["labels"]["client"] + "-x"', "c-9-x"),
        ("incident.labels.missing == null", True),
        ('"b1" not in incident.data_batches', False),
        ("default(incident.labels.missing, 'none')", "none"),
        ("-item.score < 0", True),
        ("max(1, 2.5)", 2.5),
    ],
)
def test_evaluates(source: str, expected: Any) -> None:
    assert evaluate(source, CTX) == expected


@pytest.mark.parametrize(
    "source",
    [
        "incident.__class__",
        "incident.__class__.__mro__[1].__subclasses__()",
        "().__class__",
        "__import__('os').system('echo pwned')",
        "item['__class__']",
        "lower.__globals__",
        "open('/etc/passwd')",
        "eval('1')",
        "incident.severity.upper()",
        "[].append",
        "lambda: 1",
        "item.score if true else 0",
        "'%s' % item",
        "{}",
        "incident; 1",
        "a" * 3000,
    ],
)
def test_escape_attempts_are_refused(source: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(source, CTX)


def test_python_objects_in_the_context_are_only_data() -> None:
    class Secret:
        token = "s3cr3t"

        def __str__(self) -> str:
            return "<secret>"

    ctx = {"obj": Secret(), "n": 1}
    assert evaluate("obj", ctx) == "<secret>"
    with pytest.raises(ExpressionError, match="cannot look up"):
        evaluate("obj.token", ctx)


def test_templates_fill_values_and_keep_types() -> None:
    assert render_value("{{ incident.data_batches }}", CTX) == ["b1", "b2"]
    assert render_value({"to": "{{ item.name }}", "n": 3}, CTX) == {"to": "b1", "n": 3}
    assert render_value("score={{ item.score }} ok={{ item.score > 1 }}", CTX) == (
        "score=0.95 ok=false"
    )
    with pytest.raises(ExpressionError, match="unknown name 'nope'"):
        render_value("{{ nope.x }}", CTX)


def test_errors_name_the_column() -> None:
    with pytest.raises(ExpressionError, match="column 8"):
        compile_condition("a == 1 1")
    with pytest.raises(ExpressionError, match="cannot compare"):
        evaluate("item.score > 'x'", CTX)
    with pytest.raises(ExpressionError, match="division by zero"):
        evaluate("1 / 0", CTX)
