"""Vercel log drain deliveries, the wire half: verify, decode, split into lines. Pure.

Vercel (docs /docs/drains/reference/logs, /docs/drains/security, read 2026-12):
- POST of a JSON array of log objects, or NDJSON (one object per line), as chosen
  when the drain is configured; optionally gzip (`Content-Encoding: gzip`).
- `x-vercel-signature`: hex HMAC-SHA1 of the raw body with the drain's signature secret.
- Fields: `id`, `deploymentId`, `source` (build, edge, lambda, static, external,
  firewall, redirect), `host`, `timestamp` (ms), `projectId`, `level` (info, warning,
  error, fatal), `message` (may be truncated over 256 KB), `requestId`, `statusCode`
  (-1: the function crashed), `path`, `environment`, `branch`, `projectName`, `proxy{...}`.

When `message` is a JSON object (the runbook's structured logs), its fields are
read too: `level` overrides Vercel's, nested keys are flattened (`error.type`).
A line that is not an object or lacks an `id` is skipped and counted, never fatal.
"""

from __future__ import annotations

import gzip
import json
import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lib import safejson
from lib.logs.config import norm_level
from lib.signing import equal, hmac_hex

MAX_LINE_ID = 128
MAX_MESSAGE = 16 * 1024  # what matching and samples read of a message; Vercel's own cap is 256 KB
MAX_JSON_MESSAGE = 64 * 1024
MAX_FIELDS = 100
JSON_TYPES = ("application/json", "application/x-ndjson", "application/ndjson", "application/jsonl",
              "application/x-jsonlines", "text/plain")


def _number(convert: Any) -> Any:
    def parse(text: str) -> Any:
        if len(text) > safejson.MAX_NUMBER:
            raise ValueError("number too long")
        return convert(text)

    return parse


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


# A message's own JSON, parsed once per line: the bounds of lib/safejson (numbers, no NaN)
# with one reusable decoder; depth needs no walk, only MAX_DEPTH_READ levels are ever read.
_MESSAGE_JSON = json.JSONDecoder(parse_int=_number(int), parse_float=_number(float), parse_constant=_no_constant)
MAX_DEPTH_READ = 4


class BadBatch(ValueError):
    """The delivery as a whole is unusable (HTTP 400 or 415 with the reason)."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class TooLarge(BadBatch):
    def __init__(self, reason: str) -> None:
        super().__init__(reason, 413)


@dataclass(slots=True)
class LogLine:
    id: str
    ts: float  # epoch seconds
    level: str = "info"
    source: str = ""
    environment: str = ""
    project_id: str = ""
    project_name: str = ""
    deployment_id: str = ""
    host: str = ""
    path: str = ""
    status: int | None = None
    request_id: str = ""
    message: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    lower: str = ""  # the message lowercased, for case-insensitive matching


@dataclass
class Batch:
    lines: list[LogLine]
    malformed: int = 0


def verify(headers: Mapping[str, str], body: bytes, secret: str | None) -> bool:
    """`x-vercel-signature` = hex HMAC-SHA1 of the raw (still compressed) body."""
    if not secret:
        return False
    signature = headers.get("x-vercel-signature")
    if not isinstance(signature, str) or not signature.strip():
        return False
    return equal(hmac_hex(secret, body, "sha1"), signature.strip().lower())


def decode(headers: Mapping[str, str], body: bytes, limit: int) -> bytes:
    """The body as bytes of JSON: content type checked, gzip undone within `limit` bytes."""
    ctype = (headers.get("content-type") or "").split(";")[0].strip().lower()
    if ctype and ctype not in JSON_TYPES:
        raise BadBatch(f"content type {ctype[:60]} is not JSON or NDJSON", 415)
    encoding = (headers.get("content-encoding") or "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise BadBatch(f"content encoding {encoding[:30]} is not supported (gzip is)", 415)
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise BadBatch("body is not valid gzip") from None
    if len(out) > limit:
        raise TooLarge(f"batch over {limit} bytes once decompressed")
    return out


def parse(body: bytes) -> Batch:
    """Split a JSON array or NDJSON body into lines; bad lines are counted, not fatal."""
    text = _text(body)
    stripped = text.strip()
    if not stripped:
        return Batch([])
    items: list[Any] | None = None
    if stripped[0] == "[":
        try:
            doc = safejson.loads(stripped)
            items = doc if isinstance(doc, list) else None
        except safejson.Rejected:
            items = None  # a broken array: read it line by line below, keeping what parses
    if items is None:
        rows = [raw for raw in stripped.splitlines() if raw.strip() not in ("", "[", "]")]
        try:  # NDJSON as one array: one parse instead of one per line
            items = safejson.loads("[" + ",".join(r.rstrip().rstrip(",") for r in rows) + "]")
        except safejson.Rejected:
            items = [_loads(raw) for raw in rows]  # some line is bad: find which, keep the rest
    lines, bad = [], 0
    for item in items:
        line = line_of(item)
        if line is None:
            bad += 1
        else:
            lines.append(line)
    if not lines and bad:
        raise BadBatch(f"no line of the batch is a log object ({bad} malformed)")
    return Batch(lines, bad)


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBatch("body is not UTF-8") from None


def _loads(raw: str) -> Any:
    """One NDJSON line, bounded like every request body (lib/safejson.py); None when bad."""
    try:
        return safejson.loads(raw.strip().rstrip(","))
    except safejson.Rejected:
        return None


def _str(value: object, limit: int = 200) -> str:
    if isinstance(value, str):
        return value[:limit]
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return str(value)
    return ""


def _status(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    code = int(value)
    return code if code == -1 or 100 <= code <= 599 else None


def line_of(item: object) -> LogLine | None:
    """One log object -> LogLine; None when it is not one (not an object, no id, no time)."""
    if not isinstance(item, dict):
        return None
    ident = _str(item.get("id"), MAX_LINE_ID + 1)
    ts = item.get("timestamp")
    if not ident or len(ident) > MAX_LINE_ID or isinstance(ts, bool) or not isinstance(ts, int | float):
        return None
    if not math.isfinite(ts) or ts <= 0:
        return None
    proxy = item.get("proxy") if isinstance(item.get("proxy"), dict) else {}
    message = item.get("message") if isinstance(item.get("message"), str) else ""
    fields = structured(message)
    level = fields.get("level") or fields.get("severity") or fields.get("lvl") or _str(item.get("level"))
    status = _status(item.get("statusCode"))
    return LogLine(
        id=ident,
        ts=ts / 1000.0 if ts > 1e11 else float(ts),  # Vercel sends JavaScript milliseconds
        level=norm_level(level) if level else "info",
        source=_str(item.get("source"), 40).lower(),
        environment=_str(item.get("environment"), 40).lower(),
        project_id=_str(item.get("projectId")),
        project_name=_str(item.get("projectName")),
        deployment_id=_str(item.get("deploymentId")),
        host=_str(item.get("host")) or _str(proxy.get("host")),
        path=_str(item.get("path"), 500) or _str(proxy.get("path"), 500),
        status=status if status is not None else _status(proxy.get("statusCode")),
        request_id=_str(item.get("requestId"), 100) or fields.get("request_id", "")[:100],
        message=message[:MAX_MESSAGE],
        fields=fields,
        lower=message[:MAX_MESSAGE].lower(),
    )


def structured(message: str) -> dict[str, str]:
    """The flattened fields of a JSON object message ({} when it is not one).

    The object may follow a prefix (`2026-01-01T00:00:00Z ERROR {...}`)."""
    if not message or len(message) > MAX_JSON_MESSAGE or not message.rstrip().endswith("}"):
        return {}
    start = message.find("{")
    if start < 0:
        return {}
    try:
        doc = _MESSAGE_JSON.decode(message[start:])
    except (ValueError, RecursionError):
        return {}
    if not isinstance(doc, dict):
        return {}
    out: dict[str, str] = {}
    _flatten(doc, "", out, 0)
    return out


def _flatten(doc: dict[str, Any], prefix: str, out: dict[str, str], depth: int) -> None:
    for k, v in doc.items():
        if len(out) >= MAX_FIELDS:
            return
        name = prefix + k if prefix else k
        if type(v) is str:
            out[name] = v[:1000]
        elif isinstance(v, dict):
            if depth < MAX_DEPTH_READ:
                _flatten(v, name + ".", out, depth + 1)
        elif isinstance(v, bool):
            out[name] = "true" if v else "false"
        elif (text := _str(v)) != "":
            out[name] = text


def gzip_body(data: bytes) -> bytes:
    """For tests and the benchmark: what a gzip drain sends."""
    return gzip.compress(data)
