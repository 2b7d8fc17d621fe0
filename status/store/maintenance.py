"""Maintenance windows: the row, the components it covers, the timeline of updates."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa

from status import rules
from status import schema as t
from status.models import MaintenanceStatus
from status.store.timeline import TimelineRepository


class MaintenanceRepository(TimelineRepository):
    table = t.maintenances
    updates_table = t.maintenance_updates
    components_table = t.maintenance_components
    key = "maintenance_id"
    order = (t.maintenances.c.scheduled_for.desc(), t.maintenances.c.id)
    open_only = (
        t.maintenances.c.status != MaintenanceStatus.COMPLETED.value,
        t.maintenances.c.cancelled_at.is_(None),
    )

    def create(
        self,
        *,
        name: str,
        status: str,
        scheduled_for: datetime,
        scheduled_until: datetime,
        components: Iterable[str],
        auto_transition: bool,
        at: datetime,
        reminder_minutes: int = 60,
        series_id: int | None = None,
    ) -> int:
        """A new window without updates; with ``series_id``, a window of that series
        (its ``occurrence_start`` is ``scheduled_for``)."""
        values = dict(
            name=name,
            status=status,
            created_at=at,
            updated_at=at,
            scheduled_for=scheduled_for,
            scheduled_until=scheduled_until,
            auto_transition=auto_transition,
            reminder_minutes=reminder_minutes,
            started_at=at if status == MaintenanceStatus.IN_PROGRESS else None,
            series_id=series_id,
            occurrence_start=scheduled_for if series_id is not None else None,
        )
        with self.scope.write() as conn:
            maintenance_id = self._insert(conn, values, [{"component_id": c} for c in components])
            self.scope.public_changed(conn)
        return maintenance_id

    def set_status(
        self, maintenance_id: int, status: str, at: datetime, *, cancelled: bool = False
    ) -> None:
        """The window takes ``status``; bumps the calendar SEQUENCE (every change counts)."""
        m = t.maintenances.c
        values: dict = {"status": status, "updated_at": at, "sequence": m.sequence + 1}
        if status == MaintenanceStatus.IN_PROGRESS:
            values["started_at"] = sa.func.coalesce(m.started_at, at)
        if status == MaintenanceStatus.COMPLETED:
            values["completed_at"] = sa.func.coalesce(m.completed_at, at)
        if cancelled:
            values["cancelled_at"] = at
        with self.scope.write() as conn:
            self._update(conn, maintenance_id, values)
            self.scope.public_changed(conn)

    def reschedule(
        self, maintenance_id: int, scheduled_for: datetime, scheduled_until: datetime, at: datetime
    ) -> None:
        """New times for the window (a new calendar SEQUENCE; a reminder is due again)."""
        m = t.maintenances.c
        with self.scope.write() as conn:
            conn.execute(
                sa.update(t.maintenances)
                .where(m.id == maintenance_id)
                .values(
                    scheduled_for=scheduled_for,
                    scheduled_until=scheduled_until,
                    updated_at=at,
                    sequence=m.sequence + 1,
                    reminded_at=sa.case(
                        (m.scheduled_for != scheduled_for, sa.null()), else_=m.reminded_at
                    ),
                )
            )
            self.scope.public_changed(conn)

    def detach(self, maintenance_id: int) -> None:
        """A window of a series, edited by itself: later edits of the series skip it."""
        m = t.maintenances.c
        with self.scope.write() as conn:
            conn.execute(
                sa.update(t.maintenances)
                .where(m.id == maintenance_id, m.series_id.is_not(None))
                .values(detached=True)
            )

    def due(self, now: datetime, remind_within: float = 86400.0) -> dict[str, list[sa.Row]]:
        """Windows the clock moves now: ``start``, ``complete``, and ``remind`` candidates
        (scheduled, not yet reminded, starting within ``remind_within`` seconds)."""
        m = t.maintenances.c
        live = sa.and_(m.cancelled_at.is_(None), m.auto_transition)
        scheduled = MaintenanceStatus.SCHEDULED.value
        running = [scheduled, *rules.ACTIVE_MAINTENANCE]
        queries = {
            "start": sa.and_(
                live, m.status == scheduled, m.scheduled_for <= now, m.scheduled_until > now
            ),
            "complete": sa.and_(live, m.status.in_(running), m.scheduled_until <= now),
            "remind": sa.and_(
                m.cancelled_at.is_(None),
                m.status == scheduled,
                m.reminded_at.is_(None),
                m.reminder_minutes > 0,
                m.scheduled_for > now,
                m.scheduled_for <= now + timedelta(seconds=remind_within),
            ),
        }
        with self.scope.read() as conn:
            return {
                name: conn.execute(sa.select(t.maintenances).where(where).order_by(m.id)).all()
                for name, where in queries.items()
            }

    def transition(
        self, maintenance_id: int, from_statuses: list[str], status: str, at: datetime
    ) -> bool:
        """Move the window to ``status`` if it is still in one of ``from_statuses`` (so two
        clocks cannot both do it); True if this call did."""
        m = t.maintenances.c
        values: dict = {"status": status, "updated_at": at, "sequence": m.sequence + 1}
        if status == MaintenanceStatus.IN_PROGRESS:
            values["started_at"] = sa.func.coalesce(m.started_at, at)
        if status == MaintenanceStatus.COMPLETED:
            values["completed_at"] = sa.func.coalesce(m.completed_at, at)
        with self.scope.write() as conn:
            moved = conn.execute(
                sa.update(t.maintenances)
                .where(
                    m.id == maintenance_id, m.status.in_(from_statuses), m.cancelled_at.is_(None)
                )
                .values(**values)
            ).rowcount
            if moved:
                self.scope.public_changed(conn)
        return bool(moved)

    def mark_reminded(self, maintenance_id: int, at: datetime) -> bool:
        """True if this call marked the reminder as sent (once per window)."""
        m = t.maintenances.c
        with self.scope.write() as conn:
            return bool(
                conn.execute(
                    sa.update(t.maintenances)
                    .where(m.id == maintenance_id, m.reminded_at.is_(None))
                    .values(reminded_at=at)
                ).rowcount
            )

    def active_components(self, now: datetime) -> set[str]:
        """Components covered by a maintenance window in progress at ``now``.

        The same rule as :func:`status.rules.maintenance_status`, in SQL.
        """
        m = t.maintenances.c
        active = sa.and_(
            m.cancelled_at.is_(None),
            m.status != MaintenanceStatus.COMPLETED.value,
            sa.or_(
                m.status.in_(rules.ACTIVE_MAINTENANCE),
                sa.and_(m.auto_transition, m.scheduled_for <= now, m.scheduled_until > now),
            ),
        )
        mc = t.maintenance_components.c
        with self.scope.read() as conn:
            return set(
                conn.execute(
                    sa.select(mc.component_id)
                    .join(t.maintenances, m.id == mc.maintenance_id)
                    .where(active)
                ).scalars()
            )
