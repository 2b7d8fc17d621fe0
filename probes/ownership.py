"""Which shards of the region's checks this worker runs: rendezvous hashing over the
live workers, each shard held by a lease in the database (see docs/probes.md)."""

from __future__ import annotations

import zlib
from datetime import datetime

from status.clock import utcnow
from status.store import Store

SHARDS = 64


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
        self.store.leases.claim(
            [member_prefix + self.worker_id], self.worker_id, ttl=self.lease_seconds, now=now
        )
        members = sorted(self.store.leases.live(member_prefix, now).values()) or [self.worker_id]
        mine = {
            s
            for s in range(SHARDS)
            if max(members, key=lambda m, s=s: zlib.crc32(f"{s}:{m}".encode())) == self.worker_id
        }
        held = self.store.leases.claim(
            [self._shard_lease(s) for s in mine], self.worker_id, ttl=self.lease_seconds, now=now
        )
        others = self.shards - mine
        if others:
            self.store.leases.release([self._shard_lease(s) for s in others], self.worker_id)
        self.shards = {s for s in mine if self._shard_lease(s) in held}
        self.wanted = mine
        return self.shards

    def release(self) -> None:
        names = [self._shard_lease(s) for s in range(SHARDS)]
        names += [f"probes:{self.region}:member:{self.worker_id}", "housekeeping"]
        self.store.leases.release(names, self.worker_id)
        self.shards = set()
