"""Checks every command makes of what it is given, each refusal naming the field."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from enum import StrEnum

from status.models import ComponentStatus
from status.ops.errors import Invalid

SETTABLE = [s.value for s in ComponentStatus if s != ComponentStatus.UNKNOWN]
"""What a person may say a component's status is ("no data" is the probes' to say)."""


def one_of(enum: type[StrEnum], value: str, field: str) -> str:
    try:
        return enum(value).value
    except ValueError:
        raise Invalid(f"must be one of {', '.join(e.value for e in enum)}", field) from None


def text(value: str | None, field: str, *, max_length: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise Invalid("is required", field)
    if len(value) > max_length:
        raise Invalid(f"must be at most {max_length} characters", field)
    return value


def component_ids(ids: Iterable[str], known: Collection[str] | None, field: str) -> list[str]:
    ids = list(dict.fromkeys(ids))
    unknown = [i for i in ids if known is not None and i not in known]
    if unknown:
        raise Invalid(f"unknown component {unknown[0]!r}", field)
    return ids


def component_statuses(
    statuses: dict[str, str], known: Collection[str] | None, field: str = "components"
) -> dict[str, str]:
    """``{component id: status}``: known components, statuses a person may set."""
    component_ids(statuses, known, field)
    for component_id, status in statuses.items():
        if status not in SETTABLE:
            raise Invalid(f"{component_id}: status must be one of {', '.join(SETTABLE)}", field)
    return dict(statuses)


def window(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise Invalid("needs a timezone", "start")
    if end <= start:
        raise Invalid("must be after the start", "end")
