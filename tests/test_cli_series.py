"""`flask --app app maintenance schedule --rrule ...`: a recurring series from the shell,
listed, edited and cancelled as a whole — on both engines."""

from __future__ import annotations

from datetime import timedelta

from status.clock import utcnow
from status.runtime import runtime
from tests.test_cli_ops import invoke, last_line

BIWEEKLY = "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"


def next_tuesday() -> str:
    day = (utcnow() + timedelta(days=2)).date()
    return (day + timedelta(days=(1 - day.weekday()) % 7)).isoformat()


def schedule(runner, *extra: str):
    day = next_tuesday()
    return invoke(runner, "maintenance", "schedule", "--title", "Database patching",
                  "--start", f"{day}T02:00", "--end", f"{day}T04:00",
                  "--component", "website", "--body", "Patch night.", *extra)  # fmt: skip


def test_a_series_is_scheduled_listed_edited_and_cancelled_from_the_shell(app, runner):
    result = schedule(runner, "--rrule", BIWEEKLY)
    series_id = last_line(result)
    assert series_id.isdigit()
    store, tz = runtime(app).store, runtime(app).config.site.tz
    windows = store.maintenance_series.occurrences(int(series_id))
    assert 6 <= len(windows) <= 7  # every second Tuesday for 90 days
    assert all(w.scheduled_for.astimezone(tz).strftime("%a %H:%M") == "Tue 02:00" for w in windows)
    assert [line.split("\t")[0] for line in result.output.splitlines()[:-1]] == [
        f"window {w.id}" for w in windows
    ]
    listed = invoke(runner, "maintenance", "list").output
    assert f"series {series_id}\tactive\t{next_tuesday()}T02:00:00+0" in listed  # site time
    assert listed.count(f"\tseries {series_id}\n") == len(windows)

    moved = invoke(runner, "maintenance", "update", series_id, "--series", "--title",
                   "Database patching (new kernel)", "--start", f"{next_tuesday()}T03:00",
                   )  # fmt: skip
    assert moved.exit_code == 0, moved.output
    after = store.maintenance_series.occurrences(int(series_id))
    assert [w.id for w in after] == [w.id for w in windows]
    assert {w.scheduled_for.astimezone(tz).hour for w in after} == {3}
    assert {w.name for w in after} == {"Database patching (new kernel)"}
    assert {(w.scheduled_until - w.scheduled_for) for w in after} == {timedelta(hours=2)}

    cancelled = invoke(runner, "maintenance", "cancel", series_id, "--series", "--body", "Off.")
    assert cancelled.output.strip() == f"series {series_id}: cancelled ({len(windows)} windows)"
    assert f"series {series_id}\tcancelled\t" in invoke(runner, "maintenance", "list").output
    assert all(w.cancelled_at for w in store.maintenance_series.occurrences(int(series_id)))
    actions = [e.action for e in store.audit.entries()]
    assert actions == ["maintenance_series.schedule", "maintenance_series.update",
                       "maintenance_series.cancel"]  # fmt: skip
    assert all(e.actor.startswith("system:cli:") for e in store.audit.entries())


def test_one_window_of_a_series_is_moved_by_itself_and_the_series_leaves_it(app, runner):
    series_id = last_line(schedule(runner, "--rrule", BIWEEKLY))
    store, tz = runtime(app).store, runtime(app).config.site.tz
    first = store.maintenance_series.occurrences(int(series_id))[0]
    day = first.scheduled_for.astimezone(tz).date().isoformat()
    moved = invoke(runner, "maintenance", "update", str(first.id), "--end", f"{day}T06:00")
    assert moved.exit_code == 0, moved.output
    assert store.maintenance.get(first.id).detached
    renamed = invoke(runner, "maintenance", "update", series_id, "--series", "--title", "New")
    assert renamed.exit_code == 0, renamed.output
    names = [w.name for w in store.maintenance_series.occurrences(int(series_id))]
    assert names[0] == "Database patching" and set(names[1:]) == {"New"}


def test_it_refuses_a_bad_rule_or_a_series_option_without_series(app, runner):
    bad = schedule(runner, "--rrule", "FREQ=MINUTELY")
    assert bad.exit_code == 1 and "rrule: FREQ must be one of" in bad.output
    store = runtime(app).store
    assert store.maintenance.all() == [] and store.audit.entries() == []
    window = last_line(schedule(runner))  # without --rrule: one window, as before
    assert store.maintenance.get(int(window)).series_id is None
    assert invoke(runner, "maintenance", "update", window, "--rrule", BIWEEKLY).exit_code == 2
    assert invoke(runner, "maintenance", "update", "999", "--series", "--title", "X").exit_code == 1
    assert invoke(runner, "maintenance", "cancel", "999", "--series").exit_code == 1
