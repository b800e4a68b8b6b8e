"""The durable record: an outbox in Redis drained into Supabase Postgres, hourly check
rollups, and the MTTA / MTTR report.

Open first: sink.py (append, drain, status). report.py computes the report, rollups.py
folds check history into hourly rows. Never imported on a webhook's path (supabase is heavy).
May import: the core, lib.store, lib.checks.history.
"""
