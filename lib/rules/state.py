"""Metric rules, the state half: one cron run in two Redis round trips.

    1. `rules_begin` (RT1): tick the watchdog, claim the minute slot, read the
       stored samples and alert state every rule needs.
    2. Scrape every distinct URL at once; a failed scrape evaluates nothing
       and changes nothing of its rules (it neither fires nor resolves).
    3. Evaluate each rule at the slot's time with PromQL semantics (lib/rules/promql.py).
    4. `rules_commit` (RT2): write the new samples (trimmed by time) and state,
       only if no newer run claimed a slot meanwhile; then announce transitions.

Samples: one sorted set per scrape URL, one member per minute
(`{"t": slot, "v": {selector id: value or {le: count}}}`), kept for the
longest window (or baseline) of the URL's rules. Times are the run's minute
slot, so cron jitter never stretches or shrinks a window or a `for`.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lib.models import Signal
from lib.rules import promql
from lib.rules import scrape as src
from lib.rules.config import Rule, Scrape
from lib.rules.promql import AlertState
from lib.store import Script, Store

BEGIN = Script.load(__file__, "rules_begin")
COMMIT = Script.load(__file__, "rules_commit")
STATE_TTL = 7 * 86400
BASELINE_COVERAGE = 0.9  # a baseline needs samples over 90 % of its window before it means anything

History = dict[str, list[tuple[float, Any]]]  # selector id -> [(t, value or {le: count})]
Fetch = Callable[[dict[str, Scrape], dict[str, set[str]], Mapping[str, str]], dict[str, src.Page]]


def slot_of(now: float) -> int:
    return int(now // 60) * 60


# --- evaluation (pure) ----------------------------------------------------------------------------


def decode_history(members: object) -> History:
    out: History = {}
    for raw in members if isinstance(members, list) else []:
        try:
            doc = json.loads(raw)
            t, values = float(doc["t"]), doc["v"]
        except (ValueError, KeyError, TypeError):
            continue
        for sid, v in values.items():
            out.setdefault(sid, []).append((t, v))
    return out


def _series(hist: History, sid: str, le: str | None = None) -> list[promql.Sample]:
    out = []
    for t, v in hist.get(sid, []):
        if le is None and isinstance(v, (int, float)):
            out.append((t, float(v)))
        elif le is not None and isinstance(v, dict) and le in v:
            out.append((t, float(v[le])))
    return out


def value_of(rule: Rule, hist: History, t: float) -> float | None:
    """The rule's expression at `t` over `hist` (which already holds this run's sample)."""
    sel = {role: src.selector_id(s) for role, s in rule.selectors.items()}
    start = t - rule.window
    if rule.ratio:
        num = promql.increase(_series(hist, sel["num"]), start, t)
        total = promql.increase(_series(hist, sel["total"]), start, t)
        return None if num is None or not total else num / total
    if rule.quantile:
        latest = next((v for ts, v in reversed(hist.get(sel["buckets"], [])) if ts == t), None)
        if not isinstance(latest, dict):
            return None
        buckets = {}
        for le in latest:
            inc = promql.increase(_series(hist, sel["buckets"], le), start, t)
            if inc is not None:
                buckets[float(le)] = inc
        return promql.histogram_quantile(rule.quantile.q, buckets)
    if rule.baseline:
        series = _series(hist, sel["counter"])
        span = rule.baseline.baseline
        if not series or t - min(ts for ts, _ in series) < span * BASELINE_COVERAGE:
            return None
        now_rate, usual = promql.rate(series, start, t), promql.rate(series, t - span, t)
        return None if now_rate is None or not usual else now_rate / usual
    return None


def instant_value(rule: Rule, obs: dict[str, Any]) -> float | None:
    """Gauges: the value on this page (value / max for a ratio of gauges)."""
    sel = {role: src.selector_id(s) for role, s in rule.selectors.items()}
    value = obs.get(sel["value"])
    if rule.gauge or value is None:
        return value
    assert rule.gauge_ratio
    limit = obs.get(sel["max"]) if "max" in sel else rule.gauge_ratio.max
    return None if not limit else value / float(limit)


# --- the run --------------------------------------------------------------------------------------


@dataclass
class Run:
    claimed: bool = True
    committed: bool = False
    signals: list[Signal] = field(default_factory=list)
    values: dict[str, float | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # url -> why its scrape failed
    round_trips: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "claimed": self.claimed,
            "committed": self.committed,
            "rules": {k: (None if v is None or math.isnan(v) else v) for k, v in self.values.items()},
            "scrape_errors": self.errors,
            "signals": [f"{s.key} {s.status} {s.severity}" for s in self.signals],
        }


def begin(store: Store, now: float, slot: int, keep: dict[str, int]) -> dict[str, Any]:
    raw = store.run_json(BEGIN, [], [store.prefix, now, slot, json.dumps({"keep": keep or {}})])
    return raw if isinstance(raw, dict) else {"claimed": False}


def commit(store: Store, slot: int, payload: dict[str, Any]) -> bool:
    raw = store.run_json(COMMIT, [], [store.prefix, slot, json.dumps(payload, separators=(",", ":"))])
    return bool(isinstance(raw, dict) and raw.get("committed"))


def _default_fetch(scrapes: dict[str, Scrape], wanted: dict[str, set[str]], environ: Mapping[str, str]) -> dict[str, src.Page]:
    return asyncio.run(src.scrape_all(scrapes, wanted, environ))


def _keep(rules: list[Rule]) -> dict[str, float]:
    """Seconds of history each URL needs: its rules' longest window or baseline."""
    keep: dict[str, float] = {}
    for r in rules:
        if r.keeps_history:
            uid = src.url_id(r.scrape_config.url)
            keep[uid] = max(keep.get(uid, 0.0), r.history)
    return keep


def run(
    store: Store, rules: list[Rule], now: float, environ: Mapping[str, str], fetch: Fetch | None = None
) -> Run:
    """One cron run over every rule: at most two round trips whatever the number of rules."""
    start_rt, slot = store.round_trips, slot_of(now)
    keep = _keep(rules)
    got = begin(store, now, slot, {u: int(slot - s - 60) for u, s in keep.items()})
    if not got.get("claimed"):
        return Run(claimed=False, round_trips=store.round_trips - start_rt)
    scrapes = src.scrapes_of(rules)
    pages = (fetch or _default_fetch)(scrapes, src.wanted_names(rules), environ)
    out = Run()
    payload = _evaluate(rules, scrapes, pages, got, slot, keep, out)
    out.committed = commit(store, slot, payload)
    if not out.committed:
        out.signals = []
    out.round_trips = store.round_trips - start_rt
    return out


def _evaluate(
    rules: list[Rule], scrapes: dict[str, Scrape], pages: dict[str, src.Page],
    got: dict[str, Any], slot: int, keep: dict[str, float], out: Run,
) -> dict[str, Any]:
    states = _dict(got.get("state"))
    ok = [r for r in rules if (p := pages.get(r.scrape_config.url)) is not None and p.ok]
    current = _observe_all(ok, pages)
    hists = _histories(current, _dict(got.get("samples")), slot)
    state_set = {}
    for rule in ok:  # a failed scrape evaluates nothing and changes no state of its rules
        uid = src.url_id(rule.scrape_config.url)
        state_set[rule.name] = _step(rule, hists.get(uid, {}), current.get(uid, {}), states, slot, out)
    gone = [n for n in states if n not in {r.name for r in rules}]
    out.signals += _removed(gone, states, slot)
    scrape_set, scrape_del, counts = _scrape_health(scrapes, pages, _dict(got.get("scrapes")), slot, out)
    stored_now = {src.url_id(r.scrape_config.url) for r in ok if r.keeps_history}
    samples = {}
    for uid, secs in keep.items():
        member = {"t": slot, "v": current[uid]} if uid in stored_now and current.get(uid) else None
        samples[uid] = {"oldest": int(slot - secs - 60), "ttl": int(secs + 3600)}
        if member:
            samples[uid]["member"] = json.dumps(member, separators=(",", ":"))
    return {
        "state": state_set, "state_del": gone, "scrapes": scrape_set, "scrapes_del": scrape_del,
        "samples": samples, "ttl": STATE_TTL, "counts": counts,
    }


def _observe_all(rules: list[Rule], pages: dict[str, src.Page]) -> dict[str, dict[str, Any]]:
    """{url id: {selector id: value}}: this run's values of every selector, per page."""
    out: dict[str, dict[str, Any]] = {}
    for rule in rules:
        url = rule.scrape_config.url
        out.setdefault(src.url_id(url), {}).update(src.observe(rule, pages[url].samples))
    return out


def _histories(current: dict[str, dict[str, Any]], stored: dict[str, Any], slot: int) -> dict[str, History]:
    out = {}
    for uid, obs in current.items():
        hist = decode_history(stored.get(uid))
        for sid, v in obs.items():
            hist.setdefault(sid, []).append((float(slot), v))
        out[uid] = hist
    return out


def _step(rule: Rule, hist: History, obs: dict[str, Any], states: dict[str, Any], slot: int, out: Run) -> str:
    """Evaluate one rule, advance its alert, collect its signal; returns its new state JSON."""
    value = value_of(rule, hist, slot) if rule.keeps_history else instant_value(rule, obs)
    if value is not None and math.isnan(value):
        value = None
    holding = promql.tiers_holding(value, rule.tiers, rule.is_above)
    old = AlertState.from_json(_loads(states.get(rule.name)))
    new, tr = promql.step_alert(old, holding, slot, rule.for_)
    out.values[rule.name] = value
    if tr is not None:
        out.signals.append(src.rule_signal(rule, tr, value, slot))
    return json.dumps({**new.to_json(), "value": value, "t": slot})


def _removed(names: list[str], states: dict[str, Any], slot: int) -> list[Signal]:
    """A rule taken out of the config while firing: resolve its incident rather than strand it."""
    out = []
    for name in names:
        st = AlertState.from_json(_loads(states.get(name)))
        if st.fired is not None:
            out.append(Signal(key=f"rule:{name}", severity=st.fired, status="resolved", title=name,
                              summary="resolved: the rule was removed from the configuration",
                              source="rules", occurred_at=slot))
    return out


def _scrape_health(
    scrapes: dict[str, Scrape], pages: dict[str, src.Page], stored: dict[str, Any], slot: int, out: Run
) -> tuple[dict[str, str], list[str], list[list[Any]]]:
    """Per URL: when it started failing and why; one P2 after `alert_after`, resolved on success."""
    set_: dict[str, str] = {}
    del_: list[str] = []
    counts: list[list[Any]] = []
    for url, scrape in scrapes.items():
        uid, page = src.url_id(url), pages.get(url) or src.Page(url, error="not scraped")
        st = _loads(stored.get(uid)) or {}
        counts.append(["rule_scrapes", "ok" if page.ok else "failed", 1])
        if page.ok:
            if st.get("raised"):
                out.signals.append(src.scrape_signal(scrape, False, "", float(st.get("since", slot)), slot))
            if st:
                del_.append(uid)
            continue
        out.errors[url] = page.error
        since = float(st.get("since", slot))
        raised = bool(st.get("raised"))
        if not raised and slot - since >= scrape.alert_after:
            out.signals.append(src.scrape_signal(scrape, True, page.error, since, slot))
            raised = True
        set_[uid] = json.dumps({"since": since, "error": page.error, "raised": raised, "url": scrape.where})
    return set_, del_, counts


def _dict(v: object) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}  # cjson encodes an empty table as {}


def _loads(raw: object) -> Any:
    if not isinstance(raw, str):
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


# --- benchmark (scripts/bench.py) ----------------------------------------------------------------


def synthetic_exposition(size: int, minute: int = 0) -> str:
    """A page of about `size` bytes: the metrics the benchmark rules read, then filler series."""
    lines = [
        "# TYPE http_requests_total counter",
        f'http_requests_total{{code="200"}} {100000 + 1000 * minute}',
        f"http_errors_total {100 + minute}",
        "# TYPE http_request_duration_seconds histogram",
        *(f'http_request_duration_seconds_bucket{{le="{le}"}} {(i + 1) * 1000 * (minute + 1)}'
          for i, le in enumerate(("0.1", "0.25", "0.5", "1", "2.5", "+Inf"))),
        f"pool_active {10 + minute}", "pool_max 60", "# TYPE filler_total counter",
    ]
    body = "\n".join(lines)
    filler, total, n = [], len(body), 0
    while total < size:
        filler.append(f'filler_total{{path="/api/v1/items/{n}",method="get",code="200"}} {n * 7 + minute}')
        total, n = total + len(filler[-1]) + 1, n + 1
    return body + "\n" + "\n".join(filler) + "\n"


def benchmark(store: Store, counts: tuple[int, ...] = (1, 10, 50), size: int = 5 * 1024 * 1024) -> dict[str, Any]:
    """Round trips per cron run with 1/10/50 rules, and seconds to scrape-parse-evaluate 50
    rules over a `size`-byte page (the fetch is replaced by a parse of the page in memory).
    Run it on a store with a scratch prefix: it writes rule state and samples there."""
    import time

    store.call("DEL", store.key("rules", "slot"))

    kinds = [
        {"ratio": {"errors": "http_errors_total", "total": "http_requests_total"}, "above": {"P1": 0.5}},
        {"quantile": {"histogram": "http_request_duration_seconds", "q": 0.95}, "above": {"P1": 10}},
        {"gauge_ratio": {"value": "pool_active", "max": "pool_max"}, "above": {"P1": 0.99}},
        {"baseline": {"counter": "http_requests_total"}, "above": {"P2": 100}},
    ]
    url = "http://bench.invalid/metrics"
    out: dict[str, Any] = {"round_trips": {}, "page_bytes": size}
    for n in counts:
        rules = [Rule.model_validate({"name": f"bench{i}", "scrape": url, **kinds[i % len(kinds)]}) for i in range(n)]
        for minute in range(3):
            page = synthetic_exposition(size if n == max(counts) else 0, minute)

            def fetch(scrapes: dict[str, Scrape], wanted: dict[str, set[str]], _env: Mapping[str, str],
                      page: str = page) -> dict[str, src.Page]:
                return {u: src.Page(u, samples=src.parse(page, "text/plain", wanted[u])) for u in scrapes}

            started = time.perf_counter()
            run_ = run(store, rules, 1_800_000_000 + 60 * minute + 3600 * n, {}, fetch)
            elapsed = time.perf_counter() - started
        out["round_trips"][n] = run_.round_trips
        if n == max(counts):
            out["seconds_50_rules_5mb"] = round(elapsed, 3)
    return out
