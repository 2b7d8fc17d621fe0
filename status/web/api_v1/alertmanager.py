"""POST /api/v1/alertmanager: Prometheus Alertmanager's webhook (payload version 4).

Point a receiver at it with a bearer token (``http_config.authorization``; a token with
the editor role) and ``send_resolved: true``; the ``alerts:`` section of the config says
which alerts bear on which components (docs/prometheus.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from flask import Blueprint
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from status import ops
from status.models import Role
from status.ops import alerts as alert_ops  # its values: Notification, Alert
from status.runtime import runtime
from status.web.api_v1.auth import actor
from status.web.api_v1.registry import endpoint

bp = Blueprint("api_v1_alertmanager", __name__)
GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)  # Alertmanager's "no end" (time.Time{})


class Payload(BaseModel):
    """What Alertmanager sends; fields it may add later are ignored."""

    model_config = ConfigDict(extra="ignore")


class AlertIn(Payload):
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = {}
    startsAt: AwareDatetime  # Alertmanager's names, as it sends them
    endsAt: AwareDatetime | None = None
    generatorURL: str = ""
    fingerprint: str = Field(min_length=1, max_length=64)


class NotificationIn(Payload):
    version: Literal["4"]
    groupKey: str = Field(min_length=1, max_length=1000)
    truncatedAlerts: int = 0
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupLabels: dict[str, str] = {}
    commonLabels: dict[str, str] = {}
    commonAnnotations: dict[str, str] = {}
    externalURL: str = ""
    alerts: list[AlertIn] = Field(max_length=10_000)


class ReceivedOut(BaseModel):
    matched: int = Field(description="alerts an `alerts:` rule took")
    unmatched: int = Field(description="alerts no rule took (ignored)")
    changed: int = Field(description="alerts whose state changed")
    incident_id: int | None = Field(description="the incident of the alert group, if any")


@endpoint(
    bp,
    "POST",
    "/alertmanager",
    summary="Receive Prometheus Alertmanager's webhook (payload version 4)",
    tag="alerts",
    role=Role.EDITOR,
    body=NotificationIn,
    answer=ReceivedOut,
    errors=(400, 413),
    max_body=16 * 1024 * 1024,
    invalid_body=400,  # a payload that does not parse (the words)
)
def receive(body: NotificationIn):
    holder = runtime()
    notification = alert_ops.Notification(
        group_key=body.groupKey,
        alerts=[
            alert_ops.Alert(
                fingerprint=a.fingerprint,
                status=a.status,
                labels=a.labels,
                annotations=a.annotations,
                starts_at=a.startsAt,
                ends_at=a.endsAt if a.endsAt and a.endsAt > GO_ZERO_TIME else None,
            )
            for a in body.alerts
        ],
        common_labels=body.commonLabels,
        common_annotations=body.commonAnnotations,
    )
    received = ops.receive_alerts(
        holder.store,
        actor("alertmanager"),
        notification,
        holder.config.alerts,
        language=holder.config.site.languages[0],
    )
    return ReceivedOut(**vars(received))
