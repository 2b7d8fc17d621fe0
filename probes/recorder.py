"""From results to streaks, stored rows and component status (one batch at a time)."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from probes import base
from probes.ownership import SHARDS
from probes.state import RegionVerdict, Streak, check_verdict, component_status
from status import ops
from status.clock import utcnow
from status.config import Component, Config
from status.models import ComponentStatus
from status.rules import STALE_AFTER_INTERVALS
from status.store import Store


@dataclass(frozen=True)
class Check:
    component: Component
    spec: object  # one of the probe models in status.config

    @property
    def key(self) -> tuple[str, str]:
        return self.component.id, self.spec.key

    @property
    def shard(self) -> int:
        return zlib.crc32(f"{self.component.id}/{self.spec.key}".encode()) % SHARDS


def checks_of(config: Config) -> dict[tuple[str, str], Check]:
    return {(c.id, p.key): Check(c, p) for c in config.components for p in c.probes}


class Recorder:
    """Turns results into streaks, stored rows and component status.

    A component's status is derived again only when one of its checks changed verdict or
    comes back from silence, when a maintenance window covering it opened or closed, or
    when it was last seen without data; the sweep (``update_components(None, ...)``)
    derives every component. ``statuses`` is this worker's view of the stored statuses,
    renewed by each sweep: a hint for that last condition only.

    Results of this worker's own region stay fresh ``grace`` seconds (the lease time)
    beyond the three intervals: a check of its region is late while a worker holds its
    shard (behind schedule, its results still on the way to the database, or being
    handed over), and once no one holds it, another worker takes it within the lease
    time. Without it an overloaded region flapped between its status and "no data".
    Other regions' silence counts after three intervals, as it is theirs to explain.
    """

    def __init__(
        self,
        store: Store,
        config: Callable[[], Config],
        region: str,
        *,
        grace: float = 15.0,
    ):
        self.store = store
        self.config = config
        self.region = region
        self.grace = grace
        self.streaks: dict[tuple[str, str], Streak] = {}
        self.last_at: dict[tuple[str, str], datetime] = {}
        self.statuses: dict[str, str] | None = None
        self.maintenance: set[str] = set()  # components in maintenance at the last look

    def record(self, batch: list[tuple[Check, base.ProbeResult]], now: datetime | None = None):
        """Store a batch of results and update the status of the components they touch."""
        if not batch:
            return
        now = now or utcnow()
        self._load_streaks({check.key for check, _ in batch})
        statuses = self._statuses()
        rows, states, touched = [], {}, set()
        for check, result in batch:
            component = check.component
            before = self.streaks.get(check.key, Streak())
            streak = before.advance(
                ok=result.ok,
                degraded=result.degraded,
                failure_threshold=component.failure_threshold,
                success_threshold=component.success_threshold,
            )
            self.streaks[check.key] = streak
            at = result.started_at or now
            previous = self.last_at.get(check.key)
            self.last_at[check.key] = at
            if (
                streak.verdict != before.verdict
                or previous is None
                or (at - previous).total_seconds() > check.spec.interval * STALE_AFTER_INTERVALS
                or statuses.get(component.id) in (None, ComponentStatus.UNKNOWN)
            ):
                touched.add(component.id)
            rows.append(self._result_row(check, result, at))
            states[check.key] = self._state_row(check, result, streak, at)
        self.store.probes.record(rows, list(states.values()))
        maintenance = self.store.maintenance.active_components(now)
        touched |= maintenance ^ self.maintenance
        if touched:
            self.update_components(touched, now, maintenance=maintenance)
        self.maintenance = maintenance

    def _result_row(self, check: Check, result: base.ProbeResult, at: datetime) -> dict:
        return {
            "component_id": check.component.id,
            "probe": check.spec.key,
            "region": self.region,
            "started_at": at,
            "duration_seconds": result.duration_seconds,
            "latency_seconds": result.latency_seconds,
            "ok": result.ok,
            "degraded": result.degraded,
            "status_code": result.http_status_code,
            "error": result.error,
        }

    def _state_row(
        self, check: Check, result: base.ProbeResult, streak: Streak, at: datetime
    ) -> dict:
        return {
            "component_id": check.component.id,
            "probe": check.spec.key,
            "region": self.region,
            "verdict": streak.verdict,
            "failures": streak.failures,
            "successes": streak.successes,
            "slow": streak.slow,
            "clean": streak.clean,
            "last_result_at": at,
            "last_ok": result.ok,
            "last_latency_seconds": result.latency_seconds,
            "last_error": result.error,
        }

    def _load_streaks(self, keys: set[tuple[str, str]]) -> None:
        """Pick up where another worker left off (after a takeover or a restart)."""
        missing = keys - self.streaks.keys()
        if not missing:
            return
        for row in self.store.probes.states({c for c, _ in missing}):
            key = (row.component_id, row.probe)
            if row.region == self.region and key in missing:
                self.streaks[key] = Streak(
                    row.verdict, row.failures, row.successes, row.slow, row.clean
                )
                self.last_at[key] = row.last_result_at

    def _statuses(self, reload: bool = False) -> dict[str, str]:
        if self.statuses is None or reload:
            self.statuses = {cid: s.status for cid, s in self.store.components.states().items()}
        return self.statuses

    def update_components(
        self, component_ids: set[str] | None, now: datetime, maintenance: set[str] | None = None
    ) -> None:
        """Derive and store the status of these components (None: all probed ones)."""
        config = self.config()
        components = [
            c
            for c in config.components
            if c.probes and (component_ids is None or c.id in component_ids)
        ]
        if component_ids is None:
            current = self._statuses(reload=True)
        else:  # read afresh: another region's worker may have written since
            current = {
                cid: state.status
                for cid, state in self.store.components.states([c.id for c in components]).items()
            }
        if not components:
            return
        by_check: dict[tuple[str, str], list] = {}
        for row in self.store.probes.states([c.id for c in components]):
            by_check.setdefault((row.component_id, row.probe), []).append(row)
        if maintenance is None:
            maintenance = self.maintenance = self.store.maintenance.active_components(now)
        late = {self.region: self.grace}
        changes = []
        for component in components:
            verdicts, reasons = [], []
            for spec in component.probes:
                regions = by_check.get((component.id, spec.key), [])
                verdict = check_verdict(
                    [RegionVerdict(r.region, r.verdict, r.last_result_at) for r in regions],
                    quorum=component.quorum,
                    interval=spec.interval,
                    now=now,
                    late=late,
                )
                verdicts.append(verdict)
                errors = sorted({r.last_error for r in regions if r.last_error})
                if verdict is None:
                    reasons.append(f"{spec.key}: no data")
                elif errors:
                    reasons.append(f"{spec.key}: {'; '.join(errors)}")
            status = component_status(verdicts, in_maintenance=component.id in maintenance)
            if current.get(component.id) != status:  # the common case: nothing changed
                changes.append(
                    ops.StatusChange(
                        component.id,
                        status,
                        reason="; ".join(reasons)[:1000] or "all checks pass",
                        auto_incident=component.name if component.auto_incident else None,
                    )
                )
        if changes:
            ops.set_component_statuses(
                self.store, changes, source="probe", at=now, language=config.site.languages[0]
            )
            self._statuses().update({c.component_id: c.status for c in changes})
