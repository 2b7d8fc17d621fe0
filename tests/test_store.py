from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from status import migrate, ops
from status.models import ComponentStatus
from status.ops import StatusChange
from status.store import Store, make_engine


def test_it_records_each_status_change_once_with_the_new_state(db):
    t0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert ops.set_component_status(
        db, "sip", "major_outage", reason="3 failures", source="probe", at=t0
    )
    assert not ops.set_component_status(db, "sip", "major_outage", reason="again", source="probe")
    assert ops.set_component_status(
        db,
        "sip",
        ComponentStatus.OPERATIONAL,
        reason="recovered",
        source="probe",
        at=t0 + timedelta(minutes=5),
    )

    state = db.components.states()["sip"]
    assert state.status == "operational"
    assert state.since == t0 + timedelta(minutes=5)
    changes = [(c.old_status, c.new_status, c.reason) for c in db.components.changes("sip")]
    assert changes == [
        (None, "major_outage", "3 failures"),
        ("major_outage", "operational", "recovered"),
    ]
    assert db.meta.data_version() == 2


def test_it_sets_many_statuses_in_one_change_of_the_data_version(db):
    t0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    ops.set_component_status(db, "web", "operational", reason="up", source="probe", at=t0)
    changed = ops.set_component_statuses(
        db,
        [
            StatusChange("web", "operational", "still up"),
            StatusChange("sip", "major_outage", "refused", auto_incident="SIP"),
            StatusChange("dns", "unknown", "no data"),
        ],
        source="probe",
        at=t0 + timedelta(minutes=1),
    )
    assert changed == ["sip", "dns"]
    states = db.components.states(["sip", "dns"])
    assert {cid: s.status for cid, s in states.items()} == {"sip": "major_outage", "dns": "unknown"}
    assert [(c.old_status, c.new_status) for c in db.components.changes("web")] == [
        (None, "operational")
    ]
    assert [i.name for i in db.incidents.all()] and db.meta.data_version() == 2


def test_it_returns_aware_utc_datetimes_whatever_zone_went_in(db):
    berlin = timezone(timedelta(hours=1))
    at = datetime(2026, 11, 24, 13, 30, tzinfo=berlin)
    ops.set_component_status(db, "web", "operational", reason="manual", source="console", at=at)

    since = db.components.states()["web"].since
    assert since == at
    assert since.tzinfo is not None and since.utcoffset() == timedelta(0)


def test_it_refuses_naive_datetimes(db):
    with pytest.raises(Exception, match="naive datetime"):
        ops.set_component_status(
            db, "web", "operational", reason="x", source="console", at=datetime(2026, 1, 1)
        )


@pytest.fixture
def world_readable_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_it_creates_the_sqlite_database_and_its_wal_files_private(tmp_path, world_readable_umask):
    path = tmp_path / "leitstand.db"
    engine = make_engine(f"sqlite:///{path}")
    assert not path.exists()  # nothing on disk before the first connection
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:  # held open, so the -wal and -shm files stay
            conn.execute(sa.text("SELECT 1"))
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.glob("leitstand.db*")}
    finally:
        engine.dispose()
    assert modes == {"leitstand.db": 0o600, "leitstand.db-wal": 0o600, "leitstand.db-shm": 0o600}


def test_it_leaves_the_mode_of_an_existing_sqlite_database_alone_but_says_so(tmp_path, caplog):
    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    os.chmod(path, 0o640)
    engine = make_engine(f"sqlite:///{path}")
    try:
        migrate.upgrade(engine)
        with engine.connect(), engine.connect():  # a second connection: no second warning
            pass
    finally:
        engine.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    warnings = [r.getMessage() for r in caplog.records if "read by other users" in r.getMessage()]
    assert warnings == [f"{path}: the database can be read by other users (mode 640); chmod 600 it"]


def test_two_workers_writing_a_first_status_at_once_both_succeed(db, database_url):
    """The other worker's row appears between our look and our insert."""
    other = Store(make_engine(database_url))
    t0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    def meanwhile(conn, cursor, statement, *args):
        if "FROM component_state" in statement and not meanwhile.done:
            meanwhile.done = True
            ops.set_component_status(
                other, "sip", "major_outage", reason="theirs", source="probe", at=t0
            )

    meanwhile.done = False
    sa.event.listen(db.engine, "after_cursor_execute", meanwhile)
    try:
        changed = ops.set_component_statuses(
            db, [StatusChange("sip", "operational", "ours")], source="probe", at=t0
        )
    finally:
        sa.event.remove(db.engine, "after_cursor_execute", meanwhile)
        other.dispose()
    assert meanwhile.done and changed == ["sip"]
    assert db.components.states()["sip"].status == "operational"
    assert [(c.old_status, c.new_status) for c in db.components.changes("sip")] == [
        (None, "major_outage"),
        ("major_outage", "operational"),
    ]


@pytest.mark.parametrize("idle", [True, False])
def test_a_connection_the_server_closed_is_replaced_before_anyone_uses_it(
    postgres_url, monkeypatch, idle
):
    """After a PostgreSQL restart the pool's old connections are dead. One idle for a
    while is pinged and replaced unseen; one in use a moment ago is trusted (no ping per
    checkout), and the pool is renewed after the one error it then causes."""
    from status.store import engine as engine_module

    engine = make_engine(postgres_url)
    with engine.connect() as conn:
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    admin = sa.create_engine(postgres_url.split("?")[0])
    with admin.begin() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.0 if idle else 3600.0)

    if not idle:
        with pytest.raises(sa.exc.OperationalError), engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar() != pid
    engine.dispose()
