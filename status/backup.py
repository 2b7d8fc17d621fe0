"""Consistent online backups and checked restores (SQLite; PostgreSQL has pg_dump)."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

from status import migrate
from status.store import Store, create_private_file

log = logging.getLogger(__name__)

PG_BACKUP_HELP = (
    "the database is PostgreSQL: back it up with its own tools, consistent while the "
    "app runs: pg_dump --format=custom --file=leitstand.dump postgresql://USER@HOST/DB "
    "(DATABASE_URL without '+psycopg'); restore with pg_restore --clean --if-exists "
    "--dbname=postgresql://USER@HOST/DB leitstand.dump"
)


class BackupError(Exception):
    pass


def require_sqlite(store: Store) -> None:
    """Online backup and restore are SQLite's; PostgreSQL has pg_dump."""
    if store.dialect != "sqlite":
        raise BackupError(PG_BACKUP_HELP)


def backup(store: Store, dest: str | os.PathLike) -> Path:
    """Write a consistent snapshot of the live database to ``dest`` (atomically)."""
    require_sqlite(store)
    dest = Path(dest)
    tmp = dest.with_name(dest.name + ".partial")
    tmp.unlink(missing_ok=True)
    create_private_file(tmp)  # it holds subscribers' addresses
    raw = store.engine.raw_connection()
    try:
        target = sqlite3.connect(tmp)
        try:
            # The online backup API copies a single consistent state even while
            # other connections write; it restarts itself if one does mid-copy.
            raw.driver_connection.backup(target)
            # A self-contained file: no -wal/-shm companions needed to read it.
            target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
    finally:
        raw.close()
    os.replace(tmp, dest)
    log.info("backup written to %s", dest)
    return dest


def verify(path: str | os.PathLike) -> str:
    """Check a backup file; returns its schema revision or raises BackupError."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchall()
            if result != [("ok",)]:
                problems = "; ".join(row[0] for row in result[:5])
                raise BackupError(f"{path}: integrity check failed: {problems}")
            rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a Leitstand backup: {exc}") from exc
    if len(rows) != 1:
        raise BackupError(f"{path}: not a Leitstand backup: no schema revision")
    revision = rows[0][0]
    if revision not in migrate.known_revisions():
        raise BackupError(
            f"{path}: schema revision {revision} is newer than this Leitstand knows "
            f"(head {migrate.head_revision()}); restore it with the version that wrote it"
        )
    return revision


def restore(store: Store, src: str | os.PathLike) -> str:
    """Replace the live database's content with a verified backup, then migrate it."""
    require_sqlite(store)
    revision = verify(src)
    source = sqlite3.connect(f"file:{Path(src)}?mode=ro", uri=True)
    raw = store.engine.raw_connection()
    try:
        # Page by page into the live file under SQLite's own locking: readers see the
        # old database or the new one, never a mix.
        source.backup(raw.driver_connection)
    finally:
        raw.close()
        source.close()
    store.engine.dispose()
    migrate.upgrade(store.engine)
    log.info("restored %s (schema %s)", src, revision)
    return revision
