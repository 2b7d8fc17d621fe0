"""Reading the console's forms into what the ops commands take."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import request

from status import clock
from status.clock import utcnow
from status.config import parse_duration
from status.ops.errors import Invalid
from status.runtime import runtime


def field(name: str, default: str = "") -> str:
    return request.form.get(name, default).strip()


def flag(name: str) -> bool:
    return request.form.get(name) in ("on", "1", "true", "yes")


def component_statuses() -> dict[str, str]:
    """``component:<id>`` selects: the status the incident gives it, or "" (unaffected)."""
    return {
        key.removeprefix("component:"): value
        for key, value in request.form.items()
        if key.startswith("component:") and value
    }


def local_time(name: str) -> datetime:
    """A ``datetime-local`` input, in the site's timezone."""
    try:
        return clock.moment(field(name), runtime().config.site.tz)
    except ValueError:
        raise Invalid("enter a date and time", name) from None


def since_or_ago(name: str) -> datetime | None:
    """A filter's time: ISO 8601 (UTC without an offset) or a duration ago; None if not."""
    value = request.args.get(name, "").strip()
    try:
        return clock.moment_or_ago(value) if value else None
    except ValueError:
        return None


def expiry(name: str) -> datetime | None:
    """A duration (``2h``) from now, or None when empty."""
    value = field(name)
    if not value:
        return None
    try:
        return utcnow() + timedelta(seconds=parse_duration(value))
    except ValueError as exc:
        raise Invalid(str(exc), name) from None


def known_components() -> set[str]:
    return {c.id for c in runtime().config.components}
