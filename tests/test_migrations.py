from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from status import migrate
from status.schema import metadata
from status.store import Store, make_engine


def test_it_migrates_an_empty_database_to_the_schema_the_code_expects(database_url):
    store = Store(make_engine(database_url))
    assert store.schema_revision() is None

    migrate.upgrade(store.engine)

    assert store.schema_revision() == migrate.head_revision()
    with store.engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    assert set(metadata.tables) <= tables
    assert diff == [], "migrations and status/schema.py disagree: add a migration"
    store.dispose()


def test_it_upgrades_twice_without_harm_and_downgrades_to_empty(database_url):
    store = Store(make_engine(database_url))
    migrate.upgrade(store.engine)
    migrate.upgrade(store.engine)

    cfg = migrate.alembic_config(store.engine)
    from alembic import command

    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    with store.engine.connect() as conn:
        assert set(sa.inspect(conn).get_table_names()) <= {"alembic_version"}
    store.dispose()
