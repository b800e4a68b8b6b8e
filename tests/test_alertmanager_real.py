"""Vigil's alerts route against a real Alertmanager (0.25, Debian's `prometheus-alertmanager`):
alerts added and resolved with `amtool`, delivered by a webhook_config with send_resolved and
the bearer token in http_config.authorization to a Vigil on a loopback port. Waits are for
Alertmanager's deliveries (each wakes the test), not for time; group_wait/interval are 1s."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from lib import clock
from lib.incidents import engine
from lib.store import Store
from tests.support.alertmanager import Alertmanager, VigilServer
from tests.support.world import SECRETS, World, world


@dataclass
class Setup:
    w: World
    vigil: VigilServer
    am: Alertmanager
    now: float

    def at(self, offset: float) -> str:
        return clock.iso(self.now + offset)

    def decisions(self) -> list[str]:
        return [d["reason"] for x in self.vigil.deliveries if x["status"] == 200 for d in x["answer"]["decisions"]]

    def sms(self) -> list[str]:
        return [m["To"] for m in self.w.twilio.messages]


@contextmanager
def setup(store: Store, **am: Any) -> Iterator[Setup]:
    with world(store) as w:
        clock.unfreeze()
        now = clock.now()  # Alertmanager keeps real time: Vigil's clock stands at the same moment
        clock.freeze(now)
        with VigilServer() as vigil, Alertmanager(f"{vigil.url}/api/webhooks/alerts", SECRETS["ALERTS_TOKEN"], **am) as a:
            yield Setup(w, vigil, a, now)


def firing(d: dict[str, Any]) -> set[str]:
    return {a["labels"].get("instance", "") for a in d["body"]["alerts"] if a["status"] == "firing"}


def test_one_incident_per_group_as_alerts_join_and_leave(redis_store: Store) -> None:
    with setup(redis_store) as s:
        s.am.add("HighErrorRate", s.at(-120), instance="a", severity="critical")
        s.am.add("HighErrorRate", s.at(-120), instance="b", severity="critical")
        s.vigil.wait(lambda ds: any(firing(d) == {"a", "b"} for d in ds))
        s.am.add("HighErrorRate", s.at(-60), instance="c", severity="critical")
        s.vigil.wait(lambda ds: any(firing(d) == {"a", "b", "c"} for d in ds))
        [inc] = engine.open_incidents(redis_store)
        assert inc.severity == "P0" and inc.summary.startswith("3 firing:")
        assert s.sms() == ["+15550000001"] and len(s.w.slack.posts) == 1  # one page for the group
        assert s.w.slack.posts[0]["text"].startswith("<!channel> [P0] HighErrorRate")
        s.am.add("HighErrorRate", s.at(-120), s.at(0), instance="b", severity="critical")  # one leaves
        s.vigil.wait(lambda ds: any(firing(d) == {"a", "c"} for d in ds))
        assert len(engine.open_incidents(redis_store)) == 1
        for i in ("a", "c"):
            s.am.add("HighErrorRate", s.at(-120 if i == "a" else -60), s.at(0), instance=i, severity="critical")
        s.vigil.wait(lambda ds: ds[-1]["body"]["status"] == "resolved" and ds[-1]["status"] == 200)
        assert engine.open_incidents(redis_store) == []
        assert s.decisions().count("OPENED") == 1 and s.decisions()[-1] == "RESOLVED"
        assert s.sms() == ["+15550000001"]


def test_warning_then_critical_upgrade_one_incident(redis_store: Store) -> None:
    with setup(redis_store) as s:
        s.am.add("HighLatency", s.at(-300), instance="a", severity="warning")
        s.vigil.wait(lambda ds: "OPENED" in s.decisions())
        s.am.add("HighLatency", s.at(-60), instance="a", severity="critical")
        s.vigil.wait(lambda ds: "UPGRADED" in s.decisions())
        [inc] = engine.open_incidents(redis_store)
        assert inc.severity == "P0" and s.decisions().count("OPENED") == 1


def test_a_notification_refused_while_vigil_restarts_is_retried_and_delivered_once(redis_store: Store) -> None:
    with setup(redis_store) as s:
        s.vigil.fail_next(2)
        s.am.add("DiskFull", s.at(-60), instance="db1", severity="page")
        s.vigil.wait(lambda ds: any(d["status"] == 200 for d in ds))
        assert [d["status"] for d in s.vigil.deliveries][:3] == [503, 503, 200]
        assert s.decisions()[:1] == ["OPENED"] and s.sms() == ["+15550000001"]


def test_re_sends_after_repeat_interval_dedup(redis_store: Store) -> None:
    with setup(redis_store, repeat_interval="2s") as s:
        s.am.add("DiskFull", s.at(-60), instance="db1", severity="critical")
        s.vigil.wait(lambda ds: len([d for d in ds if d["status"] == 200]) >= 3)
        assert s.decisions()[0] == "OPENED" and set(s.decisions()[1:]) == {"DEDUPED"}
        assert s.sms() == ["+15550000001"]


def test_a_silenced_alert_does_not_hold_its_group_open(redis_store: Store) -> None:
    with setup(redis_store) as s:
        s.am.add("QueueBacklog", s.at(-120), instance="a", severity="critical")
        s.am.add("QueueBacklog", s.at(-120), instance="b", severity="critical")
        s.vigil.wait(lambda ds: any(firing(d) == {"a", "b"} for d in ds))
        s.am.amtool("silence", "add", "alertname=QueueBacklog", "instance=a", "--comment=known", "--author=test",
                    "--duration=1h")
        s.am.add("QueueBacklog", s.at(-120), s.at(0), instance="b", severity="critical")
        s.vigil.wait(lambda ds: ds[-1]["body"]["status"] == "resolved" and ds[-1]["status"] == 200)
        assert engine.open_incidents(redis_store) == [] and s.decisions()[-1] == "RESOLVED"
