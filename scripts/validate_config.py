"""Check a monitoring.yaml before deploying it.

    python scripts/validate_config.py [monitoring.yaml]

Prints `ok: N people, N checks, N rules` and exits 0, or every problem at once, one
line each with its line number where the YAML gives one, and exits 1. A valid file's
snapshot is written beside it (monitoring.yaml -> monitoring.validated.json; commit it:
cold starts read it instead of validating again, lib/config_snapshot.py):

    monitoring.yaml:8: routing.P0.sms[0]: unknown person 'ctoo'
    monitoring.yaml:19: checks[0].timout: unknown field, did you mean 'timeout'?
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib import config_snapshot
from lib.config import ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Validate a Vigil monitoring.yaml")
    p.add_argument("path", nargs="?", default="monitoring.yaml")
    p.add_argument("--no-snapshot", action="store_true", help="validate only: write no snapshot")
    args = p.parse_args(argv)
    try:
        cfg = load_config(args.path, snapshot=False)
    except ConfigError as exc:
        print("\n".join(exc.report()))
        return 1
    logs = f", {len(cfg.logs)} log rules" if cfg.logs else ""
    print(f"ok: {len(cfg.people)} people, {len(cfg.checks)} checks, {len(cfg.rules)} rules{logs}")
    if not args.no_snapshot:
        path = Path(args.path)
        was = config_snapshot.status(path)
        snap = config_snapshot.write(path, cfg)
        if was != "fresh":
            print(f"wrote {snap}: commit it with {path.name} (cold starts read it instead of validating)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
