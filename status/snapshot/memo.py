"""What one process keeps from one snapshot build to the next.

A rebuild follows every public change (an incident update, a status change), in every
web process, about once a second while ops post. Most of what it reads did not change:
90 days of rollups per component, hundreds of closed incidents. The memo hands back the
values built last time for inputs that compare equal, so a rebuild costs what changed
(docs/benchmarks.md, "Ops"). Every entry is keyed by everything it is built from: a memo
can make a build cheaper, never different (tests/test_snapshot_memo.py).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date
from typing import Any


class BuildMemo:
    """Per process, used by one build at a time (the snapshot cache's refresh)."""

    def __init__(self) -> None:
        self._days: dict[tuple, Any] = {}
        self._days_used: dict[tuple, Any] = {}
        self._timeline: dict[tuple[str, int], tuple[tuple, Any]] = {}
        self._timeline_used: dict[tuple[str, int], tuple[tuple, Any]] = {}
        self._rollups: tuple[str, date, dict] | None = None
        self.generation = 0  # moves whenever rollups were read anew

    def rollups(self, version: str | None, first_day: date, read: Callable[[], dict]) -> dict:
        """The rollups from ``first_day``, read again only when their version moved."""
        if version is not None and self._rollups and self._rollups[:2] == (version, first_day):
            return self._rollups[2]
        rollups = read()
        self.generation += 1
        self._rollups = (version, first_day, rollups) if version is not None else None
        return rollups

    def days(self, key: tuple, make: Callable[[], Any]) -> Any:
        """A component's day cells for ``key`` (component, first day, the rollups'
        generation, the incidents per day)."""
        found = self._days.get(key)
        if found is None:
            found = make()
        self._days_used[key] = found
        return found

    def knows(self, kind: str, item_id: int, key: tuple) -> bool:
        """Whether the incident or window ``item_id`` was made from ``key`` last time."""
        found = self._timeline.get((kind, item_id))
        return found is not None and found[0] == key

    def timeline(self, kind: str, item_id: int, key: tuple, make: Callable[[], Any]) -> Any:
        """An incident or window, made again when ``key`` (its row, the signature of its
        updates, its components) differs from last time."""
        found = self._timeline.get((kind, item_id))
        if found is None or found[0] != key:
            found = (key, make())
        self._timeline_used[(kind, item_id)] = found
        return found[1]

    def done(self) -> None:
        """End of a build: keep what it used, forget the rest (no unbounded growth)."""
        self._days, self._days_used = self._days_used, {}
        self._timeline, self._timeline_used = self._timeline_used, {}


class ByIdentity:
    """Values made from an object, found again by the object's identity: bounded (the
    least recently used go), thread-safe. A rebuild hands out the very same objects for
    what did not change (a component's days, an unchanged incident), so this is one
    dictionary lookup where comparing by value would walk 90 days. Each entry holds its
    object, so the id cannot be another object's while the entry is kept."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._entries: OrderedDict[tuple, tuple[Any, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, obj: Any, make: Callable[[], Any], *also: Any) -> Any:
        """The value for ``obj`` (and the plain values ``also``), made once."""
        key = (id(obj), *also)
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found[0] is obj:
                self._entries.move_to_end(key)
                return found[1]
        value = make()
        with self._lock:
            self._entries[key] = (obj, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.keep:
                self._entries.popitem(last=False)
        return value
