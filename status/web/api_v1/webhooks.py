"""/api/v1/webhooks: register a webhook subscription (public, no token, rate-limited)
and, for admins, list and erase them.

A registration answers with the subscription's signing secret, once: it is never shown
again. The webhook gets nothing until it has answered the verification request with
its challenge (docs/webhooks.md). The email sign-up, ``POST /api/v1/subscribers``, is
unchanged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import Blueprint, request
from pydantic import Field

from status.models import Role
from status.ops import subscribers as subs
from status.ops import webhooks
from status.runtime import runtime
from status.web.api_v1.auth import actor
from status.web.api_v1.registry import endpoint
from status.web.api_v1.schemas import Model
from status.web.security import small_body, webhook_limits

bp = Blueprint("api_v1_webhooks", __name__)
REGISTERED = (
    "Keep the secret: it signs every request to your URL and is not shown again. A "
    "verification request with a challenge is on its way; answer it with the challenge "
    "and the webhook receives updates."
)


class WebhookIn(Model):
    url: str = Field(max_length=2048, description="an https URL on a public address")
    components: list[str] | None = Field(
        None, max_length=500, description="component ids; absent or null: all components"
    )
    language: Literal["en", "de"] | None = Field(None, description="default: the site's first")


class WebhookRegistered(Model):
    status: Literal["pending"] = "pending"
    id: int
    secret: str = Field(description="signs the requests (X-Leitstand-Signature); shown once")
    message: str = REGISTERED


class WebhookOut(Model):
    id: int
    url: str
    state: str = Field(description="pending, confirmed or bouncing (disabled)")
    language: str
    components: list[str] | None = Field(description="null: all components")
    created_at: datetime
    confirmed_at: datetime | None


class WebhookList(Model):
    webhooks: list[WebhookOut]


@endpoint(
    bp,
    "POST",
    "/webhooks",
    summary="Register a webhook for status updates (confirmed by a challenge; no token)",
    tag="subscribers",
    role=None,
    body=WebhookIn,
    answer=WebhookRegistered,
    status=201,
    errors=(409, 413, 429),
)
@webhook_limits
def register(body: WebhookIn):
    small_body()
    config = runtime().config
    registration = webhooks.register(
        runtime().store,
        subs.Policy.from_config(config),
        url=body.url,
        allow=config.webhooks.allow_networks,
        components=body.components,
        language=body.language,
        ip=request.remote_addr,
    )
    return WebhookRegistered(id=registration.subscriber_id, secret=registration.secret)


@endpoint(
    bp,
    "GET",
    "/webhooks",
    summary="Every webhook subscription (never its secret)",
    tag="subscribers",
    role=Role.ADMIN,
    answer=WebhookList,
)
def listing():
    return WebhookList(webhooks=[WebhookOut(**w) for w in webhooks.listing(runtime().store)])


@endpoint(
    bp,
    "DELETE",
    "/webhooks/{webhook_id}",
    summary="Delete one webhook subscription (audited)",
    tag="subscribers",
    role=Role.ADMIN,
    status=204,
    errors=(404,),
)
def erase(webhook_id: int):
    webhooks.erase(runtime().store, actor(), webhook_id)
