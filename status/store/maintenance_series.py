"""Recurring maintenance: the series (its rule) and the queries over its windows.

A series' windows are ordinary ``maintenances`` rows (``series_id``,
``occurrence_start``); they are created through :class:`MaintenanceRepository`, and
found, moved and removed here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa

from status import schema as t
from status.models import MaintenanceStatus
from status.store.scope import Repository

SCHEDULED = MaintenanceStatus.SCHEDULED.value


class MaintenanceSeriesRepository(Repository):
    def create(self, **values) -> int:
        with self.scope.write() as conn:
            return conn.execute(
                sa.insert(t.maintenance_series).values(**values)
            ).inserted_primary_key[0]

    def get(self, series_id: int) -> sa.Row | None:
        s = t.maintenance_series.c
        with self.scope.read() as conn:
            return conn.execute(sa.select(t.maintenance_series).where(s.id == series_id)).first()

    def page(self, *, before_id: int | None = None, limit: int = 50) -> list[sa.Row]:
        """Up to ``limit`` series by id, newest first, older than ``before_id``."""
        s = t.maintenance_series.c
        query = sa.select(t.maintenance_series).order_by(s.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(s.id < before_id)
        with self.scope.read() as conn:
            return conn.execute(query).all()

    def update(self, series_id: int, **values) -> None:
        s = t.maintenance_series.c
        with self.scope.write() as conn:
            conn.execute(sa.update(t.maintenance_series).where(s.id == series_id).values(**values))

    def cancel(self, series_id: int, at: datetime) -> bool:
        """True if this call cancelled the series (once)."""
        s = t.maintenance_series.c
        with self.scope.write() as conn:
            return bool(
                conn.execute(
                    sa.update(t.maintenance_series)
                    .where(s.id == series_id, s.cancelled_at.is_(None))
                    .values(cancelled_at=at, updated_at=at)
                ).rowcount
            )

    def advance(self, series_id: int, since: datetime, until: datetime) -> bool:
        """Move the series' horizon from ``since`` to ``until`` if it is still at
        ``since`` (so of two clocks only one extends it); True if this call did."""
        s = t.maintenance_series.c
        with self.scope.write() as conn:
            return bool(
                conn.execute(
                    sa.update(t.maintenance_series)
                    .where(
                        s.id == series_id,
                        s.materialised_until == since,
                        s.cancelled_at.is_(None),
                    )
                    .values(materialised_until=until)
                ).rowcount
            )

    def due(self, horizon: datetime, slack: timedelta) -> list[sa.Row]:
        """Live series whose windows reach less than ``horizon - slack`` ahead."""
        s = t.maintenance_series.c
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(t.maintenance_series)
                .where(s.cancelled_at.is_(None), s.materialised_until < horizon - slack)
                .order_by(s.id)
            ).all()

    # -- the series' windows -----------------------------------------------------------------
    def occurrences(self, series_id: int) -> list[sa.Row]:
        """Every window of the series, earliest first."""
        m = t.maintenances.c
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(t.maintenances)
                .where(m.series_id == series_id)
                .order_by(m.scheduled_for, m.id)
            ).all()

    def taken_starts(self, series_id: int) -> set[datetime]:
        """The rule's starts that have a window (moved, cancelled or past ones too)."""
        m = t.maintenances.c
        with self.scope.read() as conn:
            return set(
                conn.execute(
                    sa.select(m.occurrence_start).where(
                        m.series_id == series_id, m.occurrence_start.is_not(None)
                    )
                ).scalars()
            )

    def pending(self, series_id: int, now: datetime) -> list[sa.Row]:
        """Windows an edit of the series rewrites: not started, not edited by themselves."""
        m = t.maintenances.c
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(t.maintenances)
                .where(
                    m.series_id == series_id,
                    m.status == SCHEDULED,
                    m.cancelled_at.is_(None),
                    m.started_at.is_(None),
                    sa.not_(m.detached),
                    m.scheduled_for > now,
                )
                .order_by(m.occurrence_start, m.id)
            ).all()

    def unstarted(self, series_id: int) -> list[sa.Row]:
        """Windows cancelling the series calls off: every one not started yet."""
        m = t.maintenances.c
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(t.maintenances)
                .where(
                    m.series_id == series_id,
                    m.status == SCHEDULED,
                    m.cancelled_at.is_(None),
                    m.started_at.is_(None),
                )
                .order_by(m.scheduled_for, m.id)
            ).all()

    def rewrite(
        self,
        moves: list[tuple[int, datetime]],
        *,
        duration: timedelta,
        name: str,
        body: str,
        components: Iterable[str],
        auto_transition: bool,
        reminder_minutes: int,
        at: datetime,
    ) -> None:
        """Give the windows ``(id, new start)`` the series' text, components and times
        (a new calendar SEQUENCE; a reminder due again for a new start)."""
        if not moves:
            return
        m, mc = t.maintenances.c, t.maintenance_components.c
        ids = [maintenance_id for maintenance_id, _ in moves]
        with self.scope.write() as conn:
            # Starts may swap places: free them all first (the unique constraint).
            conn.execute(
                sa.update(t.maintenances).where(m.id.in_(ids)).values(occurrence_start=None)
            )
            for maintenance_id, start in moves:
                conn.execute(
                    sa.update(t.maintenances)
                    .where(m.id == maintenance_id)
                    .values(
                        name=name,
                        scheduled_for=start,
                        scheduled_until=start + duration,
                        occurrence_start=start,
                        auto_transition=auto_transition,
                        reminder_minutes=reminder_minutes,
                        updated_at=at,
                        sequence=m.sequence + 1,
                        reminded_at=sa.case(
                            (m.scheduled_for != start, sa.null()), else_=m.reminded_at
                        ),
                    )
                )
            mu = t.maintenance_updates.c
            conn.execute(
                sa.update(t.maintenance_updates)
                .where(mu.maintenance_id.in_(ids))
                .values(body=body, updated_at=at)
            )
            conn.execute(sa.delete(t.maintenance_components).where(mc.maintenance_id.in_(ids)))
            rows = [{"maintenance_id": i, "component_id": c} for i in ids for c in components]
            if rows:
                conn.execute(sa.insert(t.maintenance_components), rows)
            self.scope.public_changed(conn)

    def remove(self, ids: list[int]) -> None:
        """Delete windows the series no longer has (never started, never edited)."""
        if not ids:
            return
        with self.scope.write() as conn:
            for table in (t.maintenance_updates, t.maintenance_components):
                conn.execute(sa.delete(table).where(table.c.maintenance_id.in_(ids)))
            conn.execute(sa.delete(t.maintenances).where(t.maintenances.c.id.in_(ids)))
            self.scope.public_changed(conn)
