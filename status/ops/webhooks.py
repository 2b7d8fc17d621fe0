"""Webhook subscriptions: register, prove control by echoing a challenge, and the
operator's list and erase.

A webhook is a subscriber whose ``channel`` is ``webhook``: the same components,
states, signed links and outbox as an email subscriber (docs/decisions.md). It is
registered ``pending`` with a random signing secret (shown once, to the registrant),
and a ``subscriber.confirm_requested`` event is written: the notifier then POSTs a
signed verification request with a challenge to the URL (subscribers/webhook.py), and
only a receiver that answers with the challenge makes it ``confirmed``
(:func:`verified`). Only confirmed webhooks get deliveries.

The URL is checked against the SSRF rules (status/netguard.py) here and again before
every delivery.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from status import links, netguard
from status.clock import utcnow
from status.models import SubscriberState
from status.ops import audit
from status.ops.actor import Actor
from status.ops.errors import Conflict, Invalid, NotFound
from status.ops.subscribers import (
    CONFIRM_REQUESTED,
    Policy,
    choose,
    ip_prefix,
    language_of,
    request_mail,
)
from status.store import Store

PENDING, CONFIRMED = SubscriberState.PENDING.value, SubscriberState.CONFIRMED.value
SECRET_PREFIX = "whsec_"
REGISTRATION_WINDOW = timedelta(days=1)


@dataclass(frozen=True)
class Registration:
    subscriber_id: int
    secret: str  # signs every request to the URL; shown once, never again


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def register(
    store: Store,
    policy: Policy,
    *,
    url: str,
    allow: Sequence[netguard.Network] = (),
    components: Iterable[str] | None = None,
    groups: Iterable[str] = (),
    language: str | None = None,
    ip: str | None = None,
    method: str = "api",
    at: datetime | None = None,
    resolver: netguard.Resolver = netguard.resolve,
) -> Registration:
    """Register ``url`` (pending) and have its verification request sent.

    Every registration is a subscription of its own with its own secret, whatever was
    registered before (the answer tells nothing about other people's webhooks). At most
    ``policy.max_confirmations`` unconfirmed registrations of one URL a day (Conflict).
    """
    try:
        target = netguard.check(url, allow, resolver=resolver)
    except netguard.Refused as exc:
        raise Invalid(str(exc), "url") from None
    chosen = choose(policy, components, groups)
    language = language_of(policy, language)
    at = at or utcnow()
    secret = new_secret()
    with store.begin() as uow:
        recent = uow.subscribers.webhook_registrations(target.url, at - REGISTRATION_WINDOW)
        if recent >= policy.max_confirmations:
            raise Conflict("this URL was registered too often today; confirm one", "url")
        subscriber_id = uow.subscribers.create(
            email=None,
            webhook_url=target.url,
            webhook_secret=secret,
            language=language,
            components=chosen,
            state=PENDING,
            token_version=links.first_version(),
            at=at,
        )
        uow.subscribers.add_consent(
            subscriber_id,
            action="subscribe",
            method=method,
            text_version=policy.consent_version,
            ip_prefix=ip_prefix(ip),
            at=at,
        )
        request_mail(uow, CONFIRM_REQUESTED, subscriber_id, language, at)
    return Registration(subscriber_id, secret)


def challenge(secret: str, subscriber_id: int, token_version: int) -> str:
    """What the verification request asks the receiver to echo: a signed confirm token
    (it expires with the confirm link, and a new ``token_version`` voids it)."""
    return links.confirm_token(secret, subscriber_id, token_version)


def verified(
    store: Store, subscriber_id: int, token_version: int, *, at: datetime | None = None
) -> bool:
    """The receiver echoed the challenge: pending -> confirmed, with its consent record.
    False when the subscription is gone, renewed or was confirmed already."""
    at = at or utcnow()
    with store.begin() as uow:
        row = uow.subscribers.get(subscriber_id)
        if row is None or row.channel != "webhook" or row.token_version != token_version:
            return False
        if not uow.subscribers.confirm(row.id, at):
            return False
        uow.subscribers.add_consent(
            row.id,
            action="confirm",
            method="webhook_challenge",
            text_version="",
            ip_prefix=None,
            at=at,
        )
    return True


# -- the operator's ----------------------------------------------------------------------
def describe(row, components: list[str] | None) -> dict:
    """A webhook subscription as the operator sees it (never its secret)."""
    return {
        "id": row.id,
        "url": row.webhook_url,
        "state": row.state,
        "language": row.language,
        "components": components,
        "created_at": row.created_at.isoformat(),
        "confirmed_at": row.confirmed_at.isoformat() if row.confirmed_at else None,
    }


def listing(store: Store) -> list[dict]:
    """Every webhook subscription (URLs are the operator's to see: no audit entry)."""
    rows = store.subscribers.webhooks()
    return [
        describe(row, None if row.all_components else store.subscribers.components(row.id))
        for row in rows
    ]


def erase(store: Store, actor: Actor, subscriber_id: int) -> None:
    """Delete one webhook subscription (audited; the outbox keeps only its hash)."""
    at = utcnow()
    with store.begin() as uow:
        row = uow.subscribers.get(subscriber_id)
        if row is None or row.channel != "webhook":
            raise NotFound("no webhook subscription with this id", "id")
        uow.subscribers.delete(row.id)
        audit.record(uow, actor, "subscriber.erase", ("subscriber", row.id), at, state=row.state,
                     channel="webhook")  # fmt: skip
