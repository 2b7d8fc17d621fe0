"""Alerts from Alertmanager (one row per fingerprint) and their groups' incidents."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from status import rules
from status import schema as t
from status.store.engine import insert
from status.store.scope import Repository

FIRING, EXPIRED = "firing", "expired"


def _bearing(now: datetime):
    """The condition for an alert that bears on its components at ``now``."""
    a = t.alerts.c
    return sa.and_(a.status == FIRING, sa.or_(a.ends_at.is_(None), a.ends_at > now))


class AlertRepository(Repository):
    def get_many(self, fingerprints: Iterable[str]) -> dict[str, sa.Row]:
        """The stored alerts among ``fingerprints``."""
        wanted = list(fingerprints)
        found: dict[str, sa.Row] = {}
        with self.scope.read() as conn:
            for i in range(0, len(wanted), 500):
                query = sa.select(t.alerts).where(t.alerts.c.fingerprint.in_(wanted[i : i + 500]))
                found.update((row.fingerprint, row) for row in conn.execute(query))
        return found

    def save(self, rows: list[dict], *, changed: bool) -> None:
        """Insert or replace alerts (``changed``: something the public sees moved)."""
        if not rows:
            return
        with self.scope.write() as conn:
            stmt = insert(conn, t.alerts)
            keep = {c: stmt.excluded[c] for c in rows[0] if c not in ("fingerprint", "received_at")}
            conn.execute(
                stmt.on_conflict_do_update(index_elements=["fingerprint"], set_=keep), rows
            )
            if changed:
                self.scope.public_changed(conn)

    def statuses(self, now: datetime) -> dict[str, str]:
        """component -> the worst status the alerts firing at ``now`` give it."""
        given: dict[str, list[str]] = {}
        with self.scope.read() as conn:
            for (components,) in conn.execute(
                sa.select(t.alerts.c.components).where(_bearing(now))
            ):
                for component_id, status in components.items():
                    given.setdefault(component_id, []).append(status)
        return {c: rules.worst(statuses) for c, statuses in given.items()}

    def firing(self, group_key: str, now: datetime) -> list[sa.Row]:
        """The group's alerts that bear on components at ``now``."""
        a = t.alerts.c
        with self.scope.read() as conn:
            query = sa.select(t.alerts).where(a.group_key == group_key, _bearing(now))
            return conn.execute(query.order_by(a.starts_at, a.fingerprint)).all()

    def overdue(self, now: datetime) -> list[sa.Row]:
        """Firing alerts whose ``endsAt`` has passed (Alertmanager went quiet on them)."""
        a = t.alerts.c
        with self.scope.read() as conn:
            query = sa.select(a.fingerprint, a.group_key).where(
                a.status == FIRING, a.ends_at.is_not(None), a.ends_at <= now
            )
            return conn.execute(query).all()

    def mark_expired(self, fingerprints: list[str], now: datetime) -> list[str]:
        """Expire those still overdue; returns the ones this call moved."""
        a = t.alerts.c
        moved = []
        with self.scope.write() as conn:
            for fingerprint in fingerprints:
                updated = conn.execute(
                    sa.update(t.alerts)
                    .where(a.fingerprint == fingerprint, a.status == FIRING, a.ends_at <= now)
                    .values(status=EXPIRED, updated_at=now)
                ).rowcount
                if updated:
                    moved.append(fingerprint)
            if moved:
                self.scope.public_changed(conn)
        return moved

    def group(self, group_key: str, *, lock: bool = False) -> sa.Row | None:
        """The group's row; ``lock``: held until the unit of work ends (PostgreSQL; SQLite
        has one writer at a time anyway)."""
        with self.scope.read() as conn:
            query = sa.select(t.alert_groups).where(t.alert_groups.c.group_key == group_key)
            return conn.execute(query.with_for_update() if lock else query).first()

    def claim_group(self, group_key: str, mode: str, at: datetime) -> bool:
        """Make the group's row if there is none: True for the caller that made it (two
        Alertmanagers delivering the same group at once open one incident)."""
        with self.scope.write() as conn:
            stmt = insert(conn, t.alert_groups).values(group_key=group_key, mode=mode, opened_at=at)
            return bool(conn.execute(stmt.on_conflict_do_nothing()).rowcount)

    def set_group_incident(self, group_key: str, incident_id: int, mode: str, at: datetime) -> None:
        g = t.alert_groups.c
        with self.scope.write() as conn:
            conn.execute(
                sa.update(t.alert_groups)
                .where(g.group_key == group_key)
                .values(incident_id=incident_id, mode=mode, opened_at=at)
            )
