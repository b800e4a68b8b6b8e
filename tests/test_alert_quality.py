"""The alert-quality replay, short: a few hours of one seeded history with one ground-truth
incident of each kind on top of noise, through the real crons, store and clock
(tests/support/alert_quality.py; `make bench ARGS="--only alert_quality"` runs days)."""

from __future__ import annotations

from lib.store import Store
from tests.support import alert_quality as aq

MIX = {kind: 1 for kind in aq.KINDS}


def test_every_injected_incident_pages_once_in_time_and_noise_never_pages(redis_store: Store) -> None:
    scenario = aq.build(seed=23, hours=5.5, mix=MIX, quiet=(30, 40))
    assert sorted(t.kind for t in scenario.truths) == sorted(aq.KINDS)
    assert all(n >= 1 for n in aq.noise(scenario).values()), aq.noise(scenario)  # every kind of noise, too
    with aq.replay(redis_store, scenario) as pages:
        scores = aq.score(scenario, pages)
    assert aq.meets_targets(scores) == [], "\n" + aq.table(scores) + f"\n{pages}"
