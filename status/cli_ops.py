"""``flask --app app incident|maintenance|override ...``: post from a shell or a pipeline.

The forms are a contract: ``incident open`` and ``maintenance schedule`` print the new
id alone on their last line (``maintenance schedule --rrule``: the series' id). Times
without an offset are in the site's timezone. Every change goes through
:mod:`status.ops` (validated, audited, an event for the subscribers) as actor
``system:cli:<login name>``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import click
from flask.cli import AppGroup

from status import ops
from status.cli import config_holder
from status.cli_accounts import run
from status.clock import moment, utcnow
from status.config import parse_duration
from status.models import Impact, IncidentStatus, MaintenanceStatus
from status.ops.validate import SETTABLE
from status.runtime import runtime

INCIDENT_STATUSES = click.Choice([s.value for s in IncidentStatus])
IMPACTS = click.Choice([i.value for i in Impact])
MAINTENANCE_STATUSES = click.Choice([s.value for s in MaintenanceStatus])
COMPONENT_STATUSES = click.Choice(SETTABLE)


def known_components() -> set[str]:
    return {c.id for c in config_holder(runtime()).current.components}


def component_pairs(values: tuple[str, ...]) -> dict[str, str]:
    """``--component sip-gateway=major_outage`` (repeatable) as {id: status}."""
    pairs = {}
    for value in values:
        component, sep, status = value.partition("=")
        if not sep or not component or not status:
            raise click.BadParameter(f"{value!r}: use ID=STATUS", param_hint="--component")
        pairs[component] = status
    return pairs


def local_time(value: str, field: str) -> datetime:
    """ISO 8601; without an offset, in the site's timezone."""
    try:
        return moment(value, config_holder(runtime()).current.site.tz)
    except ValueError:
        raise click.BadParameter(
            "an ISO 8601 time, e.g. 2026-12-01T02:00", param_hint=field
        ) from None


# -- incidents -----------------------------------------------------------------------------
@click.group("incident", cls=AppGroup)
def incident_group() -> None:
    """Incidents: open, update, resolve, list."""


@incident_group.command("open")
@click.option("--template", "template_id", help="Start from an incident template of the config.")
@click.option("--name")
@click.option("--status", type=INCIDENT_STATUSES, help="[default: investigating]")
@click.option("--impact", type=IMPACTS)
@click.option("--component", "components", multiple=True, help="ID=STATUS, repeatable.")
@click.option("--body", help="The first update (Markdown).")
@click.option("--notify/--no-notify", default=True, show_default=True)
def incident_open(template_id, name, status, impact, components, body, notify) -> None:
    """Open an incident; prints its id alone on the last line. Options given win over
    the template's."""
    fields = template_fields(template_id)
    given = {"name": name, "status": status, "impact": impact, "body": body}
    fields.update({k: v for k, v in given.items() if v is not None})
    if components:
        fields["components"] = component_pairs(components)
    for option in ("name", "impact"):
        if not fields.get(option):
            raise click.UsageError(f"Missing option '--{option}' (or a --template).")
    incident_id = run(
        ops.open_incident,
        **{"status": "investigating", "body": "", **fields},
        notify=notify,
        known_components=known_components(),
    )
    click.echo(incident_id)


def template_fields(template_id: str | None) -> dict:
    if template_id is None:
        return {}
    template = config_holder(runtime()).current.incident_template(template_id)
    if template is None:
        raise click.BadParameter(f"no incident template {template_id!r}", param_hint="--template")
    return template.model_dump(exclude={"id"})


@incident_group.command("update")
@click.argument("incident_id", type=int)
@click.option("--status", type=INCIDENT_STATUSES, required=True)
@click.option("--body", default="")
@click.option("--component", "components", multiple=True, help="ID=STATUS, repeatable.")
@click.option("--notify/--no-notify", default=True, show_default=True)
def incident_update(incident_id, status, body, components, notify) -> None:
    """Post an update to INCIDENT_ID."""
    run(
        ops.update_incident,
        incident_id,
        status=status,
        body=body,
        components=component_pairs(components),
        notify=notify,
        known_components=known_components(),
    )
    click.echo(f"incident {incident_id}: {status}")


@incident_group.command("resolve")
@click.argument("incident_id", type=int)
@click.option("--body", default="")
@click.option("--notify/--no-notify", default=True, show_default=True)
def incident_resolve(incident_id, body, notify) -> None:
    """Resolve INCIDENT_ID with a last update."""
    run(ops.resolve_incident, incident_id, body=body, notify=notify)
    click.echo(f"incident {incident_id}: resolved")


@incident_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Resolved ones too (default: open).")
def incident_list(show_all: bool) -> None:
    """Incidents, newest first: id, status, impact, started, components, name (a draft's
    name says so)."""
    rows = runtime().store.incidents.listing(open_only=not show_all, limit=100_000)
    for row, _, components in rows:
        affected = ",".join(f"{c.component_id}={c.status}" for c in components) or "-"
        click.echo(
            f"{row.id}\t{row.status}\t{row.impact}\t"
            f"{row.started_at.isoformat(timespec='seconds')}\t{affected}\t"
            f"{'[draft] ' if row.draft else ''}{row.name}"
        )


@incident_group.command("publish")
@click.argument("incident_id", type=int)
@click.option("--notify/--no-notify", default=True, show_default=True)
def incident_publish(incident_id, notify) -> None:
    """Put the draft INCIDENT_ID (an alert's, say) on the public page."""
    run(ops.publish_incident, incident_id, notify=notify)
    click.echo(f"incident {incident_id}: published")


# -- maintenance ---------------------------------------------------------------------------
@click.group("maintenance", cls=AppGroup)
def maintenance_group() -> None:
    """Maintenance windows: schedule, update, cancel, list."""


@maintenance_group.command("schedule")
@click.option("--title", required=True)
@click.option("--start", required=True, help="ISO 8601; site timezone unless an offset is given.")
@click.option("--end", required=True, help="ISO 8601; site timezone unless an offset is given.")
@click.option("--component", "components", multiple=True, help="A component id, repeatable.")
@click.option("--body", default="")
@click.option("--notify/--no-notify", default=True, show_default=True)
@click.option("--rrule", help="Repeat by this RRULE, e.g. FREQ=WEEKLY;INTERVAL=2;BYDAY=TU.")
def maintenance_schedule(title, start, end, components, body, notify, rrule) -> None:
    """Schedule a window; prints its id alone on the last line. With --rrule a series
    from that first window, repeating at the same site time: prints its windows, then
    the series id alone on the last line."""
    fields = dict(
        name=title,
        body=body,
        scheduled_for=local_time(start, "--start"),
        scheduled_until=local_time(end, "--end"),
        components=components,
        notify=notify,
        known_components=known_components(),
    )
    if rrule is None:
        click.echo(run(ops.schedule_maintenance, **fields))
        return
    timezone = config_holder(runtime()).current.site.timezone
    series_id = run(ops.schedule_series, **fields, rrule=rrule, timezone=timezone)
    for row in runtime().store.maintenance_series.occurrences(series_id):
        click.echo(f"window {row.id}\t{site(row.scheduled_for)}\t{site(row.scheduled_until)}")
    click.echo(series_id)


def site(moment: datetime) -> str:
    return moment.astimezone(config_holder(runtime()).current.site.tz).isoformat()


@maintenance_group.command("update")
@click.argument("maintenance_id", type=int)
@click.option("--series", is_flag=True, help="The id is a series': change the series.")
@click.option("--status", type=MAINTENANCE_STATUSES, help="e.g. in_progress, completed")
@click.option("--start", help="A new start (site time unless an offset is given).")
@click.option("--end", help="A new end: extend or shorten the window.")
@click.option("--body", default="")
@click.option("--title", help="With --series: a new title.")
@click.option("--rrule", help="With --series: a new rule.")
@click.option("--component", "components", multiple=True, help="With --series: components.")
def maintenance_update(maintenance_id, series, status, start, end, body, title, rrule,
                       components) -> None:  # fmt: skip
    """Post an update to MAINTENANCE_ID, or move, extend or shorten it (a window of a
    series is then left alone by edits of the series). With --series, change the
    series: its windows that have not started and were not edited by themselves follow."""
    if series:
        update_series(maintenance_id, status, start, end, body, title, rrule, components)
        return
    if title or rrule or components:
        raise click.UsageError("--title, --rrule and --component change a series: add --series")
    if not (status or start or end):
        raise click.UsageError("say what changes: --status, --start or --end")
    if start or end:
        run(
            ops.reschedule_maintenance,
            maintenance_id,
            scheduled_for=local_time(start, "--start") if start else None,
            scheduled_until=local_time(end, "--end") if end else None,
            body="" if status else body,
        )
        click.echo(f"maintenance {maintenance_id}: rescheduled")
    if status:
        run(ops.update_maintenance, maintenance_id, status=status, body=body)
        click.echo(f"maintenance {maintenance_id}: {status}")


def update_series(series_id, status, start, end, body, title, rrule, components) -> None:
    if status:
        raise click.UsageError("a series has no status; update one of its windows")
    if not (start or end or body or title or rrule or components):
        raise click.UsageError("say what changes: --title, --body, --start, --end, --rrule")
    run(
        ops.update_series,
        series_id,
        name=title,
        body=body or None,
        scheduled_for=local_time(start, "--start") if start else None,
        scheduled_until=local_time(end, "--end") if end else None,
        rrule=rrule,
        components=list(components) or None,
        known_components=known_components(),
    )
    click.echo(f"series {series_id}: updated")


@maintenance_group.command("cancel")
@click.argument("maintenance_id", type=int)
@click.option("--series", is_flag=True, help="The id is a series': cancel all its windows.")
@click.option("--body", default="")
def maintenance_cancel(maintenance_id, series, body) -> None:
    """Cancel MAINTENANCE_ID (it stays in calendars, marked cancelled); with --series,
    the series and every window of it that has not started."""
    if series:
        cancelled = run(ops.cancel_series, maintenance_id, body=body)
        click.echo(f"series {maintenance_id}: cancelled ({len(cancelled)} windows)")
        return
    run(ops.cancel_maintenance, maintenance_id, body=body)
    click.echo(f"maintenance {maintenance_id}: cancelled")


@maintenance_group.command("list")
def maintenance_list() -> None:
    """Series first (series ID, state, first start, first end, components, title, rule),
    then windows, latest start first: id, status, start, end, components, title (and
    the series of a window of one)."""
    store = runtime().store
    for row in store.maintenance_series.page(limit=100):
        first = row.dtstart.replace(tzinfo=ZoneInfo(row.timezone))
        click.echo(
            f"series {row.id}\t{'cancelled' if row.cancelled_at else 'active'}\t"
            f"{first.isoformat()}\t"
            f"{(first + timedelta(seconds=row.duration_seconds)).isoformat()}\t"
            f"{','.join(row.components) or '-'}\t{row.name}\t{row.rrule}"
        )
    for row, _, components in store.maintenance.public():
        status = "cancelled" if row.cancelled_at else row.status
        series = f"\tseries {row.series_id}" if row.series_id else ""
        click.echo(
            f"{row.id}\t{status}\t{site(row.scheduled_for)}\t{site(row.scheduled_until)}\t"
            f"{','.join(c.component_id for c in components) or '-'}\t{row.name}{series}"
        )


# -- overrides -----------------------------------------------------------------------------
@click.group("override", cls=AppGroup)
def override_group() -> None:
    """Overrides: a component's status set by hand while the probes are wrong."""


@override_group.command("set")
@click.argument("component")
@click.argument("status", type=COMPONENT_STATUSES)
@click.option("--reason", required=True)
@click.option("--for", "duration", help="How long, e.g. 2h (default: until cleared).")
def override_set(component, status, reason, duration) -> None:
    """Show COMPONENT as STATUS, whatever the probes say."""
    expires_at = None
    if duration:
        try:
            expires_at = utcnow() + timedelta(seconds=parse_duration(duration))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--for") from None
    run(
        ops.set_override,
        component=component,
        status=status,
        reason=reason,
        expires_at=expires_at,
        known_components=known_components(),
    )
    until = f" until {expires_at.isoformat(timespec='seconds')}" if expires_at else ""
    click.echo(f"{component}: {status}{until}")


@override_group.command("clear")
@click.argument("component")
def override_clear(component) -> None:
    """Let the probes speak for COMPONENT again."""
    run(ops.clear_override, component=component)
    click.echo(f"{component}: override cleared")


@override_group.command("list")
def override_list() -> None:
    """Overrides in force: component, status, until, reason."""
    for row in runtime().store.overrides.active(utcnow()).values():
        until = row.expires_at.isoformat(timespec="seconds") if row.expires_at else "cleared"
        click.echo(f"{row.component_id}\t{row.status}\t{until}\t{row.actor}\t{row.reason}")


def init_app(app) -> None:
    for group in (incident_group, maintenance_group, override_group):
        app.cli.add_command(group)
