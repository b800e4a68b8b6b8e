"""Pytest fixtures for the archive and report tests: a real PostgreSQL with the
migrations applied (one database per session) and a loopback PostgREST on it.

Import them into a test module: `from tests.support.archive_fixtures import *  # noqa: F403`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lib.env import Env
from tests.support.fake_postgrest import FakePostgrest
from tests.support.postgres import Postgres

__all__ = ["archive_env", "pg", "postgres_db", "postgrest", "postgrest_server"]


@pytest.fixture(scope="session")
def postgres_db() -> Iterator[Postgres]:
    db = Postgres()
    yield db
    db.stop()


@pytest.fixture
def pg(postgres_db: Postgres) -> Postgres:
    """The session database, emptied for this test."""
    postgres_db.truncate()
    return postgres_db


@pytest.fixture(scope="session")
def postgrest_server(postgres_db: Postgres) -> Iterator[FakePostgrest]:
    with FakePostgrest(postgres_db.dsn) as fake:
        yield fake


@pytest.fixture
def postgrest(postgrest_server: FakePostgrest, pg: Postgres) -> FakePostgrest:
    postgrest_server.reset()
    return postgrest_server


@pytest.fixture
def archive_env(postgrest: FakePostgrest) -> Env:
    return Env(supabase_url=postgrest.url, supabase_key=postgrest.service_key)
