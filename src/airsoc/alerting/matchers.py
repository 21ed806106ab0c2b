"""Label matchers as in Alertmanager: ``name = "v"``, ``!=``, ``=~`` (regex), ``!~``.

A regex matcher is anchored at both ends, as Alertmanager anchors it; a missing label matches
as the empty string.

Example:
    >>> m = parse_matcher('severity =~ "sev1|sev2"')
    >>> m.matches({"severity": "sev2"}), m.matches({"severity": "sev3"})
    (True, False)
    >>> str(parse_matcher("system!=fraud"))
    'system!="fraud"'
    >>> parse_matcher("severity ~ sev1")
    Traceback (most recent call last):
    ...
    ValueError: invalid matcher 'severity ~ sev1': use name=value, name!=value, name=~regex ...
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Matcher", "matches_all", "parse_matcher", "parse_matchers"]

Op = Literal["=", "!=", "=~", "!~"]

_MATCHER_RE = re.compile(
    r"""^\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*(?P<value>.*?)\s*$"""
)


@dataclass(frozen=True)
class Matcher:
    """One label matcher; ``matches(labels)`` says whether a label set satisfies it."""

    name: str
    op: Op
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Return whether ``labels`` satisfies this matcher (a missing label is ``""``)."""
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self._regex is not None
        found = self._regex.fullmatch(actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op}"{escaped}"'


def parse_matcher(text: str) -> Matcher:
    """Return the matcher written as ``name op value`` (value quoted or bare)."""
    match = _MATCHER_RE.match(text)
    if not match:
        raise ValueError(
            f"invalid matcher {text!r}: use name=value, name!=value, name=~regex or name!~regex"
        )
    name, op, value = match.group("name"), match.group("op"), match.group("value")
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    regex = None
    if op in ("=~", "!~"):
        try:
            regex = re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regex in matcher {text!r}: {exc}") from None
    return Matcher(name, op, value, regex)  # type: ignore[arg-type]


def parse_matchers(texts: Iterable[str]) -> tuple[Matcher, ...]:
    """Return every matcher in ``texts``.

    >>> [str(m) for m in parse_matchers(["a=1", 'b=~"x.*"'])]
    ['a="1"', 'b=~"x.*"']
    """
    return tuple(parse_matcher(t) for t in texts)


def matches_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    """Return whether ``labels`` satisfies every matcher (an empty list matches everything).

    >>> matches_all(parse_matchers(["a=1", "b!=2"]), {"a": "1", "b": "3"})
    True
    """
    return all(m.matches(labels) for m in matchers)
