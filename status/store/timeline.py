"""What incidents and maintenance windows share: a row, its components, its updates."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from status.store.scope import Repository


class TimelineRepository(Repository):
    """Queries over a parent table with an update timeline and affected components."""

    table: sa.Table
    updates_table: sa.Table
    components_table: sa.Table
    key: str  # the foreign key naming the parent in the other two tables
    order: tuple  # newest first, for public()
    public_only: tuple = ()  # conditions a row meets to be public
    open_only: tuple = ()  # conditions a row meets while it may bear on a component

    def _insert(self, conn, values: dict, components: list[dict]) -> int:
        parent_id = conn.execute(sa.insert(self.table).values(**values)).inserted_primary_key[0]
        if components:
            conn.execute(
                sa.insert(self.components_table), [{self.key: parent_id, **c} for c in components]
            )
        return parent_id

    def add_update(self, parent_id: int, *, status: str, body: str, at: datetime, **extra) -> int:
        """Append an update to the timeline (its time is ``at``)."""
        with self.scope.write() as conn:
            update_id = conn.execute(
                sa.insert(self.updates_table).values(
                    **{self.key: parent_id},
                    status=status,
                    body=body,
                    created_at=at,
                    updated_at=at,
                    display_at=at,
                    **extra,
                )
            ).inserted_primary_key[0]
            self.scope.public_changed(conn)
        return update_id

    def _update(self, conn, parent_id: int, values: dict) -> None:
        conn.execute(sa.update(self.table).where(self.table.c.id == parent_id).values(**values))

    def get(self, parent_id: int) -> sa.Row | None:
        with self.scope.read() as conn:
            return conn.execute(sa.select(self.table).where(self.table.c.id == parent_id)).first()

    def all(self) -> list[sa.Row]:
        with self.scope.read() as conn:
            return conn.execute(sa.select(self.table).order_by(self.table.c.id)).all()

    def components(self, parent_id: int) -> list[sa.Row]:
        c = self.components_table.c
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(self.components_table).where(c[self.key] == parent_id)
            ).all()

    def updates(self, parent_id: int) -> list[sa.Row]:
        u = self.updates_table.c
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(self.updates_table).where(u[self.key] == parent_id).order_by(u.id)
            ).all()

    def public(self) -> list[tuple[sa.Row, list[sa.Row], list[sa.Row]]]:
        """Every row, newest first, with its updates (newest first) and components."""
        with self.scope.read() as conn:
            query = sa.select(self.table).where(*self.public_only).order_by(*self.order)
            parents = conn.execute(query).all()
            return self._with_children(conn, parents, everything=True)

    def public_open(self) -> list[tuple[sa.Row, list[sa.Row], list[sa.Row]]]:
        """What :meth:`public` says of the rows not closed: all that bears on what the
        components show now (a few rows, where :meth:`public` reads the whole history)."""
        with self.scope.read() as conn:
            query = sa.select(self.table).where(*self.public_only, *self.open_only)
            parents = conn.execute(query.order_by(*self.order)).all()
            return self._with_children(conn, parents)

    def page(
        self, *conditions, before_id: int | None = None, limit: int = 50
    ) -> list[tuple[sa.Row, list[sa.Row], list[sa.Row]]]:
        """Up to ``limit`` rows by id, newest first, older than ``before_id``."""
        query = sa.select(self.table).where(*conditions).order_by(self.table.c.id.desc())
        if before_id is not None:
            query = query.where(self.table.c.id < before_id)
        with self.scope.read() as conn:
            parents = conn.execute(query.limit(limit)).all()
            return self._with_children(conn, parents)

    def one(self, parent_id: int) -> tuple[sa.Row, list[sa.Row], list[sa.Row]] | None:
        """The row with its updates and components, or None."""
        found = self.page(self.table.c.id == parent_id, limit=1)
        return found[0] if found else None

    def public_outline(self) -> tuple[list[sa.Row], dict[int, tuple], dict[int, list[sa.Row]]]:
        """What :meth:`public` says, but for the updates only a signature per parent:
        (how many, the newest id, the latest change). A reader that kept the updates of
        a parent whose row and signature are unchanged need not read them again
        (status.snapshot.memo); :meth:`updates_for` reads those of the others."""
        u = self.updates_table.c
        with self.scope.read() as conn:
            query = sa.select(self.table).where(*self.public_only).order_by(*self.order)
            parents = conn.execute(query).all()
            key = u[self.key]
            signatures = {
                row[0]: tuple(row[1:])
                for row in conn.execute(
                    sa.select(
                        key, sa.func.count(), sa.func.max(u.id), sa.func.max(u.updated_at)
                    ).group_by(key)
                )
            }
            components: dict[int, list[sa.Row]] = {}
            for row in conn.execute(sa.select(self.components_table)):
                components.setdefault(getattr(row, self.key), []).append(row)
        return parents, signatures, components

    def updates_for(self, parent_ids: list[int]) -> dict[int, list[sa.Row]]:
        """The updates of ``parent_ids``, newest first, by parent."""
        u = self.updates_table.c
        found: dict[int, list[sa.Row]] = {}
        with self.scope.read() as conn:
            for i in range(0, len(parent_ids), 500):
                query = (
                    sa.select(self.updates_table)
                    .where(u[self.key].in_(parent_ids[i : i + 500]))
                    .order_by(u.display_at.desc(), u.id.desc())
                )
                for row in conn.execute(query):
                    found.setdefault(getattr(row, self.key), []).append(row)
        return found

    def _with_children(self, conn, parents, *, everything: bool = False):
        u, c = self.updates_table.c, self.components_table.c
        updates = sa.select(self.updates_table).order_by(u.display_at.desc(), u.id.desc())
        components = sa.select(self.components_table)
        if not everything:
            ids = [row.id for row in parents]
            updates = updates.where(u[self.key].in_(ids))
            components = components.where(c[self.key].in_(ids))
        updates, components = conn.execute(updates).all(), conn.execute(components).all()
        by_parent: dict[int, tuple[list, list]] = {row.id: ([], []) for row in parents}
        for row in updates:
            by_parent.get(getattr(row, self.key), ([], []))[0].append(row)
        for row in components:
            by_parent.get(getattr(row, self.key), ([], []))[1].append(row)
        return [(row, *by_parent[row.id]) for row in parents]
