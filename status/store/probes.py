"""Raw probe results (short retention) and each check's streak per region."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from status import schema as t
from status.store.engine import upsert
from status.store.scope import Repository


class ProbeRepository(Repository):
    def record(self, results: list[dict], states: list[dict]) -> None:
        """Store a batch of raw results and the streaks they left, in one transaction."""
        if not results and not states:
            return
        with self.scope.write() as conn:
            if results:
                conn.execute(sa.insert(t.probe_results), results)
            if states:
                upsert(conn, t.probe_state, states, ("component_id", "probe", "region"))

    def states(self, component_ids: Iterable[str] | None = None) -> list[sa.Row]:
        query = sa.select(t.probe_state)
        if component_ids is not None:
            query = query.where(t.probe_state.c.component_id.in_(list(component_ids)))
        with self.scope.read() as conn:
            return conn.execute(query).all()

    def results(self, component_id: str) -> list[sa.Row]:
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(t.probe_results)
                .where(t.probe_results.c.component_id == component_id)
                .order_by(t.probe_results.c.id)
            ).all()

    def newest_results(self) -> dict[str, datetime]:
        """When each component's newest probe result (any check, any region) started."""
        p = t.probe_state.c
        with self.scope.read() as conn:
            rows = conn.execute(
                sa.select(p.component_id, sa.func.max(p.last_result_at)).group_by(p.component_id)
            ).all()
        return {component_id: at for component_id, at in rows if at is not None}

    def current_latencies(self) -> dict[str, float]:
        """Each component's latest response time: the mean over its probes and regions."""
        p = t.probe_state.c
        with self.scope.read() as conn:
            rows = conn.execute(
                sa.select(p.component_id, sa.func.avg(p.last_latency_seconds))
                .where(p.last_ok, p.last_latency_seconds.is_not(None))
                .group_by(p.component_id)
            ).all()
        return {component_id: float(value) for component_id, value in rows}

    def hourly_latency(self, since: datetime) -> dict[str, list[tuple[str, float]]]:
        """Mean latency of successful checks per component and hour ('YYYY-MM-DDTHH', UTC)."""
        r = t.probe_results.c
        if self.scope.dialect == "postgresql":
            hour = sa.func.to_char(
                sa.func.timezone("UTC", r.started_at), sa.literal('YYYY-MM-DD"T"HH24')
            )
        else:
            hour = sa.func.strftime("%Y-%m-%dT%H", r.started_at)
        with self.scope.read() as conn:
            rows = conn.execute(
                sa.select(r.component_id, hour.label("hour"), sa.func.avg(r.latency_seconds))
                .where(r.started_at >= since, r.ok, r.latency_seconds.is_not(None))
                .group_by(r.component_id, "hour")
                .order_by(r.component_id, "hour")
            ).all()
        series: dict[str, list[tuple[str, float]]] = {}
        for component_id, bucket, value in rows:
            series.setdefault(component_id, []).append((bucket, float(value)))
        return series

    def outcomes(
        self, component_id: str, start: datetime, end: datetime
    ) -> tuple[int, int, list[float]]:
        """Checks, failures and the latencies of successful checks in [start, end)."""
        r = t.probe_results.c
        with self.scope.read() as conn:
            rows = conn.execute(
                sa.select(r.ok, r.latency_seconds).where(
                    r.component_id == component_id, r.started_at >= start, r.started_at < end
                )
            ).all()
        latencies = [lat for ok, lat in rows if ok and lat is not None]
        return len(rows), sum(1 for ok, _ in rows if not ok), latencies

    def oldest_result(self) -> datetime | None:
        with self.scope.read() as conn:
            return conn.execute(sa.select(sa.func.min(t.probe_results.c.started_at))).scalar()

    def prune(self, before: datetime, *, batch: int = 5000) -> int:
        """Delete up to ``batch`` raw results older than ``before``; returns how many went."""
        r = t.probe_results.c
        oldest = sa.select(r.id).where(r.started_at < before).order_by(r.started_at).limit(batch)
        with self.scope.write() as conn:
            return conn.execute(
                sa.delete(t.probe_results).where(r.id.in_(oldest.scalar_subquery()))
            ).rowcount
