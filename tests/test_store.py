from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from status.models import ComponentStatus


def test_it_records_each_status_change_once_with_the_new_state(db):
    t0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert db.set_component_status(
        "sip", "major_outage", reason="3 failures", source="probe", at=t0
    )
    assert not db.set_component_status("sip", "major_outage", reason="again", source="probe")
    assert db.set_component_status(
        "sip",
        ComponentStatus.OPERATIONAL,
        reason="recovered",
        source="probe",
        at=t0 + timedelta(minutes=5),
    )

    state = db.component_states()["sip"]
    assert state.status == "operational"
    assert state.since == t0 + timedelta(minutes=5)
    changes = [(c.old_status, c.new_status, c.reason) for c in db.component_changes("sip")]
    assert changes == [
        (None, "major_outage", "3 failures"),
        ("major_outage", "operational", "recovered"),
    ]
    assert db.data_version() == 2


def test_it_returns_aware_utc_datetimes_whatever_zone_went_in(db):
    berlin = timezone(timedelta(hours=1))
    at = datetime(2026, 11, 24, 13, 30, tzinfo=berlin)
    db.set_component_status("web", "operational", reason="manual", source="console", at=at)

    since = db.component_states()["web"].since
    assert since == at
    assert since.tzinfo is not None and since.utcoffset() == timedelta(0)


def test_it_refuses_naive_datetimes(db):
    with pytest.raises(Exception, match="naive datetime"):
        db.set_component_status(
            "web", "operational", reason="x", source="console", at=datetime(2026, 1, 1)
        )
