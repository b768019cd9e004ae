"""PURE: JSON assertions on a response body (`body_json = { "EXPR" = VALUE }`, DESIGN).

Each EXPR is a JMESPath expression (the `jmespath` package), compiled once when the
config is loaded; VALUE is the JSON value it must yield, compared as JSON values
(a boolean is not a number, `1` equals `1.0`, objects compare key by key). A body
that is not JSON, or an expression that yields something else, is `body_mismatch`
naming the expression. The body judged is what was read: at most `max_body_bytes`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import jmespath
from jmespath.exceptions import IncompleteExpressionError, JMESPathError

_SHOWN = 40  # longest expression or value quoted in a detail


@dataclass(frozen=True, slots=True)
class JsonAssertion:
    """One `EXPR = VALUE`: equal and hashable by its text and the canonical JSON of VALUE."""

    expression: str
    expected_json: str  # canonical JSON of the expected value (sorted keys)
    expected: Any = field(compare=False, hash=False, repr=False)
    compiled: Any = field(compare=False, hash=False, repr=False)


class BadAssertion(ValueError):
    """An expression that does not compile, or a value JSON cannot hold."""


def assertion(expression: str, expected: Any) -> JsonAssertion:
    """Compile one assertion; BadAssertion says why it cannot be."""
    try:
        compiled = jmespath.compile(expression)
    except JMESPathError as e:
        raise BadAssertion(f"invalid JMESPath expression: {_parse_error(e)}") from e
    value = _json_value(expected)
    return JsonAssertion(expression, json.dumps(value, sort_keys=True, allow_nan=False),
                         value, compiled)


def failure(assertions: tuple[JsonAssertion, ...], body: bytes, max_body: int) -> str | None:
    """None when every assertion holds; else the detail of the first that does not."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        cut = f" (only the first {max_body} bytes are read)" if len(body) >= max_body else ""
        return f"body is not JSON{cut}"
    for a in assertions:
        try:
            got = a.compiled.search(doc)
        except (JMESPathError, TypeError, ValueError) as e:
            return f"body_json {_short(a.expression)!r}: {_first_line(e)}"
        if not same(got, a.expected):
            return (f"body_json {_short(a.expression)!r} is {_short(_text(got))},"
                    f" expected {_short(a.expected_json)}")
    return None


def same(a: Any, b: Any) -> bool:
    """JSON value equality: types as JSON has them (true is not 1), numbers by value."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


def _json_value(value: Any) -> Any:
    """A TOML value as JSON has it (tables, arrays, strings, numbers, booleans)."""
    if isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadAssertion("the expected value must be a finite number")
        return value
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    raise BadAssertion(f"the expected value must be a JSON value, not {type(value).__name__}")


def _text(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return type(value).__name__


def _parse_error(e: JMESPathError) -> str:
    """What is wrong and where: the lexer's message, else an incomplete or unexpected token."""
    where = getattr(e, "lex_position", None)
    at = f" at position {where}" if isinstance(where, int) else ""
    if isinstance(getattr(e, "message", None), str):  # LexerError
        return f"{e.message}{at}"
    if isinstance(e, IncompleteExpressionError):
        return f"incomplete expression{at}"
    msg = getattr(e, "msg", "")
    return f"{msg}{at}" if isinstance(msg, str) and msg else _first_line(e)


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _short(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
