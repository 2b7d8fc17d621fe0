"""The one clock: UTC-aware now. Everything stores and compares UTC; times people type
are read here (ISO 8601, in a zone of the caller's choosing when they have no offset)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo


def utcnow() -> datetime:
    return datetime.now(UTC)


def moment(text: str, tz: tzinfo = UTC) -> datetime:
    """An ISO 8601 time; without an offset it is in ``tz``. ValueError if it is none."""
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo else value.replace(tzinfo=tz)


def moment_or_ago(text: str, tz: tzinfo = UTC) -> datetime:
    """An ISO 8601 time, or a duration before now (``24h``). ValueError if neither."""
    from status.config.values import parse_duration

    try:
        return utcnow() - timedelta(seconds=parse_duration(text))
    except ValueError:
        return moment(text, tz)
