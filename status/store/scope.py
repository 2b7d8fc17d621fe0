"""Where a repository's SQL runs: a transaction of its own, or the caller's.

Every repository (one module per domain) asks its scope for a connection. On the
:class:`~status.store.Store` the scope is the engine: each call is a transaction of its
own. In a unit of work (``with store.begin() as uow:``) it is one connection in one
transaction, shared by every repository of that unit: a change, its audit entry and
its event row commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from status import schema as t
from status.store.engine import insert


def bump_data_version(conn: Connection) -> None:
    """Bump the counter the public snapshot follows, in the caller's transaction, so
    readers see a change and its bump together."""
    bump = (
        sa.update(t.meta)
        .where(t.meta.c.key == "data_version")
        .values(value=sa.cast(sa.cast(t.meta.c.value, sa.Integer) + 1, sa.Text))
    )
    if not conn.execute(bump).rowcount:  # the first change ever (maybe two at once)
        conn.execute(
            insert(conn, t.meta).values(key="data_version", value="0").on_conflict_do_nothing()
        )
        conn.execute(bump)


class EngineScope:
    """Each read and write in a connection and transaction of its own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def public_changed(self, conn: Connection) -> None:
        """What the public pages show changed in ``conn``'s transaction."""
        bump_data_version(conn)


class TransactionScope:
    """Every read and write in one connection, in the transaction its owner commits."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.bumped = False

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        yield self.conn

    write = read

    def public_changed(self, conn: Connection) -> None:
        if not self.bumped:  # once per transaction is enough
            bump_data_version(conn)
            self.bumped = True


Scope = EngineScope | TransactionScope


class Repository:
    """A domain's queries; runs them in its scope (see the module docstring)."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
