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
from collections.abc import Callable

from probes import base, dns, heartbeat, http, prometheus, tcp, tls
from probes.metrics import ProbeMetrics
from probes.ownership import SHARDS, Ownership
from probes.recorder import Check, Recorder, checks_of
from status import rollup
from status.clock import utcnow
from status.config import Config
from status.store import Store

log = logging.getLogger(__name__)

PROBES: dict[str, base.Probe] = {
    "http": http.probe,
    "tcp": tcp.probe,
    "tls": tls.probe,
    "dns": dns.probe,
    "prometheus": prometheus.probe,
}
TICK = 0.005
"""The dispatcher starts what is due at most this often (seconds): the least lag it adds."""


__all__ = ["PROBES", "SHARDS", "Check", "Ownership", "Recorder", "Scheduler", "checks_of"]


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
            self.store.heartbeats.tokens(heartbeats)
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
                row = self.store.heartbeats.get(*check.key)
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
                if lease in self.store.leases.claim([lease], self.worker_id, ttl=ttl):
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
