"""Fixtures: app, client, runner, and db — each over SQLite and PostgreSQL.

PostgreSQL is the one at 127.0.0.1:5432 (user postgres, trust auth, database test), or
$TEST_DATABASE_URL. Each test gets its own schema, dropped afterwards. Where the server
is unreachable the PostgreSQL half skips with the reason, and fails under CI=true.
"""

from __future__ import annotations

import os
import secrets
import textwrap
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from status import migrate
from status.runtime import runtime
from status.store import Store, make_engine

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parent.parent
SECRET = secrets.token_urlsafe(48)

MINIMAL_CONFIG = textwrap.dedent(
    """\
    site:
      title: Test Cloud Status
      url: https://status.test.example
      timezone: Europe/Berlin
    groups:
      - {id: telephony, name: Telephony}
    components:
      - id: sip-gateway
        name: SIP Gateway
        group: telephony
        description: Inbound and outbound calls
      - id: website
        name: Website
    """
)


def system_component_missing(what: str, reason: str):
    """Skip with a visible reason; under CI every component must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required under CI=true: {reason}")
    pytest.skip(f"{what} not available: {reason}")


_pg_problem: list[str | None] = []


def _postgres_problem() -> str | None:
    if not _pg_problem:
        try:
            engine = make_engine(PG_URL)
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            engine.dispose()
            _pg_problem.append(None)
        except Exception as exc:
            _pg_problem.append(f"{PG_URL}: {str(exc).splitlines()[0]}")
    return _pg_problem[0]


@pytest.fixture
def postgres_url():
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    problem = _postgres_problem()
    if problem:
        system_component_missing("PostgreSQL", problem)
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'leitstand.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def db(database_url):
    """A migrated Store on a fresh database (both engines)."""
    store = Store(make_engine(database_url))
    migrate.upgrade(store.engine)
    yield store
    store.dispose()


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "status.yaml"
    path.write_text(MINIMAL_CONFIG)
    return path


@pytest.fixture
def app(database_url, config_file, tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": SECRET,
            "DATABASE_URL": database_url,
            "STATUS_CONFIG": str(config_file),
        }
    )
    app.instance_path = str(tmp_path / "instance")
    migrate.upgrade(runtime(app).store.engine)
    yield app
    runtime(app).store.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
