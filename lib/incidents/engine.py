"""The incident state machine: apply, acknowledge, resolve, sweep.

Every operation is one Lua script (lib/incidents/lua/*.lua), one round trip,
atomic: overlapping cron runs, retried webhooks and two people clicking ack
can never page twice. The scripts take `now`; nothing here reads the clock.
The routing and escalation policy are resolved here from the config and
handed to the script, which snapshots the escalation onto the incident.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
from dataclasses import dataclass, field
from typing import Any

from lib.clock import parse_iso
from lib.config import Config, Route
from lib.incidents import inhibit
from lib.models import Decision, Incident, Reason, Send, Severity, Signal
from lib.store import Script, Store

APPLY = Script.load(__file__, "apply")
SWEEP = Script.load(__file__, "sweep")
COMPLETE = Script.load(__file__, "complete")
ACKNOWLEDGE = Script.load(__file__, "acknowledge")
RESOLVE = Script.load(__file__, "resolve")
POSTMORTEM = Script.load(__file__, "postmortem")

LEASE = 120  # seconds a claimed delivery belongs to its sender before the cron retries it
_LISTS = ("steps_done", "notified", "escalation")
_SIGNAL_FIELDS = frozenset(f.name for f in dataclasses.fields(Signal))


@dataclass(frozen=True)
class Pending:
    """Transitions a source recorded and has not seen decided: fields of the hash `key`
    (under the store prefix), deleted by the apply that decides them."""

    key: str
    ids: tuple[str, ...] = ()


def route_sends(config: Config, route: Route | None) -> list[dict[str, str]]:
    """The deliveries a route asks for, with addresses resolved from `people`."""
    if route is None:
        return []
    out: list[dict[str, str]] = []
    if route.slack is not None:
        mention = "" if route.slack.mention == "none" else route.slack.mention
        out.append({"channel": "slack", "to": route.slack.channel, "address": route.slack.channel, "mention": mention})
    for channel, attr in (("sms", "phone"), ("call", "phone"), ("email", "email")):
        for key in getattr(route, channel):
            person = config.people.get(key)
            address = getattr(person, attr, None) if person else None
            if address:
                out.append({"channel": channel, "to": key, "address": address, "mention": ""})
    return out


def escalation_snapshot(config: Config, severity: Severity) -> list[dict[str, Any]]:
    return [
        {"after": step.after, "sends": route_sends(config, step.notify)}
        for step in config.escalation.get(severity, [])
    ]


def ends_of(config: Config, key: str) -> dict[str, Any]:
    """How an incident with this key ends if its source never resolves it: the first
    `resolve_quiet` pattern matching the key (a quiet period), else `expire_after`."""
    settings = config.settings
    for pattern, after in settings.resolve_quiet.items():
        if fnmatch.fnmatchcase(key, pattern):
            return {"after": after, "why": "quiet period"}
    return {"after": settings.expire_after, "why": "expiry"}


def config_silence(config: Config, signal: Signal, now: float) -> str | None:
    """The reason of a config silence that matches a firing signal, if any."""
    for s in config.silences:
        if s.starts and now < parse_iso(s.starts):
            continue
        if s.ends and now >= parse_iso(s.ends):
            continue
        if s.key and not fnmatch.fnmatchcase(signal.key, s.key):
            continue
        if any(signal.labels.get(k) != v for k, v in s.labels.items()):
            continue
        return s.reason or "silenced in config"
    return None


def to_incident(data: Any) -> Incident | None:
    if not isinstance(data, dict) or "id" not in data:
        return None
    fixed = {k: ([] if v == {} and k in _LISTS else v) for k, v in data.items()}
    for k in ("labels", "links", "slack"):
        if fixed.get(k) == []:
            fixed[k] = {}
    return Incident.from_dict(fixed)


def _sends(data: Any) -> list[Send]:
    return [Send.from_dict(s) for s in data] if isinstance(data, list) else []


def _decision(d: dict[str, Any]) -> Decision:
    return Decision(
        reason=Reason(d["reason"]),
        incident=to_incident(d.get("incident")),
        sends=_sends(d.get("sends")),
        detail=str(d.get("detail") or ""),
    )


def _argv(store: Store, now: float, payload: dict[str, Any], config: Config | None = None) -> list[Any]:
    reminder = config.settings.postmortem_after if config else 86400
    return [store.prefix, repr(float(now)), _json(payload), LEASE, reminder]


def _json(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def apply_many(
    store: Store,
    config: Config,
    signals: list[Signal],
    now: float,
    deploy: dict[str, Any] | None = None,
    counters: list[tuple[str, str, int]] | None = None,
    settle: list[Pending] | None = None,
    token: str | None = None,
) -> list[Decision]:
    """Dedup, open, update, upgrade or resolve for each signal: one round trip for the batch.

    `deploy` (a production deployment that just succeeded) is remembered in the same
    round trip, so incidents opening in the next 30 minutes can say they followed it.
    `settle` names the pending transitions these signals came from (a source's
    `<key>` hash, by field): they are deleted in the same script, so a transition is
    consumed only together with its decision. `token` makes the call repeatable: the
    same token again returns the first call's decisions (and its claimed sends)
    instead of deciding twice, for a caller that never heard the first answer.
    """
    decisions: dict[int, Decision] = {}
    batch: list[dict[str, Any]] = []
    index: list[int] = []
    for i, sig in enumerate(signals):
        reason = config_silence(config, sig, now) if sig.status == "firing" else None
        if reason is not None:
            decisions[i] = Decision(Reason.SILENCED, detail=reason)
            continue
        item = sig.as_dict()
        item["sends"] = route_sends(config, config.routing.get(sig.severity))
        item["escalation"] = escalation_snapshot(config, sig.severity)
        item["ends"] = ends_of(config, sig.key)
        item["inhibit"] = inhibit.annotate(config, sig)
        if sig.group is not None:  # the severity is the merged group's: every policy goes along
            item["sends_by"] = {s.value: route_sends(config, config.routing.get(s)) for s in Severity}
            item["escalation_by"] = {s.value: escalation_snapshot(config, s) for s in Severity}
        batch.append(item)
        index.append(i)
    pending = [{"key": p.key, "ids": list(p.ids)} for p in settle or [] if p.ids]
    if batch or deploy or counters or pending:
        payload = {
            "signals": batch,
            "deploy_window": config.sources.vercel.deploy_window,
            "deploy": deploy,
            "counters": [list(c) for c in counters or []],
            "settle": pending,
            "token": token if batch else None,
        }
        results = store.run_json(APPLY, [], _argv(store, now, payload, config)) or []
        for i, d in zip(index, results, strict=True):
            decisions[i] = _decision(d)
    return [decisions[i] for i in range(len(signals))]


def apply(store: Store, config: Config, signal: Signal, now: float) -> Decision:
    return apply_many(store, config, [signal], now)[0]


def acknowledge(store: Store, incident_id: str, by: str, via: str, now: float, email: str | None = None) -> Decision:
    payload = {"id": incident_id.lstrip("#"), "by": by, "via": via, "email": email}
    return _decision(store.run_json(ACKNOWLEDGE, [], _argv(store, now, payload)))


def resolve(
    store: Store,
    config: Config,
    incident_id: str,
    by: str,
    via: str,
    now: float,
    false_positive: str | None = None,
) -> Decision:
    payload = {
        "id": incident_id.lstrip("#"),
        "by": by,
        "via": via,
        "false_positive": false_positive,
        "silence_s": config.settings.false_positive_silence,
    }
    return _decision(store.run_json(RESOLVE, [], _argv(store, now, payload, config)))


def attach_postmortem(store: Store, incident_id: str, url: str, by: str, now: float) -> Decision:
    payload = {"id": incident_id.lstrip("#"), "url": url, "by": by}
    return _decision(store.run_json(POSTMORTEM, [], _argv(store, now, payload)))


@dataclass
class Sweep:
    sends: list[Send] = field(default_factory=list)
    incidents: dict[str, Incident] = field(default_factory=dict)
    escalated: list[dict[str, Any]] = field(default_factory=list)
    backlog: int = 0
    releases: list[Signal] = field(default_factory=list)  # muted targets that still fire: apply them
    ended: list[dict[str, Any]] = field(default_factory=list)  # resolved by their quiet period or expiry


def sweep(store: Store, config: Config, now: float, limit: int = 200) -> Sweep:
    """Claim what is due (escalation steps, retries, reminders): one round trip."""
    return swept(store.run_json(SWEEP, [], sweep_args(store, config, now, limit)))


def sweep_args(store: Store, config: Config, now: float, limit: int = 200) -> list[Any]:
    """SWEEP's ARGV (for `Store.run_all`, with other scripts in one command)."""
    return _argv(store, now, {"limit": limit}, config)


def swept(raw: Any) -> Sweep:
    """SWEEP's answer as a Sweep."""
    raw = raw if isinstance(raw, dict) else {}
    incs = raw.get("incidents") or {}
    return Sweep(
        sends=_sends(raw.get("sends")),
        incidents={k: inc for k, v in incs.items() if (inc := to_incident(v))} if isinstance(incs, dict) else {},
        escalated=raw.get("escalated") or [] if isinstance(raw.get("escalated"), list) else [],
        backlog=int(raw.get("backlog") or 0),
        releases=_releases(raw.get("releases")),
        ended=raw.get("ended") if isinstance(raw.get("ended"), list) else [],
    )


def _releases(raw: Any) -> list[Signal]:
    """The muted signals the sweep leased for release, as Signals again (routing is recomputed)."""
    out = []
    for item in raw if isinstance(raw, list) else []:
        data = json.loads(item) if isinstance(item, str) else item
        fields = {k: v for k, v in data.items() if k in _SIGNAL_FIELDS and v != {}}
        out.append(Signal.from_dict({**fields, "release": True}))
    return out


@dataclass
class Completed:
    states: dict[str, str] = field(default_factory=dict)  # send id -> done | retry | failed | gone
    sends: list[Send] = field(default_factory=list)  # follow-ups the outcomes call for, claimed
    incidents: dict[str, Incident] = field(default_factory=dict)


def complete(store: Store, config: Config, results: list[dict[str, Any]], now: float) -> Completed:
    """Record delivery outcomes: done, retry with backoff, or failed for good."""
    if not results:
        return Completed()
    payload = {
        "results": results,
        "backoff": config.settings.retry_backoff,
        "max_attempts": config.settings.max_attempts,
    }
    out = store.run_json(COMPLETE, [], _argv(store, now, payload, config))
    out = out if isinstance(out, dict) else {}
    rows = out.get("results") if isinstance(out.get("results"), list) else []
    incs = out.get("incidents") if isinstance(out.get("incidents"), dict) else {}
    return Completed(
        states={str(r.get("id")): str(r.get("state")) for r in rows if isinstance(r, dict)},
        sends=_sends(out.get("sends")),
        incidents={k: inc for k, v in incs.items() if (inc := to_incident(v))},
    )


def get(store: Store, incident_id: str) -> Incident | None:
    raw = store.call("GET", store.key("inc", incident_id.lstrip("#")))
    if not raw:
        return None
    return to_incident(json.loads(raw))


def _many(store: Store, ids: list[str]) -> list[Incident]:
    if not ids:
        return []
    raws = store.call("MGET", *[store.key("inc", i) for i in ids])
    return [inc for raw in raws if raw and (inc := to_incident(json.loads(raw)))]


def open_incidents(store: Store) -> list[Incident]:
    return _many(store, store.call("ZRANGE", store.key("open"), 0, -1))


def recent_incidents(store: Store, since: float) -> list[Incident]:
    """Open incidents and those resolved since `since` (what Redis still holds)."""
    ids = store.call("ZRANGEBYSCORE", store.key("recent"), since, "+inf")
    return open_incidents(store) + _many(store, ids)
