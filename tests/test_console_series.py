"""The console's recurring maintenance: the repeat field, the series page, changing and
cancelling a series — on both engines."""

from __future__ import annotations

from datetime import timedelta

from status.clock import utcnow
from status.runtime import runtime
from tests import test_console as base

people, as_role, post = base.people, base.as_role, base.post  # the fixtures, shared


def next_tuesday() -> str:
    day = (utcnow() + timedelta(days=2)).date()
    return (day + timedelta(days=(1 - day.weekday()) % 7)).isoformat()


def test_a_series_is_scheduled_changed_and_cancelled_from_the_console(app, as_role):
    editor, day = as_role("editor"), next_tuesday()
    scheduled = post(editor, "/console/maintenance", title="DB patching", start=f"{day}T02:00",
                     end=f"{day}T04:00", components="website",
                     rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=TU")  # fmt: skip
    assert scheduled.status_code == 302, scheduled.text
    store, tz = runtime(app).store, runtime(app).config.site.tz
    [series] = store.maintenance_series.page()
    windows = store.maintenance_series.occurrences(series.id)
    assert len(windows) >= 6
    page = editor.get("/console/maintenance").text
    assert "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU" in page and "of a recurring series" in page

    path = f"/console/maintenance/series/{series.id}"
    form = editor.get(path).text
    assert f'value="{day}T02:00"' in form and f'value="{day}T04:00"' in form
    changed = post(editor, path, action="change", title="DB patching", start=f"{day}T03:00",
                   end=f"{day}T05:00", rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
                   components="website")  # fmt: skip
    assert changed.status_code == 302, changed.text
    after = store.maintenance_series.occurrences(series.id)
    assert {w.scheduled_for.astimezone(tz).hour for w in after} == {3}

    bad = post(editor, path, action="change", title="DB patching", start=f"{day}T03:00",
               end=f"{day}T05:00", rrule="FREQ=MINUTELY")  # fmt: skip
    assert bad.status_code == 400 and "rrule: FREQ must be one of" in bad.text
    assert post(as_role("viewer"), path, action="cancel").status_code == 403
    cancelled = post(editor, path, action="cancel", body="Vendor does it.")
    assert cancelled.status_code == 302
    assert all(w.cancelled_at for w in store.maintenance_series.occurrences(series.id))
    assert "Vendor does it." in [u.body for u in store.maintenance.updates(windows[0].id)]
    assert editor.get("/console/maintenance/series/999").status_code == 404


def test_the_series_page_speaks_german(app, as_role):
    editor, day = as_role("editor"), next_tuesday()
    post(editor, "/console/maintenance", title="DB", start=f"{day}T02:00", end=f"{day}T04:00",
         rrule="FREQ=MONTHLY")  # fmt: skip
    [series] = runtime(app).store.maintenance_series.page()
    page = editor.get(f"/console/maintenance/series/{series.id}",
                      headers={"Accept-Language": "de"}).text  # fmt: skip
    assert "Serie ändern" in page and "Serie absagen" in page
