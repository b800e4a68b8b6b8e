"""Log monitoring: Vercel log drains in, the runbook's log patterns out as incidents.

A drain batch is verified, parsed line by line (a bad line is skipped and counted),
matched against the `logs:` rules and counted per rule and minute bucket in one Redis
round trip (none when nothing matched). The rules cron evaluates the windows and hands
firing or resolved Signals to the incident engine like every other source.

Open first: intake.py (one batch: verify, parse, match, count). drain.py reads the
wire format, config.py is the rule model and its matching, redact.py cleans sample
lines, state.py counts and evaluates in Redis (lua/), signal.py writes the page.
May import: the core and lib.store.
"""
