"""How monitoring.yaml's problems are found and told: lines, echoed values, suggestions.

`read_yaml(text, source)` parses YAML keeping each place's line and refusing
duplicate keys (YAML's last-one-wins would silently drop a check or a tier);
`problems_of(exc, data, lines, root)` turns a pydantic ValidationError into
`Problem`s that say where (`checks[0].timeout`, line 19), what was there
(`'critical' is not one of P0, P1, P2, P3`) and, for an unknown field, the
nearest known one (`timout`: did you mean `timeout`?).
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # yaml and pydantic are imported where a file is validated, not on a request's path
    import yaml
    from pydantic import BaseModel, ValidationError

Loc = tuple[Any, ...]


@dataclass(frozen=True)
class Problem:
    place: str  # checks[0].timeout
    message: str  # '15' is a bare number: ...
    line: int | None = None
    note: str = ""  # e.g. "from the default routing"

    def __str__(self) -> str:
        return f"{self.place}: {self.message}" + (f" ({self.note})" if self.note else "")


class ConfigError(Exception):
    """A config file that cannot be used. `problems` are 'place: what is wrong' lines;
    `issues` the same as `Problem`s, with their line where the YAML gives one."""

    def __init__(self, problems: list[str] | list[Problem], source: str = "monitoring.yaml") -> None:
        self.issues = [p if isinstance(p, Problem) else Problem(*_split(p)) for p in problems]
        self.problems = [str(p) for p in self.issues]
        self.source = source
        super().__init__(f"{source}: " + "; ".join(self.problems))

    def report(self) -> list[str]:
        """One line per problem, as an editor jumps to it: `monitoring.yaml:19: checks[0].timeout: ...`."""
        return [f"{self.source}:{p.line}: {p}" if p.line else f"{self.source}: {p}" for p in self.issues]


def _split(text: str) -> tuple[str, str]:
    place, sep, message = text.partition(": ")
    return (place, message) if sep else ("(file)", text)


def place_of(loc: Loc) -> str:
    out = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for a mapping key: the place is the key itself
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def read_yaml(text: str, source: str) -> tuple[Any, dict[Loc, int]]:
    """(data, {place: 1-based line}); ConfigError for invalid YAML and duplicate keys."""
    import yaml

    loader = yaml.SafeLoader(text)  # its messages are clearer than the C loader's
    try:
        node = loader.get_single_node()
        lines: dict[Loc, int] = {}
        duplicates: list[Problem] = []
        if node is not None:
            _walk(node, (), lines, duplicates)
        if duplicates:
            raise ConfigError(duplicates, source)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = Problem(where, f"not valid YAML ({getattr(exc, 'problem', None) or exc})")
        raise ConfigError([problem], source) from None
    finally:
        loader.dispose()
    return data, lines


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], dups: list[Problem]) -> None:
    import yaml

    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        first: dict[Any, int] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else str(key.value)
            here = key.start_mark.line + 1
            if name in first:
                dups.append(Problem(place_of((*loc, name)), f"duplicate key (first at line {first[name]}); "
                                    "YAML would keep only the last one", here))
                continue
            first[name] = here
            lines[(*loc, name)] = here
            _walk(value, (*loc, name), lines, dups)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*loc, i), lines, dups)


def line_of(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of `loc`, else of its nearest parent the file has (a missing field: its parent)."""
    loc = tuple(p for p in loc if p != "[key]")
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return None


_USERINFO = re.compile(r"(://)[^/@\s]+@")
_SECRET_PARAM = re.compile(r"([?&][^=&\s]*(?:token|key|secret|pass|sig|auth)[^=&\s]*=)[^&\s']+", re.I)
_PRIVATE = {"headers", "auth"}  # values there may be credentials: never echoed


def _short(value: Any) -> str:
    text = _SECRET_PARAM.sub(r"\1***", _USERINFO.sub(r"\1***@", repr(value)))
    return text if len(text) <= 60 else text[:57] + "..."


def _message(err: Any, fields: list[str]) -> str:
    kind, value = err["type"], err.get("input")
    msg = err["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        name = str(err["loc"][-1])
        near = difflib.get_close_matches(name, fields, n=1, cutoff=0.6)
        return f"unknown field, did you mean '{near[0]}'?" if near else (
            "unknown field" + (f" (known: {', '.join(sorted(fields))})" if fields else ""))
    if kind in ("enum", "literal_error"):
        expected = str(err.get("ctx", {}).get("expected", "")).replace(" or ", ", ").replace("'", "")
        return f"{_short(value)} is not one of {expected}"
    scalar = isinstance(value, (str, int, float, bool)) or value is None
    if scalar and kind != "missing" and repr(value)[:20] not in msg:
        return f"{msg} (got {_short(value)})"
    return msg


def _unwrap(tp: Any) -> list[Any]:
    """The alternatives of an annotation: `X | None` -> [X, None]; Annotated[X, ...] -> [X]."""
    if typing.get_origin(tp) is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [a for arg in typing.get_args(tp) for a in _unwrap(arg)]
    return [tp]


def _model_of(tp: Any) -> type[BaseModel] | None:
    from pydantic import BaseModel

    return next((a for a in _unwrap(tp) if isinstance(a, type) and issubclass(a, BaseModel)), None)


def _tag(alt: Any) -> str:
    return getattr(alt, "__name__", str(alt))


def resolve(root: type[BaseModel], loc: Loc) -> tuple[Loc, Any]:
    """(`loc` without pydantic's union-member tags, the annotation found there).

    `rules[0].scrape.Scrape.timeout` is `rules[0].scrape.timeout` to a reader."""
    tp: Any = root
    out: list[Any] = []
    for part in loc:
        alts = [a for a in _unwrap(tp) if a is not type(None)]
        if tp is not None and len(alts) > 1 and isinstance(part, str) and (
                part in {_tag(a) for a in alts} or "[" in part):
            tp = next((a for a in alts if _tag(a) == part), tp)
            continue
        out.append(part)
        if tp is None or part == "[key]":
            continue
        model = _model_of(tp)
        if model is not None and isinstance(part, str):
            field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
            tp = field.annotation if field else None
            continue
        container = next((a for a in alts if typing.get_origin(a) in (list, dict)), None)
        tp = typing.get_args(container)[-1] if container is not None and typing.get_args(container) else None
    return tuple(out), tp


def fields_at(root: type[BaseModel], loc: Loc) -> list[str]:
    """The field names (as written in YAML) of the model at `loc`, for did-you-mean."""
    model = _model_of(resolve(root, loc)[1])
    return [f.alias or name for name, f in model.model_fields.items()] if model else []


def problems_of(exc: ValidationError, lines: dict[Loc, int], root: type[BaseModel]) -> list[Problem]:
    errors = exc.errors()
    deep = {tuple(e["loc"][:-1]) for e in errors if len(e["loc"]) > 1}
    out: list[Problem] = []
    for err in errors:
        raw = tuple(err["loc"])
        loc = resolve(root, raw)[0]
        # `str | Scrape` given a mapping: the str branch's complaint hides the real one.
        if len(loc) < len(raw) and any(d[: len(raw) - 1] == raw[:-1] and d != raw[:-1] for d in deep):
            continue
        fields = fields_at(root, loc[:-1]) if err["type"] == "extra_forbidden" else []
        if _PRIVATE.intersection(p for p in loc if isinstance(p, str)):
            err = {**err, "input": ...}
        out.append(Problem(place_of(loc), _message(err, fields), line_of(lines, loc)))
    return list(dict.fromkeys(out))
