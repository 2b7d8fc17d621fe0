"""Pure rules from probe results to component status: thresholds, quorum, freshness.

Per check and region a :class:`Streak` counts consecutive results (Gatus' flapping
control): ``failure_threshold`` failures in a row make it ``down``; from ``down`` it
takes ``success_threshold`` successes in a row to come back. Slow answers (above
``max_latency``) make it ``degraded`` by the same thresholds. A check never heard of
starts ``up`` on its first success and stays without a verdict until it has one.

Across regions a check is down when at least ``quorum`` fresh regions say so. Across
the probes of a component (see :func:`component_status`): all failing is a major
outage, some failing a partial outage, any degraded is degraded performance, no fresh
data at all is ``unknown`` (no data), never "up".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from status.models import ComponentStatus
from status.rules import STALE_AFTER_INTERVALS

UP, DEGRADED, DOWN = "up", "degraded", "down"


@dataclass(frozen=True)
class Streak:
    verdict: str | None = None
    failures: int = 0  # consecutive failed results
    successes: int = 0  # consecutive ok results, slow or not
    slow: int = 0  # consecutive ok-but-slow results
    clean: int = 0  # consecutive ok and fast results

    def advance(
        self, *, ok: bool, degraded: bool, failure_threshold: int, success_threshold: int
    ) -> Streak:
        """The streak after one more result."""
        if not ok:
            s = replace(self, failures=self.failures + 1, successes=0, slow=0, clean=0)
        elif degraded:
            s = replace(self, failures=0, successes=self.successes + 1, slow=self.slow + 1, clean=0)
        else:
            s = replace(
                self, failures=0, successes=self.successes + 1, slow=0, clean=self.clean + 1
            )

        if s.failures >= failure_threshold:
            verdict = DOWN
        elif s.failures:
            verdict = s.verdict  # not enough failures yet to change anything
        elif s.verdict == DOWN and s.successes < success_threshold:
            verdict = DOWN  # recovering, not yet recovered
        elif s.slow >= failure_threshold or (s.verdict == DEGRADED and s.clean < success_threshold):
            verdict = DEGRADED
        else:
            verdict = UP
        return replace(s, verdict=verdict)


@dataclass(frozen=True)
class RegionVerdict:
    region: str
    verdict: str | None
    last_result_at: datetime


def check_verdict(
    regions: Iterable[RegionVerdict],
    *,
    quorum: int,
    interval: float,
    now: datetime,
    late: Mapping[str, float] | None = None,
) -> str | None:
    """One check's verdict across regions; None when no region has fresh data.

    ``late`` gives, per region, seconds its results stay fresh beyond the three
    intervals (the worker's own region: see Recorder).
    """
    window = interval * STALE_AFTER_INTERVALS
    late = late or {}
    fresh = [
        r.verdict
        for r in regions
        if r.verdict and r.last_result_at >= now - timedelta(seconds=window + late.get(r.region, 0))
    ]
    if fresh.count(DOWN) >= quorum:
        return DOWN
    if DEGRADED in fresh:
        return DEGRADED
    if UP in fresh:
        return UP
    return None  # silent, or only a minority of regions saw it down


def component_status(verdicts: Iterable[str | None], *, in_maintenance: bool) -> ComponentStatus:
    """A component's status from the verdicts of its checks."""
    if in_maintenance:
        return ComponentStatus.UNDER_MAINTENANCE
    known = [v for v in verdicts if v is not None]
    if not known:
        return ComponentStatus.UNKNOWN
    down = known.count(DOWN)
    if down == len(known):
        return ComponentStatus.MAJOR_OUTAGE
    if down:
        return ComponentStatus.PARTIAL_OUTAGE
    if DEGRADED in known:
        return ComponentStatus.DEGRADED_PERFORMANCE
    return ComponentStatus.OPERATIONAL
