"""The config file's models, from its sections up to the whole ``Config`` (DESIGN §7).

The probe models, which components list, are in ``status.config.probes``.
"""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, IPvAnyNetwork, field_validator, model_validator

# Imported at run time, not for type checking only: pydantic resolves the annotations
# (``from __future__ import annotations`` makes them strings) in this module's namespace.
from status.config.alerts import AlertRule
from status.config.probes import Probe
from status.config.values import Duration, HttpUrl, Model, Port, Slug


class Site(Model):
    title: str
    url: HttpUrl
    timezone: str = "UTC"
    languages: list[Literal["en", "de"]] = Field(["en", "de"], min_length=1)

    @field_validator("url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone '{value}'") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Group(Model):
    id: Slug
    name: str
    description: str = ""


class Component(Model):
    id: Slug
    name: str
    group: str | None = None
    description: str = ""
    failure_threshold: int = Field(3, ge=1)
    success_threshold: int = Field(2, ge=1)
    quorum: int = Field(1, ge=1)
    auto_incident: bool = False
    showcase: bool = True
    only_show_if_degraded: bool = False
    probes: list[Probe] = []


TLS_MODES = "starttls and tls exclude each other: choose one"


class Smtp(Model):
    host: str
    port: Port = 587
    starttls: bool = True
    tls: bool = False
    username: str | None = None
    password: str | None = None
    sender: str = Field(alias="from")
    timeout: Duration = 10.0
    # The notifier's pool: this many connections, each reused for this many messages.
    connections: int = Field(4, ge=1, le=64)
    messages_per_connection: int = Field(100, ge=1, le=100_000)

    @field_validator("host", "username", "password", "sender")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and ("\r" in value or "\n" in value):
            raise ValueError("must be one line")
        return value

    @model_validator(mode="after")
    def _one_tls_mode(self):
        if self.starttls and self.tls:
            raise ValueError(TLS_MODES)
        return self


class Notifications(Model):
    """How long the notifier keeps trying a delivery, and how its retries back off."""

    max_age: Duration = 24 * 3600.0  # then the row is failed, with the last error
    retry_after: Duration = 30.0  # the first retry; each next one waits twice as long
    retry_max: Duration = 3600.0  # the longest wait between two attempts


class Webhooks(Model):
    """Webhook subscriptions: where they may point (status/netguard.py), whom to trust,
    how long to wait for an answer."""

    # Networks a webhook may reach although they are not public (loopback, private,
    # link-local, ...); a target inside them may also use plain http. Empty: only
    # public addresses, only https.
    allow_networks: list[IPvAnyNetwork] = []
    ca_file: str | None = None  # PEM of the CAs to trust instead of the system's
    connect_timeout: Duration = 5.0
    read_timeout: Duration = 10.0


class Scheduler(Model):
    concurrency: int = Field(32, ge=1, le=1024)


class Retention(Model):
    raw_days: int = Field(7, ge=1)
    audit_days: int | None = Field(None, ge=30)  # None: the audit log is kept forever


class Console(Model):
    """The ops console's sessions (the TOM: screen lock after 5 idle minutes)."""

    idle_timeout: Duration = 300.0
    session_lifetime: Duration = 12 * 3600.0
    require_totp_for_admins: bool = False


class Subscriptions(Model):
    """Email subscriptions: how long a sign-up may stay unconfirmed, how many
    confirmation emails one address may be sent a day, the consent text's version."""

    unconfirmed_days: int = Field(7, ge=1, le=90)
    max_confirmations: int = Field(3, ge=1, le=20)
    consent_version: str = Field("1", min_length=1, max_length=64)
    privacy_url: HttpUrl | None = None


class IncidentTemplate(Model):
    """A common case, ready to post: the console and ``incident open --template`` fill
    the form from it."""

    id: Slug
    name: str = Field(min_length=1, max_length=300)
    status: Literal["investigating", "identified", "monitoring"] = "investigating"
    impact: Literal["none", "minor", "major", "critical"] = "minor"
    body: str = ""
    components: dict[
        str,
        Literal["operational", "degraded_performance", "partial_outage", "major_outage",
                "under_maintenance"],
    ] = {}  # fmt: skip


class Config(Model):
    site: Site
    groups: list[Group] = []
    components: list[Component] = Field(min_length=1)
    smtp: Smtp | None = None
    notifications: Notifications = Notifications()
    scheduler: Scheduler = Scheduler()
    retention: Retention = Retention()
    console: Console = Console()
    subscriptions: Subscriptions = Subscriptions()
    webhooks: Webhooks = Webhooks()
    incident_templates: list[IncidentTemplate] = []
    alerts: list[AlertRule] = []

    def component(self, component_id: str) -> Component | None:
        return next((c for c in self.components if c.id == component_id), None)

    def incident_template(self, template_id: str) -> IncidentTemplate | None:
        return next((t for t in self.incident_templates if t.id == template_id), None)

    def group(self, group_id: str) -> Group | None:
        return next((g for g in self.groups if g.id == group_id), None)

    def components_in(self, group_id: str) -> list[Component]:
        return [c for c in self.components if c.group == group_id]
