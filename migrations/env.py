"""Alembic environment: run by status.migrate with a connection in config.attributes."""

from __future__ import annotations

from alembic import context

from status.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the `alembic` command line reaches here
    raise SystemExit("run migrations with `flask --app app db upgrade`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
