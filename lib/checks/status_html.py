"""The status document as a small HTML page: one file, inline CSS, no scripts,
no external assets, every value escaped. It refreshes itself every minute.

Times read as people say them ("3m ago", "for 12m"), with the exact ISO time on
hover, and never wrap on a phone. The public view shows states and uptime; the
full view (STATUS_TOKEN) adds reasons, response times and incidents."""

from __future__ import annotations

from html import escape
from typing import Any

from lib.checks.status_svg import chart
from lib.clock import parse_iso
from lib.durations import format_duration
from lib.text import plain

_CSS = """
:root{color-scheme:light dark;--fg:#1d2330;--muted:#667085;--bg:#f6f7f9;--card:#fff;--line:#e4e7ec;
--up:#12b76a;--warn:#f79009;--bad:#f04438;--none:#d0d5dd}
@media (prefers-color-scheme:dark){:root{--fg:#e6e8ec;--muted:#98a2b3;--bg:#10131a;--card:#191d26;
--line:#2a303c;--none:#3a4150}}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;
background:var(--bg);color:var(--fg)}main{max-width:860px;margin:0 auto;padding:24px 16px 48px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 10px;color:var(--muted);
text-transform:uppercase;letter-spacing:.04em}.meta{color:var(--muted);font-size:13px;margin:0}
.banner{border-radius:10px;padding:14px 16px;margin:16px 0;font-weight:600;color:#fff}
.banner.up{background:var(--up)}.banner.degraded,.banner.pending{background:var(--warn)}
.banner.down{background:var(--bad)}.banner.unknown{background:var(--muted)}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;margin:0 0 12px}
.row{display:flex;justify-content:space-between;gap:12px;align-items:baseline;flex-wrap:wrap}
.name{font-weight:600;font-size:16px}.pill{font-size:12px;font-weight:600;border-radius:99px;padding:2px 10px;
color:#fff}.pill.up{background:var(--up)}.pill.pending{background:var(--warn)}.pill.down{background:var(--bad)}
.pill.unknown{background:var(--muted)}.pill.acknowledged{background:var(--muted)}.pill.triggered{background:var(--bad)}
.reason{color:var(--muted);font-size:13px;margin:4px 0 8px;overflow-wrap:anywhere}
.bars{display:flex;gap:2px;height:28px;margin:8px 0 4px}.bar{flex:1;border-radius:2px;background:var(--none)}
.bar.good{background:var(--up)}.bar.fair{background:#9bd9a8}.bar.warn{background:var(--warn)}.bar.bad{background:var(--bad)}
.axis{display:flex;justify-content:space-between;color:var(--muted);font-size:12px}
dl{display:grid;grid-template-columns:repeat(6,1fr);gap:4px 12px;margin:10px 0 0}
dt{color:var(--muted);font-size:12px}dd{margin:0;font-variant-numeric:tabular-nums;font-weight:600}
ul.incidents{list-style:none;padding:0;margin:0}.sev{font-weight:700;margin-right:6px}
.empty{color:var(--muted)}footer{margin-top:28px;color:var(--muted);font-size:13px}a{color:inherit}
time,.nowrap{white-space:nowrap}.small{font-size:12px}
.runs{display:flex;gap:1px;height:18px;margin:10px 0 2px}.run{flex:1;min-width:1px;border-radius:1px;background:var(--none)}
.run.up{background:var(--up)}.run.down{background:var(--bad)}
.chart{margin:10px 0 0}.chart svg{width:100%;height:64px;display:block}
.chart polyline{fill:none;stroke-width:1.6;vector-effect:non-scaling-stroke}.chart .grid{stroke:var(--line)}
polyline.p95,circle.p95{stroke:var(--warn);fill:var(--warn)}polyline.p50,circle.p50{stroke:var(--up);fill:var(--up)}
polyline.p95,polyline.p50{fill:none}
figcaption{display:flex;justify-content:space-between;color:var(--muted);font-size:12px}
.k{display:inline-block;width:10px;height:3px;vertical-align:middle;margin:0 3px 0 8px}.k.p95{background:var(--warn)}
.k.p50{background:var(--up)}
table{width:100%;border-collapse:collapse;font-size:14px}th{text-align:left;color:var(--muted);font-weight:600;
font-size:12px}td,th{padding:6px 8px 6px 0;border-top:1px solid var(--line);vertical-align:top}
td.title{overflow-wrap:anywhere}
@media (max-width:560px){dl{grid-template-columns:repeat(3,1fr)}.wide{display:none}}
"""

_BANNER = {
    "up": "All checks are up",
    "degraded": "Some checks are failing or incidents are open",
    "down": "A check is down",
    "unknown": "No recent check results",
}


def _pct(value: float | None, observed: dict[str, int] | None = None) -> str:
    """`99.95 %`, and `(of 2h 10m seen)` when the window was not all observed."""
    if value is None:
        return "–"
    seen = (observed or {}).get("observed_minutes")
    if seen is not None and seen < (observed or {}).get("window_minutes", 0):
        return f"{value:.2f} % (of {format_duration(seen * 60)} seen)"
    return f"{value:.2f} %"


def _secs(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _bar(day: dict[str, Any]) -> str:
    pct = day["uptime"]
    if pct is None:
        cls, tip = "", f"{day['date']}: no data"
    else:
        cls = "good" if pct >= 99.9 else "fair" if pct >= 99 else "warn" if pct >= 95 else "bad"
        tip = f"{day['date']}: {pct:.2f} % up ({day['up']} of {day['seen']} minutes)"
    return f'<span class="bar {cls}" title="{escape(tip)}"></span>'


def _ago(iso: str | None, now: float) -> str:
    """`<time>3m ago</time>` with the ISO time on hover."""
    if not iso:
        return "–"
    age = now - parse_iso(iso)
    words = "just now" if abs(age) < 30 else f"{format_duration(abs(age))} ago" if age > 0 else \
        f"in {format_duration(-age)}"
    return f'<time datetime="{escape(iso)}" title="{escape(iso)}">{escape(words)}</time>'


def _clock_time(iso: str) -> str:
    """`11:57 UTC`, as the pages say it, with the ISO time on hover."""
    return f'<time datetime="{escape(iso)}" title="{escape(iso)}">{escape(iso[11:16])} UTC</time>'


def _last_line(check: dict[str, Any], now: float) -> str:
    last = check["last"]
    if last is None:
        return "Not checked yet"
    if last["ok"]:
        text = escape(f"OK: status {last['status']} in {_secs(last['latency'])}")
    else:
        text = escape(f"Failing: {plain(last['reason']) or 'unknown reason'}")
    if check.get("since") and check["state"] in ("down", "pending"):
        text += f" since {_clock_time(check['since'])}"
    return f"{text} · checked {_ago(last['at'], now)}"


def _run_bar(run: dict[str, Any]) -> str:
    word = {"up": "up", "down": "down", "none": "no run"}[run["state"]]
    tip = f"{run['at'][11:16]} UTC: {word}"
    return f'<span class="run {run["state"]}" title="{escape(tip)}"></span>'


def _check_card(check: dict[str, Any], now: float) -> str:
    days, runs = check["days"], check.get("runs") or []
    up, seen = check["uptime"], check.get("observed") or {}
    stats = [("24h", _pct(up["24h"], seen.get("24h"))), ("7 days", _pct(up["7d"], seen.get("7d"))),
             ("30 days", _pct(up["30d"], seen.get("30d")))]
    lat = check.get("latency")
    if lat is not None:
        stats += [("p50", _secs(lat["p50"])), ("p95", _secs(lat["p95"])), ("p99", _secs(lat["p99"]))]
    dl = "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>" for k, v in stats)
    first = days[0]["date"] if days else ""
    reason = f'<p class="reason">{_last_line(check, now)}</p>' if "last" in check else ""
    times = chart(check["response_times"], check["name"]) if "response_times" in check else ""
    return (
        f'<section class="card check" id="check-{escape(check["name"])}">'
        f'<div class="row"><span class="name">{escape(check["name"])}</span>'
        f'<span class="pill {escape(check["state"])}">{escape(check["state"])}</span></div>{reason}'
        f'<div class="runs" role="img" aria-label="The last {len(runs)} runs, one a minute">'
        f'{"".join(_run_bar(r) for r in runs)}</div>'
        f'<div class="axis"><span>{len(runs)} min ago</span><span>now</span></div>'
        f'<div class="bars" role="img" aria-label="Uptime per day, last {len(days)} days">'
        f'{"".join(_bar(d) for d in days)}</div>'
        f'<div class="axis"><span>{escape(first)}</span><span>today</span></div>'
        f"<dl>{dl}</dl>{times}</section>"
    )


def _acked(inc: dict[str, Any], now: float) -> str:
    if inc["acked_by"] or inc["acknowledged"]:
        at = f" {_ago(inc['acked_at'], now)}" if inc["acked_at"] else ""
        return f"acknowledged by {escape(inc['acked_by'] or 'someone')}{at}"
    return "not acknowledged"


def _incident_item(inc: dict[str, Any], now: float) -> str:
    return (
        f'<li class="card incident"><div class="row"><span><span class="sev">{escape(inc["severity"])}</span>'
        f'{escape(inc["id"])} {escape(plain(inc["title"]) or inc["key"])}</span>'
        f'<span class="pill {escape(inc["status"])}">{escape(inc["status"])}</span></div>'
        f'<p class="reason">Opened {_ago(inc["opened_at"], now)}, for '
        f'<span class="nowrap">{escape(format_duration(inc["duration_s"]))}</span> · {_acked(inc, now)}</p></li>'
    )


def _history_row(inc: dict[str, Any], now: float) -> str:
    pm = inc.get("postmortem")
    if pm and str(pm).startswith(("https://", "http://")):
        doc = f'<a href="{escape(str(pm))}" rel="noopener">postmortem</a>'
    else:
        doc = "false positive" if inc.get("false_positive") else "–"
    acked = escape(inc["acked_by"]) if inc["acked_by"] else "nobody"
    return (
        f'<tr><td class="sev">{escape(inc["severity"])}</td><td class="title">{escape(inc["id"])} '
        f'{escape(inc["title"] or inc["key"])}</td><td>{_ago(inc["opened_at"], now)}</td>'
        f'<td class="nowrap">{escape(format_duration(inc["duration_s"]))}</td>'
        f'<td class="wide">{acked}</td><td class="wide">{doc}</td></tr>'
    )


def _incidents(doc: dict[str, Any], now: float) -> str:
    if doc.get("view") == "public":
        return ""
    open_ = doc["incidents"]
    open_html = (f'<ul class="incidents">{"".join(_incident_item(i, now) for i in open_)}</ul>'
                 if open_ else '<p class="empty">No open incidents.</p>')
    past = doc.get("history") or []
    past_html = (
        '<table><thead><tr><th>Sev</th><th>Incident</th><th>Opened</th><th>Lasted</th>'
        '<th class="wide">Acknowledged by</th><th class="wide">Postmortem</th></tr></thead><tbody>'
        + "".join(_history_row(i, now) for i in past) + "</tbody></table>"
    ) if past else '<p class="empty">No incidents in the last 30 days.</p>'
    return f'<h2>Open incidents</h2>{open_html}<h2>Last 30 days</h2><div class="card">{past_html}</div>'


def render(doc: dict[str, Any], token: str | None = None) -> str:
    """The status page for a document from lib.checks.status_page.read (or its `public` form)."""
    service = escape(doc["service"])
    now = parse_iso(doc["generated_at"])
    cards = "".join(_check_card(c, now) for c in doc["checks"]) or '<p class="empty">No checks configured.</p>'
    status = doc["status"]
    json_link = "?format=json" + (f"&amp;token={escape(token)}" if token else "")
    view = ("Public view: states and uptime. Failure reasons, response times and incidents need the "
            "status token (<code>?token=</code>). " if doc.get("view") == "public" else "")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="refresh" content="60"><meta name="referrer" content="no-referrer">'
        f"<title>{service} status</title><style>{_CSS}</style></head><body><main>"
        f'<h1>{service} status</h1><p class="meta">Updated {_ago(doc["generated_at"], now)}</p>'
        f'<div class="banner {escape(status)}">{escape(_BANNER.get(status, status))}</div>'
        f"{_incidents(doc, now)}<h2>Checks</h2>{cards}"
        f"<footer>{view}Small bars: the last runs, one a minute. Large bars: one per UTC day, green at "
        "99.9 % or better. Uptime is over the minutes observed (it says so when the window was not all "
        f'observed); latency over the last 24 hours. <a href="{json_link}">JSON</a></footer>'
        "</main></body></html>"
    )
