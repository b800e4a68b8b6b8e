"""A validated monitoring.yaml, kept as JSON beside it: a cold start reads that instead of
validating the file again (pydantic's models cost more than the rest of a webhook's answer).

`make validate` writes `monitoring.validated.json` for `monitoring.yaml`; commit it with the
file. It holds the validated config and a fingerprint of what it was validated from: the
file's bytes, the code that decides what a valid config is (_SOURCES) and the pinned
requirements. `read` uses a snapshot only when its fingerprint is that of the file and code
being run; any other (stale, missing, unreadable) means the file is validated as before, so a
forgotten `make validate` costs cold-start time, never a wrong config. Health warns about it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from lib.schema import build, dump

logger = logging.getLogger("vigil.config")

ROOT = Path(__file__).resolve().parent.parent
# The code that decides what a validated config is: a change to any of it makes snapshots stale.
_SOURCES = (
    "lib/schema.py", "lib/config.py", "lib/config_schema.py", "lib/config_checks.py",
    "lib/config_errors.py", "lib/config_snapshot.py", "lib/durations.py", "lib/models.py",
    "lib/matchers.py", "lib/clock.py", "lib/rules/config.py", "lib/rules/promql.py",
    "lib/logs/config.py", "lib/checks/config.py", "requirements.txt",
)
_code: str | None = None


def path_for(config_path: Path) -> Path:
    """monitoring.yaml -> monitoring.validated.json, beside it."""
    return config_path.with_name(config_path.stem + ".validated.json")


def _code_fingerprint() -> str:
    global _code
    if _code is None:
        h = hashlib.sha256()
        for name in _SOURCES:
            try:
                code = (ROOT / name).read_bytes()
            except OSError:
                code = b"(missing)"
            h.update(name.encode() + b"\0" + code + b"\0")
        _code = h.hexdigest()
    return _code


def fingerprint(raw: bytes) -> str:
    return hashlib.sha256(_code_fingerprint().encode() + b"\0" + raw).hexdigest()


def _check(config_path: Path, raw: bytes) -> tuple[str, dict[str, Any] | None, str]:
    """("fresh", its document, "") or ("stale" | "missing", None, why) for the file's bytes `raw`."""
    snap = path_for(config_path)
    try:
        doc = json.loads(snap.read_bytes())
    except FileNotFoundError:
        return "missing", None, "missing"
    except (OSError, ValueError) as exc:
        return "stale", None, f"unreadable ({exc})"
    if not isinstance(doc, dict) or doc.get("fingerprint") != fingerprint(raw):
        return "stale", None, f"not of this {config_path.name} and code"
    return "fresh", doc, ""


def read(config_path: Path, raw: bytes, cls: type) -> Any | None:
    """The snapshot's config if it is of `raw` (the file's bytes) and of this code, else None."""
    state, doc, why = _check(config_path, raw)
    snap = path_for(config_path).name
    if state == "stale":
        logger.warning("config snapshot %s is %s: validating %s (run make validate and commit %s for faster "
                       "cold starts)", snap, why, config_path.name, snap)
    if doc is None:
        return None
    try:
        return build(cls, doc["config"])
    except (KeyError, TypeError, ValueError) as exc:
        logger.warning("config snapshot %s does not fit the code (%s): validating %s", snap, exc, config_path.name)
        return None


def status(config_path: Path) -> str:
    """"fresh", "stale" or "missing": health tells an operator whether cold starts validate."""
    try:
        raw = config_path.read_bytes()
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "stale"
    return _check(config_path, raw)[0]


def write(config_path: Path, config: Any) -> Path:
    """Save `config`, validated from `config_path` as it is now, beside it."""
    snap = path_for(config_path)
    doc = {
        "about": f"{config_path.name} as validated by `make validate`: cold starts read this instead of "
                 "validating the file again. Generated: commit it with the file, do not edit it.",
        "fingerprint": fingerprint(config_path.read_bytes()),
        "config": dump(config),
    }
    snap.write_text(json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return snap
