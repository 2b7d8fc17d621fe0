"""The current snapshot of one process: cheap to ask on every request."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from status.clock import utcnow
from status.config import Config
from status.snapshot.build import build, empty
from status.snapshot.memo import BuildMemo
from status.snapshot.model import Snapshot
from status.store import Store

log = logging.getLogger(__name__)


class SnapshotCache:
    """The current snapshot for one process; cheap to ask on every request.

    With ``background`` (the default outside tests) a due refresh runs in a thread of
    its own while requests keep getting the current snapshot: no visitor waits for the
    database or for a rebuild. The new snapshot is first handed to ``warm`` — which
    renders the most asked-for answers against it — and only then swapped in, so the
    first requests after a change find their answers ready (stale-while-revalidate).
    """

    def __init__(
        self,
        store: Store,
        config: Callable[[], Config],
        *,
        check_every: float = 1.0,
        max_age: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        background: bool = False,
        warm: Callable[[Snapshot], None] | None = None,
        started_at: datetime | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.check_every = check_every
        self.max_age = max_age
        self.clock = clock
        self.background = background
        self.warm = warm
        self.started_at = started_at or utcnow()  # what a fresh database's status dates from
        self._snapshot: Snapshot | None = None
        self._built = 0.0
        self._checked = float("-inf")
        self._lock = threading.Lock()
        self._refreshing = False
        self._memo = BuildMemo()  # what the last build made, for the next (one at a time)
        self._pinned = threading.local()  # the warming thread sees the new snapshot

    def get(self) -> Snapshot:
        pinned = getattr(self._pinned, "snapshot", None)
        if pinned is not None:
            return pinned
        snapshot = self._snapshot
        if snapshot is not None and self.clock() - self._checked < self.check_every:
            return snapshot  # the hot path: no lock, no database
        if snapshot is not None and self.background:
            with self._lock:
                if self._refreshing or self.clock() - self._checked < self.check_every:
                    return self._snapshot
                self._refreshing = True
                self._checked = self.clock()
            threading.Thread(target=self._refresh_behind, name="snapshot", daemon=True).start()
            return snapshot
        with self._lock:
            if self._snapshot is not None and self.clock() - self._checked < self.check_every:
                return self._snapshot
            self._checked = self.clock()
            new = self._next()
            if new is not None:
                self._swap(new)
            return self._snapshot

    def _refresh_behind(self) -> None:
        try:
            new = self._next()
            if new is not None:
                if self.warm and new.database_ok:
                    self._pinned.snapshot = new
                    try:
                        self.warm(new)
                    except Exception:
                        log.exception("warming the new snapshot failed; serving it cold")
                    finally:
                        self._pinned.snapshot = None
                self._swap(new)
        finally:
            self._refreshing = False

    def _swap(self, new: Snapshot) -> None:
        if new.database_ok:
            self._built = self.clock()
        self._snapshot = new

    def _next(self) -> Snapshot | None:
        """A new snapshot, or None when the current one is still right."""
        current = self._snapshot
        config = self.config()
        try:
            if (
                current is not None
                and current.config is config
                and current.database_ok
                and self.clock() - self._built < self.max_age
                and self.store.meta.data_version() == current.version
            ):
                return None
            return build(self.store, config, started_at=self.started_at, memo=self._memo)
        except Exception as exc:
            log.warning("cannot refresh the public snapshot: %s", str(exc).splitlines()[0])
            if current is None:
                return empty(config)
            if not current.database_ok:
                return None  # already marked stale
            return Snapshot(
                version=current.version,
                built_at=current.built_at,
                config=current.config,
                components=current.components,
                incidents=current.incidents,
                maintenances=current.maintenances,
                database_ok=False,
                stale_since=utcnow(),
            )
