"""Pydantic validation of the config classes (lib.schema), only where a file is validated:
`make validate`, and a cold start whose config has no fresh snapshot (lib.config_snapshot).

`model_of(cls)` builds one pydantic model per config class from its fields and `spec`s;
`validate(cls, data)` validates with it and returns the dataclass. A config class's
`_verify` runs on the dataclass after its fields, as a pydantic "after" model validator:
its ValueError is reported at the object's place, as pydantic reports one.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from lib.durations import Duration, parse_duration
from lib.schema import hints, is_config_class


def _duration(value: object, info: ValidationInfo) -> float:
    """In a config file a bare number is refused: `after: 15` meant 15 minutes, not 15 seconds.
    (Code that validates data built in Python may pass seconds.)"""
    from_file = isinstance(info.context, dict) and info.context.get("from_file")
    if from_file and isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError(f"{value:g} is a bare number: write it with a unit, like {value:g}s or {value:g}m")
    return parse_duration(value)


DurationField = Annotated[float, BeforeValidator(_duration)]

_models: dict[type, type[BaseModel]] = {}
_classes: dict[type[BaseModel], type] = {}


def _annotation(tp: Any) -> Any:
    """`tp` with every config class replaced by its model and Duration by its validator."""
    if tp is Duration:
        return DurationField
    if is_config_class(tp):
        return model_of(tp)
    args = typing.get_args(tp)
    if not args:
        return tp
    origin = typing.get_origin(tp)
    swapped = tuple(_annotation(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return typing.Union[swapped]  # noqa: UP007 - built at run time from a tuple
    if origin in (list, dict):
        return origin[swapped]
    return tp  # Literal[...] and the like: as written


def _wants_data(fn: Any) -> bool:
    return len(inspect.signature(fn).parameters) > 1


def _field_validator(name: str, fn: Any, mode: str) -> Any:
    if _wants_data(fn):
        def check(cls: Any, v: Any, info: ValidationInfo) -> Any:
            return fn(v, info.data)
    else:
        def check(cls: Any, v: Any) -> Any:
            return fn(v)
    return field_validator(name, mode=mode)(classmethod(check))  # type: ignore[call-overload]


def model_of(cls: type) -> type[BaseModel]:
    """The pydantic model that validates config class `cls` (built once per class)."""
    model = _models.get(cls)
    if model is not None:
        return model
    types_of = hints(cls)
    fields: dict[str, Any] = {}
    validators: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        meta = f.metadata or {}
        kwargs: dict[str, Any] = dict(meta.get("constraints") or {})
        if f.default is not dataclasses.MISSING:
            kwargs["default"] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            kwargs["default_factory"] = f.default_factory
        if meta.get("alias"):
            kwargs["alias"] = meta["alias"]
        fields[f.name] = (_annotation(types_of[f.name]), Field(**kwargs))
        for mode in ("before", "after"):
            for i, fn in enumerate(meta.get(mode) or ()):
                validators[f"_{mode}_{f.name}_{i}"] = _field_validator(f.name, fn, mode)
    if hasattr(cls, "_verify"):
        def verify(self: BaseModel) -> BaseModel:
            to_dataclass(self)._verify()
            return self
        validators["_verify"] = model_validator(mode="after")(verify)  # type: ignore[arg-type]
    options = cls.__schema_options__  # type: ignore[attr-defined]
    model = create_model(  # type: ignore[call-overload]
        cls.__name__,
        __config__=ConfigDict(extra="forbid", populate_by_name=options["populate_by_name"]),
        __doc__=cls.__doc__,
        __validators__=validators,
        **fields,
    )
    _models[cls], _classes[model] = model, cls
    return model


def to_dataclass(value: Any) -> Any:
    """A validated model (and what it holds) as the config classes' objects."""
    if isinstance(value, BaseModel):
        cls = _classes[type(value)]
        return cls(**{f.name: to_dataclass(getattr(value, f.name)) for f in dataclasses.fields(cls)})
    if isinstance(value, list):
        return [to_dataclass(v) for v in value]
    if isinstance(value, dict):
        return {k: to_dataclass(v) for k, v in value.items()}
    return value


def validate(cls: type, data: Any, *, from_file: bool = False) -> Any:
    """`data` validated as config class `cls`: pydantic's ValidationError, or the dataclass."""
    return to_dataclass(model_of(cls).model_validate(data, context={"from_file": from_file}))
