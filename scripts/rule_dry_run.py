"""Evaluate one metric rule against its live /metrics now, and say what it would do.

    python scripts/rule_dry_run.py HighErrorRate [--config monitoring.yaml] [--interval 15s] [--store]

Prints the value, the tier it is in and why, e.g.

    HighErrorRate: error rate 0.7 % > 0.5 % (P1) → P1, pending 2m of 5m

A gauge needs one scrape. A rate over a window (ratio, quantile) needs two:
without --store the script scrapes twice, --interval apart (default 15s), and
PromQL extrapolation makes the short interval stand for the window. With
--store it reads the samples and pending state Vigil keeps (the store of the
environment: UPSTASH_REDIS_REST_URL/TOKEN or REDIS_URL) and scrapes once: that
is exactly what the next cron run would see. A baseline rule needs --store
(an hour of samples). Nothing is written anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib import clock
from lib.config import ConfigError, load_config
from lib.durations import format_duration, parse_duration
from lib.env import Env
from lib.rules import promql, signals, state, values
from lib.rules import scrape as src
from lib.rules.config import Rule


def scrape(rule: Rule) -> dict[str, Any]:
    url = rule.scrape_config.url
    page = asyncio.run(src.scrape_all({url: rule.scrape_config}, src.wanted_names([rule]), os.environ))[url]
    if not page.ok:
        raise SystemExit(f"{rule.name}: scrape of {rule.scrape_config.where} failed: {page.error}")
    return src.observe(rule, page.samples)


def from_store(rule: Rule, rules: list[Rule], now: float) -> tuple[values.History, promql.AlertState]:
    """The samples the cron keeps for the rule's selectors (the sets the cron would read)."""
    from lib.store import open_store

    store = open_store(Env.from_environ())
    uid, hist = src.url_id(rule.scrape_config.url), {}
    for gid in {g for (u, _), g in state.keep_of(rules).home.items() if u == uid}:
        members = store.call("ZRANGEBYSCORE", store.key("rules", "samples", gid), f"({now - rule.history - 60}", "+inf")
        hist.update(values.decode_history(members))
    raw = store.call("HGET", store.key("rules", "state"), rule.name)
    alert = promql.AlertState.from_json(json.loads(raw) if raw else None)
    return hist, alert


def evaluate(rule: Rule, rules: list[Rule], use_store: bool, interval: float) -> tuple[float | None, promql.AlertState, str]:
    now = clock.now()
    if not rule.keeps_history:
        alert = from_store(rule, rules, now)[1] if use_store else promql.AlertState()
        return values.instant_value(rule, scrape(rule)), alert, "one scrape"
    if use_store:
        hist, alert = from_store(rule, rules, now)
        values.add_minute(hist, now, scrape(rule))
        return values.value_of(rule, hist, now), alert, "Vigil's stored samples and this scrape"
    if rule.baseline:
        raise SystemExit(f"{rule.name}: a baseline needs an hour of samples: run with --store")
    print(f"{rule.name}: a rate over {format_duration(rule.window)} needs two scrapes; "
          f"scraping again in {format_duration(interval)} ...", file=sys.stderr)
    first = scrape(rule)
    time.sleep(interval)  # an operator tool, not a request: waiting is the point
    later = clock.now()
    hist: values.History = {}
    for t, obs in ((later - interval, first), (later, scrape(rule))):
        values.add_minute(hist, t, obs)
    return values.value_of(rule, hist, later), promql.AlertState(), f"two scrapes {format_duration(interval)} apart"


def verdict(rule: Rule, value: float | None, state: promql.AlertState, now: float) -> str:
    if value is None or math.isnan(value):
        return f"{signals.explain(rule, value, None)} → nothing changes" + (", stays firing" if state.fired else "")
    holding = promql.tiers_holding(value, rule.tiers, rule.is_above)
    if not holding:
        return f"{signals.explain(rule, value, None)} → no tier holds" + (", would resolve" if state.fired else "")
    top = holding[0]
    since = state.active.get(top.value, now)
    held = now - since
    if held >= rule.for_:
        status = f"firing (held {format_duration(held)})" if rule.for_ else "firing"
    else:
        status = f"pending {format_duration(held)} of {format_duration(rule.for_)}"
    return f"{signals.explain(rule, value, top)} → {top}, {status}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rule")
    ap.add_argument("--config", default=os.environ.get("MONITORING_CONFIG") or "monitoring.yaml")
    ap.add_argument("--interval", default="15s", help="between the two scrapes of a rate (default 15s)")
    ap.add_argument("--store", action="store_true", help="use the samples and state Vigil keeps in its store")
    args = ap.parse_args(argv)
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print("\n".join(exc.report()), file=sys.stderr)
        return 2
    rule = next((r for r in cfg.rules if r.name == args.rule), None)
    if rule is None:
        print(f"no rule named {args.rule!r} in {args.config} (rules: {', '.join(r.name for r in cfg.rules)})",
              file=sys.stderr)
        return 2
    value, state, basis = evaluate(rule, cfg.rules, args.store, parse_duration(args.interval))
    print(f"{rule.name}: {verdict(rule, value, state, clock.now())}   [{basis}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
