"""Fire a test alert through the configured channels and print what went where.

    python scripts/send_test_alert.py            # P3: Slack only, by the runbook's routing
    python scripts/send_test_alert.py --severity P0 --resolve

It goes the one way every signal goes (incidents.apply, then the notifiers), under
the key `test:<severity>`, so it dedups like a real alert; `--resolve` closes it
again. Channels without credentials print to the console instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib import clock, runtime
from lib.config import ConfigError
from lib.incidents import dispatch
from lib.models import Severity, Signal


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--severity", default="P3", choices=[s.value for s in Severity])
    ap.add_argument("--title", default="Vigil test alert")
    ap.add_argument("--resolve", action="store_true", help="resolve the test incident afterwards")
    args = ap.parse_args(argv)
    try:
        rt = runtime.get()
    except ConfigError as exc:
        print("\n".join(exc.report()), file=sys.stderr)
        return 2
    now = clock.now()
    signal = Signal(
        key=f"test:{args.severity}", severity=Severity(args.severity), title=args.title, source="test",
        summary="A test alert sent with scripts/send_test_alert.py; nothing is wrong.",
    )
    channels = rt.env.channels()
    (decision,) = dispatch.handle(rt, [signal], now, deadline=10.0)
    print(f"{decision.reason.value} {decision.incident.ref if decision.incident else ''} ({args.severity})")
    for send in decision.sends:
        where = "sent" if channels.get(send.channel) else "console (not configured)"
        print(f"  {send.channel:<6} -> {send.address:<28} {where}")
    if not decision.sends:
        print("  nothing sent (an open test incident with this key already exists: use --resolve)")
    if args.resolve:
        (closed,) = dispatch.handle(rt, [signal.model_copy(update={"status": "resolved"})], clock.now(), deadline=10.0)
        print(f"{closed.reason.value} {closed.incident.ref if closed.incident else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
