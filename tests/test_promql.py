"""PromQL semantics as pure functions, against values computed by hand."""

from __future__ import annotations

import math

import pytest

from lib.config_schema import validate
from lib.models import Severity
from lib.rules.promql import (
    AlertState,
    Matcher,
    divide,
    histogram_quantile,
    increase,
    parse_selector,
    rate,
    step_alert,
    sum_increase,
    tiers_holding,
)

P0, P1 = Severity.P0, Severity.P1


def minutes(*values: float, start: float = 60.0) -> list[tuple[float, float]]:
    return [(start + 60 * i, v) for i, v in enumerate(values)]


# --- increase -------------------------------------------------------------------------------------
# Window (0, 300] holds samples at 60..300: 240 s sampled, extrapolated 60 s to the start
# (within 1.1 intervals of it) and 0 s to the end: factor 300 / 240.


def test_increase_extrapolates_to_the_window_like_prometheus() -> None:
    assert increase(minutes(100, 110, 120, 130, 140), 0, 300) == pytest.approx(40 * 300 / 240)  # 50: 10 a minute


def test_a_counter_reset_adds_the_post_reset_value_like_prometheus() -> None:
    # 100 -> 110 (+10) -> restart, 5 (+5) -> 15 (+10) -> 25 (+10) = 35, then x 300/240
    assert increase(minutes(100, 110, 5, 15, 25), 0, 300) == pytest.approx(35 * 300 / 240)


def test_extrapolation_stops_where_the_counter_would_be_zero() -> None:
    # The first sample is 0: the series cannot have started before it.
    assert increase(minutes(0, 10, 20, 30, 40), 0, 300) == pytest.approx(40)


def test_a_series_starting_mid_window_extrapolates_half_an_interval() -> None:
    # Samples at 240 and 300 only: 240 s from the start > 1.1 x 60 s, so add 30 s: 10 x 90 / 60.
    assert increase(minutes(50, 60, start=240), 0, 300) == pytest.approx(15)


def test_the_window_is_open_on_the_left() -> None:
    # A sample exactly at the start is outside (t - window, t], as in Prometheus 3.
    assert increase([(0, 0.0), (300, 10.0)], 0, 300) is None
    assert increase(minutes(100), 0, 300) is None


def test_rate_is_increase_per_second() -> None:
    assert rate(minutes(100, 110, 120, 130, 140), 0, 300) == pytest.approx(50 / 300)


# --- histogram_quantile ---------------------------------------------------------------------------

BUCKETS = {0.1: 10.0, 0.5: 60.0, 1.0: 90.0, math.inf: 100.0}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.5, 0.1 + 0.4 * (40 / 50)),  # rank 50: 40 into the (0.1, 0.5] bucket of 50 -> 0.42
        (0.05, 0.1 * (5 / 10)),  # rank 5 in the first bucket, which starts at 0
        (0.9, 1.0),  # rank 90: the top of the (0.5, 1] bucket
        (0.95, 1.0),  # rank 95 is in +Inf: the highest finite upper bound
    ],
    ids=["inside-a-bucket", "first-bucket", "bucket-edge", "in-inf"],
)
def test_histogram_quantile_interpolates_like_prometheus(q: float, expected: float) -> None:
    assert histogram_quantile(q, BUCKETS) == pytest.approx(expected)


def test_everything_in_the_inf_bucket_answers_the_highest_finite_bound() -> None:
    assert histogram_quantile(0.95, {0.5: 0.0, 2.5: 0.0, math.inf: 40.0}) == 2.5


@pytest.mark.parametrize(
    "buckets",
    [{0.5: 1.0, 1.0: 2.0}, {math.inf: 5.0}, {0.5: 0.0, math.inf: 0.0}],
    ids=["no-inf-bucket", "one-bucket", "no-observations"],
)
def test_histogram_quantile_without_an_answer_is_none(buckets: dict[float, float]) -> None:
    assert histogram_quantile(0.95, buckets) is None


def test_non_monotonic_buckets_are_fixed_up_like_prometheus() -> None:
    # Extrapolated increases can dip: 0.5's 9 is raised to 0.1's 10, so rank 15 lies 5 into
    # the (0.5, 1] bucket of 10 -> 0.75 (unfixed it would be 6 of 11 -> 0.7727).
    assert histogram_quantile(0.75, {0.1: 10.0, 0.5: 9.0, 1.0: 20.0, math.inf: 20.0}) == pytest.approx(0.75)


# --- tiers and for ---------------------------------------------------------------------------------

TIERS = {P1: 0.005, P0: 0.01}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.02, [P0, P1]), (0.007, [P1]), (0.005, []), (0.001, []), (None, []), (math.nan, [])],
)
def test_tiers_hold_strictly_above_their_threshold(value: float | None, expected: list[Severity]) -> None:
    assert tiers_holding(value, TIERS, above=True) == expected


def test_below_tiers_hold_under_their_threshold() -> None:
    assert tiers_holding(0.93, {P1: 0.95}, above=False) == [P1]
    assert tiers_holding(0.97, {P1: 0.95}, above=False) == []


def run_minutes(values: list[float | None], hold: float = 300,
                no_data_limit: float = math.inf) -> list[tuple[int, str, str] | None]:
    """None in `values` is an evaluation without a value (no data)."""
    state, out = AlertState(), []
    for minute, v in enumerate(values):
        holding = None if v is None else tiers_holding(v, TIERS, True)
        state, tr = step_alert(state, holding, minute * 60, hold, no_data_limit)
        out.append((minute, tr.status, tr.severity.value) if tr else None)
    return out


def test_two_percent_from_minute_1_is_pending_at_minute_4_and_one_p0_at_minute_6() -> None:
    events = [e for e in run_minutes([0.0] + [0.02] * 9) if e]
    assert events == [(6, "firing", "P0")]


def test_p1_rising_to_p0_upgrades_once_and_falling_back_says_nothing() -> None:
    values = [0.007] * 6 + [0.02] * 7 + [0.007] * 3 + [0.001]
    assert [e for e in run_minutes(values) if e] == [(5, "firing", "P1"), (11, "firing", "P0"), (16, "resolved", "P0")]


def test_a_dip_below_the_threshold_restarts_the_pending_clock() -> None:
    values = [0.02] * 4 + [0.001] + [0.02] * 6
    assert [e for e in run_minutes(values) if e] == [(10, "firing", "P0")]


def test_for_zero_fires_on_the_first_evaluation_that_holds() -> None:
    assert run_minutes([0.02, 0.0], hold=0) == [(0, "firing", "P0"), (1, "resolved", "P0")]


def test_no_data_while_firing_neither_resolves_nor_re_announces() -> None:
    values = [0.02] * 6 + [None] * 10 + [0.02] * 3 + [0.001]
    assert [e for e in run_minutes(values) if e] == [(5, "firing", "P0"), (19, "resolved", "P0")]


def test_no_data_drops_a_pending_tier_as_prometheus_deletes_a_pending_alert() -> None:
    values = [0.02] * 3 + [None] + [0.02] * 6
    assert [e for e in run_minutes(values) if e] == [(9, "firing", "P0")]  # pending again from minute 4


def test_no_data_for_the_limit_resolves_so_the_incident_can_end() -> None:
    values = [0.02] + [None] * 8
    assert [e for e in run_minutes(values, hold=0, no_data_limit=300) if e] == [
        (0, "firing", "P0"), (6, "resolved", "P0")]  # no data from minute 1, 5 minutes later


def test_sum_increase_is_per_series_then_summed() -> None:
    steady = minutes(0, 10, 20, 30, 40)
    flapping = [(60.0, 50.0), (180.0, 50.0), (300.0, 50.0)]  # in and out, never rising
    assert sum_increase([steady, flapping], 0, 300) == pytest.approx(increase(steady, 0, 300))
    assert sum_increase([[(300.0, 5.0)]], 0, 300) is None  # one sample: absent, nothing left


def test_division_as_promql() -> None:
    assert divide(3.0, 0.0) == math.inf
    assert math.isnan(divide(0.0, 0.0) or 0.0)
    assert divide(None, 2.0) is None and divide(1.0, None) is None and divide(1.0, 4.0) == 0.25


def test_alert_state_round_trips_through_json() -> None:
    state, _ = step_alert(AlertState(), [P0, P1], 60, 300)
    assert AlertState.from_json(state.to_json()) == state
    assert AlertState.from_json("garbage") == AlertState()


# --- selectors ------------------------------------------------------------------------------------


def test_selectors_parse_promql_label_matchers() -> None:
    s = parse_selector('llm_requests_total{provider="openai", code=~"5..",path!="/health",x!~"a|b"}')
    assert s.name == "llm_requests_total"
    assert s.matches({"provider": "openai", "code": "503", "path": "/api", "x": "c"})
    assert not s.matches({"provider": "openai", "code": "5030", "path": "/api"})  # regexes are anchored
    assert not s.matches({"provider": "anthropic", "code": "503"})
    assert Matcher("provider", "=", "openai") in s.matchers


@pytest.mark.parametrize(
    ("text", "why"),
    [("a{b=c}", 'expected label="value"'), ("9lives", "not a metric name"), ('a{b="c"} x', "unexpected"),
     ('a{b=~"("}', "bad regex"), ('a{b="c" d="e"}', "expected ','")],
)
def test_bad_selectors_say_why(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_selector(text)


def test_series_per_selector_are_bounded_and_a_repeated_label_set_keeps_its_first_sample() -> None:
    from lib.rules import scrape

    sel = parse_selector("x_total")
    page = [("x_total", {"pod": str(i)}, float(i)) for i in range(scrape.MAX_SERIES + 50)]
    page.insert(1, ("x_total", {"pod": "0"}, 99.0))
    got = scrape.series_of(page, sel)
    assert len(got) == scrape.MAX_SERIES and got[scrape.series_key({"pod": "0"})] == 0.0


def test_a_gauge_ratio_over_a_zero_max_is_inf_and_zero_over_zero_no_value() -> None:
    from lib.rules import scrape, values
    from lib.rules.config import Rule

    rule = validate(Rule, {"name": "Pool", "scrape": "https://x.example/metrics",
                                "gauge_ratio": {"value": "pool_active", "max": "pool_max"}, "above": {"P1": 0.9}})
    page = [("pool_active", {}, 3.0), ("pool_max", {}, 0.0)]
    assert values.instant_value(rule, scrape.observe(rule, page)) == math.inf
    idle = [("pool_active", {}, 0.0), ("pool_max", {}, 0.0)]
    assert math.isnan(values.instant_value(rule, scrape.observe(rule, idle)) or 0.0)
