from __future__ import annotations

import os
import sqlite3
import stat
import threading

import pytest
import sqlalchemy as sa

from status import backup, migrate, ops
from status import schema as t
from status.store import Store, make_engine


@pytest.fixture
def sqlite_db(tmp_path):
    store = Store(make_engine(f"sqlite:///{tmp_path / 'live.db'}"))
    migrate.upgrade(store.engine)
    yield store
    store.dispose()


def dump(store: Store) -> dict[str, list[tuple]]:
    """Every row of every table, for comparing databases."""
    with store.engine.connect() as conn:
        return {
            name: sorted(tuple(row) for row in conn.execute(sa.select(table)))
            for name, table in t.metadata.tables.items()
        }


def test_it_takes_a_consistent_backup_while_writes_happen(sqlite_db, tmp_path):
    stop = threading.Event()
    written = []

    def writer():
        i = 0
        while not stop.is_set():
            status = "major_outage" if i % 2 else "operational"
            ops.set_component_status(sqlite_db, "sip", status, reason=f"change {i}", source="probe")
            written.append(i)
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:
            pass
        dest = backup.backup(sqlite_db, tmp_path / "snap.db")
        during = len(written)
    finally:
        stop.set()
        thread.join()

    assert backup.verify(dest) == migrate.head_revision()
    snap = sqlite3.connect(dest)
    changes = snap.execute("SELECT count(*) FROM component_changes").fetchone()[0]
    version = int(snap.execute("SELECT value FROM meta WHERE key='data_version'").fetchone()[0])
    snap.close()
    # Each change and its version bump are one transaction: a torn copy would differ.
    assert changes == version
    assert 20 <= changes <= during + 1
    assert not (tmp_path / "snap.db.partial").exists()


def test_it_writes_the_backup_readable_by_its_owner_only(sqlite_db, tmp_path):
    old = os.umask(0o022)
    try:
        dest = backup.backup(sqlite_db, tmp_path / "snap.db")
    finally:
        os.umask(old)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600


def test_it_restores_a_backup_round_trip_equal(sqlite_db, tmp_path):
    ops.set_component_status(sqlite_db, "sip", "major_outage", reason="down", source="probe")
    ops.set_component_status(sqlite_db, "web", "operational", reason="up", source="console")
    before = dump(sqlite_db)
    dest = backup.backup(sqlite_db, tmp_path / "snap.db")

    ops.set_component_status(sqlite_db, "sip", "operational", reason="recovered", source="probe")
    ops.set_component_status(sqlite_db, "new", "partial_outage", reason="later", source="probe")
    assert dump(sqlite_db) != before

    assert backup.restore(sqlite_db, dest) == migrate.head_revision()
    assert dump(sqlite_db) == before
    assert sqlite_db.components.states()["sip"].status == "major_outage"


def test_it_refuses_a_backup_from_a_newer_schema_and_changes_nothing(sqlite_db, tmp_path):
    dest = backup.backup(sqlite_db, tmp_path / "future.db")
    with sqlite3.connect(dest) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    ops.set_component_status(sqlite_db, "sip", "operational", reason="live", source="probe")
    before = dump(sqlite_db)

    with pytest.raises(backup.BackupError, match="9999_from_the_future is newer"):
        backup.restore(sqlite_db, dest)
    assert dump(sqlite_db) == before


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not a Leitstand backup: no such table: alembic_version"),
        (b"this is not a database at all" * 200, "not a Leitstand backup"),
    ],
)
def test_it_refuses_files_that_are_not_backups(sqlite_db, tmp_path, content, message):
    bogus = tmp_path / "bogus.db"
    bogus.write_bytes(content)
    with pytest.raises(backup.BackupError, match=message):
        backup.restore(sqlite_db, bogus)


def test_it_refuses_a_corrupted_backup(sqlite_db, tmp_path):
    ops.set_component_status(sqlite_db, "sip", "operational", reason="x", source="probe")
    dest = backup.backup(sqlite_db, tmp_path / "snap.db")
    data = bytearray(dest.read_bytes())
    # Scribble over the pages after the header: tables and indexes no longer agree.
    for offset in range(4096 * 2, len(data), 4096):
        data[offset + 100 : offset + 400] = b"\xff" * 300
    dest.write_bytes(bytes(data))

    with pytest.raises(backup.BackupError):
        backup.verify(dest)
