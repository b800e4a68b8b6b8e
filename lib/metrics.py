"""Vigil's own metrics, kept in Redis and rendered for Prometheus at GET /api/metrics.

Function instances share no memory, so a process-local counter would count one
instance's share until it is frozen. Counters live in Redis instead: one hash
per metric, `<prefix>metrics:<name>`, one field per label set (the label
values in the metric's declared order, joined by "|"), incremented with
HINCRBY in the same script or pipeline as the change they count:

    store.pipeline([*other_commands, *metrics.incr_commands(store, "webhooks", {"source": "sentry", "outcome": "accepted"})])

Lua scripts do the same with `HINCRBY <prefix>metrics:<name> <field> 1`.
`render` reads every metric in one round trip and renders it with
prometheus-client (imported only here, never on a webhook's path).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lib import store as store_module
from lib.store import Arg, Script, Store

READ = Script.load(store_module.__file__, "metrics_read")  # core Lua: lib/store/lua/
JOBS = ("checks", "escalations", "rules", "archive")


@dataclass(frozen=True)
class Metric:
    name: str  # exposed as vigil_<name> (+ _total for counters)
    kind: str  # "counter" | "gauge"
    help: str
    labels: tuple[str, ...] = ()


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("incidents_opened", "counter", "Incidents opened, by severity.", ("severity",)),
        Metric("incidents_resolved", "counter", "Incidents resolved, by severity.", ("severity",)),
        Metric("notifications_sent", "counter", "Deliveries that succeeded, by channel.", ("channel",)),
        Metric("notifications_failed", "counter", "Delivery attempts that failed, by channel.", ("channel",)),
        Metric("webhooks", "counter", "Webhooks received, by source and outcome.", ("source", "outcome")),
        Metric("cron_runs", "counter", "Cron runs that did work (duplicates excluded), by job.", ("job",)),
        Metric("cron_lag_seconds", "gauge", "Seconds between a job's minute and when its last run started.", ("job",)),
        Metric("checks_up", "gauge", "1 when the health check's last run passed, 0 when it failed.", ("check",)),
        Metric("rule_scrapes", "counter", "Metric rule scrapes, by outcome (ok, failed).", ("outcome",)),
        Metric("log_lines", "counter",
               "Log drain lines that reached Redis, by outcome (counted, duplicate, malformed, late).", ("outcome",)),
        Metric("alert_severity_unmapped", "counter",
               "Alertmanager alerts whose severity label is not in the table (value '' = no label).", ("value",)),
    )
}


def field_of(metric: str, labels: dict[str, str]) -> str:
    """The hash field of a label set: the values in declared order, joined by '|'."""
    names = METRICS[metric].labels
    unknown = set(labels) - set(names)
    if unknown:
        raise ValueError(f"metric {metric} has no label {sorted(unknown)[0]!r} (labels: {', '.join(names)})")
    return "|".join(labels.get(n, "").replace("%", "%25").replace("|", "%7C") for n in names)


def labels_of(metric: str, field: str) -> list[str]:
    names = METRICS[metric].labels
    values = [v.replace("%7C", "|").replace("%25", "%") for v in field.split("|")] if names else []
    return (values + [""] * len(names))[: len(names)]


def incr_commands(store: Store, name: str, labels: dict[str, str] | None = None, by: int = 1) -> list[list[Arg]]:
    """The HINCRBY to append to a pipeline that counts one event of `name`."""
    return [["HINCRBY", store.key("metrics", name), field_of(name, labels or {}), by]]


def set_commands(store: Store, name: str, labels: dict[str, str] | None, value: float) -> list[list[Arg]]:
    """The HSET of a gauge (checks_up, cron_lag_seconds), for a pipeline."""
    return [["HSET", store.key("metrics", name), field_of(name, labels or {}), repr(float(value))]]


def incr(store: Store, name: str, labels: dict[str, str] | None = None, by: int = 1) -> None:
    """Count one event on its own (one round trip); prefer folding incr_commands into a pipeline."""
    store.pipeline(incr_commands(store, name, labels, by))


def read(store: Store) -> dict[str, Any]:
    """Everything /api/metrics shows: one round trip."""
    raw = store.run_json(READ, [], [store.prefix, json.dumps({"hashes": list(METRICS), "jobs": list(JOBS)})])
    return raw if isinstance(raw, dict) else {}


def _pairs(flat: object) -> list[tuple[str, str]]:
    if isinstance(flat, dict):
        return [(str(k), str(v)) for k, v in flat.items()]
    items = list(flat) if isinstance(flat, list) else []
    return [(str(items[i]), str(items[i + 1])) for i in range(0, len(items) - 1, 2)]


def _number(v: object) -> float | None:
    try:
        return float(str(v))
    except ValueError:
        return None


class _Collector:
    """A prometheus-client collector over one `read` of the store."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        hashes = self.data.get("hashes") or {}
        for m in METRICS.values():
            cls = CounterMetricFamily if m.kind == "counter" else GaugeMetricFamily
            fam = cls(f"vigil_{m.name}", m.help, labels=list(m.labels))
            for field, value in _pairs(hashes.get(m.name) if isinstance(hashes, dict) else None):
                if (n := _number(value)) is not None:
                    fam.add_metric(labels_of(m.name, field), n)
            yield fam
        yield from self._derived(GaugeMetricFamily)

    def _derived(self, gauge: Any) -> Any:
        open_ = gauge("vigil_incidents_open", "Open incidents, by severity and status.", labels=["severity", "status"])
        counts = dict(_pairs(self.data.get("open")))
        for sev in ("P0", "P1", "P2", "P3"):
            for status in ("triggered", "acknowledged"):
                open_.add_metric([sev, status], float(counts.get(f"{sev}|{status}", 0)))
        yield open_
        yield gauge("vigil_outbox_depth", "Deliveries waiting in the outbox.", value=float(self.data.get("outbox") or 0))
        ticks = gauge("vigil_cron_last_run_timestamp_seconds", "Unix time of each job's last run.", labels=["job"])
        for job, ts in _pairs(self.data.get("ticks")):
            if (n := _number(ts)) is not None:
                ticks.add_metric([job], n)
        yield ticks
        values = gauge("vigil_rule_value", "Each metric rule's last evaluated value.", labels=["rule"])
        for rule, raw in _pairs(self.data.get("rules")):
            try:
                v = json.loads(raw).get("value")
            except (ValueError, AttributeError):
                continue
            if isinstance(v, (int, float)):
                values.add_metric([rule], float(v))
        yield values


def render(store: Store, accept: str = "") -> tuple[bytes, str]:
    """(body, content type) of the exposition: OpenMetrics when the scraper asks for it."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import choose_encoder

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(read(store)))
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
