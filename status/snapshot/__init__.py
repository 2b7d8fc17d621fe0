"""The public data in one immutable object, rebuilt only when the data changed.

Status pages get 10-100x their usual traffic exactly when something breaks, so the
database stays out of the hot path: every public page, JSON document and feed is
rendered from a :class:`Snapshot`. :class:`SnapshotCache` checks the database's data
version at most once a second and rebuilds when it moved (or when the snapshot is a
minute old, for response times and today's uptime). When the database is unreachable
it keeps serving the last snapshot, marked stale, and never fails a request.

Rendered responses are cached per snapshot (:meth:`Snapshot.memo`), so a thundering
herd costs one render per change, not one per request.
"""

from __future__ import annotations

from status.snapshot.build import build, current_statuses
from status.snapshot.cache import SnapshotCache
from status.snapshot.model import (
    HISTORY_DAYS,
    NARROW_DAYS,
    RECENT,
    ComponentView,
    Day,
    Incident,
    Maintenance,
    Snapshot,
    Update,
)

__all__ = [
    "HISTORY_DAYS",
    "NARROW_DAYS",
    "RECENT",
    "ComponentView",
    "Day",
    "Incident",
    "Maintenance",
    "Snapshot",
    "SnapshotCache",
    "Update",
    "build",
    "current_statuses",
]
