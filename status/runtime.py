"""What one process holds at run time, and the supervisor of its background workers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask, current_app
from prometheus_client import CollectorRegistry

from status.clock import utcnow
from status.config import ConfigError, ConfigHolder
from status.snapshot import Snapshot, SnapshotCache
from status.store import Store

log = logging.getLogger(__name__)

Worker = Callable[[threading.Event], None]
"""A background loop: runs until the event is set, may raise (it is then restarted)."""


@dataclass
class WorkerState:
    name: str
    target: Worker
    state: str = "starting"
    restarts: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    thread: threading.Thread | None = None


class Supervisor:
    """Runs workers in threads and restarts a crashed one with exponential backoff."""

    def __init__(self, *, backoff: float = 1.0, max_backoff: float = 60.0) -> None:
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.stopping = threading.Event()
        self.workers: dict[str, WorkerState] = {}

    def add(self, name: str, target: Worker) -> None:
        self.workers[name] = WorkerState(name, target)

    def start(self) -> None:
        for worker in self.workers.values():
            worker.thread = threading.Thread(
                target=self._run, args=(worker,), name=f"worker-{worker.name}", daemon=True
            )
            worker.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every worker to finish its current step, and wait for them (bounded)."""
        self.stopping.set()
        deadline = time.monotonic() + timeout
        for worker in self.workers.values():
            if worker.thread:
                worker.thread.join(max(0.0, deadline - time.monotonic()))
                if worker.thread.is_alive():
                    log.warning("worker %s did not stop within %.0fs", worker.name, timeout)

    def _run(self, worker: WorkerState) -> None:
        delay = self.backoff
        while not self.stopping.is_set():
            worker.state = "running"
            started = time.monotonic()
            try:
                worker.target(self.stopping)
                if self.stopping.is_set():
                    break
                raise RuntimeError("worker returned without being stopped")
            except Exception as exc:  # a worker's bug must not take the process down
                log.exception("worker %s crashed; restarting in %.0fs", worker.name, delay)
                worker.state = "restarting"
                worker.restarts += 1
                worker.last_error = f"{type(exc).__name__}: {exc}"
                worker.last_error_at = utcnow()
            if time.monotonic() - started > self.max_backoff:
                delay = self.backoff  # it ran well for a while: a fresh failure starts over
            self.stopping.wait(delay)
            delay = min(delay * 2, self.max_backoff)
        worker.state = "stopped"

    def health(self) -> dict[str, dict]:
        return {
            w.name: {
                "state": w.state,
                "restarts": w.restarts,
                "last_error": w.last_error,
                "last_error_at": w.last_error_at.isoformat() if w.last_error_at else None,
            }
            for w in self.workers.values()
        }


def config_watcher(holder: ConfigHolder, reload_requested: threading.Event, poll: float = 2.0):
    """A worker that reloads the config on request (SIGHUP) or when the file changed."""

    def run(stopping: threading.Event) -> None:
        while not stopping.is_set():
            requested = reload_requested.wait(poll)
            if stopping.is_set():
                return
            if requested or holder.changed_on_disk():
                reload_requested.clear()
                holder.reload()

    return run


@dataclass
class Runtime:
    """The process's shared parts, kept in ``app.extensions["leitstand"]``."""

    store: Store
    config_holder: ConfigHolder | None
    config_error: ConfigError | None = None
    supervisor: Supervisor | None = None
    registry: CollectorRegistry | None = None  # the web /metrics
    started_at: datetime = field(default_factory=utcnow)
    snapshots: SnapshotCache | None = None  # made on first use
    background_snapshots: bool = True  # refresh behind requests (tests: in line)
    snapshot_warmer: Callable[[Snapshot], None] | None = None  # set by the fast path

    def snapshot(self) -> Snapshot:
        """The public data; the database is asked at most once a second."""
        if self.snapshots is None:
            self.snapshots = SnapshotCache(
                self.store,
                lambda: self.config,
                background=self.background_snapshots,
                warm=self.snapshot_warmer,
                started_at=self.started_at,
            )
        return self.snapshots.get()

    @property
    def config(self):
        """The current, valid config; raises the load error if there never was one."""
        if self.config_holder is None:
            raise self.config_error or ConfigError(["no config loaded"])
        return self.config_holder.current


def runtime(app: Flask | None = None) -> Runtime:
    return (app or current_app).extensions["leitstand"]
