"""Prometheus itself as the oracle of Vigil's metric rules (`promtool test rules`).

The same minute-by-minute pages feed both: Vigil scrapes them from a loopback
target, one cron run a minute; promtool gets them as `input_series`, written the
way Prometheus's scrape loop would have stored them (a series a good page stops
carrying gets a staleness marker, and so does every series of the last good page
when a scrape fails). Each tier of a rule becomes one Prometheus alerting rule;
the test asks promtool whether, at every minute, exactly the tiers Vigil says
are firing are firing.

Debian's promtool is 2.42, whose range selectors are closed on the left
(`[t - 5m, t]`); Vigil's window is Prometheus 3's left-open `(t - 5m, t]`. On
minute samples the oracle's rules therefore say `[4m59s]` for a 5m window: the
same samples, the same extrapolation (a ratio's factor cancels).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

INSTALL = "apt-get install -y prometheus  # Debian's package, it ships promtool"

Page = Mapping[str, float] | None  # series as written on the page -> value; None: the scrape fails


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(f"promtool is not installed; the metric rules oracle needs it: {INSTALL}")
    return path


def input_series(pages: Sequence[Page]) -> list[dict[str, str]]:
    """Per series, its value at each minute as Prometheus's TSDB would hold it."""
    names: list[str] = []
    for page in pages:
        names += [n for n in page or {} if n not in names]
    values: dict[str, list[str]] = {n: [] for n in names}
    previous: set[str] = set()  # the series of the last append (a failed scrape appends nothing)
    for page in pages:
        for n in names:
            if page is not None and n in page:
                values[n].append(repr(float(page[n])))
            else:
                values[n].append("stale" if n in previous else "_")
        previous = set(page or {})
    return [{"series": n, "values": " ".join(v)} for n, v in values.items()]


def _window(seconds: float) -> str:
    return f"{int(seconds) - 1}s"


def expression(rule: Mapping[str, Any]) -> str:
    """The PromQL of a Vigil rule (the table in docs/rules.md), with the oracle's window."""
    w = _window(float(rule.get("window_s", 300)))
    if "ratio" in rule:
        r = rule["ratio"]
        num = r.get("errors") or r["success"]
        return f"sum(increase({num}[{w}])) / sum(increase({r['total']}[{w}]))"
    if "quantile" in rule:
        q = rule["quantile"]
        name = q["histogram"]
        return f"histogram_quantile({q['q']}, sum by (le) (increase({name}_bucket[{w}])))"
    if "gauge" in rule:
        return f"sum({rule['gauge']})"
    raise ValueError(f"no oracle expression for {sorted(rule)}")


def rule_file(rule: Mapping[str, Any], for_s: float) -> dict[str, Any]:
    op, tiers = (">", rule["above"]) if "above" in rule else ("<", rule["below"])
    expr = expression(rule)
    return {"groups": [{"name": "vigil", "rules": [
        {"alert": f"{rule['name']}_{tier}", "expr": f"({expr}) {op} {limit}", "for": f"{int(for_s)}s",
         "labels": {"tier": tier}}
        for tier, limit in tiers.items()
    ]}]}


def check(tmp: Path, rule: Mapping[str, Any], for_s: float, pages: Sequence[Page],
          firing: Sequence[Sequence[str]]) -> tuple[bool, str]:
    """Does Prometheus fire exactly `firing[m]` (the tiers) at each minute m? (ok, promtool's output)"""
    tiers = list(rule.get("above") or rule["below"])
    cases = [
        {"eval_time": f"{m}m", "alertname": f"{rule['name']}_{tier}",
         "exp_alerts": [{"exp_labels": {"tier": tier}}] if tier in firing[m] else []}
        for m in range(len(pages)) for tier in tiers
    ]
    (tmp / "rules.yml").write_text(yaml.safe_dump(rule_file(rule, for_s)))
    test = {"rule_files": ["rules.yml"], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": input_series(pages), "alert_rule_test": cases}]}
    (tmp / "test.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    done = subprocess.run([promtool(), "test", "rules", "test.yml"], cwd=tmp, capture_output=True, text=True,
                          timeout=120)
    return done.returncode == 0, done.stdout + done.stderr
