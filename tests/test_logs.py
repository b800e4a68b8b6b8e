"""Vercel log drains end to end: signed real payload shapes in both formats, every bad
input, dedup of redelivered batches, the runbook's patterns, and a batch of ERROR lines
that opens one incident, pages per routing and resolves when the logs go quiet."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import itertools
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lib.config import ConfigError, load_config, parse_config
from lib.config_schema import validate
from lib.logs import drain, state
from lib.logs.config import LogRule
from lib.logs.intake import MAX_BATCH
from lib.logs.redact import redact
from lib.store import Store
from tests.support.world import PEOPLE, SECRETS, T0, World, default_config, world

FIX = Path(__file__).parent / "fixtures" / "vercel_drains"
ROOT = Path(__file__).resolve().parents[1]
SECRET = "drain-signature-secret-0123"
ENV = {"LOG_DRAIN_SECRET": SECRET, "LOG_DRAIN_VERIFY": "verify-code-6ebf4087"}
ERRORS = {"name": "ErrorLogs", "match": {"level": ["error", "fatal"]}, "window": "5m",
          "above": {"P2": 10, "P1": 50}, "describe": "error lines"}
_ids = itertools.count(1)


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def line(t: float, level: str = "ERROR", message: str = "boom", **extra: Any) -> dict[str, Any]:
    """A lambda line shaped like Vercel's docs, its message a runbook structured log."""
    n = next(_ids)
    inner = {"timestamp": "2027-01-15T08:00:00Z", "level": level, "message": message,
             "request_id": f"req_{n}", "tenant_id": "t_acme"}
    return {"id": f"{int(t * 1000)}{n:012d}", "deploymentId": "dpl_233NRGRjVZX1caZrXWtz5g1TAksD",
            "source": "lambda", "host": "my-app-abc123.vercel.app", "timestamp": int(t * 1000),
            "projectId": "gdufoJxB6b9b1fEqr1jUtFkyavUU", "projectName": "my-app", "level": "info",
            "type": "stdout", "message": json.dumps(inner), "requestId": f"643af4e3-{n:04d}",
            "statusCode": 500, "path": "/api/orders", "environment": "production", **extra}


def ndjson(lines: list[dict[str, Any]]) -> bytes:
    return "\n".join(json.dumps(x) for x in lines).encode()


def post(w: World, body: bytes, ctype: str = "application/x-ndjson", signature: str | None = "sign",
         **headers: str):
    hs = {"Content-Type": ctype, **headers}
    if signature is not None:
        hs["x-vercel-signature"] = sign(body) if signature == "sign" else signature
    return w.http.post("/api/webhooks/logs", content=body, headers=hs)


def log_keys(w: World) -> list[str]:
    return sorted(k for k in w.store.call("KEYS", w.store.key("logs", "*")))


def config(*rules: dict[str, Any], **extra: Any):
    return default_config(logs=list(rules) or [ERRORS], **extra)


# --- the wire format ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["docs_example.json", "docs_example.ndjson", "structured_errors.ndjson"])
def test_signature_is_hmac_sha1_hex_of_the_raw_body_as_openssl_computes_it(name: str) -> None:
    vectors = json.loads((FIX / "signatures.json").read_text())
    body = (FIX / name).read_bytes()
    headers = {"x-vercel-signature": vectors["vectors"][name]}
    assert drain.verify(headers, body, vectors["secret"])
    assert not drain.verify(headers, body + b" ", vectors["secret"])
    assert not drain.verify(headers, body, vectors["secret"] + "x")
    assert not drain.verify({}, body, vectors["secret"])
    assert not drain.verify(headers, body, None)


def test_both_delivery_formats_of_the_docs_example_read_the_same() -> None:
    a = drain.parse((FIX / "docs_example.json").read_bytes())
    b = drain.parse((FIX / "docs_example.ndjson").read_bytes())
    assert a == b and a.malformed == 0 and len(a.lines) == 2
    build, fn = a.lines
    assert (build.source, build.project_name, build.ts) == ("build", "my-app", 1573817187.33)
    assert (fn.status, fn.request_id, fn.environment, fn.path) == (200, "643af4e3-975a-4cc7-9e7a-1eda11539d90",
                                                                   "production", "/api/users")


def test_a_json_message_is_read_as_the_runbooks_structured_log() -> None:
    first = drain.parse((FIX / "structured_errors.ndjson").read_bytes()).lines[0]
    assert first.level == "error"  # the structured ERROR wins over Vercel's stdout "info"
    assert first.fields["tenant_id"] == "t_acme" and first.fields["error.code"] == "53300"
    assert first.fields["error.type"] == "DatabaseError"


@pytest.mark.parametrize("message", [
    '{"level": "ERROR", "n": ' + "9" * 5000 + "}", '{"level": "ERROR", "x": NaN}', "[" * 5000 + "]" * 5000 + "}",
], ids=["huge-number", "nan", "deep"])
def test_a_hostile_json_message_is_read_as_plain_text(message: str) -> None:
    assert drain.structured(message) == {}


def test_the_shipped_patterns_match_the_lines_they_are_for() -> None:
    cfg = load_config(ROOT / "monitoring.yaml")
    lines = drain.parse((FIX / "structured_errors.ndjson").read_bytes()).lines
    hits = [[r.name for r in cfg.logs if r.counts(x)[0]] for x in lines]
    assert hits == [["ErrorLogs", "DatabaseErrors"], ["ErrorLogs", "ExternalApiFailures"], ["AuthFailures"], []]


@pytest.mark.parametrize(("text", "gone", "kept"), [
    ("Authorization: Bearer abc.def-123456", "abc.def-123456", "Authorization"),
    ("GET /api/me?access_token=s3cr3t&page=2", "s3cr3t", "page=2"),
    ("user jane.doe@example.com signed in", "jane.doe@example.com", "signed in"),
    ('{"password": "hunter2", "user": "u_42"}', "hunter2", "u_42"),
    ("OpenAI key sk-proj-abcdefghijklmnopqrstuvwx rejected", "sk-proj-abcdefghijklmnop", "rejected"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.dozjgNryP4J3jVmNHl0w5N_XgL0", "eyJhbGciOiJIUzI1NiJ9", "jwt"),
    ("slack xoxb-123456789012-abcdefghijkl failed", "xoxb-123456789012", "failed"),
], ids=["bearer", "query", "email", "json-password", "openai-key", "jwt", "slack-token"])
def test_sample_lines_are_redacted(text: str, gone: str, kept: str) -> None:
    out = redact(text)
    assert gone not in out and kept in out


# --- config ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rule", "problem"), [
    ({**ERRORS, "match": {"message": "/([unclosed/"}}, "logs[0].match[0].message: '/([unclosed/' is not a valid"),
    ({**ERRORS, "window": "2h"}, "window must be between 1m and 1h"),
    ({**ERRORS, "of": {}, "above": {"P1": 5}}, "a ratio rule's tier is a fraction"),
    ({**ERRORS, "match": {"status": "6xx"}}, "'6xx' is not an HTTP status"),
    ({**ERRORS, "match": {"levl": "error"}}, "logs[0].match[0].levl: unknown field"),
    ({**ERRORS, "above": {}}, "needs tiers under 'above'"),
], ids=["bad-regex", "window", "ratio-tier", "status", "unknown-key", "no-tiers"])
def test_a_bad_log_rule_is_refused_at_load_with_its_place(rule: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"people": PEOPLE, "logs": [rule]})
    assert any(problem in p or problem.split(": Value error, ")[-1] in p for p in err.value.problems), err.value


def test_log_tiers_out_of_order_are_refused() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"logs": [{**ERRORS, "above": {"P2": 50, "P1": 10}}]})
    assert any("logs[0].above.P1" in p and "more urgent tier" in p for p in err.value.problems), err.value


def test_two_log_rules_with_one_name_are_refused() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"logs": [ERRORS, ERRORS]})
    assert "logs[1].name: 'ErrorLogs' is also logs[0]" in err.value.problems


# --- evaluation (pure) -------------------------------------------------------------------------------


def rule(**kw: Any) -> LogRule:
    return validate(LogRule, {**ERRORS, **kw})


def test_more_than_the_threshold_in_the_window_fires_and_the_most_severe_tier_wins() -> None:
    r, s = rule(), 1000
    assert state.verdict(r, {str(s): 10}, s).severity is None  # "above": more than 10
    assert state.verdict(r, {str(s - 2): 6, str(s): 5}, s).severity == "P2"
    assert state.verdict(r, {str(s - 5): 51}, s).severity == "P1"
    assert state.verdict(r, {str(s - 6): 51}, s).severity is None  # out of the 5m window


def test_for_needs_the_condition_at_every_minute_of_it() -> None:
    r, s = rule(**{"for": "2m"}), 1000
    assert state.verdict(r, {str(s): 20}, s).severity is None  # held only at s
    assert state.verdict(r, {str(s - 2): 20}, s).severity == "P2"  # window s-7..s-2 .. s-5..s all hold


def test_a_ratio_rule_waits_for_min_lines_then_compares_the_fraction() -> None:
    r, s = rule(of={"source": "lambda"}, above={"P1": 0.2}, min_lines=20), 1000
    assert state.verdict(r, {str(s): 5, f"{s}:of": 10}, s).severity is None  # 50 % of too few lines
    v = state.verdict(r, {str(s): 5, f"{s}:of": 20}, s)
    assert (v.severity, v.value) == ("P1", 0.25)


def test_a_resolve_is_due_only_for_a_few_minutes_after_the_rule_held() -> None:
    r, s = rule(), 1000
    assert state.verdict(r, {str(s - 6): 20}, s).recently  # held at s-1 (window s-6..s-1)
    assert not state.verdict(r, {str(s - 6): 20}, s + state.RESOLVE_RUNS + 1).recently
    assert not state.verdict(r, {str(s): 3}, s).recently


# --- the route: every bad input ------------------------------------------------------------------------


def test_the_ownership_check_gets_the_verify_code_on_every_answer(redis_store: Store) -> None:
    with world(redis_store, config(), extra_env=ENV) as w:
        got = w.http.get("/api/webhooks/logs")
        assert got.status_code == 200 and got.headers["x-vercel-verify"] == ENV["LOG_DRAIN_VERIFY"]
        unsigned = post(w, b"", signature=None)
        assert unsigned.status_code == 401 and unsigned.headers["x-vercel-verify"] == ENV["LOG_DRAIN_VERIFY"]


@pytest.mark.parametrize(("signature", "env"), [
    (None, ENV), ("0" * 40, ENV), ("sign", {}),
], ids=["missing", "wrong", "secret-unset"])
def test_a_bad_or_missing_signature_is_401_and_stores_nothing(redis_store: Store, signature: str | None,
                                                             env: dict[str, str]) -> None:
    with world(redis_store, config(), extra_env=env) as w:
        r = post(w, ndjson([line(T0) for _ in range(20)]), signature=signature)
        assert r.status_code == 401 and log_keys(w) == []
        metrics = w.http.get("/api/metrics", headers={"Authorization": f"Bearer {SECRETS['METRICS_TOKEN']}"}).text
        assert 'vigil_webhooks_total{outcome="unauthorized",source="logs"} 1.0' in metrics


@pytest.mark.parametrize(("body", "ctype", "status", "reason"), [
    (b"<html>hi</html>", "text/html", 415, "not JSON or NDJSON"),
    (b"\xff\xfe not utf-8", "application/json", 400, "not UTF-8"),
    (b"{not json}\n[1, 2]\n", "application/x-ndjson", 400, "no line of the batch is a log object"),
    (b'{"id": "1", "message": "no timestamp"}', "application/json", 400, "2 malformed"[2:]),
], ids=["content-type", "not-utf8", "no-good-line", "no-timestamp"])
def test_a_batch_nothing_can_be_read_from_is_refused_with_the_reason(redis_store: Store, body: bytes, ctype: str,
                                                                     status: int, reason: str) -> None:
    with world(redis_store, config(), extra_env=ENV) as w:
        r = post(w, body, ctype=ctype)
        assert r.status_code == status and reason in r.json()["error"], r.text
        assert log_keys(w) == []


def test_one_malformed_line_is_skipped_and_counted_the_rest_counts(redis_store: Store) -> None:
    with world(redis_store, config(), extra_env=ENV) as w:
        good = [line(T0) for _ in range(3)]
        body = ndjson(good[:2]) + b'\n{"id": "x", "timestamp": "yesterday"\n' + ndjson(good[2:])
        r = post(w, body)
        assert r.status_code == 200, r.text
        assert r.json() | {"rules": None} == {"source": "logs", "lines": 4, "malformed": 1, "matched": 3,
                                             "counted": 3, "duplicate": 0, "late": 0, "rules": None}
        metrics = w.http.get("/api/metrics", headers={"Authorization": f"Bearer {SECRETS['METRICS_TOKEN']}"}).text
        assert 'vigil_log_lines_total{outcome="malformed"} 1.0' in metrics


@pytest.mark.parametrize(("bad", "why"), [
    (b"[" * 100_000 + b"]" * 100_000, "nested 100,000 deep"),
    (b'{"id": "1", "timestamp": ' + b"9" * 5000 + b"}", "a 5000-digit number"),
    (b'{"id": "1", "timestamp": NaN}', "NaN"),
    (b'{"id": "' + b"x" * 500 + b'", "timestamp": 1800000000000}', "an id of 500 characters"),
    (b'["not", "an object"]', "a list"),
], ids=["deep", "huge-number", "nan", "long-id", "list"])
def test_a_hostile_line_is_one_malformed_line_never_a_500(redis_store: Store, bad: bytes, why: str) -> None:
    with world(redis_store, config(), extra_env=ENV) as w:
        alone = post(w, bad)
        assert alone.status_code == 400 and "malformed" in alone.json()["error"], (why, alone.text[:200])
        r = post(w, ndjson([line(T0)]) + b"\n" + bad + b"\n" + ndjson([line(T0)]))
        assert r.status_code == 200 and (r.json()["malformed"], r.json()["counted"]) == (1, 2), (why, r.text[:200])


@pytest.mark.parametrize("body", [b"", b"[]", b"  \n"], ids=["empty", "empty-array", "blank"])
def test_an_empty_batch_is_202_and_costs_no_round_trip(redis_store: Store, body: bytes) -> None:
    with world(redis_store, config(), extra_env=ENV) as w:
        before = w.store.round_trips
        r = post(w, body, ctype="application/json")
        assert r.status_code == 202 and r.json() == {"ignored": "empty batch"}
        assert w.store.round_trips == before


def test_a_redelivered_batch_counts_once(redis_store: Store) -> None:
    with world(redis_store, config(), extra_env=ENV) as w:
        body = json.dumps([line(T0) for _ in range(12)]).encode()
        first, again = post(w, body, ctype="application/json"), post(w, body, ctype="application/json")
        assert (first.json()["counted"], first.json()["duplicate"]) == (12, 0)
        assert (again.json()["counted"], again.json()["duplicate"]) == (0, 12)
        assert w.store.call("HGET", w.store.key("logs", "c", "ErrorLogs"), str(int(T0 // 60))) == "12"


def test_a_batch_over_4_5_mb_is_413_and_counted_in_metrics(redis_store: Store) -> None:
    with world(redis_store, config(), extra_env=ENV) as w:
        big = b"[" + b" " * MAX_BATCH + b"]"
        r = post(w, big, ctype="application/json")
        assert r.status_code == 413 and log_keys(w) == []
        bomb = gzip.compress(b"[" + b" " * (20 * 1024 * 1024) + b"]")
        r2 = post(w, bomb, ctype="application/json", **{"Content-Encoding": "gzip"})
        assert r2.status_code == 413 and "decompressed" in r2.json()["error"]
        metrics = w.http.get("/api/metrics", headers={"Authorization": f"Bearer {SECRETS['METRICS_TOKEN']}"}).text
        assert 'vigil_webhooks_total{outcome="oversized",source="logs"} 2.0' in metrics


def test_a_gzip_batch_is_read_and_the_signature_covers_the_compressed_bytes(redis_store: Store) -> None:
    with world(redis_store, config(), extra_env=ENV) as w:
        body = gzip.compress(ndjson([line(T0) for _ in range(4)]))
        r = post(w, body, **{"Content-Encoding": "gzip"})
        assert r.status_code == 200 and r.json()["counted"] == 4, r.text


def test_a_batch_with_no_matching_line_costs_no_round_trip(redis_store: Store) -> None:
    with world(redis_store, config(), extra_env=ENV) as w:
        before = w.store.round_trips
        r = post(w, (FIX / "docs_example.json").read_bytes(), ctype="application/json")
        assert r.status_code == 200 and r.json()["matched"] == 0
        assert w.store.round_trips == before and log_keys(w) == []


def test_a_line_from_the_future_redelivered_a_minute_later_counts_once(redis_store: Store) -> None:
    with world(redis_store, config(), extra_env=ENV) as w:
        body = ndjson([line(T0 + 600)])  # the sender's clock ten minutes ahead
        assert post(w, body).json()["counted"] == 1
        w.advance(60)
        assert post(w, body).json()["duplicate"] == 1


def test_a_line_older_than_every_window_counts_nowhere(redis_store: Store) -> None:
    with world(redis_store, config(), extra_env=ENV) as w:
        r = post(w, ndjson([line(T0 - 3600), line(T0)]))
        assert (r.json()["late"], r.json()["counted"]) == (1, 1)


# --- end to end ------------------------------------------------------------------------------------------


def rules_cron(w: World) -> dict[str, Any]:
    r = w.cron("rules")
    assert r.status_code == 200, r.text
    return r.json()


def test_error_lines_over_the_threshold_open_one_incident_page_per_routing_and_quiet_resolves(
        store: Store) -> None:
    cfg = config(sources={"vercel": {"team": "acme"}})
    with world(store, cfg, extra_env=ENV) as w:
        leak = "db down for jane.doe@example.com token=s3cr3tvalue"
        batch = [line(T0 + 1 + i, message=leak) for i in range(57)]
        assert post(w, json.dumps(batch).encode(), ctype="application/json").json()["counted"] == 57
        w.advance(60)
        run = rules_cron(w)
        assert [d["reason"] for d in run["decisions"]] == ["OPENED"]
        assert run["logs"] == ["log:ErrorLogs firing P1"]
        slack = w.slack.posts
        assert len(slack) == 1 and slack[0]["text"].startswith("<!here>")  # P1: @here + e-mail
        text = json.dumps(slack[0])
        assert "57 error lines in 5m (P1 above 50)" in text
        assert "https://vercel.com/acme/my-app/logs" in text
        assert "643af4e3-" in text and "jane.doe@example.com" not in text and "s3cr3tvalue" not in text
        assert len(w.emails_to("oncall@example.com")) == len(w.emails_to("eng-lead@example.com")) == 1
        assert len(w.smtp.messages) == 2 and not w.twilio.requests  # P1: no SMS
        for _ in range(4):  # still in the window: deduped, nothing new sent
            w.advance(60)
            assert [d["reason"] for d in rules_cron(w)["decisions"]] == ["DEDUPED"]
        assert len(w.slack.posts) == 1
        w.advance(60)  # the 57 lines leave the 5m window
        assert [d["reason"] for d in rules_cron(w)["decisions"]] == ["RESOLVED"]
        for _ in range(state.RESOLVE_RUNS + 2):
            w.advance(60)
            rules_cron(w)
        assert not w.store.call("EXISTS", w.store.key("logs", "active"))  # quiet: the cron stops asking
        assert rules_cron(w)["logs"] is None


def test_the_minute_cron_vercel_schedules_evaluates_the_log_rules_too(redis_store: Store) -> None:
    with world(redis_store, config(), extra_env=ENV) as w:
        post(w, ndjson([line(T0 + 1) for _ in range(11)]))
        w.advance(60)
        r = w.cron("minute")
        assert r.status_code == 200 and r.json()["logs"] == ["log:ErrorLogs firing P2"], r.text
        assert [d["reason"] for d in r.json()["decisions"]] == ["OPENED"] and len(w.slack.posts) == 1
        again = rules_cron(w)  # the rules cron in the same minute: its claim is taken, nothing evaluated twice
        assert again["logs"] is None and again["decisions"] == [] and len(w.slack.posts) == 1


def test_cron_runs_missed_past_the_resolve_runs_still_resolve_the_incident(redis_store: Store) -> None:
    with world(redis_store, config(), extra_env=ENV) as w:
        post(w, ndjson([line(T0 + 1) for _ in range(11)]))
        w.advance(60)
        assert [d["reason"] for d in rules_cron(w)["decisions"]] == ["OPENED"]
        w.advance(3600)  # Vercel's crons stopped for an hour: no run saw the rule stop holding
        run = rules_cron(w)
        assert run["logs"] == ["log:ErrorLogs resolved P2"]
        assert "RESOLVED" in [d["reason"] for d in run["decisions"]]


def test_a_log_rule_taken_out_of_the_config_while_firing_resolves_its_incident(redis_store: Store) -> None:
    other = {**ERRORS, "name": "Other"}
    with world(redis_store, config(ERRORS, other), extra_env=ENV) as w:
        post(w, ndjson([line(T0 + 1) for _ in range(20)]))
        w.advance(60)
        assert [d["reason"] for d in rules_cron(w)["decisions"]] == ["OPENED", "OPENED"]
        w.rt.config = config(ERRORS)
        w.advance(60)
        run = rules_cron(w)
        assert run["logs"] == ["log:Other resolved P3", "log:ErrorLogs firing P2"]
        assert [d["reason"] for d in run["decisions"]] == ["RESOLVED", "DEDUPED"]
        w.rt.config = replace(config(ERRORS), logs=[])
        w.advance(60)
        assert [d["reason"] for d in rules_cron(w)["decisions"]] == ["RESOLVED"]
        left = {k.removeprefix(w.store.key("logs", "")).split(":")[0] for k in log_keys(w)}
        assert left <= {"ids", "slot", "active"}, left  # counts and samples of both rules are gone


def test_a_batch_while_the_store_is_down_is_503_and_its_retry_counts_once(redis_store: Store) -> None:
    import socket

    from lib.store.redis_backend import RedisStore

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    body = ndjson([line(T0) for _ in range(12)])
    with world(RedisStore.from_url(f"redis://127.0.0.1:{port}/0", timeout=0.5), config(), extra_env=ENV) as down:
        assert post(down, body).status_code == 503  # Vercel retries
    with world(redis_store, config(), extra_env=ENV) as w:
        assert post(w, body).json()["counted"] == 12
        assert post(w, body).json()["duplicate"] == 12


def test_a_quiet_minute_costs_the_rules_cron_no_extra_round_trip(redis_store: Store) -> None:
    with world(redis_store, default_config()) as plain:
        plain.cron("rules")
        before = plain.store.round_trips
        plain.advance(60)
        plain.cron("rules")
        without_logs = plain.store.round_trips - before
    with world(redis_store, config(), extra_env=ENV) as w:
        w.advance(3600)
        w.cron("rules")
        before = w.store.round_trips
        w.advance(60)
        assert rules_cron(w)["logs"] is None
        assert w.store.round_trips - before == without_logs
