"""Daily rollups and raw-result retention.

Raw probe results are kept ``retention.raw_days``; what the 90-day history needs is
condensed into one row per component and day (in the site's timezone), kept forever:
checks, failures, seconds spent in each status (from the change log) and latency
p50/p95. Time without any data ("unknown") has its own column, so uptime maths can
leave it out instead of counting our own silence as uptime.

The job is idempotent: it recomputes every day not yet final (today included, so the
history shows the current day) from the raw data, then deletes raw results that are
both past retention and inside a final day, a batch at a time.
"""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from status.config import Config
from status.store import Store

log = logging.getLogger(__name__)

DONE_KEY = "rollups_final_through"  # the last day whose rollup can no longer change
STATUS_COLUMNS = {
    "operational": "seconds_operational",
    "degraded_performance": "seconds_degraded",
    "partial_outage": "seconds_partial",
    "major_outage": "seconds_major",
    "under_maintenance": "seconds_maintenance",
    "unknown": "seconds_unknown",
}
"""The rollup's column for the seconds in each status (no status yet counts as unknown)."""


@dataclass
class RollupReport:
    days: list[date]
    pruned: int


def seconds_per_status(
    start_status: str | None, changes: list[tuple[datetime, str]], start: datetime, end: datetime
) -> dict[str, float]:
    """Integrate a status timeline over [start, end); no status yet counts as unknown."""
    seconds = dict.fromkeys(STATUS_COLUMNS.values(), 0.0)
    status, since = start_status, start
    for at, new in [*changes, (end, None)]:
        at = min(max(at, start), end)
        seconds[STATUS_COLUMNS.get(status, "seconds_unknown")] += (at - since).total_seconds()
        status, since = new, at
    return seconds


def percentile(values: list[float], q: int) -> float | None:
    """The q-th percentile (inclusive method), or None without values."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def day_bounds(day: date, config: Config) -> tuple[datetime, datetime]:
    """Start and end of a calendar day in the site's timezone."""
    tz = config.site.tz
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    nxt = day + timedelta(days=1)
    return start, datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz)


def rollup_day(store: Store, config: Config, day: date, now: datetime) -> list[dict]:
    start, end = day_bounds(day, config)
    until = min(end, now)
    rows = []
    for component in config.components:
        before, changes = store.components.timeline(component.id, start, until)
        checks, failures, latencies = store.probes.outcomes(component.id, start, until)
        rows.append(
            {
                "component_id": component.id,
                "day": day,
                "checks": checks,
                "failures": failures,
                **seconds_per_status(before, changes, start, until),
                "latency_p50": percentile(latencies, 50),
                "latency_p95": percentile(latencies, 95),
            }
        )
    return rows


def oldest_data(store: Store) -> datetime | None:
    """When the earliest raw result or state change still stored happened."""
    firsts = [store.probes.oldest_result(), store.components.oldest_change()]
    firsts = [f for f in firsts if f is not None]
    return min(firsts) if firsts else None


def run(
    store: Store,
    config: Config,
    now: datetime,
    *,
    prune_batch: int = 5000,
    prune_seconds: float = 30.0,
) -> RollupReport:
    """Bring rollups up to date (through today) and prune raw results past retention."""
    tz = config.site.tz
    today = now.astimezone(tz).date()
    done = store.meta.value(DONE_KEY)
    if done is not None:
        first = date.fromisoformat(done) + timedelta(days=1)
    else:
        oldest = oldest_data(store)
        first = oldest.astimezone(tz).date() if oldest else today
    days = [first + timedelta(days=n) for n in range((today - first).days + 1)]
    for day in days:
        store.rollups.save(rollup_day(store, config, day, now))
    if days and today > first:
        store.meta.set_value(DONE_KEY, (today - timedelta(days=1)).isoformat())

    # Raw results go only once past retention and inside a day whose rollup is final.
    cutoff = min(now - timedelta(days=config.retention.raw_days), day_bounds(today, config)[0])
    pruned, deadline = 0, time.monotonic() + prune_seconds
    while time.monotonic() < deadline:
        deleted = store.probes.prune(cutoff, batch=prune_batch)
        pruned += deleted
        if deleted < prune_batch:
            break
    if pruned:
        log.info("pruned %d raw probe results older than %s", pruned, cutoff.isoformat())
    return RollupReport(days=days, pruned=pruned)
