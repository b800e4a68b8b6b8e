"""Synthetic health checks: probe each URL every minute, decide up / down by minute slot,
keep uptime and latency history, render the status page.

Open first: state.py (how a run becomes a transition; lua/checks_record.lua holds the rule).
probe.py does the HTTP, history.py the buckets, status_page.py + status_html.py the page.
May import: the core, lib.store, lib.incidents (to hand transitions on), lib.webhooks' helpers.
"""
