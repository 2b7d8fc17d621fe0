"""Engines for SQLite (WAL) and PostgreSQL, and the one SQL helper both dialects need."""

from __future__ import annotations

import logging
import os
import time
from contextlib import suppress

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 5000


def make_engine(url: str) -> Engine:
    """An engine for ``url``: SQLite gets WAL, a busy timeout and foreign keys, and a
    database file only its owner can read."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        path = parsed.database
        if path and path != ":memory:" and not parsed.query.get("uri"):
            # Before the driver opens it, so that SQLite never creates it world-readable.
            sa.event.listen(engine, "do_connect", lambda *_: create_private_file(path))
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        # A short connect timeout keeps /healthz and page fallbacks quick when the
        # server is away. LIFO: the connection used last is used next, so a busy process
        # keeps a few warm ones and lets the rest go idle.
        engine = sa.create_engine(parsed, connect_args={"connect_timeout": 3}, pool_use_lifo=True)
        _ping_when_idle(engine)
        return engine
    raise ValueError(f"DATABASE_URL: unsupported database {parsed.get_backend_name()!r}")


PING_AFTER_IDLE_SECONDS = 2.0


def _ping_when_idle(engine: Engine) -> None:
    """Replace a pooled connection a server restart has severed, before a request uses it.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: a round trip more for each of
    the two or three transactions of an API request. A connection handed back moments
    ago is alive as surely as a ping could tell, so only one idle for a while is pinged
    (a dead one is then replaced by the pool, invisibly to the caller).
    """

    @sa.event.listens_for(engine, "checkin")
    def checkin(_dbapi_conn, record) -> None:
        record.info["checked_in"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def checkout(dbapi_conn, record, _proxy) -> None:
        checked_in = record.info.get("checked_in")
        if checked_in is None or time.monotonic() - checked_in < PING_AFTER_IDLE_SECONDS:
            return  # new, or in use a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception:
            alive = False
        if not alive:
            raise sa.exc.DisconnectionError("the database closed this connection")


def create_private_file(path: str | os.PathLike) -> None:
    """Create an empty file with mode 0600 unless it exists (an empty file is an empty
    SQLite database). SQLite gives the -wal and -shm files it adds the same mode."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        _warn_if_readable_by_others(os.fspath(path))
    except OSError:
        pass  # SQLite will say in its own words why it cannot be created


_warned_readable: set[str] = set()


def _warn_if_readable_by_others(path: str) -> None:
    """Say so (once) when a database made elsewhere, or before 0600, is open to others."""
    with suppress(OSError):
        mode = os.stat(path).st_mode & 0o777
        if mode & 0o077 and path not in _warned_readable:
            _warned_readable.add(path)
            log.warning(
                "%s: the database can be read by other users (mode %o); chmod 600 it", path, mode
            )


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def insert(conn: Connection, table: sa.Table):
    """An INSERT that can say ON CONFLICT on either engine."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def upsert(conn: Connection, table: sa.Table, rows: list[dict], keys: tuple[str, ...]) -> None:
    """Insert ``rows``, replacing the other columns of rows whose ``keys`` exist already."""
    stmt = insert(conn, table)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=list(keys),
            set_={c: stmt.excluded[c] for c in rows[0] if c not in keys},
        ),
        rows,
    )
