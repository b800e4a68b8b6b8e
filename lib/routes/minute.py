"""`GET /api/cron/minute`: Vercel cron, every minute: the checks, the metric rules and
the escalation sweep in two Redis commands, whatever the configuration.

Upstash bills every command (500K a month free): three crons a minute cost 5.8
commands a quiet minute (250K a month), this one 2. The same scripts run as in the
separate crons (`/api/cron/checks`, `/rules`, `/escalations`, which still answer),
composed into one command each time with `Store.run_all`:

1. One command: the checks' minute claim (checks_claim) and the rules' (rules_begin,
   which also reads their state and samples).
2. Probe every check and scrape every rule's page, concurrently.
3. One command: record the checks (checks_record), commit the rules (rules_commit)
   and claim what is due (sweep: escalation steps, retries, reminders).
4. Only when something happened: decide the signals (consuming the transitions the
   checks and rules left pending) and deliver after the response (lib.incidents.dispatch).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lib import clock
from lib.checks import state as checks
from lib.checks.history import slot_of
from lib.checks.probe import run_checks, run_deadline
from lib.incidents import dispatch, engine
from lib.logs import intake as logs
from lib.routes.checks import _decision, _result, heartbeat, refusal, serve
from lib.rules import state as rules
from lib.runtime import Runtime

logger = logging.getLogger("vigil.minute")


def _claim(rt: Runtime, now: float) -> tuple[checks.Claim, dict[str, Any]]:
    """Command 1: both claims, and what the rules evaluate against."""
    store, config = rt.store, rt.config
    claim, got = store.run_all([
        (checks.CLAIM, checks.claim_args(store, now)),
        # logs=True even with no log rules: one removed from the config still has its incident resolved.
        (rules.BEGIN, rules.begin_args(store, config.rules, now, True)),
    ])
    return checks.claimed(claim), rules.begun(got)


def _observe(rt: Runtime, claim: checks.Claim, got: dict[str, Any], environ: Mapping[str, str]) -> tuple[list, dict]:
    """Probe the checks (in a thread) while scraping the rules' pages (here)."""
    config = rt.config
    with ThreadPoolExecutor(1) as pool:
        probing = pool.submit(contextvars.copy_context().run, run_checks, config.checks, environ,
                              run_deadline(config.checks), claim.suspects) if claim.claimed else None
        pages = rules.scrape(config.rules, environ) if got.get("claimed") else {}
        return (probing.result() if probing else []), pages


def run(rt: Runtime, now: float, environ: Mapping[str, str]) -> dict[str, Any]:
    """One minute at `now`; the JSON summary {checks, rules, escalations, decisions}."""
    store, config = rt.store, rt.config
    claim, got = _claim(rt, now)
    if not claim.claimed:
        logger.warning("checks: not evaluated: %s", refusal(now, claim.last_run))
    if not got.get("claimed"):
        logger.warning("rules: not evaluated: minute %s (or a later one) was already evaluated",
                       clock.iso(slot_of(now) * 60))
    results, pages = _observe(rt, claim, got, environ)
    calls = [(checks.RECORD, checks.record_args(store, config, results, now))] if claim.claimed else []
    ruled = rules.Run(claimed=False)
    if got.get("claimed"):
        ruled, payload = rules.evaluate(config.rules, got, pages, now)
        calls.append((rules.COMMIT, rules.commit_args(store, rules.slot_of(now), payload)))
    answers = store.run_all([*calls, (engine.SWEEP, engine.sweep_args(store, config, now))])  # command 2
    recorded = checks.recorded(answers[0]) if claim.claimed else None
    if got.get("claimed"):
        rules.conclude(ruled, got, rules.committed(answers[-2]))
    team = config.sources.vercel.team
    sigs = (checks.signals(config, recorded, now, rt.env.public_base_url) if recorded else []) + ruled.signals
    log_signals = logs.signals(store, config.logs, now, team) if ruled.logs_active else []
    sigs += log_signals
    # The transitions these signals came from are consumed by the script that decides them.
    settle = [recorded.pending] if recorded else []
    settle.append(engine.Pending(rules.PENDING, tuple(ruled.pending)))
    decisions = dispatch.handle(rt, sigs, now, settle=settle) if sigs or any(p.ids for p in settle) else []
    escalations = dispatch.escalate(rt, engine.swept(answers[-1]), now)
    if claim.claimed:
        heartbeat(rt.env)
    return {
        "job": "minute", "now": clock.iso(now),
        "checks": {"slot": clock.iso(slot_of(now) * 60), "skipped": not claim.claimed,
                   "evaluated": recorded.evaluated if recorded else 0, "results": [_result(r) for r in results]},
        "rules": ruled.summary(),
        "logs": [f"{s.key} {s.status} {s.severity}" for s in log_signals] if ruled.logs_active else None,
        "escalations": escalations,
        "decisions": [_decision(d) for d in decisions],
    }


handle = serve(run)
