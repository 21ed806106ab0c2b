"""A small, safe expression language for conditions and value templates.

Conditions (``when:``) and templates (``{{ incident.system }}``) are parsed by this module's own
parser and evaluated over plain data (dicts, lists, strings, numbers, booleans, null): the context
is turned into JSON first, so no Python object, attribute or method is ever reachable, and nothing
is passed to ``eval``. ``.name`` and ``[key]`` look up dict keys and list items only; names that
start with ``_`` are refused outright.

Grammar: ``or``, ``and``, ``not``; ``== != < <= > >= in, not in``; ``+ - * /``; literals
(numbers, ``"strings"``, ``true``, ``false``, ``null``, ``[lists]``); ``a.b``, ``a[0]``,
``a["key"]``; and the functions ``len lower upper min max abs round default``.

Example:
    >>> ctx = {"incident": {"severity": "sev2", "failure_mode": "data_poisoning"},
    ...        "item": {"score": 0.95}}
    >>> evaluate('failure_mode == "data_poisoning" or severity in ["sev1"]', ctx["incident"])
    True
    >>> evaluate("item.score > 0.9 and not (item.score > 1)", ctx)
    True
    >>> render_value("rollback {{ incident.severity }} ({{ item.score * 100 }}%)", ctx)
    'rollback sev2 (95.0%)'
    >>> render_value("{{ [1, 2] }}", {})
    [1, 2]
    >>> evaluate("incident.__class__", ctx)
    Traceback (most recent call last):
    ...
    airsoc.errors.ExpressionError: names starting with '_' are not allowed: '__class__' ...
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from airsoc.errors import ExpressionError

__all__ = [
    "Expression",
    "compile_condition",
    "evaluate",
    "find_templates",
    "plain_data",
    "render_value",
]

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|<=|>=|<|>|\+|-|\*|/|\(|\)|\[|\]|,|\.)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null", "none"}
_TEMPLATE_RE = re.compile(r"\{\{(.*?)\}\}", re.S)
_MAX_LENGTH = 2000
_MAX_DEPTH = 50


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(source: str) -> list[_Tok]:
    if len(source) > _MAX_LENGTH:
        raise ExpressionError(f"expression longer than {_MAX_LENGTH} characters")
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN_RE.match(source, pos)
        if not match:
            raise ExpressionError(
                f"unexpected character {source[pos]!r} at column {pos + 1} of {source!r}"
            )
        kind = match.lastgroup or ""
        if kind != "ws":
            text = match.group()
            if kind == "name" and text.lower() in _KEYWORDS:
                kind = "kw"
                text = text.lower()
            tokens.append(_Tok(kind, text, pos))
        pos = match.end()
    tokens.append(_Tok("end", "", len(source)))
    return tokens


# The AST is nested tuples: ("lit", v) ("name", n) ("get", obj, key) ("list", items)
# ("call", fn, args) ("not", e) ("neg", e) ("and"|"or", a, b) ("cmp", op, a, b) ("arith", op, a, b)
_Node = tuple[Any, ...]


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.i = 0
        self.depth = 0

    def fail(self, message: str, tok: _Tok | None = None) -> ExpressionError:
        tok = tok or self.tokens[self.i]
        return ExpressionError(f"{message} (at column {tok.pos + 1} of {self.source!r})")

    def peek(self) -> _Tok:
        return self.tokens[self.i]

    def take(self, text: str, kind: str | None = None) -> _Tok | None:
        tok = self.tokens[self.i]
        if tok.text == text and tok.kind in ("op", "kw") and kind in (None, tok.kind):
            self.i += 1
            return tok
        return None

    def expect(self, text: str) -> None:
        if self.take(text) is None:
            tok = self.peek()
            raise self.fail(f"expected {text!r}, found {tok.text or 'the end'!r}")

    def parse(self) -> _Node:
        if self.peek().kind == "end":
            raise self.fail("empty expression")
        node = self.or_()
        if self.peek().kind != "end":
            raise self.fail(f"unexpected {self.peek().text!r}")
        return node

    def nested(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.fail("expression nested too deeply")

    def or_(self) -> _Node:
        node = self.and_()
        while self.take("or", "kw"):
            node = ("or", node, self.and_())
        return node

    def and_(self) -> _Node:
        node = self.not_()
        while self.take("and", "kw"):
            node = ("and", node, self.not_())
        return node

    def not_(self) -> _Node:
        if self.take("not", "kw"):
            self.nested()
            return ("not", self.not_())
        return self.comparison()

    def comparison(self) -> _Node:
        left = self.additive()
        tok = self.peek()
        if tok.text in ("==", "!=", "<", "<=", ">", ">=") and tok.kind == "op":
            self.i += 1
            return ("cmp", tok.text, left, self.additive())
        if tok.kind == "kw" and tok.text == "in":
            self.i += 1
            return ("cmp", "in", left, self.additive())
        if tok.kind == "kw" and tok.text == "not" and self.tokens[self.i + 1].text == "in":
            self.i += 2
            return ("cmp", "not in", left, self.additive())
        return left

    def additive(self) -> _Node:
        node = self.term()
        while self.peek().kind == "op" and self.peek().text in ("+", "-"):
            op = self.tokens[self.i].text
            self.i += 1
            node = ("arith", op, node, self.term())
        return node

    def term(self) -> _Node:
        node = self.unary()
        while self.peek().kind == "op" and self.peek().text in ("*", "/"):
            op = self.tokens[self.i].text
            self.i += 1
            node = ("arith", op, node, self.unary())
        return node

    def unary(self) -> _Node:
        if self.peek().kind == "op" and self.peek().text == "-":
            self.i += 1
            self.nested()
            return ("neg", self.unary())
        return self.postfix()

    def postfix(self) -> _Node:
        node = self.primary()
        while True:
            if self.take("."):
                tok = self.peek()
                if tok.kind not in ("name", "kw"):
                    raise self.fail("expected a key name after '.'")
                self.i += 1
                node = ("get", node, ("lit", _safe_name(tok, self.source)))
            elif self.take("["):
                self.nested()
                key = self.or_()
                self.expect("]")
                node = ("get", node, key)
            else:
                return node

    def primary(self) -> _Node:
        tok = self.peek()
        self.i += 1
        if tok.kind == "number":
            return ("lit", float(tok.text) if any(c in tok.text for c in ".eE") else int(tok.text))
        if tok.kind == "string":
            return ("lit", _unquote(tok.text))
        if tok.kind == "kw" and tok.text in ("true", "false"):
            return ("lit", tok.text == "true")
        if tok.kind == "kw" and tok.text in ("null", "none"):
            return ("lit", None)
        if tok.kind == "name":
            name = _safe_name(tok, self.source)
            if self.take("("):
                if name not in _FUNCTIONS:
                    raise self.fail(
                        f"unknown function {name!r}; known: {', '.join(sorted(_FUNCTIONS))}", tok
                    )
                return ("call", name, self.items(")"))
            return ("name", name)
        if tok.kind == "op" and tok.text == "(":
            self.nested()
            node = self.or_()
            self.expect(")")
            return node
        if tok.kind == "op" and tok.text == "[":
            self.nested()
            return ("list", self.items("]"))
        self.i -= 1
        raise self.fail(f"unexpected {tok.text or 'end of expression'!r}")

    def items(self, close: str) -> list[_Node]:
        out: list[_Node] = []
        if self.take(close):
            return out
        while True:
            out.append(self.or_())
            if self.take(close):
                return out
            self.expect(",")


def _safe_name(tok: _Tok, source: str) -> str:
    if tok.text.startswith("_"):
        raise ExpressionError(
            f"names starting with '_' are not allowed: {tok.text!r} "
            f"(at column {tok.pos + 1} of {source!r})"
        )
    return tok.text


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def _default(value: Any, fallback: Any = "") -> Any:
    return fallback if value is None else value


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len,
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
    "min": min,
    "max": max,
    "abs": abs,
    "round": round,
    "default": _default,
}


class Expression:
    """A parsed expression; ``evaluate(context)`` runs it over plain data."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._tree = _Parser(source).parse()

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        """Return the expression's value over ``context`` (converted to plain data first)."""
        return _Eval(self.source, plain_data(dict(context))).run(self._tree)

    def names(self) -> set[str]:
        """Return the top-level names the expression reads.

        >>> sorted(compile_condition("item.score > 0.9 and x").names())
        ['item', 'x']
        """
        found: set[str] = set()

        def walk(node: Any) -> None:
            if isinstance(node, tuple) and node:
                if node[0] == "name":
                    found.add(node[1])
                for part in node[1:]:
                    walk(part)
            elif isinstance(node, list):
                for part in node:
                    walk(part)

        walk(self._tree)
        return found


class _Eval:
    def __init__(self, source: str, context: dict[str, Any]) -> None:
        self.source = source
        self.context = context

    def fail(self, message: str) -> ExpressionError:
        return ExpressionError(f"{message} in {self.source!r}")

    def run(self, node: _Node) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "name":
            if node[1] not in self.context:
                known = ", ".join(sorted(self.context)) or "none"
                raise self.fail(f"unknown name {node[1]!r} (known: {known})")
            return self.context[node[1]]
        if kind == "get":
            return self.get(self.run(node[1]), self.run(node[2]))
        if kind == "list":
            return [self.run(n) for n in node[1]]
        if kind == "call":
            args = [self.run(n) for n in node[2]]
            try:
                return _FUNCTIONS[node[1]](*args)
            except (TypeError, ValueError) as exc:
                raise self.fail(f"{node[1]}() failed: {exc}") from None
        if kind == "not":
            return not self.run(node[1])
        if kind == "and":
            return self.run(node[1]) and self.run(node[2])
        if kind == "or":
            return self.run(node[1]) or self.run(node[2])
        if kind == "neg":
            value = self.run(node[1])
            if not _is_number(value):
                raise self.fail(f"cannot negate {value!r}")
            return -value
        if kind == "cmp":
            return self.compare(node[1], self.run(node[2]), self.run(node[3]))
        if kind == "arith":
            return self.arith(node[1], self.run(node[2]), self.run(node[3]))
        raise self.fail(f"unknown node {kind}")  # pragma: no cover - the parser makes no others

    def get(self, obj: Any, key: Any) -> Any:
        if isinstance(obj, dict):
            if not isinstance(key, str):
                raise self.fail(f"a mapping key must be a string, got {key!r}")
            if key.startswith("_"):
                raise self.fail(f"keys starting with '_' are not allowed: {key!r}")
            return obj.get(key)
        if isinstance(obj, list):
            if not isinstance(key, int) or isinstance(key, bool):
                raise self.fail(f"a list index must be an integer, got {key!r}")
            return obj[key] if -len(obj) <= key < len(obj) else None
        if obj is None:
            return None
        raise self.fail(f"cannot look up {key!r} in {type(obj).__name__} value {obj!r}")

    def compare(self, op: str, a: Any, b: Any) -> bool:
        if op == "==":
            return bool(a == b)
        if op == "!=":
            return bool(a != b)
        if op in ("in", "not in"):
            if not isinstance(b, list | dict | str):
                raise self.fail(f"'in' needs a list, mapping or string on its right, got {b!r}")
            if isinstance(b, str) and not isinstance(a, str):
                raise self.fail(f"cannot look for {a!r} in a string")
            found = a in b
            return found if op == "in" else not found
        if not ((_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str))):
            raise self.fail(f"cannot compare {a!r} {op} {b!r}")
        return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])

    def arith(self, op: str, a: Any, b: Any) -> Any:
        if op == "+" and isinstance(a, str) and isinstance(b, str):
            return a + b
        if op == "+" and isinstance(a, list) and isinstance(b, list):
            return a + b
        if not (_is_number(a) and _is_number(b)):
            raise self.fail(f"cannot compute {a!r} {op} {b!r}")
        if op == "/" and b == 0:
            raise self.fail("division by zero")
        return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else 0}[op]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@lru_cache(maxsize=4096)
def compile_condition(source: str) -> Expression:
    """Return the parsed expression, or raise :class:`ExpressionError` naming the column.

    >>> compile_condition("severity in [").source
    Traceback (most recent call last):
    ...
    airsoc.errors.ExpressionError: unexpected 'end of expression' (at column 14 of 'severity in [')
    """
    return Expression(source)


def evaluate(source: str, context: Mapping[str, Any]) -> Any:
    """Return the value of the expression ``source`` over ``context``.

    >>> evaluate("len(batches) >= 2", {"batches": ["b1", "b2"]})
    True
    """
    return compile_condition(source).evaluate(context)


def find_templates(value: Any) -> list[str]:
    """Return every ``{{ expression }}`` inside ``value`` (strings, lists and dicts, nested).

    >>> find_templates({"a": "{{ x }}", "b": ["y {{ z.w }}"]})
    ['x', 'z.w']
    """
    if isinstance(value, str):
        return [m.strip() for m in _TEMPLATE_RE.findall(value)]
    if isinstance(value, list):
        return [t for v in value for t in find_templates(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in find_templates(v)]
    return []


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Return ``value`` with every ``{{ expression }}`` filled in from ``context``.

    A string that is exactly one template takes the expression's value as it is (a list stays a
    list); templates inside longer strings are formatted as text (null as the empty string).

    >>> render_value({"to": "{{ v }}", "note": "moving to {{ v }}"}, {"v": "v6"})
    {'to': 'v6', 'note': 'moving to v6'}
    """
    if isinstance(value, str):
        whole = _TEMPLATE_RE.fullmatch(value.strip())
        if whole and value.strip().count("{{") == 1:
            return compile_condition(whole.group(1).strip()).evaluate(context)
        return _TEMPLATE_RE.sub(lambda m: _text(evaluate(m.group(1).strip(), context)), value)
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    if isinstance(value, dict):
        return {k: render_value(v, context) for k, v in value.items()}
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def plain_data(value: Any) -> Any:
    """Return ``value`` as plain JSON data (models are dumped, other objects become strings).

    >>> from datetime import date
    >>> plain_data({"d": date(2026, 1, 2), "t": (1, 2)})
    {'d': '2026-01-02', 't': [1, 2]}
    """
    from pydantic import BaseModel

    def default(obj: Any) -> Any:
        if isinstance(obj, BaseModel):
            return obj.model_dump(mode="json")
        return str(obj)

    return json.loads(json.dumps(value, default=default))
