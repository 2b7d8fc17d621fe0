"""/api/v1/subscribers: sign up (public, no token, rate-limited) and, for admins, find,
export (GDPR Art. 15) and erase (Art. 17) one subscriber by exact address.

The admin endpoints take the address in a JSON body, not in the URL, so it stays out of
access logs. The sign-up answers the same whatever the address (no enumeration); a
browser on another site cannot send it (JSON needs a CORS preflight this API never
grants).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import Blueprint, request
from pydantic import Field

from status.models import Role
from status.ops import subscriber_admin as admin
from status.ops import subscribers as subs
from status.runtime import runtime
from status.web.api_v1.auth import actor
from status.web.api_v1.errors import ApiError
from status.web.api_v1.registry import endpoint
from status.web.api_v1.schemas import Model
from status.web.security import small_body, subscription_limits

bp = Blueprint("api_v1_subscribers", __name__)
ACCEPTED = (
    "If the address can receive our emails, a confirmation email is on its way; "
    "nothing is sent to it before it is confirmed."
)


class SubscribeIn(Model):
    email: str = Field(max_length=320, description="the address to send updates to")
    components: list[str] | None = Field(
        None, max_length=500, description="component ids; absent or null: all components"
    )
    language: Literal["en", "de"] | None = Field(None, description="default: the site's first")


class SubscribeAccepted(Model):
    status: Literal["accepted"] = "accepted"
    message: str = ACCEPTED


class EmailIn(Model):
    email: str = Field(max_length=320, description="the exact address")


class SubscriberOut(Model):
    id: int
    email: str
    state: str
    language: str
    components: list[str] | None = Field(description="null: all components")
    created_at: datetime
    confirmed_at: datetime | None


class ConsentOut(Model):
    action: str
    at: datetime
    method: str
    consent_text_version: str
    ip_prefix: str | None


class SubscriberExport(SubscriberOut):
    consent_records: list[ConsentOut]


@endpoint(
    bp,
    "POST",
    "/subscribers",
    summary="Subscribe an address to email updates (double opt-in; no token needed)",
    tag="subscribers",
    role=None,
    body=SubscribeIn,
    answer=SubscribeAccepted,
    status=202,
    errors=(413, 429),
)
@subscription_limits
def subscribe(body: SubscribeIn):
    small_body()
    subs.subscribe(
        runtime().store,
        subs.Policy.from_config(runtime().config),
        email=body.email,
        components=body.components,
        language=body.language,
        method="api",
        ip=request.remote_addr,
    )
    return SubscribeAccepted()


@endpoint(
    bp,
    "POST",
    "/subscribers/lookup",
    summary="Find the subscriber with exactly this address (audited)",
    tag="subscribers",
    role=Role.ADMIN,
    body=EmailIn,
    answer=SubscriberOut,
    errors=(404,),
)
def lookup(body: EmailIn):
    found = admin.find(runtime().store, actor(), body.email)
    if found is None:
        raise ApiError(404, "not_found", "no subscriber with this address", "email")
    return SubscriberOut(**found)


@endpoint(
    bp,
    "POST",
    "/subscribers/export",
    summary="Everything held about one subscriber, GDPR Art. 15 (audited)",
    tag="subscribers",
    role=Role.ADMIN,
    body=EmailIn,
    answer=SubscriberExport,
    errors=(404,),
)
def export(body: EmailIn):
    return SubscriberExport(**admin.export(runtime().store, actor(), body.email))


@endpoint(
    bp,
    "POST",
    "/subscribers/erase",
    summary="Delete one subscriber and all held about them, GDPR Art. 17 (audited)",
    tag="subscribers",
    role=Role.ADMIN,
    body=EmailIn,
    status=204,
    errors=(404,),
)
def erase(body: EmailIn):
    admin.erase(runtime().store, actor(), body.email)
