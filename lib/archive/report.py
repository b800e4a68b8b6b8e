"""Incident reports: MTTA/MTTR by severity, incidents by source, escalations,
false-positive rates per rule and check, the noisiest keys, uptime per check.

Two sources, one arithmetic. With Supabase configured, `vigil_report(p_since,
p_until)` (supabase/migrations) returns sums and counts; without it, the caller
passes the incidents it has in Redis and `aggregate` computes the same sums and
counts. `finish` turns either into the report, so both give the same numbers
for the same incidents. Means are over the incidents that have the end point:
MTTA over acknowledged ones, MTTR over resolved ones, each from `opened_at`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from html import escape
from typing import Any

from lib.clock import iso
from lib.env import Env

SEVERITIES = ("P0", "P1", "P2", "P3")
NOISIEST = 10
TIMEOUT = 15.0


def rule_of(key: str, labels: Mapping[str, Any] | None) -> str:
    """What a false-positive rate is counted per; the SQL function vigil_rule_of is its twin."""
    alertname = str((labels or {}).get("alertname") or "")
    if alertname:
        return f"alertname:{alertname}"
    if key.startswith("sentry:issue:"):
        return "sentry:issue"
    return key


def _as_dict(incident: Any) -> Mapping[str, Any]:
    dump = getattr(incident, "as_dict", None)
    return dump() if dump else incident


def _sev(value: Any) -> str | None:
    text = str(value.value if hasattr(value, "value") else value or "")
    return text if text in SEVERITIES else None


def _escalations(inc: Mapping[str, Any], sev: str | None) -> list[dict[str, Any]]:
    policy = inc.get("escalation") or []
    out = []
    for step in inc.get("steps_done") or []:
        spec = policy[step] if isinstance(step, int) and 0 <= step < len(policy) else {}
        notify = [f"{s.get('channel', '')}:{s.get('to') or ''}" for s in spec.get("sends") or []]
        out.append({"incident": str(inc.get("id")), "severity": sev, "step": step, "notify": notify})
    return out


def aggregate(incidents: Iterable[Any], since: float, until: float | None = None,
              rollups: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """vigil_report's sums and counts, from Incident-like dicts (Redis) and check rollups."""
    sev: dict[str, Counter[str]] = defaultdict(Counter)
    src: dict[str, Counter[str]] = defaultdict(Counter)
    rules: dict[str, Counter[str]] = defaultdict(Counter)
    keys: dict[str, Counter[str]] = defaultdict(Counter)
    escalations: list[tuple[float, str, dict[str, Any]]] = []
    for raw in incidents:
        inc = _as_dict(raw)
        opened = inc.get("opened_at")
        if opened is None or opened < since or (until is not None and opened >= until):
            continue
        s, fp = _sev(inc.get("severity")), int(bool(inc.get("false_positive")))
        key = str(inc.get("key") or "")
        rules[rule_of(key, inc.get("labels"))].update(incidents=1, false_positives=fp)
        keys[key].update(incidents=1, false_positives=fp)
        escalations += [(opened, str(inc.get("id")), e) for e in _escalations(inc, s)]
        if s is None:
            continue
        c = sev[s]
        c.update(incidents=1, false_positives=fp)
        if inc.get("acked_at") is not None:
            c.update(acked=1)
            c["ack_s"] += inc["acked_at"] - opened  # type: ignore[assignment]
        if inc.get("resolved_at") is not None:
            c.update(resolved=1)
            c["resolve_s"] += inc["resolved_at"] - opened  # type: ignore[assignment]
        src[str(inc.get("source") or "")][s] += 1
    noisy = sorted(keys.items(), key=lambda kv: (-kv[1]["incidents"], kv[0]))[:NOISIEST]
    return {
        "by_severity": {k: dict(v) for k, v in sev.items()},
        "by_source": {k: dict(v) for k, v in src.items()},
        "escalations": [e for _, _, e in sorted(escalations, key=lambda t: (t[0], t[1], t[2]["step"]))],
        "rules": {k: dict(v) for k, v in rules.items()},
        "keys": [{"key": k, **v} for k, v in noisy],
        "checks": _rollups(rollups, since, until),
    }


def _rollups(rollups: Iterable[Mapping[str, Any]], since: float, until: float | None) -> dict[str, Any]:
    """Per check: the newest rollup of each hour in the window, summed (like the SQL table's upsert)."""
    latest: dict[tuple[str, float], Mapping[str, Any]] = {}
    for r in rollups:
        hour = float(r["hour"])
        if hour >= since and (until is None or hour < until):
            latest[(str(r["check"]), hour)] = r
    out: dict[str, dict[str, Any]] = {}
    for (check, _), r in sorted(latest.items()):
        c = out.setdefault(check, {"up_minutes": 0, "total_minutes": 0, "p50_weighted": 0.0, "p50_minutes": 0,
                                   "p95_max": None, "p99_max": None, "hours": 0})
        total = int(r.get("total_minutes") or 0)
        c["up_minutes"] += int(r.get("up_minutes") or 0)
        c["total_minutes"] += total
        c["hours"] += 1
        if r.get("p50") is not None:
            c["p50_weighted"] += float(r["p50"]) * total
            c["p50_minutes"] += total
        for p in ("p95", "p99"):
            if r.get(p) is not None:
                c[f"{p}_max"] = max(float(r[p]), c[f"{p}_max"] or 0.0)
    return out


def _mean(total: Any, n: Any) -> float | None:
    return round(float(total) / int(n), 1) if n else None


def finish(raw: Mapping[str, Any], *, source: str, since: float, until: float, days: float) -> dict[str, Any]:
    """The report from the raw sums and counts (either source)."""
    by_sev = raw.get("by_severity") or {}
    severity, tot = {}, Counter[str]()
    for s in SEVERITIES:
        c = {k: float(v) for k, v in (by_sev.get(s) or {}).items()}
        tot.update(c)
        severity[s] = {
            "incidents": int(c.get("incidents", 0)),
            "acknowledged": int(c.get("acked", 0)),
            "resolved": int(c.get("resolved", 0)),
            "false_positives": int(c.get("false_positives", 0)),
            "mtta_s": _mean(c.get("ack_s", 0), c.get("acked", 0)),
            "mttr_s": _mean(c.get("resolve_s", 0), c.get("resolved", 0)),
        }
    rules = [
        {"rule": rule, "incidents": int(c["incidents"]), "false_positives": int(c["false_positives"]),
         "rate": round(int(c["false_positives"]) / int(c["incidents"]), 4)}
        for rule, c in (raw.get("rules") or {}).items() if c.get("incidents")
    ]
    rules.sort(key=lambda r: (-r["rate"], -r["incidents"], r["rule"]))
    escalations = list(raw.get("escalations") or [])
    return {
        "source": source,
        "window": {"since": iso(since), "until": iso(until), "days": days},
        "overall": {
            "incidents": int(tot["incidents"]),
            "mtta_s": _mean(tot["ack_s"], tot["acked"]),
            "mttr_s": _mean(tot["resolve_s"], tot["resolved"]),
        },
        "severity": severity,
        "by_source": {src: {s: int(n) for s, n in sorted(c.items())} for src, c in sorted((raw.get("by_source") or {}).items())},
        "escalations": {"count": len(escalations), "events": escalations},
        "false_positive_rate": rules,
        "noisiest": [{"key": k["key"], "incidents": int(k["incidents"]), "false_positives": int(k["false_positives"])}
                     for k in raw.get("keys") or []],
        "uptime": {name: _uptime(c) for name, c in sorted((raw.get("checks") or {}).items())},
    }


def _uptime(c: Mapping[str, Any]) -> dict[str, Any]:
    total, up = int(c.get("total_minutes") or 0), int(c.get("up_minutes") or 0)
    p50_minutes = float(c.get("p50_minutes") or 0)

    def r(v: Any) -> float | None:
        return None if v is None else round(float(v), 4)

    return {
        "uptime_pct": round(100.0 * up / total, 3) if total else None,
        "up_minutes": up,
        "total_minutes": total,
        "p50_s": r(float(c.get("p50_weighted") or 0) / p50_minutes) if p50_minutes else None,
        "p95_max_s": r(c.get("p95_max")),
        "p99_max_s": r(c.get("p99_max")),
    }


def _ts(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).isoformat()  # microseconds kept: the same window as Redis


def _fetch(env: Env, since: float, until: float, timeout: float) -> dict[str, Any]:
    from lib.archive.sink import supabase_client

    params = {"p_since": _ts(since), "p_until": _ts(until)}
    data = supabase_client(env, timeout).rpc("vigil_report", params).execute().data
    return data if isinstance(data, dict) else {}


def build_report(now: float, days: float, source: Env | Iterable[Any], *,
                 rollups: Iterable[Mapping[str, Any]] = (), timeout: float = TIMEOUT) -> dict[str, Any]:
    """The report of the `days` before `now`.

    `source`: an Env with Supabase configured (reads vigil_report over rpc; raises
    the client's error when Supabase fails), or the Incident-like dicts the caller
    has from Redis, with optional check `rollups` (check_rollup event data)."""
    since, until = now - days * 86400.0, now
    if isinstance(source, Env):
        if not (source.supabase_url and source.supabase_key):
            raise ValueError("Supabase is not configured: pass the incidents from Redis instead")
        raw = _fetch(source, since, until, timeout)
        return finish(raw, source="supabase", since=since, until=until, days=days)
    raw = aggregate(source, since, until, rollups)
    return finish(raw, source="redis", since=since, until=until, days=days)


# -- HTML ---------------------------------------------------------------------------------

_CSS = (
    ":root{color-scheme:light dark}body{margin:0;font:15px/1.45 system-ui,sans-serif}"
    "main{max-width:900px;margin:0 auto;padding:24px 16px 48px}h1{font-size:22px;margin:0 0 4px}"
    "h2{font-size:16px;margin:28px 0 8px}.meta{color:#667085;font-size:13px;margin:0}"
    "table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 10px 4px 0;"
    "border-bottom:1px solid #e4e7ec;font-variant-numeric:tabular-nums}th{color:#667085;font-size:13px}"
    ".empty{color:#667085}"
)


def _dur(s: float | None) -> str:
    if s is None:
        return "–"
    if s < 120:
        return f"{s:.0f} s"
    return f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h"


def _cell(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, list):
        v = ", ".join(map(str, v))
    return escape(str(v))


def _table(title: str, head: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return f"<h2>{escape(title)}</h2><p class=empty>None in this window.</p>"
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<h2>{escape(title)}</h2><table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: Mapping[str, Any]) -> str:
    """The report as a small server-rendered page: inline CSS, no scripts, every value escaped."""
    w, o = report["window"], report["overall"]
    sev = [[s, c["incidents"], c["acknowledged"], _dur(c["mtta_s"]), c["resolved"], _dur(c["mttr_s"]),
            c["false_positives"]] for s, c in report["severity"].items()]
    sev.append(["All", o["incidents"], "", _dur(o["mtta_s"]), "", _dur(o["mttr_s"]), ""])
    sources = [[src, *(c.get(s, 0) for s in SEVERITIES)] for src, c in report["by_source"].items()]
    esc = [[f"#{e['incident']}", e.get("severity"), e.get("step"), e.get("notify")] for e in report["escalations"]["events"]]
    fp = [[r["rule"], r["incidents"], r["false_positives"], f"{100 * r['rate']:.1f} %"] for r in report["false_positive_rate"]]
    noisy = [[k["key"], k["incidents"], k["false_positives"]] for k in report["noisiest"]]
    up = [[name, "–" if c["uptime_pct"] is None else f"{c['uptime_pct']:.3f} %", c["total_minutes"], c["p50_s"],
           c["p95_max_s"], c["p99_max_s"]] for name, c in report["uptime"].items()]
    parts = [
        _table("Response by severity", ["Severity", "Incidents", "Acked", "MTTA", "Resolved", "MTTR", "False pos."], sev),
        _table("Incidents by source", ["Source", *SEVERITIES], sources),
        _table(f"Escalations ({report['escalations']['count']})", ["Incident", "Severity", "Step", "Notified"], esc),
        _table("False-positive rate", ["Rule or check", "Incidents", "False positives", "Rate"], fp),
        _table("Noisiest alert keys", ["Key", "Incidents", "False positives"], noisy),
        _table("Uptime", ["Check", "Uptime", "Minutes", "p50 s", "Worst hourly p95 s", "Worst hourly p99 s"], up),
    ]
    meta = f"{escape(w['since'])} – {escape(w['until'])} · from {escape(str(report['source']))}"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>Vigil incident report</title><style>{_CSS}</style></head><body><main>"
        f"<h1>Incident report, last {escape(str(w['days']))} days</h1><p class=meta>{meta}</p>"
        + "".join(parts) + "</main></body></html>\n"
    )
