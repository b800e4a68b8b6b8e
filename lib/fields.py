"""Field checks for the shared nouns (lib/models.py), stdlib only: building a pydantic
model class costs a cold start ~100 ms (issue 15), so nothing on a request's path does.

Each check returns the value coerced the way pydantic's lax mode did (an int where a
float goes becomes a float, a whole float where an int goes becomes an int) or raises
`Invalid`, whose message starts with the field's name and never holds the value: a
value may be a stranger's (lib/webhooks).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Collection, Mapping
from typing import Any, ClassVar, TypeVar

E = TypeVar("E", bound=enum.Enum)
M = TypeVar("M", bound="Model")


class Invalid(ValueError):
    """`field: reason`; `field` is dotted for nested values (`group.members[0].id`)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def inside(self, outer: str) -> Invalid:
        return Invalid(f"{outer}.{self.field}", self.reason)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def text(name: str, value: object, low: int = 0, high: int | None = None) -> str:
    if not isinstance(value, str):
        raise Invalid(name, f"must be a string, got {_kind(value)}")
    if len(value) < low:
        raise Invalid(name, "must not be empty" if low == 1 else f"must be at least {low} characters")
    if high is not None and len(value) > high:
        raise Invalid(name, f"must be at most {high} characters")
    return value


def optional_text(name: str, value: object, high: int | None = None) -> str | None:
    return None if value is None else text(name, value, 0, high)


def number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid(name, f"must be a number, got {_kind(value)}")
    return float(value)


def optional_number(name: str, value: object) -> float | None:
    return None if value is None else number(name, value)


def integer(name: str, value: object, low: int | None = None) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(name, f"must be a whole number, got {_kind(value)}")
    if low is not None and value < low:
        raise Invalid(name, f"must be at least {low}")
    return value


def optional_integer(name: str, value: object, low: int | None = None) -> int | None:
    return None if value is None else integer(name, value, low)


def flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise Invalid(name, f"must be true or false, got {_kind(value)}")
    return value


def choice(name: str, value: object, options: Collection[str]) -> str:
    if not isinstance(value, str) or value not in options:
        raise Invalid(name, f"must be one of {', '.join(options)}")
    return str(value)


def member(name: str, value: object, kind: type[E]) -> E:
    """An enum member, from itself or its value (Severity from "P1")."""
    try:
        return kind(value)
    except (ValueError, TypeError):
        raise Invalid(name, f"must be one of {', '.join(str(m.value) for m in kind)}") from None


def mapping(name: str, value: object) -> dict[str, Any]:
    """A copy of a JSON object (string keys), so the caller's dict stays the caller's."""
    if not isinstance(value, Mapping):
        raise Invalid(name, f"must be an object, got {_kind(value)}")
    if not all(isinstance(k, str) for k in value):
        raise Invalid(name, "keys must be strings")
    return dict(value)


def strings(name: str, value: object) -> dict[str, str]:
    out = mapping(name, value)
    for v in out.values():
        if not isinstance(v, str):
            raise Invalid(name, f"values must be strings, got {_kind(v)}")
    return out


def items(name: str, value: object) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise Invalid(name, f"must be a list, got {_kind(value)}")
    return list(value)


def jsonable(value: Any) -> Any:
    """`value` as JSON types, as pydantic's model_dump(mode="json") gave it: enums as their
    values, nested models as dicts."""
    if isinstance(value, Model):
        return value.as_dict()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


class Model:
    """A dataclass base: `as_dict()` for JSON, `from_dict()` from it. EXTRA says what
    `from_dict` does with a key that is not a field: "forbid" refuses it, "ignore" drops it."""

    EXTRA: ClassVar[str] = "forbid"

    def as_dict(self) -> dict[str, Any]:
        return {f.name: jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls: type[M], data: object, where: str = "") -> M:
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            raise Invalid(where or cls.__name__, f"must be an object, got {_kind(data)}")
        known = dataclasses.fields(cls)
        names = {f.name for f in known}
        try:
            extra = next((k for k in data if k not in names), None)
            if extra is not None and cls.EXTRA == "forbid":
                raise Invalid(str(extra), "unknown field")
            for f in known:
                if f.name not in data and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise Invalid(f.name, "required")
            return cls(**{k: v for k, v in data.items() if k in names})
        except Invalid as exc:
            raise exc.inside(where) if where else exc from None


def each(name: str, value: object, kind: type[M]) -> list[M]:
    """A list of `kind`, each item the model itself or its dict."""
    return [kind.from_dict(item, f"{name}[{i}]") for i, item in enumerate(items(name, value))]
