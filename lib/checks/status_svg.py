"""The status page's response-time chart: an inline SVG drawn on the server (no script).

One line for the hourly p95 and one for the p50 over the last 24 hours; an
hour without answers breaks the line rather than drawing a fake zero.
"""

from __future__ import annotations

from html import escape
from typing import Any

W, H, PAD = 240.0, 64.0, 4.0


def _segments(points: list[tuple[int, float | None]], top: float, n: int) -> list[str]:
    """Polyline point lists, one per run of hours that have a value."""
    out: list[str] = []
    run: list[str] = []
    for i, v in points:
        if v is None:
            if run:
                out.append(" ".join(run))
            run = []
            continue
        x = PAD + (W - 2 * PAD) * (i / max(1, n - 1))
        y = H - PAD - (H - 2 * PAD) * (v / top)
        run.append(f"{x:.1f},{y:.1f}")
    if run:
        out.append(" ".join(run))
    return out


def _label(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def chart(series: list[dict[str, Any]], name: str) -> str:
    """`series`: [{at, p50, p95}] oldest first (lib.checks.status_page)."""
    values = [v for s in series for v in (s.get("p50"), s.get("p95")) if v is not None]
    if not values:
        return '<p class="empty small">No response times in the last 24 hours.</p>'
    top = max(values) * 1.1
    n = len(series)
    lines = []
    for key, cls in (("p95", "p95"), ("p50", "p50")):
        for pts in _segments([(i, s.get(key)) for i, s in enumerate(series)], top, n):
            if " " not in pts:  # a lone hour: a dot, not an invisible line
                x, y = pts.split(",")
                lines.append(f'<circle class="{cls}" cx="{x}" cy="{y}" r="1.6"/>')
            else:
                lines.append(f'<polyline class="{cls}" points="{pts}"/>')
    last = next((s for s in reversed(series) if s.get("p95") is not None), None)
    summary = f"p95 {_label(last['p95'])} in the last hour with answers" if last else ""
    return (
        f'<figure class="chart"><svg viewBox="0 0 {W:g} {H:g}" preserveAspectRatio="none" role="img" '
        f'aria-label="{escape(name)}: response time per hour, last 24 hours; {escape(summary)}">'
        f'<line class="grid" x1="0" y1="{PAD:g}" x2="{W:g}" y2="{PAD:g}"/>'
        f'<line class="grid" x1="0" y1="{H - PAD:g}" x2="{W:g}" y2="{H - PAD:g}"/>'
        f'{"".join(lines)}</svg>'
        f'<figcaption><span>24h ago · top {escape(_label(top))}</span><span><i class="k p95"></i>p95 '
        f'<i class="k p50"></i>p50 per hour</span><span>now</span></figcaption></figure>'
    )
