"""When to run what, and what the results mean for each component.

One result flows through the pipeline (as in Gatus): run the probe, publish its
metrics, advance the check's streak, store it, derive the component's status.

- Each check runs on its own interval with a random initial offset, in a bounded pool,
  so a slow or hanging target holds one thread and delays no other check.
- Workers of one region share the checks through leases in the database: checks fall
  into ``SHARDS`` shards, each live worker takes the shards that rendezvous hashing
  gives it, and holds them by a lease it renews. A dead worker's leases expire after
  ``lease_seconds`` and its shards are taken over (see docs/probes.md).
- Results are written in batches (one transaction per ``flush_seconds``) from a thread
  of their own, so storage never holds up a probe.
"""

from __future__ import annotations

import heapq
import logging
import queue
import random
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from probes import base, dns, heartbeat, http, tcp, tls
from probes.metrics import ProbeMetrics
from probes.state import (
    STALE_AFTER_INTERVALS,
    RegionVerdict,
    Streak,
    check_verdict,
    component_status,
)
from status import rollup
from status.config import Component, Config
from status.models import ComponentStatus
from status.store import StatusChange, Store, utcnow

log = logging.getLogger(__name__)

PROBES: dict[str, base.Probe] = {
    "http": http.probe,
    "tcp": tcp.probe,
    "tls": tls.probe,
    "dns": dns.probe,
}
SHARDS = 64
TICK = 0.005
"""The dispatcher starts what is due at most this often (seconds): the least lag it adds."""


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


# -- ownership ---------------------------------------------------------------------------------
class Ownership:
    """Which shards this worker runs: rendezvous hashing over live workers, held by leases."""

    def __init__(self, store: Store, region: str, worker_id: str, lease_seconds: float):
        self.store = store
        self.region = region
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.shards: set[int] = set()
        self.wanted: set[int] = set()  # due to us by the hashing; held or not

    def _shard_lease(self, shard: int) -> str:
        return f"probes:{self.region}:shard:{shard}"

    def refresh(self, now: datetime | None = None) -> set[int]:
        """Renew membership, claim the shards due to us, let go of the others."""
        now = now or utcnow()
        member_prefix = f"probes:{self.region}:member:"
        self.store.claim_leases(
            [member_prefix + self.worker_id], self.worker_id, ttl=self.lease_seconds, now=now
        )
        members = sorted(self.store.live_leases(member_prefix, now).values()) or [self.worker_id]
        mine = {
            s
            for s in range(SHARDS)
            if max(members, key=lambda m, s=s: zlib.crc32(f"{s}:{m}".encode())) == self.worker_id
        }
        held = self.store.claim_leases(
            [self._shard_lease(s) for s in mine], self.worker_id, ttl=self.lease_seconds, now=now
        )
        others = self.shards - mine
        if others:
            self.store.release_leases([self._shard_lease(s) for s in others], self.worker_id)
        self.shards = {s for s in mine if self._shard_lease(s) in held}
        self.wanted = mine
        return self.shards

    def release(self) -> None:
        names = [self._shard_lease(s) for s in range(SHARDS)]
        names += [f"probes:{self.region}:member:{self.worker_id}", "housekeeping"]
        self.store.release_leases(names, self.worker_id)
        self.shards = set()


# -- recording ---------------------------------------------------------------------------------
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
            rows.append(
                {
                    "component_id": component.id,
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
            )
            states[check.key] = {
                "component_id": component.id,
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
        self.store.record_probe_results(rows, list(states.values()))
        maintenance = self.store.active_maintenance_components(now)
        touched |= maintenance ^ self.maintenance
        if touched:
            self.update_components(touched, now, maintenance=maintenance)
        self.maintenance = maintenance

    def _load_streaks(self, keys: set[tuple[str, str]]) -> None:
        """Pick up where another worker left off (after a takeover or a restart)."""
        missing = keys - self.streaks.keys()
        if not missing:
            return
        for row in self.store.probe_states({c for c, _ in missing}):
            key = (row.component_id, row.probe)
            if row.region == self.region and key in missing:
                self.streaks[key] = Streak(
                    row.verdict, row.failures, row.successes, row.slow, row.clean
                )
                self.last_at[key] = row.last_result_at

    def _statuses(self, reload: bool = False) -> dict[str, str]:
        if self.statuses is None or reload:
            self.statuses = {cid: s.status for cid, s in self.store.component_states().items()}
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
                for cid, state in self.store.component_states([c.id for c in components]).items()
            }
        if not components:
            return
        by_check: dict[tuple[str, str], list] = {}
        for row in self.store.probe_states([c.id for c in components]):
            by_check.setdefault((row.component_id, row.probe), []).append(row)
        if maintenance is None:
            maintenance = self.maintenance = self.store.active_maintenance_components(now)
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
                    StatusChange(
                        component.id,
                        status,
                        reason="; ".join(reasons)[:1000] or "all checks pass",
                        auto_incident=component.name if component.auto_incident else None,
                    )
                )
        if changes:
            self.store.set_component_statuses(changes, source="probe", at=now)
            self._statuses().update({c.component_id: c.status for c in changes})


# -- the scheduler -----------------------------------------------------------------------------
class Scheduler:
    """Runs the checks of this worker's shards until stopped; see the module docstring."""

    def __init__(
        self,
        store: Store,
        config: Callable[[], Config],
        *,
        region: str = "default",
        metrics: ProbeMetrics | None = None,
        worker_id: str | None = None,
        lease_seconds: float = 15.0,
        flush_seconds: float = 0.5,
        sweep_seconds: float = 10.0,
        drain_seconds: float = 10.0,
        housekeeping_seconds: float = 900.0,
    ) -> None:
        self.store = store
        self.config = config
        self.region = region
        self.metrics = metrics or ProbeMetrics(region=region)
        self.worker_id = worker_id or f"{region}-{uuid.uuid4().hex[:12]}"
        self.ownership = Ownership(store, region, self.worker_id, lease_seconds)
        self.recorder = Recorder(store, config, region, grace=lease_seconds)
        self.lease_seconds = lease_seconds
        self.flush_seconds = flush_seconds
        self.sweep_seconds = sweep_seconds
        self.drain_seconds = drain_seconds
        self.housekeeping_seconds = housekeeping_seconds
        self.results: queue.SimpleQueue = queue.SimpleQueue()
        # The pool: probe threads take (check, due) from the queue; None stops one.
        self._todo: queue.SimpleQueue[tuple[Check, float] | None] = queue.SimpleQueue()
        self._pending: set[tuple[str, str]] = set()  # queued or running
        self._draining = False
        self._lock = threading.Lock()

    # The dispatcher: one thread, a heap of due times (time.monotonic()).
    def run(self, stopping: threading.Event) -> None:
        config = self.config()
        pool = [
            threading.Thread(target=self._probe_loop, name=f"probe-{n}", daemon=True)
            for n in range(config.scheduler.concurrency)
        ]
        for thread in pool:
            thread.start()
        recorder = threading.Thread(
            target=self._record_loop, args=(stopping,), name="probe-recorder", daemon=True
        )
        recorder.start()
        threading.Thread(
            target=self._housekeeping_loop, args=(stopping,), name="housekeeping", daemon=True
        ).start()
        heap: list[tuple[float, int, tuple[str, str]]] = []
        checks = self._replan(config, {}, heap, time.monotonic())
        next_lease = 0.0
        try:
            while not stopping.is_set():
                now = time.monotonic()
                if self.config() is not config:
                    config = self.config()
                    checks = self._replan(config, checks, heap, now)
                    self._sync_series(checks)
                if now >= next_lease:
                    self._refresh_ownership()
                    self._sync_series(checks)
                    # Short of the shards due to us (another worker is handing them over):
                    # ask again soon, so the hand-over leaves no gap of a whole period.
                    short = self.ownership.shards != self.ownership.wanted
                    next_lease = now + (1.0 if short else self.lease_seconds / 3)
                while heap and heap[0][0] <= now:
                    due, seq, key = heapq.heappop(heap)
                    check = checks.get(key)
                    if check is None:
                        continue  # removed from the config
                    interval = check.spec.interval
                    nxt = due + interval
                    if nxt <= now:  # we fell behind: skip ahead rather than burst
                        nxt = now + interval - ((now - due) % interval)
                    heapq.heappush(heap, (nxt, seq, key))
                    if check.shard in self.ownership.shards:
                        self._submit(check, due)
                # Sleep until the next check is due, but at least a tick: thousands of
                # wake-ups a second, each waiting for the GIL, cost more than the checks.
                wait = min(heap[0][0] - time.monotonic() if heap else 1.0, 0.5)
                stopping.wait(max(wait, TICK))
        finally:
            self._drain(pool)
            recorder.join(self.drain_seconds)
            self._flush()
            self.ownership.release()

    def _replan(self, config, old, heap, now) -> dict[tuple[str, str], Check]:
        checks = {
            k: c
            for k, c in checks_of(config).items()
            if c.spec.type in PROBES or c.spec.type == "heartbeat"
        }
        for key in checks.keys() - old.keys():
            jitter = random.uniform(0, checks[key].spec.interval)
            heapq.heappush(heap, (now + jitter, len(heap) + random.randrange(1 << 30), key))
        if heap and not checks:
            heap.clear()
        heartbeats = [k for k, c in checks.items() if c.spec.type == "heartbeat"]
        if heartbeats:
            self.store.heartbeat_tokens(heartbeats)
        log.info("probing %d checks (region %s)", len(checks), self.region)
        return checks

    def _sync_series(self, checks: dict[tuple[str, str], Check]) -> None:
        """Metric series for exactly the checks this worker runs now.

        A check another worker runs is that worker's to report: series left here would
        go on saying what this worker saw last (or 0 for never run), which reads as an
        outage in Prometheus.
        """
        wanted = {
            key: check.spec.type
            for key, check in checks.items()
            if check.shard in self.ownership.shards
        }
        for key in self.metrics.checks():
            if wanted.get(key) != self.metrics.check_type(key):
                self.metrics.forget(*key)
        for key, probe_type in wanted.items():
            if self.metrics.check_type(key) is None:
                self.metrics.prepare(*key, probe_type)

    def _refresh_ownership(self) -> None:
        try:
            before = self.ownership.shards
            after = self.ownership.refresh()
            if after != before:
                log.info("worker %s runs %d of %d shards", self.worker_id, len(after), SHARDS)
        except Exception:
            log.exception("could not renew probe leases; keeping the current shards")

    def _submit(self, check: Check, due: float) -> None:
        with self._lock:
            if check.key in self._pending:
                return  # still running from last time (a hanging target): don't pile up
            self._pending.add(check.key)
        self.metrics.inflight.inc()
        self._todo.put((check, due))

    def _probe_loop(self) -> None:
        """One thread of the pool: run what is due until told to stop."""
        while (item := self._todo.get()) is not None:
            check, due = item
            try:
                if not self._draining:  # when stopping, the ones not yet started are dropped
                    self._run_one(check, due)
            finally:
                with self._lock:
                    self._pending.discard(check.key)
                self.metrics.inflight.dec()

    def _run_one(self, check: Check, due: float) -> None:
        try:
            self.metrics.lag.observe(max(0.0, time.monotonic() - due))
            if check.spec.type == "heartbeat":
                row = self.store.heartbeat(*check.key)
                result = heartbeat.evaluate(check.spec, row, utcnow())
            else:
                result = base.run(PROBES[check.spec.type], check.spec, timeout=check.spec.timeout)
            if result is not None:
                self.metrics.observe(*check.key, result)
                self.results.put((check, result))
        except Exception:  # the store (heartbeats) may be away; the worker carries on
            log.exception("check %s/%s could not run", *check.key)

    def _record_loop(self, stopping: threading.Event) -> None:
        next_sweep = time.monotonic() + self.sweep_seconds
        while not stopping.wait(self.flush_seconds):
            self._flush()
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + self.sweep_seconds
                try:
                    # Silence (no data), maintenance windows opening and closing.
                    self.recorder.update_components(None, utcnow())
                except Exception:
                    log.exception("could not update component status")

    def _housekeeping_loop(self, stopping: threading.Event) -> None:
        """Rollups and retention, by one worker at a time across all regions (a lease)."""
        lease = "housekeeping"
        while not stopping.wait(random.uniform(0, min(5.0, self.housekeeping_seconds))):
            try:
                ttl = self.housekeeping_seconds * 2
                if lease in self.store.claim_leases([lease], self.worker_id, ttl=ttl):
                    report = rollup.run(self.store, self.config(), utcnow())
                    log.info("rolled up %d day(s), pruned %d", len(report.days), report.pruned)
            except Exception:
                log.exception("housekeeping failed; trying again later")
            if stopping.wait(self.housekeeping_seconds):
                return

    def _flush(self) -> None:
        batch = []
        while True:
            try:
                batch.append(self.results.get_nowait())
            except queue.Empty:
                break
        if not batch:
            return
        try:
            self.recorder.record(batch)
        except Exception:
            # Keep them for the next flush: the database may be back by then.
            log.exception("could not store %d probe results; will retry", len(batch))
            for item in batch[-10000:]:
                self.results.put(item)

    def _drain(self, pool: list[threading.Thread]) -> None:
        """Finish in-flight probes (bounded wait), drop the ones not yet started."""
        self._draining = True
        for _ in pool:
            self._todo.put(None)
        deadline = time.monotonic() + self.drain_seconds
        for thread in pool:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._pending:
            log.warning("%d probes still running at shutdown", len(self._pending))
