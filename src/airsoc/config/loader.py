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

__all__ = [
    "MAX_ALIASES",
    "MAX_BYTES",
    "MAX_VALUES",
    "format_loc",
    "issues_from_validation",
    "load_yaml",
    "read_text",
    "validate_yaml",
]

ModelT = TypeVar("ModelT", bound=BaseModel)

#: A configuration file larger than this is refused before it is parsed.
MAX_BYTES = 4 * 1024 * 1024
#: YAML aliases one file may use (an alias bomb expands a few bytes into gigabytes).
MAX_ALIASES = 100
#: Values a file may hold once its aliases are expanded.
MAX_VALUES = 1_000_000


class _LimitedLoader(yaml.SafeLoader):
    """A safe loader that refuses files with more than :data:`MAX_ALIASES` aliases."""

    aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_ALIASES} aliases; write the values out")
        return super().compose_node(parent, index)


def load_yaml(text: str) -> Any:
    """Return the data in the YAML ``text``, refusing alias bombs.

    >>> load_yaml("a: &x [1, 2]\\nb: *x")
    {'a': [1, 2], 'b': [1, 2]}
    """
    loader = _LimitedLoader(text)
    try:
        data = loader.get_single_data()
    finally:
        loader.dispose()
    seen, stack = 0, [data]
    while stack:
        item = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise yaml.YAMLError(f"more than {MAX_VALUES} values once aliases are expanded")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return data


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
    if len(text) > MAX_BYTES:
        raise ConfigError(
            [ConfigIssue("", f"the file is larger than {MAX_BYTES} bytes", len(text))],
            source=source,
        )
    try:
        data = load_yaml(text)
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
