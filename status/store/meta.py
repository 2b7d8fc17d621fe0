"""Key/value facts about the data: the data version, how far the rollups are final."""

from __future__ import annotations

import sqlalchemy as sa

from status import schema as t
from status.store.engine import insert
from status.store.scope import Repository


class MetaRepository(Repository):
    def data_version(self) -> int:
        """A counter bumped by every change the public pages show."""
        with self.scope.read() as conn:
            value = conn.execute(
                sa.select(t.meta.c.value).where(t.meta.c.key == "data_version")
            ).scalar()
        return int(value) if value is not None else 0

    def value(self, key: str) -> str | None:
        with self.scope.read() as conn:
            return conn.execute(sa.select(t.meta.c.value).where(t.meta.c.key == key)).scalar()

    def set_value(self, key: str, value: str) -> None:
        with self.scope.write() as conn:
            stmt = insert(conn, t.meta)
            conn.execute(
                stmt.values(key=key, value=value).on_conflict_do_update(
                    index_elements=["key"], set_={"value": value}
                )
            )

    def swap(self, key: str, old: str | None, new: str) -> bool:
        """Set ``key`` to ``new`` if it still holds ``old`` (None: if it is not there);
        False if another writer changed it first."""
        m = t.meta.c
        with self.scope.write() as conn:
            if old is None:
                stmt = insert(conn, t.meta).values(key=key, value=new).on_conflict_do_nothing()
            else:
                stmt = sa.update(t.meta).where(m.key == key, m.value == old).values(value=new)
            # (RETURNING: an INSERT's rowcount is not to be trusted on every driver)
            return conn.execute(stmt.returning(m.key)).first() is not None

    def add(self, counts: dict[str, int]) -> None:
        """Add to counters kept under ``key`` (what every process's /metrics reads)."""
        with self.scope.write() as conn:
            for key, n in counts.items():
                if not n:
                    continue
                stmt = insert(conn, t.meta).values(key=key, value=str(n))
                new = sa.cast(sa.cast(t.meta.c.value, sa.Integer) + n, sa.Text)
                conn.execute(
                    stmt.on_conflict_do_update(index_elements=["key"], set_={"value": new})
                )

    def counters(self, prefix: str) -> dict[str, int]:
        """The counters whose key starts with ``prefix``, by the rest of the key."""
        m = t.meta.c
        with self.scope.read() as conn:
            rows = conn.execute(sa.select(m.key, m.value).where(m.key.startswith(prefix))).all()
        return {key[len(prefix) :]: int(value) for key, value in rows}
