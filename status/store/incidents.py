"""Incidents: the row, the components each affects (with the status it gives them), and
the timeline of updates."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from status import rules
from status import schema as t
from status.store.engine import insert
from status.store.timeline import TimelineRepository


class IncidentRepository(TimelineRepository):
    table = t.incidents
    updates_table = t.incident_updates
    components_table = t.incident_components
    key = "incident_id"
    order = (t.incidents.c.created_at.desc(), t.incidents.c.id)
    public_only = (t.incidents.c.draft == sa.false(),)  # drafts wait in the console
    open_only = (t.incidents.c.status.not_in(rules.CLOSED),)

    def create(
        self,
        *,
        name: str,
        status: str,
        impact: str,
        components: dict[str, str],
        at: datetime,
        auto: bool = False,
        draft: bool = False,
    ) -> int:
        """A new incident without updates; ``components``: id -> the status it causes."""
        monitoring, resolved = rules.incident_times(status)
        values = dict(
            name=name,
            status=status,
            impact=impact,
            created_at=at,
            updated_at=at,
            started_at=at,
            monitoring_at=at if monitoring else None,
            resolved_at=at if resolved else None,
            auto=auto,
            draft=draft,
        )
        rows = [{"component_id": c, "status": s} for c, s in components.items()]
        with self.scope.write() as conn:
            incident_id = self._insert(conn, values, rows)
            self.scope.public_changed(conn)
        return incident_id

    def add_update(
        self,
        incident_id: int,
        *,
        status: str,
        body: str,
        at: datetime,
        affected_components: list[dict] | None = None,
        deliver_notifications: bool = True,
    ) -> int:
        """Append an update; ``affected_components``: [{"code", "old_status", "new_status"}]."""
        return super().add_update(
            incident_id,
            status=status,
            body=body,
            at=at,
            affected_components=affected_components or [],
            deliver_notifications=deliver_notifications,
        )

    def publish(self, incident_id: int, at: datetime) -> None:
        """A draft goes public."""
        with self.scope.write() as conn:
            conn.execute(
                sa.update(t.incidents)
                .where(t.incidents.c.id == incident_id)
                .values(draft=False, updated_at=at)
            )
            self.scope.public_changed(conn)

    def get_update(self, incident_id: int, update_id: int) -> sa.Row | None:
        u = t.incident_updates.c
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(t.incident_updates).where(u.id == update_id, u.incident_id == incident_id)
            ).first()

    def edit_update(self, update_id: int, body: str, at: datetime) -> None:
        """A new text for a posted update; it is marked as edited (and so is its incident:
        a reader that keeps incidents by their row sees the change)."""
        u = t.incident_updates.c
        with self.scope.write() as conn:
            conn.execute(
                sa.update(t.incident_updates)
                .where(u.id == update_id)
                .values(body=body, edited_at=at, updated_at=at)
            )
            self._touch_parent_of(conn, update_id, at)
            self.scope.public_changed(conn)

    def delete_update(self, update_id: int, at: datetime) -> None:
        """Delete a posted update; its incident is marked changed at ``at``."""
        with self.scope.write() as conn:
            self._touch_parent_of(conn, update_id, at)
            conn.execute(sa.delete(t.incident_updates).where(t.incident_updates.c.id == update_id))
            self.scope.public_changed(conn)

    def _touch_parent_of(self, conn, update_id: int, at: datetime) -> None:
        u = t.incident_updates.c
        parent = sa.select(u.incident_id).where(u.id == update_id).scalar_subquery()
        conn.execute(sa.update(t.incidents).where(t.incidents.c.id == parent).values(updated_at=at))

    def set_status(self, incident_id: int, status: str, at: datetime) -> None:
        """The incident takes ``status``; the first monitoring/resolution time is kept."""
        i = t.incidents.c
        values: dict = {"status": status, "updated_at": at}
        monitoring, resolved = rules.incident_times(status)
        if monitoring:
            values["monitoring_at"] = sa.func.coalesce(i.monitoring_at, at)
        if resolved:
            values["resolved_at"] = sa.func.coalesce(i.resolved_at, at)
        with self.scope.write() as conn:
            self._update(conn, incident_id, values)
            self.scope.public_changed(conn)

    def set_components(self, incident_id: int, components: dict[str, str]) -> None:
        """Add components to the incident or change the status it gives them."""
        with self.scope.write() as conn:
            for component_id, status in components.items():
                stmt = insert(conn, t.incident_components).values(
                    incident_id=incident_id, component_id=component_id, status=status
                )
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["incident_id", "component_id"], set_={"status": status}
                    )
                )
            self.scope.public_changed(conn)

    def set_every_component(self, incident_id: int, status: str) -> None:
        """Every component of the incident gets ``status`` (as when it is resolved)."""
        with self.scope.write() as conn:
            conn.execute(
                sa.update(t.incident_components)
                .where(t.incident_components.c.incident_id == incident_id)
                .values(status=status)
            )
            self.scope.public_changed(conn)

    def open_auto_incident(self, component_id: str) -> int | None:
        """The open incident the probes opened for this component, if any."""
        i, ic = t.incidents.c, t.incident_components.c
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(i.id)
                .join(t.incident_components, ic.incident_id == i.id)
                .where(i.auto, i.status.not_in(rules.CLOSED), ic.component_id == component_id)
            ).scalar()

    def listing(self, *, open_only: bool = False, before_id: int | None = None, limit: int = 50):
        """A page of incidents (see :meth:`page`); ``open_only``: not yet resolved."""
        conditions = [t.incidents.c.status.not_in(rules.CLOSED)] if open_only else []
        return self.page(*conditions, before_id=before_id, limit=limit)

    def open_count(self) -> int:
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(sa.func.count()).where(t.incidents.c.status.not_in(rules.CLOSED))
            ).scalar()
