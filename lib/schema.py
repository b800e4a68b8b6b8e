"""Config classes as plain frozen dataclasses, so that what a request reads costs no pydantic.

A cold start pays for every class it defines: pydantic's first model alone costs about
80 ms (it imports its schema machinery), each further one a few. So monitoring.yaml's
classes are stdlib dataclasses, declared with `@config_class` and `spec(...)`:

    @config_class
    class Scrape:
        url: str = spec(pattern=r"^https?://")
        timeout: Duration = 10.0
        max_bytes: int = spec(10 * 1024 * 1024, ge=1024)

        def _verify(self) -> None:      # the whole object, after its fields (ValueError)
            ...

`spec` keeps what pydantic checks when a file is validated (`ge`, `pattern`, `alias`,
`before=`/`after=` functions of the value); lib/config_schema.py builds one pydantic model
per class from it, only when a file is validated. A request reads a validated snapshot
instead (lib/config_snapshot.py) and builds the dataclasses with `build` below.
Code that builds config objects in Python passes validated values (seconds, Severity).
"""

from __future__ import annotations

import dataclasses
import enum
import sys
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
Validator = Callable[..., Any]  # (value) -> value, or (value, data) with the fields before it


def config_class(cls: type[T] | None = None, *, populate_by_name: bool = False) -> Any:
    """A frozen, keyword-only dataclass whose fields pydantic validates (see lib.config_schema)."""

    def wrap(c: type[T]) -> type[T]:
        c.__schema_options__ = {"populate_by_name": populate_by_name}  # type: ignore[attr-defined]
        return dataclasses.dataclass(frozen=True, kw_only=True)(c)

    return wrap(cls) if cls is not None else wrap


def spec(
    default: Any = dataclasses.MISSING,
    *,
    factory: Callable[[], Any] | None = None,
    alias: str | None = None,
    before: Validator | tuple[Validator, ...] = (),
    after: Validator | tuple[Validator, ...] = (),
    **constraints: Any,
) -> Any:
    """A field's default and what validation checks of it: pydantic's Field constraints
    (ge, gt, le, lt, pattern, min_length, max_length), an alias as written in YAML, and
    validator functions run before or after pydantic's own checks."""
    meta = {
        "alias": alias,
        "before": before if isinstance(before, tuple) else (before,),
        "after": after if isinstance(after, tuple) else (after,),
        "constraints": constraints,
    }
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def is_config_class(tp: Any) -> bool:
    return isinstance(tp, type) and hasattr(tp, "__schema_options__") and dataclasses.is_dataclass(tp)


_hints: dict[type, dict[str, Any]] = {}


def hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of a config class (cached: they are read per object built)."""
    got = _hints.get(cls)
    if got is None:
        got = _hints[cls] = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
    return got


def dump(value: Any) -> Any:
    """A config object as JSON-ready data, by field name (what `build` reads back)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: dump(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {dump(k): dump(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [dump(v) for v in value]
    return value


def build(tp: Any, data: Any) -> Any:
    """`dump`'s output back into the objects of annotation `tp`. The data was validated
    when it was written: this only restores types (dataclasses, enums, dict keys)."""
    if data is None:
        return None
    if is_config_class(tp):
        fields = hints(tp)
        unknown = set(data) - set(fields)
        if unknown:
            raise ValueError(f"{tp.__name__}: unknown fields {sorted(unknown)}")
        return tp(**{name: build(fields[name], value) for name, value in data.items()})
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return _build_union(typing.get_args(tp), data)
    if origin is list:
        (item,) = typing.get_args(tp) or (Any,)
        return [build(item, v) for v in data]
    if origin is dict:
        key, item = typing.get_args(tp) or (Any, Any)
        return {build(key, k): build(item, v) for k, v in data.items()}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(data)
    if tp is float and isinstance(data, int) and not isinstance(data, bool):
        return float(data)
    return data


def _build_union(alternatives: tuple[Any, ...], data: Any) -> Any:
    for alt in alternatives:
        if is_config_class(alt) and isinstance(data, dict):
            return build(alt, data)
        if typing.get_origin(alt) in (list, dict) and isinstance(data, typing.get_origin(alt)):
            return build(alt, data)
        if isinstance(alt, type) and issubclass(alt, enum.Enum) and isinstance(data, str):
            return alt(data)
    return data
