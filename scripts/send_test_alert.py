"""Fire a test alert through the configured channels and print what went where.

    make test-alert                                  # P3: Slack only, by the default routing
    make test-alert ARGS="--severity P0 --resolve"   # .venv/bin/python scripts/send_test_alert.py ...

It goes the one way every signal goes (incidents.apply, then the notifiers), under
the key `test:<severity>`, so it dedups like a real alert; `--resolve` closes it
again. Channels without credentials print to the console instead. A test alert
is no incident to document: it gets no postmortem reminder.

When `make dev` is running here (it leaves .vigil/dev-server.json), the alert is
sent by that server (POST /__dev/test-alert): its config, its clock (fake or
not), its store and its console, so the ack link it prints works there.

A delivery that fails prints the vendor's answer, and for Twilio what its error
code means (trial accounts, unverified numbers); the exit status is 1 when one failed.
Against production, with its variables and without writing them to a file:
    vercel env run -e production -- .venv/bin/python scripts/send_test_alert.py --severity P0 --resolve
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib import clock, runtime
from lib.channels.twilio_errors import explain
from lib.config import ConfigError
from lib.incidents import dispatch, engine, events
from lib.incidents.messages import links_for
from lib.models import Delivery, Send, Severity, Signal
from lib.runtime import Runtime

DEV_SERVER_FILE = "dev-server.json"  # written by scripts/dev.py while it runs


def fire(rt: Runtime, severity: str, title: str, resolve: bool, now: float) -> list[str]:
    """Send the test alert at `now` (and resolve it); the lines saying what went where."""
    return fire_counted(rt, severity, title, resolve, now)[0]


def fire_counted(rt: Runtime, severity: str, title: str, resolve: bool, now: float) -> tuple[list[str], int]:
    """`fire`, and how many configured deliveries failed."""
    signal = Signal(
        key=f"test:{severity}", severity=Severity(severity), title=title, source="test",
        summary="A test alert sent with scripts/send_test_alert.py; nothing is wrong.",
    )
    channels = rt.env.channels()
    # dispatch.handle's steps, keeping each delivery's outcome to print.
    (decision,) = engine.apply_many(rt.store, rt.config, [signal], now)
    events.decided(decision, now)
    inc = decision.incident
    outcomes = dispatch.send_all(rt, decision.sends, {inc.id: inc}, now) if decision.sends and inc else []
    out = [f"{decision.reason.value} {inc.ref if inc else ''} ({severity})"]
    failed = 0
    for send, delivery in outcomes:
        out.append(f"  {send.channel:<6} -> {send.address:<28} {_outcome(send, delivery, channels)}")
        if channels.get(send.channel) and not delivery.ok:
            failed += 1
            meaning = explain(delivery.detail) if send.channel in ("sms", "call") else None
            out += [f"           {meaning}"] if meaning else []
    if any(s.channel == "sms" and d.ok and channels.get("sms") for s, d in outcomes):
        out.append("  sms: Twilio accepted it; whether a US carrier delivered it shows in Console → Monitor → Logs "
                   "(30034: unregistered 10DLC number, 30032: unverified toll-free number; README, Twilio)")
    if inc is not None and decision.sends:
        ack = links_for(rt.env, inc, "", now, rt.config.settings.ack_link_ttl)["ack"]
        out.append(f"  ack: {ack}" if ack else "  ack: (ACK_SIGNING_SECRET unset: no links)")
    if not decision.sends:
        out.append("  nothing sent (an open test incident with this key already exists: use --resolve)")
    if resolve:
        (closed,) = dispatch.handle(rt, [dataclasses.replace(signal, status="resolved")], now)
        out.append(f"{closed.reason.value} {closed.incident.ref if closed.incident else ''}")
    return out, failed


def _outcome(send: Send, delivery: Delivery, channels: dict[str, bool]) -> str:
    if not channels.get(send.channel):
        return "console (not configured)"
    if delivery.ok:
        return "sent"
    return f"FAILED: {delivery.detail}" + (" (will be retried)" if delivery.retryable else "")


def running_dev_server() -> str | None:
    """The URL of a `make dev` serving from this directory, if one answers."""
    path = Path(os.environ.get("VIGIL_DATA_DIR", "").strip() or ".vigil") / DEV_SERVER_FILE
    try:
        url = str(json.loads(path.read_text())["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    import httpx

    try:
        httpx.get(f"{url}/__dev/clock", timeout=2.0)
    except httpx.HTTPError:
        return None  # left behind by a server that did not stop cleanly
    return url


def via_dev_server(url: str, args: argparse.Namespace) -> int:
    import httpx

    body: dict[str, Any] = {"severity": args.severity, "title": args.title, "resolve": args.resolve}
    r = httpx.post(f"{url}/__dev/test-alert", json=body, timeout=30.0)
    if r.status_code != 200:
        print(f"{url}/__dev/test-alert answered {r.status_code}: {r.text}", file=sys.stderr)
        return 1
    print(f"sent by the dev server at {url} (its config and clock: {r.json()['now']})")
    print("\n".join(r.json()["lines"]))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--severity", default="P3", choices=[s.value for s in Severity])
    ap.add_argument("--title", default="Vigil test alert")
    ap.add_argument("--resolve", action="store_true", help="resolve the test incident afterwards")
    ap.add_argument("--here", action="store_true", help="send from this process even when make dev is running")
    args = ap.parse_args(argv)
    url = None if args.here else running_dev_server()
    if url is not None:
        return via_dev_server(url, args)
    try:
        rt = runtime.get()
    except ConfigError as exc:
        print("\n".join(exc.report()), file=sys.stderr)
        return 2
    lines, failed = fire_counted(rt, args.severity, args.title, args.resolve, clock.now())
    print("\n".join(lines))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
