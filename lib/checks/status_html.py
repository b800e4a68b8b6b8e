"""The status document as a small HTML page: one file, inline CSS, no scripts,
no external assets, every value escaped. It refreshes itself every minute."""

from __future__ import annotations

from html import escape
from typing import Any

from lib.durations import format_duration

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
@media (max-width:560px){dl{grid-template-columns:repeat(3,1fr)}}
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


def _last_line(check: dict[str, Any]) -> str:
    last = check["last"]
    if last is None:
        return "Not checked yet"
    if last["ok"]:
        text = f"OK: status {last['status']} in {_secs(last['latency'])}"
    else:
        text = f"Failing: {last['reason'] or 'unknown reason'}"
    if check.get("since") and check["state"] in ("down", "pending"):
        text += f" (since {check['since']})"
    return f"{text} · checked {last['at']}"


def _check_card(check: dict[str, Any]) -> str:
    days = check["days"]
    up, lat, seen = check["uptime"], check["latency"], check.get("observed") or {}
    stats = [("24h", _pct(up["24h"], seen.get("24h"))), ("7 days", _pct(up["7d"], seen.get("7d"))),
             ("30 days", _pct(up["30d"], seen.get("30d"))),
             ("p50", _secs(lat["p50"])), ("p95", _secs(lat["p95"])), ("p99", _secs(lat["p99"]))]
    dl = "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>" for k, v in stats)
    first = days[0]["date"] if days else ""
    return (
        f'<section class="card check" id="check-{escape(check["name"])}">'
        f'<div class="row"><span class="name">{escape(check["name"])}</span>'
        f'<span class="pill {escape(check["state"])}">{escape(check["state"])}</span></div>'
        f'<p class="reason">{escape(_last_line(check))}</p>'
        f'<div class="bars" role="img" aria-label="Uptime per day, last {len(days)} days">'
        f'{"".join(_bar(d) for d in days)}</div>'
        f'<div class="axis"><span>{escape(first)}</span><span>today</span></div>'
        f"<dl>{dl}</dl></section>"
    )


def _incident_item(inc: dict[str, Any]) -> str:
    if inc["acknowledged"]:
        ack = f"acknowledged by {inc['acked_by'] or 'someone'} at {inc['acked_at'] or '?'}"
    else:
        ack = "not acknowledged"
    return (
        f'<li class="card incident"><div class="row"><span><span class="sev">{escape(inc["severity"])}</span>'
        f'{escape(inc["id"])} {escape(inc["title"] or inc["key"])}</span>'
        f'<span class="pill {escape(inc["status"])}">{escape(inc["status"])}</span></div>'
        f'<p class="reason">Opened {escape(inc["opened_at"])} · {escape(ack)}</p></li>'
    )


def render(doc: dict[str, Any]) -> str:
    """The status page for a document from lib.checks.status_page.read."""
    service = escape(doc["service"])
    incidents = doc["incidents"]
    inc_html = (
        f'<ul class="incidents">{"".join(_incident_item(i) for i in incidents)}</ul>'
        if incidents else '<p class="empty">No open incidents.</p>'
    )
    checks_html = "".join(_check_card(c) for c in doc["checks"]) or '<p class="empty">No checks configured.</p>'
    status = doc["status"]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="refresh" content="60">'
        f"<title>{service} status</title><style>{_CSS}</style></head><body><main>"
        f'<h1>{service} status</h1><p class="meta">Updated {escape(doc["generated_at"])}</p>'
        f'<div class="banner {escape(status)}">{escape(_BANNER.get(status, status))}</div>'
        f"<h2>Open incidents</h2>{inc_html}<h2>Checks</h2>{checks_html}"
        '<footer>Uptime bars: one per UTC day, green at 99.9 % or better. '
        'Latency percentiles over the last 24 hours. '
        '<a href="?format=json">JSON</a></footer></main></body></html>'
    )
