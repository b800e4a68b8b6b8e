"""Inbound sources: every fixture parses as expected, signatures verify, hostile bytes never crash."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from lib.config import AlertmanagerSource, SentrySource, VercelSource
from lib.config_schema import validate
from lib.models import Severity, Signal
from lib.webhooks import BadPayload, Ignored, alerts, sentry, vercel

FIXTURES = Path(__file__).parent / "fixtures"
P0, P1, P2, P3 = Severity.P0, Severity.P1, Severity.P2, Severity.P3
IGNORED = "ignored"

# file -> (Sentry-Hook-Resource, expected): expected is IGNORED or [(key, status, severity), ...]
SENTRY: dict[str, tuple[str, Any]] = {
    "issue_created.json": ("issue", [("sentry:issue:1170820242", "firing", P2)]),
    "issue_resolved.json": ("issue", [("sentry:issue:1170820242", "resolved", P2)]),
    "issue_ignored.json": ("issue", [("sentry:issue:1170820242", "resolved", P2)]),
    "issue_unresolved_regressed.json": ("issue", [("sentry:issue:1170820242", "firing", P1)]),
    "issue_assigned.json": ("issue", IGNORED),
    "event_alert_triggered.json": ("event_alert", [("sentry:issue:1117540176", "firing", P2)]),
    "event_alert_2020_auth_rule.json": ("event_alert", [("sentry:issue:1117540177", "firing", P1)]),
    "metric_alert_critical.json": ("metric_alert", [("sentry:metric:7", "firing", P1)]),
    "metric_alert_warning.json": ("metric_alert", [("sentry:metric:7", "firing", P2)]),
    "metric_alert_resolved.json": ("metric_alert", [("sentry:metric:7", "resolved", P2)]),
    "error_created.json": ("error", [("sentry:errors:1", "firing", P1)]),
    "comment_created.json": ("comment", IGNORED),
    "installation_created.json": ("installation", IGNORED),
}
PRJ = "vercel:deploy:prj_aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
VERCEL: dict[str, Any] = {
    "deployment_error_production.json": [(f"{PRJ}:production", "firing", P1)],
    "deployment_error_preview.json": [(f"{PRJ}:preview", "firing", P2)],
    "deployment_succeeded_production.json": [(f"{PRJ}:production", "resolved", P1)],
    "deployment_promoted_production.json": [(f"{PRJ}:production", "resolved", P1)],
    "deployment_created.json": IGNORED,
    "deployment_canceled.json": IGNORED,
    "legacy_deployment_error.json": [(f"{PRJ}:production", "firing", P1)],
    "legacy_deployment_ready.json": [(f"{PRJ}:production", "resolved", P1)],
    "legacy_deployment_error_without_project.json": IGNORED,
    "legacy_deployment.json": IGNORED,
}
ALERTMANAGER: dict[str, Any] = {  # one signal per group, keyed by its group labels
    "firing_v0_19_no_fingerprint.json": [("am:g:cbc83130b12e4d63", "firing", P1)],
    "v4_mixed_fingerprints.json": [("am:g:d4e2cb04fcc27142", "firing", P0)],
    "v4_resolved.json": [("am:g:ad1075c7c8ddf33b", "resolved", P0)],
}
AM_MEMBERS: dict[str, list[tuple[str, str, Severity]]] = {  # each group's alerts, as the engine merges them
    "firing_v0_19_no_fingerprint.json": [
        ("57eb5a29225f0271", "firing", P1), ("7cf8dd32528c2c6e", "firing", P1), ("38a46a7982235d54", "firing", P1),
    ],
    "v4_mixed_fingerprints.json": [("6d8a4f1c2b3e5a79", "firing", P0), ("0f1e2d3c4b5a6978", "resolved", P1)],
    "v4_resolved.json": [("6d8a4f1c2b3e5a79", "resolved", P0)],
}
VECTORS = "signature_test_vector.json"


def _parse_fixture(vendor: str, name: str) -> list[Signal] | Ignored:
    body = (FIXTURES / vendor / name).read_bytes()
    if vendor == "sentry":
        headers = {"sentry-hook-resource": SENTRY[name][0], "request-id": "0" * 32}
        return sentry.parse(headers, body, SentrySource())
    if vendor == "vercel":
        return vercel.parse({}, body, VercelSource())
    return alerts.parse({}, body, AlertmanagerSource())


def _expected(vendor: str, name: str) -> Any:
    return {
        "sentry": lambda: SENTRY[name][1],
        "vercel": lambda: VERCEL[name],
        "alertmanager": lambda: ALERTMANAGER[name],
    }[vendor]()


ALL_FIXTURES = [
    (v, n)
    for v, table in (("sentry", SENTRY), ("vercel", VERCEL), ("alertmanager", ALERTMANAGER))
    for n in table
]


def test_every_fixture_file_has_an_expectation() -> None:
    on_disk = {
        (p.parent.name, p.name)
        for v in ("sentry", "vercel", "alertmanager")
        for p in (FIXTURES / v).glob("*.json")
    }
    on_disk -= {("sentry", VECTORS), ("vercel", VECTORS)}
    assert on_disk == set(ALL_FIXTURES)


@pytest.mark.parametrize(("vendor", "name"), ALL_FIXTURES, ids=[f"{v}/{n}" for v, n in ALL_FIXTURES])
def test_fixture_parses_to_expected_signals(vendor: str, name: str) -> None:
    outcome = _parse_fixture(vendor, name)
    expected = _expected(vendor, name)
    if expected == IGNORED:
        assert isinstance(outcome, Ignored) and outcome.reason
        return
    assert isinstance(outcome, list)
    assert [(s.key, s.status, s.severity) for s in outcome] == expected
    for s in outcome:
        assert s.title, "a message names what fired"
        assert s.source in ("sentry", "vercel", "alertmanager")


# -- signatures ---------------------------------------------------------------


def _vector(vendor: str) -> dict[str, Any]:
    return json.loads((FIXTURES / vendor / VECTORS).read_text())


def test_sentry_signature_vector_verifies_over_raw_bytes_only() -> None:
    v = _vector("sentry")
    body = v["raw_body"].encode()
    headers = {k.lower(): val for k, val in v["headers"].items()}
    assert sentry.verify(headers, body, v["client_secret"])
    assert sentry.verify(v["headers"], body, v["client_secret"]), "header names are case-insensitive"
    # The documented sample re-serialises with json.dumps: a different body, so no match.
    reserialised = json.dumps(json.loads(body)).encode()
    assert not sentry.verify(headers, reserialised, v["client_secret"])
    forged = {
        **headers,
        "sentry-hook-signature": v["signature_if_you_reserialize_with_python_json_dumps_default"],
    }
    assert not sentry.verify(forged, body, v["client_secret"])


def test_sentry_signature_may_come_in_sentry_app_signature() -> None:
    v = _vector("sentry")
    body = v["raw_body"].encode()
    assert sentry.verify(
        {"Sentry-App-Signature": v["expected_signature_hex_sha256"]}, body, v["client_secret"]
    )


def test_vercel_signature_vector_verifies() -> None:
    v = _vector("vercel")
    body = v["raw_body"].encode()
    assert vercel.verify(v["headers"], body, v["secret"])
    assert vercel.verify({"X-Vercel-Signature": v["expected_signature_hex_sha1"].upper()}, body, v["secret"])
    assert not vercel.verify(v["headers"], body + b" ", v["secret"])


@pytest.mark.parametrize(
    ("timestamp", "ok"),
    [
        pytest.param("1566248317", True, id="as-sent"),
        pytest.param("1566248617", True, id="5-minutes-later"),
        pytest.param("1566247917", False, id="stale"),
        pytest.param("1566249000", False, id="future"),
        pytest.param("soon", False, id="garbage"),
        pytest.param(None, False, id="absent"),
        pytest.param("\u00b2", False, id="superscript-two"),
        pytest.param("9" * 5000, False, id="5000-digits"),
    ],
)
def test_sentry_freshness_window_uses_the_callers_clock(timestamp: str | None, ok: bool) -> None:
    v = _vector("sentry")
    headers = {k.lower(): val for k, val in v["headers"].items() if k != "Sentry-Hook-Timestamp"}
    if timestamp is not None:
        headers["sentry-hook-timestamp"] = timestamp
    assert sentry.verify(headers, v["raw_body"].encode(), v["client_secret"], now=1566248317.0 + 60) is ok


VERIFY_REFUSALS = [
    pytest.param(sentry.verify, "sentry-hook-signature", id="sentry"),
    pytest.param(vercel.verify, "x-vercel-signature", id="vercel"),
]


@pytest.mark.parametrize(("verify", "name"), VERIFY_REFUSALS)
@pytest.mark.parametrize(
    ("headers", "secret"),
    [
        pytest.param({}, "s3cret", id="header-missing"),
        pytest.param({"sig": ""}, "s3cret", id="header-empty"),
        pytest.param({"sig": "00" * 32}, "s3cret", id="mismatch"),
        pytest.param({"sig": "é" * 40}, "s3cret", id="non-ascii-header"),
        pytest.param({"sig": "00" * 32}, None, id="secret-unset"),
        pytest.param({"sig": "00" * 32}, "", id="secret-empty"),
    ],
)
def test_verify_refuses(
    verify: Callable[..., bool], name: str, headers: dict[str, str], secret: str | None
) -> None:
    real = {name: headers["sig"]} if "sig" in headers else {}
    assert verify(real, b"{}", secret) is False


def test_alerts_verify_is_a_bearer_token() -> None:
    assert alerts.verify({"authorization": "Bearer tok"}, b"{}", "tok")
    assert not alerts.verify({"authorization": "Bearer nope"}, b"{}", "tok")
    assert not alerts.verify({}, b"{}", "tok")
    assert not alerts.verify({"authorization": "Bearer "}, b"{}", "")


# -- hostile input ------------------------------------------------------------

ParseFn = Callable[[bytes], Any]
PARSERS: dict[str, ParseFn] = {
    **{
        f"sentry-{r}": (lambda b, r=r: sentry.parse({"sentry-hook-resource": r}, b, SentrySource()))
        for r in ("issue", "event_alert", "metric_alert", "error")
    },
    "vercel": lambda b: vercel.parse({}, b, VercelSource()),
    "alerts": lambda b: alerts.parse({}, b, AlertmanagerSource()),
}
HOSTILE_BODIES = {
    "empty": b"",
    "whitespace": b" \n\t ",
    "not-json": b"hello",
    "truncated": b'{"action": "created", "data": {',
    "array": b"[1, 2, 3]",
    "string": b'"issue"',
    "null": b"null",
    "number": b"1e999",
    "non-utf8": b'{"key": "\xff\xfe"}',
    "utf16-bom": '{"key": "x"}'.encode("utf-16"),
    "deep-nesting": b"[" * 100_000 + b"]" * 100_000,
    "deep-object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "huge-int": b'{"key": ' + b"9" * 5000 + b"}",
    "nan": b'{"action": "created", "createdAt": NaN, "data": {"issue": {"id": NaN}}}',
    "wrong-types": b'{"action": ["created"], "type": {}, "data": "x", "payload": 5, "alerts": "x", "key": 5}',
    "data-list": b'{"action": "created", "data": []}',
    "alerts-of-junk": b'{"alerts": [null, 1, "x", [], {"labels": []}], "version": "4"}',
    "huge-strings": json.dumps(
        {
            "action": "triggered",
            "type": "deployment.error",
            "key": "k" * 1_000_000,
            "title": "t" * 1_000_000,
            "data": {"event": {"issue_id": "9" * 1000, "title": "x" * 1_000_000}},
            "payload": {"project": {"id": "p" * 100_000}, "target": "t" * 10_000},
        }
    ).encode(),
}


@pytest.mark.parametrize("parser", list(PARSERS), ids=list(PARSERS))
@pytest.mark.parametrize("body", list(HOSTILE_BODIES.values()), ids=list(HOSTILE_BODIES))
def test_hostile_bodies_give_bad_payload_or_ignored(parser: str, body: bytes) -> None:
    _assert_contained(PARSERS[parser], body)


def _assert_contained(parse: ParseFn, body: bytes) -> None:
    try:
        outcome = parse(body)
    except BadPayload as exc:
        assert exc.reason and len(exc.reason) < 300
        return
    assert isinstance(outcome, Ignored) or all(isinstance(s, Signal) for s in outcome)


WEIRD_VALUES: list[Any] = [None, True, 0, -1.5, "", "x" * 100_000, [], [[1, "a"]], {}, {"id": {}}]


def _paths(node: Any, path: tuple[Any, ...] = (), depth: int = 4) -> Iterator[tuple[Any, ...]]:
    if depth == 0:
        return
    items = node.items() if isinstance(node, dict) else enumerate(node[:2]) if isinstance(node, list) else []
    for k, v in items:
        if k in ("exception", "contexts", "sdk", "request", "_meta", "grouping_config"):
            continue
        yield (*path, k)
        yield from _paths(v, (*path, k), depth - 1)


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(doc)
    node = out
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return out


@pytest.mark.parametrize(("vendor", "name"), ALL_FIXTURES, ids=[f"{v}/{n}" for v, n in ALL_FIXTURES])
def test_every_field_of_every_fixture_survives_wrong_types(vendor: str, name: str) -> None:
    doc = json.loads((FIXTURES / vendor / name).read_text())
    headers = {"sentry-hook-resource": SENTRY[name][0]} if vendor == "sentry" else {}
    module = {"sentry": sentry, "vercel": vercel, "alertmanager": alerts}[vendor]
    cfg = {"sentry": SentrySource(), "vercel": VercelSource(), "alertmanager": AlertmanagerSource()}[vendor]
    for path in _paths(doc):
        for value in WEIRD_VALUES:
            body = json.dumps(_replace(doc, path, value)).encode()
            _assert_contained(lambda b, m=module, c=cfg: m.parse(headers, b, c), body)


# -- Sentry -------------------------------------------------------------------


def _sentry(
    name: str, cfg: SentrySource | None = None, mutate: Callable[[dict[str, Any]], None] | None = None
) -> Any:
    doc = json.loads((FIXTURES / "sentry" / name).read_text())
    if mutate:
        mutate(doc)
    headers = {"Sentry-Hook-Resource": SENTRY[name][0], "Request-ID": "abc123"}
    return sentry.parse(headers, json.dumps(doc).encode(), cfg or SentrySource())


def test_sentry_issue_signal_names_the_issue_and_links_to_it() -> None:
    [s] = _sentry("issue_created.json", SentrySource(org="acme"))
    assert s.title == "ReferenceError: blooopy is not defined"
    assert "?(runner)" in s.summary and "1 event" in s.summary and "front-end" in s.summary
    assert s.links["source"] == "https://acme.sentry.io/issues/1170820242/"
    assert s.labels["project"] == "front-end" and s.labels["level"] == "error"
    # The delivery is known by its signed bytes, not by the unsigned Request-ID header.
    assert s.delivery_id == sentry.delivery_id(json.dumps(json.loads((FIXTURES / "sentry" / "issue_created.json")
                                                                     .read_text())).encode())
    assert s.source == "sentry"
    assert s.occurred_at == pytest.approx(1566248317.391)


def test_sentry_issue_link_prefers_web_url_then_api_url_without_an_org() -> None:
    def set_urls(doc: dict[str, Any]) -> None:
        doc["data"]["issue"]["web_url"] = "https://acme.sentry.io/issues/1170820242/?x=1"

    assert _sentry("issue_created.json", mutate=set_urls)[0].links["source"].endswith("?x=1")

    def set_api(doc: dict[str, Any]) -> None:
        doc["data"]["issue"]["url"] = "https://sentry.io/api/0/issues/1170820242/"

    assert (
        _sentry("issue_created.json", mutate=set_api)[0].links["source"]
        == "https://sentry.io/api/0/issues/1170820242/"
    )


def test_sentry_archived_action_resolves_like_ignored() -> None:
    [s] = _sentry("issue_ignored.json", mutate=lambda d: d.update(action="archived"))
    assert s.status == "resolved" and s.key == "sentry:issue:1170820242"


def test_sentry_event_alert_derives_issue_id_from_issue_url_and_rule_name_raises_severity() -> None:
    [s] = _sentry("event_alert_2020_auth_rule.json")
    assert s.key == "sentry:issue:1117540177"
    # Its level (warning) says P3; "Authentication failures" matches the "authentication" rule.
    assert s.severity == P1
    assert "Authentication failures" in s.summary
    assert s.links["source"].startswith("https://sentry.io/organizations/test-org/issues/1117540177/events/")


def test_sentry_event_alert_without_issue_id_or_url_is_a_bad_payload() -> None:
    def strip(doc: dict[str, Any]) -> None:
        del doc["data"]["event"]["issue_id"], doc["data"]["event"]["issue_url"]

    with pytest.raises(BadPayload, match=r"data\.event\.issue_id missing"):
        _sentry("event_alert_triggered.json", mutate=strip)


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        pytest.param({}, P2, id="level-only"),
        pytest.param({"very important": P0}, P0, id="rule-name-substring"),
        pytest.param({"browser.name:chrome": P1}, P1, id="tag-value"),
        pytest.param({"browser.name:firefox": P1}, P2, id="tag-mismatch"),
        pytest.param({"very important": P3}, P2, id="rule-never-lowers"),
        pytest.param({"heck is": P1, "alert rule": P0}, P0, id="most-severe-wins"),
    ],
)
def test_sentry_event_alert_severity_from_rules(rules: dict[str, Severity], expected: Severity) -> None:
    assert _sentry("event_alert_triggered.json", SentrySource(rules=rules))[0].severity == expected


def test_sentry_config_overrides_levels_and_metric_alerts() -> None:
    cfg = SentrySource(levels={"error": P0}, metric_alerts={"critical": P0, "warning": P3})
    assert _sentry("issue_created.json", cfg)[0].severity == P0
    assert _sentry("metric_alert_critical.json", cfg)[0].severity == P0
    assert _sentry("metric_alert_warning.json", cfg)[0].severity == P3


def test_sentry_metric_alert_is_named_by_its_rule() -> None:
    [s] = _sentry("metric_alert_critical.json")
    assert s.title == "Too many errors"
    assert s.summary.startswith("1000 events in the last 10 minutes")
    assert s.links["source"] == "https://sentry.io/organizations/baz/alerts/1/"


def test_sentry_error_created_is_a_burst_signal_per_project() -> None:
    [s] = _sentry("error_created.json", SentrySource(error_spike_per_minute=25, error_spike_severity=P0))
    assert (s.key, s.severity, s.burst, s.burst_window) == ("sentry:errors:1", P0, 25, 60.0)
    assert s.title == "Error rate spike in front-end"
    assert "ReferenceError: blooopy is not defined" in s.summary


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        pytest.param({}, "no Sentry-Hook-Resource header", id="no-resource"),
        pytest.param({"sentry-hook-resource": "seer"}, "sentry seer webhooks are ignored", id="seer"),
        pytest.param(
            {"sentry-hook-resource": "size_analysis"}, "sentry size_analysis webhooks are ignored", id="size"
        ),
    ],
)
def test_sentry_resources_we_do_not_handle_are_ignored_even_with_empty_bodies(
    headers: dict[str, str], reason: str
) -> None:
    assert sentry.parse(headers, b"", SentrySource()) == Ignored(reason)


def test_sentry_bad_payload_reasons_name_the_field() -> None:
    issue = {"sentry-hook-resource": "issue"}
    cases = {
        b"{}": "action missing",
        b'{"action": "created"}': "data missing",
        b'{"action": "created", "data": {}}': "data.issue missing",
        b'{"action": "created", "data": {"issue": []}}': "data.issue: expected an object, got a list",
        b'{"action": "created", "data": {"issue": {}}}': "data.issue.id missing",
        b"[]": "expected a JSON object, got a list",
        b"nope": "body is not JSON",
    }
    for body, reason in cases.items():
        with pytest.raises(BadPayload) as exc:
            sentry.parse(issue, body, SentrySource())
        assert exc.value.reason == reason


# -- Vercel -------------------------------------------------------------------


def _vercel(
    name: str, cfg: VercelSource | None = None, mutate: Callable[[dict[str, Any]], None] | None = None
) -> Any:
    doc = json.loads((FIXTURES / "vercel" / name).read_text())
    if mutate:
        mutate(doc)
    return vercel.parse({}, json.dumps(doc).encode(), cfg or VercelSource())


def test_vercel_deployment_error_names_the_project_and_commit() -> None:
    [s] = _vercel("deployment_error_production.json")
    assert s.title == "Deployment failed: meows-sandbox (production)"
    assert "3f2a9c1" in s.summary and "Fix checkout totals" in s.summary and "joesmith" in s.summary
    assert s.links == {
        "source": "https://vercel.com/mercury-technologies/meows-sandbox/9fKd3LhZ7YtR2mQ8xWvB1nCa4E5u",
        "deployment": "https://meows-sandbox-9fkd3lhz7-mercury-technologies.vercel.app",
    }
    assert s.delivery_id == "uHh7CmsQ1mHDpS2sUw2Ptnpm"
    assert s.occurred_at == pytest.approx(1769601676.612)
    assert s.labels["commit_message"] == "Fix checkout totals"  # the subject line only


def test_vercel_config_sets_severity_by_target() -> None:
    cfg = VercelSource(production=P0, preview=P3)
    assert _vercel("deployment_error_production.json", cfg)[0].severity == P0
    assert _vercel("deployment_error_preview.json", cfg)[0].severity == P3
    staging = _vercel("deployment_error_preview.json", cfg, lambda d: d["payload"].update(target="staging"))[
        0
    ]
    assert (staging.key.rsplit(":", 1)[-1], staging.severity) == ("staging", P3)


def test_vercel_live_production_deployment_is_reported_for_the_caller_to_remember() -> None:
    signals = _vercel("deployment_succeeded_production.json")
    deployment = vercel.live_deployment(signals)
    assert deployment is not None
    assert deployment.as_dict() == {
        "id": "dpl_7LmN3bV5cX1zQ9wE2rT4yU6iO8pA",
        "project_id": "prj_aaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "project": "meows-sandbox",
        "target": "production",
        "url": "https://meows-sandbox-7lmn3bv5c-mercury-technologies.vercel.app",
        "commit_sha": "b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5",
        "commit_message": 'Revert "Fix checkout totals"',
        "commit_ref": "main",
        "author": "joesmith",
        "event": "deployment.succeeded",
        "at": pytest.approx(1769602276.001),
    }
    assert vercel.live_deployment(_vercel("legacy_deployment_ready.json")) is not None
    assert vercel.live_deployment(_vercel("deployment_error_production.json")) is None
    preview_ok = _vercel(
        "deployment_succeeded_production.json", mutate=lambda d: d["payload"].update(target=None)
    )
    assert vercel.live_deployment(preview_ok) is None


def test_vercel_current_type_without_project_is_bad_but_legacy_is_ignored() -> None:
    def drop(doc: dict[str, Any]) -> None:
        doc["payload"].pop("project", None)
        doc["payload"].pop("projectId", None)

    with pytest.raises(BadPayload, match=r"payload\.project\.id missing"):
        _vercel("deployment_error_production.json", mutate=drop)
    assert isinstance(_vercel("legacy_deployment_error.json", mutate=drop), Ignored)
    assert isinstance(
        _vercel("legacy_deployment_error.json", mutate=lambda d: d.update(payload=[1])), Ignored
    )


def test_vercel_other_event_families_are_ignored() -> None:
    body = json.dumps({"id": "x", "type": "project.created", "createdAt": 1, "payload": {}}).encode()
    assert vercel.parse({}, body, VercelSource()) == Ignored("vercel project.created ignored")
    with pytest.raises(BadPayload, match="type missing"):
        vercel.parse({}, b'{"id": "x", "payload": {}}', VercelSource())


# -- alerts API: plain JSON ---------------------------------------------------


def _plain(doc: object, cfg: AlertmanagerSource | None = None) -> list[Signal] | Ignored:
    return alerts.parse({}, json.dumps(doc).encode(), cfg or AlertmanagerSource())


def test_plain_alert_minimal_and_full() -> None:
    [s] = _plain({"key": "disk-full"})
    assert (s.key, s.severity, s.status, s.title, s.source) == (
        "alerts:disk-full",
        P2,
        "firing",
        "disk-full",
        "alerts",
    )
    [s] = _plain(
        {
            "key": "alerts:db",
            "severity": "p0",
            "status": "Resolved",
            "title": "Database down",
            "summary": "primary unreachable",
            "links": {"runbook": "https://example.com/rb"},
            "labels": {"team": "core"},
            "occurred_at": "2026-01-28T12:00:00Z",
            "unknown": "tolerated",
        }
    )
    assert (s.key, s.severity, s.status, s.title) == ("alerts:db", P0, "resolved", "Database down")
    assert s.links == {"runbook": "https://example.com/rb"} and s.labels == {"team": "core"}
    assert s.occurred_at == 1769601600.0


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        pytest.param({}, "key: required", id="no-key"),
        pytest.param({"key": ""}, "key: required", id="empty-key"),
        pytest.param({"key": 5}, "key: must be a string, got a number", id="key-number"),
        pytest.param({"key": "k" * 301}, "key: at most 300 characters", id="key-long"),
        pytest.param(
            {"key": "k", "severity": "P5"}, "severity: must be one of P0, P1, P2, P3", id="severity"
        ),
        pytest.param(
            {"key": "k", "severity": 1}, "severity: must be a string, got a number", id="severity-type"
        ),
        pytest.param({"key": "k", "status": "open"}, "status: must be firing or resolved", id="status"),
        pytest.param({"key": "k", "links": []}, "links: must be an object, got a list", id="links-list"),
        pytest.param(
            {"key": "k", "links": {"a": "ftp://x"}}, "links.a: must be an http(s) URL", id="link-scheme"
        ),
        pytest.param(
            {"key": "k", "labels": {"a": 1}}, "labels.a: must be a string, got a number", id="label-type"
        ),
        pytest.param(
            {"key": "k", "occurred_at": "soon"},
            "occurred_at: must be epoch seconds or an ISO 8601 time",
            id="when",
        ),
    ],
)
def test_plain_alert_validation_names_the_field(doc: dict[str, Any], reason: str) -> None:
    with pytest.raises(BadPayload) as exc:
        _plain(doc)
    assert exc.value.reason == reason


# -- alerts API: Alertmanager ---------------------------------------------------


def _am(*alerts_: Mapping[str, Any], cfg: AlertmanagerSource | None = None, **doc: Any) -> list[Signal]:
    out = _plain({"version": "4", "status": "firing", "alerts": list(alerts_), **doc}, cfg)
    assert isinstance(out, list)
    return out


@pytest.mark.parametrize("name", sorted(AM_MEMBERS))
def test_alertmanager_fixture_members(name: str) -> None:
    [s] = _parse_fixture("alertmanager", name)  # type: ignore[misc]
    assert [(m.id, m.status, m.severity) for m in (s.group.members if s.group else [])] == AM_MEMBERS[name]


def test_alertmanager_member_id_is_the_fingerprint_else_a_hash_of_sorted_labels() -> None:
    labels = {"alertname": "A", "instance": "x", "job": "j"}
    [with_fp] = _am({"status": "firing", "labels": labels, "fingerprint": "abc123"})
    assert with_fp.group and with_fp.group.members[0].id == "abc123"
    [a] = _am({"status": "firing", "labels": labels})
    [b] = _am({"status": "firing", "labels": dict(reversed(list(labels.items())))})
    assert a.group and b.group and a.group.members[0].id == b.group.members[0].id == alerts.label_hash(labels)
    [c] = _am({"status": "firing", "labels": {**labels, "instance": "y"}})
    assert c.group and c.group.members[0].id != a.group.members[0].id


def test_one_key_per_group_whatever_the_severity_tier() -> None:
    """Grouped (or routed) apart by severity, the tiers of one alert still share an incident."""
    warn = _am({"labels": {"alertname": "A", "severity": "warning"}},
               groupLabels={"alertname": "A", "severity": "warning"}, groupKey='{}/{severity="warning"}:{alertname="A"}')
    crit = _am({"labels": {"alertname": "A", "severity": "critical"}},
               groupLabels={"alertname": "A", "severity": "critical"}, groupKey='{}/{severity="critical"}:{alertname="A"}')
    other = _am({"labels": {"alertname": "B"}}, groupLabels={"alertname": "B"})
    assert warn[0].key == crit[0].key != other[0].key
    assert (warn[0].severity, crit[0].severity) == (P2, P0)
    no_labels = _am({"labels": {"alertname": "A"}}, groupLabels={}, groupKey="{}:{}")
    assert no_labels[0].key.startswith("am:g:") and no_labels[0].key != warn[0].key


@pytest.mark.parametrize(
    ("alert", "status"),
    [
        pytest.param({"status": "firing", "endsAt": "0001-01-01T00:00:00Z"}, "firing", id="firing-zero-end"),
        pytest.param(
            {"status": "resolved", "endsAt": "0001-01-01T00:00:00Z"}, "resolved", id="resolved-status-wins"
        ),
        pytest.param({"endsAt": "0001-01-01T00:00:00Z"}, "firing", id="no-status-not-ended"),
        pytest.param({"endsAt": "2026-01-28T12:00:00Z"}, "resolved", id="no-status-ended"),
        pytest.param({}, "firing", id="nothing"),
    ],
)
def test_alertmanager_status_and_ends_at(alert: dict[str, Any], status: str) -> None:
    [s] = _am({"labels": {"alertname": "A"}, **alert})
    assert s.status == status and s.group and s.group.members[0].status == status


@pytest.mark.parametrize(
    ("severity", "cfg", "expected"),
    [
        pytest.param("P0", None, P0, id="p-level"),
        pytest.param("p3", None, P3, id="p-level-lowercase"),
        pytest.param("critical", None, P0, id="named"),
        pytest.param("page", None, P0, id="page"),
        pytest.param("high", None, P1, id="high"),
        pytest.param("WARNING", None, P2, id="named-any-case"),
        pytest.param("info", None, P3, id="info"),
        pytest.param("sev-x", None, P2, id="unknown-default"),
        pytest.param(None, AlertmanagerSource(default=P3), P3, id="absent-config-default"),
        pytest.param("major", validate(AlertmanagerSource, {"severities": {"MAJOR": "P1"}}), P1, id="config-mapping"),
    ],
)
def test_alertmanager_severity(
    severity: str | None, cfg: AlertmanagerSource | None, expected: Severity
) -> None:
    labels = {"alertname": "A", **({"severity": severity} if severity else {})}
    assert _am({"status": "firing", "labels": labels}, cfg=cfg)[0].severity == expected


def test_unmapped_severities_are_counted_by_value() -> None:
    doc = {"version": "4", "alerts": [{"labels": {"alertname": "A", "severity": "sev-x"}},
                                      {"labels": {"alertname": "B"}}, {"labels": {"alertname": "C", "severity": "sev-x"}},
                                      {"labels": {"alertname": "D", "severity": "critical"}}]}
    _, unmapped = alerts.parse_counted({}, json.dumps(doc).encode(), AlertmanagerSource())
    assert unmapped == {"sev-x": 2, "": 1}


def test_alertmanager_group_is_titled_by_common_labels_and_linked() -> None:
    [s] = alerts.parse(
        {}, (FIXTURES / "alertmanager" / "v4_resolved.json").read_bytes(), AlertmanagerSource()
    )
    assert s.title == "HighErrorRate (job=api, service=checkout): 5xx above 5% for 5m"
    assert s.summary == "api 5xx ratio is 7.2% (threshold 5%)"
    assert s.links == {
        "source": "http://prometheus:9090/graph?g0.expr=job%3Aerrors%3Aratio5m+%3E+0.05&g0.tab=1",
        "runbook": "https://example.com/runbooks/high-error-rate",
        "dashboard": "https://grafana.example.com/d/api",
    }
    assert s.labels["service"] == "checkout" and s.source == "alertmanager"
    [mixed] = _parse_fixture("alertmanager", "v4_mixed_fingerprints.json")  # type: ignore[misc]
    assert mixed.title == "job=api" and mixed.group
    assert [m.name for m in mixed.group.members] == ["HighErrorRate{service=checkout}", "SlowResponseTime"]


def test_alertmanager_bad_shapes() -> None:
    assert _plain({"version": "4", "alerts": []}) == Ignored("alertmanager notification with no alerts")
    for doc, reason in [
        ({"alerts": {}}, "alerts: must be a list, got an object"),
        ({"alerts": [1]}, "alerts[0]: must be an object, got a number"),
        ({"alerts": [{"labels": []}]}, "alerts[0].labels: must be an object, got a list"),
        (
            {"alerts": [{"status": "pending", "labels": {"a": "b"}}]},
            "alerts[0].status: must be firing or resolved",
        ),
        ({"alerts": [{"status": "firing"}]}, "alerts[0]: needs a fingerprint or labels to tell it apart"),
    ]:
        with pytest.raises(BadPayload) as exc:
            _plain(doc)
        assert exc.value.reason == reason
