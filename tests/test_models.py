"""The shared nouns (lib/models.py) and the environment (lib/env.py) without pydantic: the
constraints it enforced, the JSON the Lua scripts read, and secrets that never show."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from pydantic import SecretStr

from lib.env import Env
from lib.fields import Invalid
from lib.models import AlertGroup, GroupMember, Incident, Send, Severity, Signal
from lib.secret import Secret
from lib.webhooks import BadPayload, make_signal

MEMBER = {"id": "fp1", "starts": 1700000000, "status": "resolved", "ends": 1700000060.5, "severity": "P1", "name": "x"}


@pytest.mark.parametrize(("fields", "message"), [
    pytest.param({"key": ""}, "key: must not be empty", id="key-empty"),
    pytest.param({"key": "k" * 401}, "key: must be at most 400 characters", id="key-long"),
    pytest.param({"key": 7}, "key: must be a string, got int", id="key-not-text"),
    pytest.param({"title": "t" * 501}, "title: must be at most 500 characters", id="title"),
    pytest.param({"summary": "s" * 4001}, "summary: must be at most 4000 characters", id="summary"),
    pytest.param({"delivery_id": "d" * 201}, "delivery_id: must be at most 200 characters", id="delivery"),
    pytest.param({"burst": 0}, "burst: must be at least 1", id="burst-zero"),
    pytest.param({"burst": 2.5}, "burst: must be a whole number, got float", id="burst-fraction"),
    pytest.param({"status": "pending"}, "status: must be one of firing, resolved", id="status"),
    pytest.param({"severity": "p1"}, "severity: must be one of P0, P1, P2, P3", id="severity"),
    pytest.param({"labels": {"a": 1}}, "labels: values must be strings, got int", id="label-value"),
    pytest.param({"links": []}, "links: must be an object, got list", id="links-list"),
    pytest.param({"occurred_at": "soon"}, "occurred_at: must be a number, got str", id="when"),
    pytest.param({"release": "yes"}, "release: must be true or false, got str", id="release"),
    pytest.param({"group": {"members": [{"id": "", "starts": 1}]}}, "group.members[0].id: must not be empty",
                 id="member-id"),
    pytest.param({"group": {"members": [{"id": "a" * 65, "starts": 1}]}},
                 "group.members[0].id: must be at most 64 characters", id="member-id-long"),
    pytest.param({"group": {"members": [{"id": "a", "starts": 1, "name": "n" * 201}]}},
                 "group.members[0].name: must be at most 200 characters", id="member-name"),
    pytest.param({"group": {"members": [{"id": "a"}]}}, "group.members[0].starts: required", id="member-starts"),
    pytest.param({"group": {"members": [{"id": "a", "starts": 1, "x": 1}]}}, "group.members[0].x: unknown field",
                 id="member-extra"),
    pytest.param({"group": {"members": [], "origin": "o" * 65}}, "group.origin: must be at most 64 characters",
                 id="origin"),
])
def test_a_signal_refuses_what_pydantic_refused_naming_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as exc:
        Signal(**{"key": "k", **fields})
    assert str(exc.value) == message


def test_a_signal_coerces_what_pydantic_coerced() -> None:
    s = Signal(key="k", severity="P1", occurred_at=5, burst=3.0, group={"members": [MEMBER]})  # type: ignore[arg-type]
    assert s.severity is Severity.P1 and s.occurred_at == 5.0 and isinstance(s.occurred_at, float)
    assert s.burst == 3 and isinstance(s.burst, int)
    assert s.group == AlertGroup(members=[GroupMember(id="fp1", starts=1700000000.0, status="resolved",
                                                      ends=1700000060.5, severity=Severity.P1, name="x")])


def test_a_signal_holds_its_own_copy_of_the_labels() -> None:
    labels = {"job": "api"}
    s = Signal(key="k", labels=labels)
    labels["job"] = "changed"
    assert s.labels == {"job": "api"}


def test_as_dict_is_the_json_the_lua_scripts_read() -> None:
    s = Signal(key="am:g:1", severity=Severity.P0, labels={"job": "api"}, delivery_id="d1",
               group=AlertGroup(members=[GroupMember(**MEMBER)], ended=1700000060.5, origin="abc"))
    assert json.dumps(s.as_dict(), sort_keys=True) == json.dumps({
        "key": "am:g:1", "severity": "P0", "status": "firing", "title": "", "summary": "", "source": "alerts",
        "labels": {"job": "api"}, "links": {}, "occurred_at": None, "burst": None, "burst_window": 60.0,
        "delivery_id": "d1", "evidence_at": None, "release": False,
        "group": {"members": [{"id": "fp1", "starts": 1700000000.0, "ends": 1700000060.5, "status": "resolved",
                               "severity": "P1", "name": "x"}], "ended": 1700000060.5, "origin": "abc"},
    }, sort_keys=True)
    assert Signal.from_dict(json.loads(json.dumps(s.as_dict()))) == s


def test_signal_from_dict_refuses_a_key_that_is_not_a_field() -> None:
    with pytest.raises(Invalid, match=r"^sends: unknown field$"):
        Signal.from_dict({"key": "k", "sends": []})


def test_incident_and_send_from_redis_drop_keys_that_are_not_fields() -> None:
    inc = Incident.from_dict({"id": "1042", "key": "k", "severity": "P2", "opened_at": 1, "last_seen": 2,
                              "steps_done": [0, 1.0], "escalation": [{"after": 0}], "lua_only": {"x": 1}})
    assert (inc.severity, inc.opened_at, inc.steps_done, inc.ref) == (Severity.P2, 1.0, [0, 1], "#1042")
    assert "lua_only" not in inc.as_dict() and inc.as_dict()["severity"] == "P2"
    send = Send.from_dict({"id": "s1", "incident": "1042", "channel": "sms", "lease": 120})
    assert send == Send(id="s1", incident="1042", channel="sms")
    with pytest.raises(Invalid, match=r"^last_seen: required$"):
        Incident.from_dict({"id": "1", "key": "k", "severity": "P2", "opened_at": 1})
    with pytest.raises(Invalid, match=r"^channel: must be one of"):
        Send.from_dict({"id": "s1", "incident": "1", "channel": "pager"})


def test_replace_checks_the_new_value() -> None:
    s = Signal(key="k")
    assert dataclasses.replace(s, status="resolved").status == "resolved"
    with pytest.raises(Invalid, match=r"^status: "):
        dataclasses.replace(s, status="closed")


@pytest.mark.parametrize(("fields", "reason"), [
    ({"key": ""}, "key: must not be empty"),
    ({"key": "sk_live_" + "9" * 400}, "key: must be at most 400 characters"),
    ({"key": "k", "burst": 0}, "burst: must be at least 1"),
])
def test_make_signal_reports_the_field_and_never_the_strangers_value(fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(BadPayload) as exc:
        make_signal(source="alerts", **fields)
    assert exc.value.reason == reason
    assert "sk_live_" not in exc.value.reason


def test_a_secret_never_shows_its_value() -> None:
    s = Secret("xoxb-very-secret")
    assert repr(s) == str(s) == f"{s}" == "Secret('**********')"
    assert s.get_secret_value() == "xoxb-very-secret"
    assert s == Secret("xoxb-very-secret") and s != Secret("other") and s != "xoxb-very-secret"
    assert hash(s) == hash(Secret("xoxb-very-secret")) and bool(Secret(""))


def test_env_takes_a_secret_as_str_or_pydantic_secretstr_and_never_shows_it() -> None:
    env = Env(supabase_key="sb_secret_abc123", slack_bot_token=SecretStr("xoxb-123456"))  # type: ignore[arg-type]
    assert isinstance(env.supabase_key, Secret) and isinstance(env.slack_bot_token, Secret)
    assert env.supabase_key.get_secret_value() == "sb_secret_abc123"
    assert env == Env(supabase_key=Secret("sb_secret_abc123"), slack_bot_token=Secret("xoxb-123456"))
    assert "sb_secret_abc123" not in repr(env) and "xoxb-123456" not in f"{env}"
    with pytest.raises(dataclasses.FrozenInstanceError):
        env.cron_secret = None  # type: ignore[misc]


def test_env_from_environ_reads_secrets_as_secrets() -> None:
    env = Env.from_environ({"REDIS_URL": "redis://:pw-123456@cache.internal:6380", "CRON_SECRET": " c" * 10,
                            "SLACK_BOT_TOKEN": "  "})
    assert env.cron_secret == Secret(("c " * 10).strip()) and env.slack_bot_token is None
    assert (env.store_backend, env.describe_store()) == ("redis", "redis (cache.internal:6380)")
    assert "pw-123456" not in repr(env)
