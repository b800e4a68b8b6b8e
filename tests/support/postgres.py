"""A real PostgreSQL for the archive tests, with Vigil's migrations applied.

The machine's server on 127.0.0.1:5432 (database `test`, trust auth) when it
answers: a fresh database `vigil_test_<random>` per session, dropped after.
Otherwise a throwaway cluster (`initdb` + `pg_ctl` from /usr/lib/postgresql/*/bin)
on a temporary directory and a free port. Either way the schema is exactly
supabase/migrations/*.sql applied in filename order: tests never declare tables.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "supabase" / "migrations"


def migrations() -> list[Path]:
    return sorted(MIGRATIONS.glob("*.sql"))


def apply_migrations(dsn: str) -> None:
    """Every migration in filename order, each in its own transaction."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for path in migrations():
            with conn.transaction():
                conn.execute(path.read_text())  # type: ignore[arg-type]  # a whole file: many statements


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


class Postgres:
    """A database with the migrations applied; `dsn` connects as a superuser."""

    def __init__(self) -> None:
        self._cluster: str | None = None
        self.admin = os.environ.get("VIGIL_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=test")
        if os.environ.get("VIGIL_TEST_PG", "") == "embedded" or not _answers(self.admin):
            self.admin = self._start_cluster()
        self.name = f"vigil_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')  # type: ignore[arg-type]
        self.dsn = psycopg.conninfo.make_conninfo(self.admin, dbname=self.name)
        apply_migrations(self.dsn)

    def _start_cluster(self) -> str:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        if not bins:
            raise RuntimeError("no PostgreSQL: neither 127.0.0.1:5432 nor /usr/lib/postgresql/*/bin")
        bindir = bins[-1]
        self._cluster = tempfile.mkdtemp(prefix="vigil-pg-")
        data, port = os.path.join(self._cluster, "data"), _free_port()
        run = {"check": True, "capture_output": True}
        subprocess.run([f"{bindir}/initdb", "-D", data, "-U", "postgres", "-A", "trust"], **run)  # type: ignore[call-overload]
        opts = f"-p {port} -k {self._cluster} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [f"{bindir}/pg_ctl", "-D", data, "-o", opts, "-l", f"{self._cluster}/log", "-w", "start"], **run  # type: ignore[call-overload]
        )
        self._bindir = bindir
        return f"host=127.0.0.1 port={port} user=postgres dbname=postgres"

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.dsn, autocommit=True)

    def truncate(self) -> None:
        """Empty every Vigil table (between tests sharing the session database)."""
        with self.connect() as conn:
            conn.execute(
                "TRUNCATE vigil_incidents, vigil_incident_events, vigil_check_rollups, vigil_rejected_events"
            )

    def stop(self) -> None:
        try:
            with psycopg.connect(self.admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')  # type: ignore[arg-type]
        finally:
            if self._cluster:
                data = os.path.join(self._cluster, "data")
                subprocess.run([f"{self._bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
                shutil.rmtree(self._cluster, ignore_errors=True)
