"""The request and answer models of /api/v1: they validate, and they are the OpenAPI
document's schemas (``registry.py``), so the two cannot disagree."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

IncidentStatus = Literal["investigating", "identified", "monitoring", "resolved", "postmortem"]
Impact = Literal["none", "minor", "major", "critical"]
MaintenanceStatus = Literal["scheduled", "in_progress", "verifying", "completed"]
ComponentStatus = Literal[
    "operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"
]
Role = Literal["viewer", "editor", "admin"]
Body = Field("", max_length=20_000, description="Markdown")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- paging ----------------------------------------------------------------------------------
def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        return int(base64.urlsafe_b64decode(padded.encode()).decode())
    except ValueError:
        raise ValueError("not a cursor from this API") from None


def next_cursor(items: list, limit: int) -> str | None:
    """The cursor of the page after ``items`` (by id), or None on the last page."""
    return encode_cursor(items[-1].id) if len(items) == limit else None


class PageQuery(Model):
    limit: int = Field(50, ge=1, le=100)
    cursor: str | None = Field(None, max_length=40, description="next_cursor of the last page")

    @field_validator("cursor")
    @classmethod
    def _cursor(cls, value: str | None) -> str | None:
        if value is not None:
            decode_cursor(value)
        return value

    @property
    def after(self) -> int | None:
        return decode_cursor(self.cursor) if self.cursor else None


# -- incidents -------------------------------------------------------------------------------
class IncidentCreate(Model):
    name: str = Field(min_length=1, max_length=300)
    status: IncidentStatus = "investigating"
    impact: Impact
    body: str = Body
    components: dict[str, ComponentStatus] = Field(
        default_factory=dict, description="component id -> the status this incident causes"
    )
    notify: bool = True
    draft: bool = Field(False, description="keep it off the public page until published")


class IncidentUpdateCreate(Model):
    status: IncidentStatus
    body: str = Body
    components: dict[str, ComponentStatus] = Field(default_factory=dict)
    notify: bool = True


class UpdateEdit(Model):
    body: str = Body


class UpdateOut(Model):
    id: int
    status: str
    body: str
    created_at: datetime
    edited_at: datetime | None
    notify: bool


class IncidentOut(Model):
    id: int
    name: str
    status: IncidentStatus
    impact: Impact
    created_at: datetime
    updated_at: datetime
    started_at: datetime
    monitoring_at: datetime | None
    resolved_at: datetime | None
    components: dict[str, str]
    draft: bool = Field(False, description="not on the public page yet")
    updates: list[UpdateOut] = Field(description="newest first")


class IncidentPublish(Model):
    notify: bool = Field(True, description="tell the subscribers")


class IncidentQuery(PageQuery):
    state: Literal["open", "all"] = "all"


class IncidentPage(Model):
    data: list[IncidentOut]
    next_cursor: str | None


# -- maintenance -----------------------------------------------------------------------------
class MaintenanceCreate(Model):
    title: str = Field(min_length=1, max_length=300)
    start: datetime = Field(description="ISO 8601; without an offset, in the site timezone")
    end: datetime = Field(description="ISO 8601; without an offset, in the site timezone")
    components: list[str] = Field(default_factory=list)
    body: str = Body
    auto_transition: bool = Field(True, description="start and complete on time by itself")
    notify: bool = True
    rrule: str | None = Field(
        None,
        min_length=1,
        max_length=500,
        description="Repeat: an RFC 5545 RRULE (FREQ=DAILY|WEEKLY|MONTHLY|YEARLY), e.g. "
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU. start and end are the first window; every "
        "window keeps its wall-clock time in the site timezone (DST included). The answer "
        "is the first window; its series_id names the series.",
    )


class MaintenanceUpdateCreate(Model):
    status: MaintenanceStatus
    body: str = Body
    notify: bool = True


class MaintenanceChange(Model):
    start: datetime | None = Field(None, description="without an offset: site timezone")
    end: datetime | None = Field(None, description="extend or shorten the window")
    body: str = Body
    notify: bool = True


class MaintenanceCancel(Model):
    body: str = Body


class MaintenanceOut(Model):
    id: int
    title: str
    status: MaintenanceStatus
    cancelled: bool
    scheduled_for: datetime
    scheduled_until: datetime
    auto_transition: bool
    components: list[str]
    updates: list[UpdateOut] = Field(description="newest first")
    series_id: int | None = Field(description="the recurring series it belongs to")
    occurrence_start: datetime | None = Field(description="the start its series' rule gave it")
    detached: bool = Field(description="changed by itself: changes of the series skip it")


class MaintenancePage(Model):
    data: list[MaintenanceOut]
    next_cursor: str | None


class SeriesChange(Model):
    title: str | None = Field(None, min_length=1, max_length=300)
    body: str | None = Field(None, max_length=20_000, description="Markdown")
    start: datetime | None = Field(None, description="the first window's start (site time)")
    end: datetime | None = Field(None, description="its end; a new start alone keeps length")
    rrule: str | None = Field(None, min_length=1, max_length=500)
    components: list[str] | None = None
    notify: bool = True


class SeriesOut(Model):
    id: int
    title: str
    body: str
    rrule: str
    start: datetime = Field(description="the first window, in the series' timezone")
    end: datetime
    timezone: str
    components: list[str]
    auto_transition: bool
    cancelled: bool
    created_at: datetime
    updated_at: datetime
    windows_until: datetime = Field(description="its windows exist up to here (the clock "
                                    "moves this 90 days ahead, once a day)")  # fmt: skip
    occurrences: list[MaintenanceOut] = Field(description="its windows, earliest first")


class SeriesPage(Model):
    data: list[SeriesOut] = Field(description="without their occurrences")
    next_cursor: str | None


# -- overrides -------------------------------------------------------------------------------
class OverrideSet(Model):
    status: ComponentStatus
    reason: str = Field(min_length=1, max_length=1000)
    expires_at: AwareDatetime | None = None


class OverrideOut(Model):
    component: str
    status: str
    reason: str
    created_at: datetime
    expires_at: datetime | None
    actor: str


class OverrideList(Model):
    data: list[OverrideOut]


# -- users and tokens ------------------------------------------------------------------------
class UserCreate(Model):
    username: str = Field(min_length=1, max_length=150, description="an email address")
    password: str = Field(min_length=1, max_length=1024)
    role: Role


class UserChange(Model):
    role: Role | None = None
    disabled: bool | None = None
    password: str | None = Field(None, min_length=1, max_length=1024)


class UserOut(Model):
    username: str
    role: Role
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None


class UserList(Model):
    data: list[UserOut]


class TokenCreate(Model):
    name: str = Field(min_length=1, max_length=150)
    role: Role
    expires_at: AwareDatetime | None = None
    user: str | None = Field(None, description="the user it acts for; ends with their access")


class TokenOut(Model):
    id: int
    name: str
    prefix: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="shown this once; only its hash is stored")


class TokenList(Model):
    data: list[TokenOut]


# -- audit -----------------------------------------------------------------------------------
class AuditQuery(PageQuery):
    actor: str | None = Field(None, max_length=200)
    object_type: str | None = Field(None, max_length=64)
    object_id: str | None = Field(None, max_length=200)
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


class AuditEntryOut(Model):
    id: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str | None
    ip: str | None
    details: dict[str, Any]
    hash: str


class AuditPage(Model):
    data: list[AuditEntryOut]
    next_cursor: str | None
