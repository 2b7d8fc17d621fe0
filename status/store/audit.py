"""The audit log: who changed what, when and from where, written with the change.

Append-only and tamper-evident: each entry's ``hash`` is SHA-256 over the previous
entry's hash and the entry's own content (:func:`entry_hash`). The newest hash is also
kept in ``meta`` (``audit_head``), which every append updates first: that row lock
puts concurrent appends in a line (PostgreSQL), and it tells when the newest entries
were removed. A retention purge keeps the chain verifiable by recording the hash the
first remaining entry follows (``audit_anchor``), in ``meta`` and in its own entry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from status import schema as t
from status.store.engine import insert
from status.store.scope import Repository

HEAD, ANCHOR = "audit_head", "audit_anchor"
CONTENT = ("at", "actor", "action", "target_type", "target_id", "details", "ip")


def entry_hash(prev_hash: str, entry) -> str:
    """The hash of an entry (a row or a mapping with the CONTENT fields).

    Never change this: every stored chain was computed with it.
    """
    get = entry.get if isinstance(entry, dict) else lambda k: getattr(entry, k)
    content = {k: get(k) for k in CONTENT}
    content["at"] = content["at"].astimezone(UTC).isoformat(timespec="microseconds")
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + text).encode()).hexdigest()


@dataclass(frozen=True)
class Problem:
    """Where the chain breaks: the first entry that was altered, or what is missing."""

    entry_id: int | None
    reason: str


class AuditRepository(Repository):
    def record(
        self,
        *,
        actor: str,
        action: str,
        target_type: str,
        target_id: str | None = None,
        details: dict | None = None,
        ip: str | None = None,
        at: datetime,
    ) -> int:
        """Append one entry; in a unit of work it commits (or not) with its change."""
        entry = dict(
            at=at,
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            details=details or {},
            ip=ip,
        )
        with self.scope.write() as conn:
            prev = _take_head(conn)
            digest = entry_hash(prev, entry)
            entry_id = conn.execute(
                sa.insert(t.audit_log).values(**entry, prev_hash=prev, hash=digest)
            ).inserted_primary_key[0]
            _set_meta(conn, HEAD, digest)
        return entry_id

    def record_many(self, entries: list[dict]) -> None:
        """Append entries (mappings of the CONTENT fields) in their order: the chain's
        head is taken and moved once for all of them (an Alertmanager delivery of a
        thousand alerts is a thousand entries)."""
        if not entries:
            return
        with self.scope.write() as conn:
            prev = _take_head(conn)
            rows = []
            for entry in entries:
                entry = {**entry, "details": entry.get("details") or {}}
                digest = entry_hash(prev, entry)
                rows.append({**entry, "prev_hash": prev, "hash": digest})
                prev = digest
            for i in range(0, len(rows), 500):  # in order: ids follow the chain
                conn.execute(sa.insert(t.audit_log), rows[i : i + 500])
            _set_meta(conn, HEAD, prev)

    def entries(
        self,
        *,
        actor: str | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_id: int | None = None,
        limit: int | None = None,
    ) -> list[sa.Row]:
        """Entries oldest first, filtered by actor, object, time; ``after_id`` pages on."""
        a = t.audit_log.c
        query = sa.select(t.audit_log).order_by(a.id)
        for column, value in ((a.actor, actor), (a.target_type, target_type)):
            if value is not None:
                query = query.where(column == value)
        if target_id is not None:
            query = query.where(a.target_id == str(target_id))
        if since is not None:
            query = query.where(a.at >= since)
        if until is not None:
            query = query.where(a.at < until)
        if after_id is not None:
            query = query.where(a.id > after_id)
        if limit is not None:
            query = query.limit(limit)
        with self.scope.read() as conn:
            return conn.execute(query).all()

    def verify(self) -> Problem | None:
        """None if the chain is whole; else the first entry altered or what is missing."""
        with self.scope.read() as conn:
            meta = dict(conn.execute(sa.select(t.meta.c.key, t.meta.c.value)).all())
            prev = meta.get(ANCHOR, "")
            rows = conn.execute(sa.select(t.audit_log).order_by(t.audit_log.c.id)).yield_per(1000)
            for row in rows:
                if row.prev_hash != prev:
                    return Problem(row.id, "the entry before it was removed or altered")
                if row.hash != entry_hash(prev, row):
                    return Problem(row.id, "its content was altered")
                prev = row.hash
        if meta.get(HEAD, "") != prev:
            return Problem(None, "the newest entries were removed")
        return None

    def purge(self, before: datetime) -> tuple[int, str]:
        """Delete entries older than ``before``; returns (how many, the new anchor).

        The caller records the purge as an entry of its own, with the anchor.
        """
        a = t.audit_log.c
        with self.scope.write() as conn:
            _take_head(conn)
            first_kept = conn.execute(
                sa.select(a.prev_hash).where(a.at >= before).order_by(a.id).limit(1)
            ).scalar()
            if first_kept is None:  # nothing stays: the next entry follows the head
                first_kept = _get_meta(conn, HEAD)
            deleted = conn.execute(sa.delete(t.audit_log).where(a.at < before)).rowcount
            _set_meta(conn, ANCHOR, first_kept)
        return deleted, first_kept


def _take_head(conn: Connection) -> str:
    """The newest hash, with its row locked for this transaction (a write comes first,
    so SQLite takes its write lock here rather than failing to upgrade a read later)."""
    # One round trip: the no-op UPDATE takes the row lock and RETURNING reads it.
    take = (
        sa.update(t.meta)
        .where(t.meta.c.key == HEAD)
        .values(value=t.meta.c.value)
        .returning(t.meta.c.value)
    )
    head = conn.execute(take).scalar()
    if head is None:  # the first entry ever: make the row to lock (two may try at once)
        conn.execute(insert(conn, t.meta).values(key=HEAD, value="").on_conflict_do_nothing())
        head = conn.execute(take).scalar()
    return head or ""


def _get_meta(conn: Connection, key: str) -> str:
    return conn.execute(sa.select(t.meta.c.value).where(t.meta.c.key == key)).scalar() or ""


def _set_meta(conn: Connection, key: str, value: str) -> None:
    if not conn.execute(sa.update(t.meta).where(t.meta.c.key == key).values(value=value)).rowcount:
        conn.execute(sa.insert(t.meta).values(key=key, value=value))
