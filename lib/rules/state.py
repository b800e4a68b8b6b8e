"""Metric rules, the state half: one cron run in two Redis round trips.

    1. `rules_begin` (RT1): tick the watchdog, claim the minute slot, read the
       stored samples and alert state every rule needs.
    2. Scrape every distinct URL at once. A failed scrape adds no samples; its
       rules still evaluate on the samples stored (as Prometheus, whose range
       selectors skip the staleness markers a failed scrape writes).
    3. Evaluate each rule at the slot's time with PromQL semantics (lib/rules/promql.py),
       per series then summed. No value is "no data": it neither fires nor resolves.
    4. `rules_commit` (RT2): write the new samples (trimmed by time) and state,
       only if no newer run claimed a slot meanwhile; then announce transitions.
       They wait in `rules:pending` until incidents.apply decides them (and deletes
       them in that script): a run that fails in between leaves them to the next
       run's `rules_begin`, which hands them out again first.

Samples: one sorted set per scrape URL and length of history, one member per minute
(`{"t": slot, "s": {selector id: {series key: value}}}`, a bucket's key ending
in `|<le>`; at most scrape.MAX_SERIES series per selector), kept for the
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
from lib.rules import promql, signals
from lib.rules import scrape as src
from lib.rules.config import Rule, Scrape
from lib.rules.promql import AlertState
from lib.rules.values import History, add_minute, decode_history, instant_value, jsonable, value_of
from lib.store import Script, Store

BEGIN = Script.load(__file__, "rules_begin")
COMMIT = Script.load(__file__, "rules_commit")
STATE_TTL = 7 * 86400
NO_DATA_RESOLVE = 6 * 3600.0  # a firing rule without a value this long resolves, saying so
PENDING = "rules:pending"  # signals committed and not yet decided

Fetch = Callable[[dict[str, Scrape], dict[str, set[str]], Mapping[str, str]], dict[str, src.Page]]


def slot_of(now: float) -> int:
    return int(now // 60) * 60


# --- the run --------------------------------------------------------------------------------------


@dataclass
class Run:
    claimed: bool = True
    committed: bool = False
    signals: list[Signal] = field(default_factory=list)
    values: dict[str, float | None] = field(default_factory=dict)
    firing: dict[str, list[str]] = field(default_factory=dict)  # rule -> tiers firing now
    errors: dict[str, str] = field(default_factory=dict)  # url -> why its scrape failed
    round_trips: int = 0
    logs_active: bool = False  # lib/logs has counts to evaluate this minute (read in rules_begin)
    pending: list[str] = field(default_factory=list)  # fields of PENDING the signals came from

    def summary(self) -> dict[str, Any]:
        return {
            "claimed": self.claimed,
            "committed": self.committed,
            "rules": {k: jsonable(v) for k, v in self.values.items()},
            "firing": self.firing,
            "scrape_errors": self.errors,
            "signals": [f"{s.key} {s.status} {s.severity}" for s in self.signals],
        }


def begin_args(store: Store, rules: list[Rule], now: float, logs: bool = False) -> list[Any]:
    """BEGIN's ARGV for a run at `now` (for `Store.run_all`, with other scripts in one command)."""
    slot, keep = slot_of(now), keep_of(rules)
    keeps = {g: int(slot - s - 60) for g, s in keep.secs.items()}
    return [store.prefix, now, slot, json.dumps({"keep": keeps, "logs": logs})]


def begun(raw: Any) -> dict[str, Any]:
    """BEGIN's answer; not claimed when it gave none."""
    return raw if isinstance(raw, dict) else {"claimed": False}


def commit(store: Store, slot: int, payload: dict[str, Any]) -> bool:
    return committed(store.run_json(COMMIT, [], commit_args(store, slot, payload)))


def commit_args(store: Store, slot: int, payload: dict[str, Any]) -> list[Any]:
    return [store.prefix, slot, json.dumps(payload, separators=(",", ":"))]


def committed(raw: Any) -> bool:
    return bool(isinstance(raw, dict) and raw.get("committed"))


def _default_fetch(scrapes: dict[str, Scrape], wanted: dict[str, set[str]], environ: Mapping[str, str]) -> dict[str, src.Page]:
    return asyncio.run(src.scrape_all(scrapes, wanted, environ))


@dataclass(frozen=True)
class Keep:
    """Where each selector's samples live: one sorted set per URL and length of history
    (`<url id>-<seconds>`), so a 1h baseline does not make every 5m rule keep an hour."""

    secs: dict[str, float]  # sample set id -> seconds kept
    home: dict[tuple[str, str], str]  # (url id, selector id) -> sample set id


def keep_of(rules: list[Rule]) -> Keep:
    need: dict[tuple[str, str], float] = {}
    for r in rules:
        if r.keeps_history:
            for sel in r.selectors.values():
                key = (src.url_id(r.scrape_config.url), src.selector_id(sel))
                need[key] = max(need.get(key, 0.0), r.history)
    home = {key: f"{key[0]}-{int(secs)}" for key, secs in need.items()}
    return Keep({gid: float(gid.rsplit("-", 1)[1]) for gid in home.values()}, home)


def run(
    store: Store, rules: list[Rule], now: float, environ: Mapping[str, str], fetch: Fetch | None = None,
    logs: bool = False,
) -> Run:
    """One cron run over every rule: at most two round trips whatever the number of rules.
    `logs`: also ask (in round trip 1) whether the log rules have counts to evaluate."""
    start_rt, slot = store.round_trips, slot_of(now)
    got = begun(store.run_json(BEGIN, [], begin_args(store, rules, now, logs)))
    if not got.get("claimed"):
        return Run(claimed=False, round_trips=store.round_trips - start_rt)
    out, payload = evaluate(rules, got, scrape(rules, environ, fetch), now)
    conclude(out, got, commit(store, slot, payload))
    out.round_trips = store.round_trips - start_rt
    return out


def scrape(rules: list[Rule], environ: Mapping[str, str], fetch: Fetch | None = None) -> dict[str, src.Page]:
    """Every scrape URL of `rules`, once each, concurrently."""
    return (fetch or _default_fetch)(src.scrapes_of(rules), src.wanted_names(rules), environ)


def evaluate(rules: list[Rule], got: dict[str, Any], pages: dict[str, src.Page], now: float) -> tuple[Run, dict[str, Any]]:
    """Every rule over the scraped pages and what BEGIN read: the Run, and COMMIT's payload."""
    out = Run(logs_active=bool(got.get("logs")))
    slot = slot_of(now)
    payload = _evaluate(rules, src.scrapes_of(rules), pages, got, slot, keep_of(rules), out)
    out.pending = [f"{slot:012d}:{i}:{s.key}:{s.status}" for i, s in enumerate(out.signals)]
    payload["pending"] = {i: {"at": now, "signal": s.as_dict()}
                          for i, s in zip(out.pending, out.signals, strict=True)}
    return out, payload


def conclude(out: Run, got: dict[str, Any], committed: bool) -> Run:
    """After COMMIT: the signals to decide are those an earlier run left pending (BEGIN
    handed them out), then this run's if it committed; `pending` names them all."""
    older = [(str(p["id"]), Signal.from_dict(p["signal"])) for p in got.get("pending") or [] if isinstance(p, dict)]
    mine = list(zip(out.pending, out.signals, strict=True)) if committed else []
    out.committed = committed
    out.pending = [i for i, _ in older + mine]
    out.signals = [s for _, s in older + mine]
    return out


def _evaluate(
    rules: list[Rule], scrapes: dict[str, Scrape], pages: dict[str, src.Page],
    got: dict[str, Any], slot: int, keep: Keep, out: Run,
) -> dict[str, Any]:
    states = _dict(got.get("state"))
    ok = [r for r in rules if (p := pages.get(r.scrape_config.url)) is not None and p.ok]
    current = _observe_all(ok, pages)
    hists = _histories(keep, current, _dict(got.get("samples")), slot)
    state_set = {}
    for rule in rules:  # a failed scrape's rules evaluate on the samples they have
        uid = src.url_id(rule.scrape_config.url)
        state_set[rule.name] = _step(rule, hists.get(uid, {}), current.get(uid, {}), states, slot, out)
    gone = [n for n in states if n not in {r.name for r in rules}]
    out.signals += _removed(gone, states, slot)
    scrape_set, scrape_del, counts = _scrape_health(scrapes, pages, _dict(got.get("scrapes")), slot, out)
    samples: dict[str, dict[str, Any]] = {
        gid: {"oldest": int(slot - secs - 60), "ttl": int(secs + 3600)} for gid, secs in keep.secs.items()
    }
    members: dict[str, dict[str, Any]] = {}
    for (uid, sid), gid in keep.home.items():
        if sid in current.get(uid, {}):
            members.setdefault(gid, {})[sid] = current[uid][sid]
    for gid, series in members.items():
        samples[gid]["member"] = json.dumps({"t": slot, "s": series}, separators=(",", ":"))
    return {
        "state": state_set, "state_del": gone, "scrapes": scrape_set, "scrapes_del": scrape_del,
        "samples": samples, "ttl": STATE_TTL, "counts": counts,
    }


def _observe_all(rules: list[Rule], pages: dict[str, src.Page]) -> dict[str, dict[str, Any]]:
    """{url id: {selector id: {series key: value}}}: this run's series of every selector, per page."""
    out: dict[str, dict[str, Any]] = {}
    for rule in rules:
        url = rule.scrape_config.url
        out.setdefault(src.url_id(url), {}).update(src.observe(rule, pages[url].by_name))
    return out


def _histories(keep: Keep, current: dict[str, dict[str, Any]], stored: dict[str, Any], slot: int) -> dict[str, History]:
    """{url id: History}: the stored sample sets of each URL, merged, plus this run's series."""
    out: dict[str, History] = {}
    for gid in keep.secs:
        out.setdefault(gid.rsplit("-", 1)[0], {}).update(decode_history(stored.get(gid)))
    for (uid, sid), _ in keep.home.items():
        if sid in current.get(uid, {}):
            add_minute(out.setdefault(uid, {}), float(slot), {sid: current[uid][sid]})
    return out


def _step(rule: Rule, hist: History, obs: dict[str, Any], states: dict[str, Any], slot: int, out: Run) -> str:
    """Evaluate one rule, advance its alert, collect its signal; returns its new state JSON."""
    value = value_of(rule, hist, slot) if rule.keeps_history else instant_value(rule, obs)
    if value is not None and math.isnan(value):
        value = None  # 0 / 0: no value, as an empty result
    holding = None if value is None else promql.tiers_holding(value, rule.tiers, rule.is_above)
    old = AlertState.from_json(_loads(states.get(rule.name)))
    new, tr = promql.step_alert(old, holding, slot, rule.for_, NO_DATA_RESOLVE)
    out.values[rule.name] = value
    out.firing[rule.name] = list(new.firing)
    if tr is not None:
        out.signals.append(signals.rule_signal(rule, tr, value, slot))
    return json.dumps({**new.to_json(), "value": jsonable(value), "t": slot})


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
                out.signals.append(signals.scrape_signal(scrape, False, "", float(st.get("since", slot)), slot))
            if st:
                del_.append(uid)
            continue
        out.errors[url] = page.error
        since = float(st.get("since", slot))
        raised = bool(st.get("raised"))
        if not raised and slot - since >= scrape.alert_after:
            out.signals.append(signals.scrape_signal(scrape, True, page.error, since, slot))
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
