"""The audit log: append-only, tamper-evident, verifiable after a purge."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from alembic import command

from status import migrate, ops
from status import schema as t
from status.clock import utcnow
from status.store import Store, make_engine

ALICE = ops.Actor("user", "alice@example.org", ip="192.0.2.10")


def open_some(db, n: int = 3) -> list[int]:
    return [
        ops.open_incident(
            db, ALICE, name=f"Incident {i}", status="investigating", impact="minor", body="x"
        )
        for i in range(n)
    ]


def test_an_untouched_chain_verifies(db):
    open_some(db)
    assert len(db.audit.entries()) == 3
    assert db.audit.verify() is None


def test_it_names_the_first_entry_that_was_altered(db):
    open_some(db)
    second = db.audit.entries()[1]
    with db.engine.begin() as conn:
        conn.execute(
            sa.update(t.audit_log).where(t.audit_log.c.id == second.id).values(actor="user:mallory")
        )
    problem = db.audit.verify()
    assert problem.entry_id == second.id and "altered" in problem.reason


def test_it_notices_a_removed_entry_and_removed_newest_entries(db):
    open_some(db, 4)
    entries = db.audit.entries()
    with db.engine.begin() as conn:
        conn.execute(sa.delete(t.audit_log).where(t.audit_log.c.id == entries[1].id))
    assert db.audit.verify().entry_id == entries[2].id

    with db.engine.begin() as conn:
        conn.execute(sa.delete(t.audit_log).where(t.audit_log.c.id >= entries[1].id))
    problem = db.audit.verify()
    assert problem.entry_id is None and "newest" in problem.reason


def test_a_purge_keeps_the_chain_verifiable_and_is_itself_audited(db):
    open_some(db, 3)
    later = utcnow() + timedelta(seconds=1)
    deleted = ops.purge_audit_log(db, ops.Actor.system("retention"), before=later)
    assert deleted == 3
    [entry] = db.audit.entries()
    assert entry.action == "audit.purge" and entry.details["deleted"] == 3
    assert db.audit.verify() is None
    open_some(db, 1)
    assert db.audit.verify() is None


def test_the_migration_chains_entries_written_before_it(database_url):
    store = Store(make_engine(database_url))
    cfg = migrate.alembic_config(store.engine)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        before_0003 = sa.table(
            "audit_log",
            *(sa.column(c) for c in ("actor", "action", "target_type", "target_id")),
            sa.column("at", t.UTCDateTime),
            sa.column("details", sa.JSON),
        )
        for n in range(3):
            conn.execute(
                sa.insert(before_0003).values(
                    at=utcnow() - timedelta(minutes=3 - n),
                    actor="system:test",
                    action="x.y",
                    target_type="x",
                    target_id=str(n),
                    details={"n": n},
                )
            )
    migrate.upgrade(store.engine)
    assert store.audit.verify() is None
    ops.open_incident(store, ALICE, name="After", status="investigating", impact="none", body="")
    assert store.audit.verify() is None and len(store.audit.entries()) == 4
    store.dispose()
