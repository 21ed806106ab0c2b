"""Reading YAML configuration files: parse, validate whole against a model, and report every
problem with its location. Each domain owns the model of its sections; the runtime composes
``airsoc.yaml`` from them (:mod:`airsoc.runtime.config`).

Example:
    >>> from airsoc.types import StrictModel
    >>> class Section(StrictModel):
    ...     window: int = 1
    >>> validate_yaml(Section, "window: 5\\nwidow: 3")
    Traceback (most recent call last):
    ...
    airsoc.errors.ConfigError: widow: unknown key (got 3)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from airsoc.errors import ConfigError, ConfigIssue

__all__ = ["format_loc", "issues_from_validation", "read_text", "validate_yaml"]

ModelT = TypeVar("ModelT", bound=BaseModel)


def read_text(path: str | Path) -> str:
    """Return the text of the configuration file ``path``; raise :class:`ConfigError` if it
    cannot be read."""
    source = str(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigIssue("", "file not found")], source=source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigIssue("", f"cannot read file: {exc}")], source=source) from None


def validate_yaml(model: type[ModelT], text: str, *, source: str | None = None) -> ModelT:
    """Return ``model`` validated from the YAML ``text``, or raise one :class:`ConfigError`
    listing every problem with its location."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            [ConfigIssue(where, f"not valid YAML: {problem}")], source=source
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            [ConfigIssue("", "the top level must be a mapping of sections", type(data).__name__)],
            source=source,
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(issues_from_validation(exc), source=source) from None


def issues_from_validation(exc: ValidationError) -> list[ConfigIssue]:
    """Return one :class:`ConfigIssue` per pydantic error, with ``a.b[0].c`` locations."""
    issues = []
    for err in exc.errors():
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        issues.append(ConfigIssue(format_loc(err["loc"]), message, err.get("input")))
    return issues


def format_loc(loc: tuple[Any, ...]) -> str:
    """Return a pydantic location as ``monitors[0].window``.

    >>> format_loc(("monitors", 0, "window"))
    'monitors[0].window'
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
