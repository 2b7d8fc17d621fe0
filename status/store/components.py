"""Component state and its change log (the history every uptime figure comes from)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from status import schema as t
from status.store.engine import insert
from status.store.scope import Repository


@dataclass(frozen=True)
class ComponentState:
    component_id: str
    status: str
    since: datetime
    updated_at: datetime
    last_result_at: datetime | None
    latency_seconds: float | None


class ComponentRepository(Repository):
    def states(self, component_ids: Iterable[str] | None = None) -> dict[str, ComponentState]:
        """The stored state of these components (None: all)."""
        c = t.component_state.c
        query = sa.select(
            c.component_id, c.status, c.since, c.updated_at, c.last_result_at, c.latency_seconds
        )
        if component_ids is not None:
            query = query.where(c.component_id.in_(list(component_ids)))
        with self.scope.read() as conn:
            rows = conn.execute(query).all()
        return {row.component_id: ComponentState(*row) for row in rows}

    def set_status(
        self, component_id: str, status: str, *, reason: str, source: str, at: datetime
    ) -> tuple[bool, str | None]:
        """Set a status, with its change-log row; returns (changed, the status before).

        Locks the component's row for the rest of the transaction, so two writers of
        the same component take turns.
        """
        c = t.component_state.c
        values = dict(status=status, since=at, updated_at=at, manual=source != "probe")
        with self.scope.write() as conn:
            current = _locked_status(conn, component_id)
            if current is None:
                # A first status: another worker may be writing it at this moment.
                created = conn.execute(
                    insert(conn, t.component_state)
                    .values(component_id=component_id, **values)
                    .on_conflict_do_nothing(index_elements=["component_id"])
                    .returning(c.component_id)
                ).first()
                if created is None:  # it was: go on from what it wrote
                    current = _locked_status(conn, component_id)
            where = c.component_id == component_id
            if current == status:
                conn.execute(sa.update(t.component_state).where(where).values(updated_at=at))
                return False, current
            if current is not None:
                conn.execute(sa.update(t.component_state).where(where).values(**values))
            conn.execute(
                sa.insert(t.component_changes).values(
                    component_id=component_id,
                    old_status=current,
                    new_status=status,
                    at=at,
                    reason=reason,
                    source=source,
                )
            )
            self.scope.public_changed(conn)
        return True, current

    def changes(self, component_id: str) -> list[sa.Row]:
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(t.component_changes)
                .where(t.component_changes.c.component_id == component_id)
                .order_by(t.component_changes.c.id)
            ).all()

    def first_seen(self) -> dict[str, datetime]:
        """When each component's status was first recorded."""
        c = t.component_changes.c
        with self.scope.read() as conn:
            rows = conn.execute(
                sa.select(c.component_id, sa.func.min(c.at)).group_by(c.component_id)
            ).all()
        return {component_id: at for component_id, at in rows}

    def last_known_statuses(self) -> dict[str, str]:
        """For components whose latest change was to ``unknown``: the status before it."""
        c = t.component_changes.c
        latest = (
            sa.select(c.component_id, sa.func.max(c.id).label("id"))
            .group_by(c.component_id)
            .subquery()
        )
        with self.scope.read() as conn:
            rows = conn.execute(
                sa.select(c.component_id, c.old_status)
                .join(latest, latest.c.id == c.id)
                .where(c.new_status == "unknown", c.old_status.is_not(None))
            ).all()
        return dict(rows)

    def timeline(
        self, component_id: str, start: datetime, end: datetime
    ) -> tuple[str | None, list[tuple[datetime, str]]]:
        """The status at ``start`` (None before the first change) and the changes until ``end``."""
        c = t.component_changes.c
        with self.scope.read() as conn:
            before = conn.execute(
                sa.select(c.new_status)
                .where(c.component_id == component_id, c.at <= start)
                .order_by(c.at.desc(), c.id.desc())
                .limit(1)
            ).scalar()
            changes = conn.execute(
                sa.select(c.at, c.new_status)
                .where(c.component_id == component_id, c.at > start, c.at < end)
                .order_by(c.at, c.id)
            ).all()
        return before, [(row.at, row.new_status) for row in changes]

    def oldest_change(self) -> datetime | None:
        with self.scope.read() as conn:
            return conn.execute(sa.select(sa.func.min(t.component_changes.c.at))).scalar()


def _locked_status(conn: Connection, component_id: str) -> str | None:
    c = t.component_state.c
    return conn.execute(
        sa.select(c.status).where(c.component_id == component_id).with_for_update()
    ).scalar()
