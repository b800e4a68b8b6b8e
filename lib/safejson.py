"""JSON from a request, bounded: the one parser every route and webhook uses.

`json.loads` accepts input that breaks the code after it: nesting 100,000 deep
raises RecursionError (or exhausts the stack of whatever walks the result), a
5000-digit integer raises ValueError (Python caps int parsing at 4300 digits)
or costs quadratic time below that cap, and `NaN`/`Infinity` are not JSON at all.
`loads` refuses each of them with `Rejected(reason)`, a ValueError whose reason
is safe to show a stranger (it never repeats their bytes).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 64  # vendor payloads nest under 10 levels; Alertmanager's about 5
MAX_NUMBER = 40  # characters of one number: a 64-bit id has 20, a float's repr 24


class Rejected(ValueError):
    """Bytes that are not acceptable JSON; `reason` completes "the body ..." (`is not JSON`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _bounded(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        if len(text) > MAX_NUMBER:
            raise Rejected(f"holds a number longer than {MAX_NUMBER} characters")
        return convert(text)

    return parse


_int, _float = _bounded(int), _bounded(float)


def _constant(text: str) -> Any:
    raise Rejected(f"holds {text}, which is not a JSON number")


def depth_of(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deep containers nest in `value` (a scalar is 0), counting no further than limit + 1."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = node.values()
        elif not isinstance(node, list):
            continue
        depth += 1
        deepest = max(deepest, depth)
        if depth > limit:
            return depth
        stack.extend((child, depth) for child in node if isinstance(child, dict | list))
    return deepest


def loads(data: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value in `data`, or Rejected: not UTF-8, not JSON, nested deeper than
    `max_depth`, a number longer than MAX_NUMBER characters, NaN or Infinity."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    except UnicodeDecodeError:
        raise Rejected("is not UTF-8") from None
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except Rejected:
        raise
    except RecursionError:
        raise Rejected(f"is nested deeper than {max_depth} levels") from None
    except ValueError:  # JSONDecodeError, or a number Python refuses
        raise Rejected("is not JSON") from None
    if depth_of(value, max_depth) > max_depth:
        raise Rejected(f"is nested deeper than {max_depth} levels")
    return value
