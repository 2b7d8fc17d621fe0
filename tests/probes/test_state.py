"""The pure rules: streaks (flapping control), quorum, freshness, component status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from probes.state import (
    DEGRADED,
    DOWN,
    UP,
    RegionVerdict,
    Streak,
    check_verdict,
    component_status,
)
from status.models import ComponentStatus as S


def verdicts(results: str, failure_threshold: int = 3, success_threshold: int = 2) -> str:
    """Feed results ('.' ok, 'x' failure, 's' slow) and spell the verdict after each."""
    letters = {None: "?", UP: "U", DOWN: "D", DEGRADED: "G"}
    streak, out = Streak(), ""
    for r in results:
        streak = streak.advance(
            ok=r != "x",
            degraded=r == "s",
            failure_threshold=failure_threshold,
            success_threshold=success_threshold,
        )
        out += letters[streak.verdict]
    return out


@pytest.mark.parametrize(
    "results, expected",
    [
        ("...", "UUU"),  # first success: up at once
        ("xxx", "??D"),  # three failures before an outage, no verdict before
        ("..xx.", "UUUUU"),  # fewer failures than the threshold: no flap
        ("..xxx..", "UUUUDDU"),  # recovery needs two successes in a row
        ("..xxx.x.x..", "UUUUDDDDDDU"),  # flapping keeps it down until it is steady
        ("..sss", "UUUUG"),  # slow three times: degraded
        ("..ss.s", "UUUUUU"),  # slow now and then: not degraded
        ("sss..", "UUGGU"),  # back to normal after two clean answers
        ("sss.s.", "UUGGGG"),  # a slow answer restarts the count
        ("xxxs.", "??DDU"),  # slow answers count towards recovery from down
    ],
)
def test_it_follows_the_thresholds(results, expected):
    assert verdicts(results) == expected


def test_it_honours_custom_thresholds():
    assert verdicts("x.x", failure_threshold=1, success_threshold=1) == "DUD"
    assert verdicts("xxxx....", failure_threshold=4, success_threshold=4) == "???DDDDU"


NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def region(name: str, verdict: str | None, age: float = 0) -> RegionVerdict:
    return RegionVerdict(name, verdict, NOW - timedelta(seconds=age))


@pytest.mark.parametrize(
    "regions, quorum, expected",
    [
        ([region("fra", DOWN)], 1, DOWN),
        ([region("fra", DOWN), region("ams", UP)], 1, DOWN),
        ([region("fra", DOWN), region("ams", UP)], 2, UP),  # one region alone is not enough
        ([region("fra", DOWN), region("ams", DOWN), region("lon", UP)], 2, DOWN),
        ([region("fra", DOWN), region("ams", DOWN, age=200)], 2, None),  # ams went silent
        ([region("fra", UP, age=89)], 1, UP),  # within three 30 s intervals
        ([region("fra", UP, age=91)], 1, None),  # silent for three intervals: no data
        ([region("fra", DEGRADED), region("ams", UP)], 1, DEGRADED),
        ([], 1, None),
    ],
)
def test_it_combines_regions_by_quorum_and_freshness(regions, quorum, expected):
    assert check_verdict(regions, quorum=quorum, interval=30, now=NOW) == expected


@pytest.mark.parametrize(
    "checks, expected",
    [
        ([UP], S.OPERATIONAL),
        ([UP, UP], S.OPERATIONAL),
        ([DOWN], S.MAJOR_OUTAGE),
        ([DOWN, DOWN], S.MAJOR_OUTAGE),
        ([DOWN, UP], S.PARTIAL_OUTAGE),
        ([DEGRADED, UP], S.DEGRADED_PERFORMANCE),
        ([DOWN, DEGRADED], S.PARTIAL_OUTAGE),
        ([None], S.UNKNOWN),
        ([None, DOWN], S.MAJOR_OUTAGE),  # the checks with data decide
        ([None, UP], S.OPERATIONAL),
    ],
)
def test_it_derives_the_component_status(checks, expected):
    assert component_status(checks, in_maintenance=False) == expected


def test_maintenance_wins_over_any_outage():
    assert component_status([DOWN, DOWN], in_maintenance=True) == S.UNDER_MAINTENANCE
