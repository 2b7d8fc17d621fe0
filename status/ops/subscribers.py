"""A subscriber's own steps: subscribe, confirm, manage, unsubscribe.

Double opt-in: a sign-up is ``pending`` until the person follows the signed link in the
confirmation email and presses the button; only then are they ``confirmed`` and sent
notifications. Each step that proves consent leaves a consent record (time, the
address truncated, the consent text's version, how). Unsubscribing deletes the person's
data. No step mails anyone itself: it writes a one-person event in its unit of work
(``subscriber.confirm_requested``, ``subscriber.manage_requested``), which the delivery
engine sends (docs/architecture.md).

What the person sees never depends on whether the address was known: :func:`subscribe`
returns what it did for the tests and the logs, never for the answer.

The operator's commands (purge, find, export, erase, import) are in
:mod:`status.ops.subscriber_admin`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from status import links
from status.clock import utcnow
from status.config import Config
from status.models import SubscriberState
from status.ops.errors import Invalid
from status.store import Store, UnitOfWork

PENDING, CONFIRMED = SubscriberState.PENDING.value, SubscriberState.CONFIRMED.value
MAX_EMAIL = 254  # RFC 5321's path limit, less the brackets
MAIL_WINDOW = timedelta(days=1)  # max_confirmations counts in this window
CONFIRM_REQUESTED, MANAGE_REQUESTED = "subscriber.confirm_requested", "subscriber.manage_requested"


@dataclass(frozen=True)
class Policy:
    """What the config says about subscriptions, and what may be chosen."""

    components: tuple[str, ...]
    groups: Mapping[str, tuple[str, ...]]  # group id -> its components
    languages: tuple[str, ...]
    unconfirmed_days: int = 7
    max_confirmations: int = 3
    consent_version: str = "1"

    @classmethod
    def from_config(cls, config: Config) -> Policy:
        subs = config.subscriptions
        return cls(
            components=tuple(c.id for c in config.components),
            groups={g.id: tuple(c.id for c in config.components_in(g.id)) for g in config.groups},
            languages=tuple(config.site.languages),
            unconfirmed_days=subs.unconfirmed_days,
            max_confirmations=subs.max_confirmations,
            consent_version=subs.consent_version,
        )


def normalise_email(value: str | None, field: str = "email") -> str:
    """The address as stored and looked up: valid syntax (no DNS look-up), one line,
    the domain in its Unicode form, all in lower case (so Foo@ and foo@ are one person)."""
    value = value or ""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):  # CR/LF: no header injection
        raise Invalid("is not a valid email address", field)
    value = value.strip()
    if not value:
        raise Invalid("is required", field)
    if len(value) > MAX_EMAIL:
        raise Invalid("is not a valid email address", field)
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise Invalid(f"is not a valid email address: {exc}", field) from None
    return checked.normalized.lower()


def choose(
    policy: Policy, components: Iterable[str] | None, groups: Iterable[str] = ()
) -> list[str] | None:
    """The components chosen (by id or by group); None: all, now and later."""
    groups = list(groups)
    if components is None and not groups:
        return None
    chosen = list(dict.fromkeys(components or []))
    for component_id in chosen:
        if component_id not in policy.components:
            raise Invalid(f"unknown component {component_id!r}", "components")
    for group_id in groups:
        if group_id not in policy.groups:
            raise Invalid(f"unknown group {group_id!r}", "groups")
        chosen += [c for c in policy.groups[group_id] if c not in chosen]
    if not chosen:
        raise Invalid("choose at least one component, or all", "components")
    return sorted(chosen)


def language_of(policy: Policy, language: str | None) -> str:
    if not language:
        return policy.languages[0]
    if language not in policy.languages:
        raise Invalid(f"must be one of {', '.join(policy.languages)}", "language")
    return language


def ip_prefix(ip: str | None) -> str | None:
    """The address truncated: IPv4 to its /24, IPv6 to its /48 (no person's address)."""
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return None
    bits = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{bits}", strict=False))


def subscribe(
    store: Store,
    policy: Policy,
    *,
    email: str,
    components: Iterable[str] | None = None,
    groups: Iterable[str] = (),
    language: str | None = None,
    ip: str | None = None,
    method: str = "form",
    at: datetime | None = None,
) -> str:
    """Sign up ``email`` (pending until confirmed) and have a confirmation email sent.

    Returns what happened: ``created``; ``resent`` (pending: its choice replaced, the
    email sent again); ``known`` (confirmed: its manage link sent, nothing changed);
    ``capped`` (no email: this address had ``max_confirmations`` today).
    """
    email = normalise_email(email)
    chosen = choose(policy, components, groups)
    language = language_of(policy, language)
    at = at or utcnow()
    for attempt in (1, 2):  # two sign-ups of one new address at once: the second retries
        try:
            with store.begin() as uow:
                return _subscribe(uow, policy, email, chosen, language, ip, method, at)
        except sa.exc.IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _subscribe(uow: UnitOfWork, policy, email, chosen, language, ip, method, at) -> str:
    row = uow.subscribers.by_email(email)
    if row is None:
        subscriber_id = uow.subscribers.create(
            email=email,
            language=language,
            components=chosen,
            state=PENDING,
            token_version=links.first_version(),
            at=at,
        )
        outcome = "created"
    elif row.state == PENDING:
        subscriber_id, outcome = row.id, "resent"
        uow.subscribers.set_preferences(subscriber_id, language=language, components=chosen, at=at)
    else:  # confirmed: a stranger may not change it; its owner gets the manage link
        subscriber_id, outcome = row.id, "known"
    count = uow.subscribers.count_mail_request(subscriber_id, at=at, window_start=at - MAIL_WINDOW)
    if count > policy.max_confirmations:
        return "capped"
    if outcome != "known":
        uow.subscribers.add_consent(
            subscriber_id,
            action="subscribe",
            method=method,
            text_version=policy.consent_version,
            ip_prefix=ip_prefix(ip),
            at=at,
        )
    kind = MANAGE_REQUESTED if outcome == "known" else CONFIRM_REQUESTED
    request_mail(uow, kind, subscriber_id, row.language if row else language, at)
    return outcome


def request_mail(uow: UnitOfWork, kind: str, subscriber_id: int, language: str, at) -> None:
    """A one-person email for the delivery engine (never a fan-out to everyone)."""
    uow.events.record(
        kind,
        ("subscriber", subscriber_id),
        at=at,
        components=[],
        notify=True,
        subscriber_id=subscriber_id,
        language=language,
    )


def _holder(uow: UnitOfWork, subject: links.LinkSubject):
    """The subscriber a valid token names, if the token is still theirs."""
    row = uow.subscribers.get(subject.subscriber_id)
    if row is None or row.token_version != subject.token_version:
        return None
    return row


def check_link(store: Store, secret: str, purpose: str, token: str):
    """The subscriber row a link is for; :class:`links.BadLink` when it is not usable
    (tampered, expired, or the subscriber gone or their links renewed)."""
    subject = links.check(secret, purpose, token)
    row = _holder(store, subject)
    if row is None:
        raise links.BadLink("the link is no longer valid")
    return row


def confirm(
    store: Store,
    policy: Policy,
    secret: str,
    token: str,
    *,
    ip: str | None = None,
    at: datetime | None = None,
) -> int:
    """The second opt-in (a POST from the confirmation page): pending -> confirmed, with
    its consent record. Confirming twice does nothing more. Returns the subscriber id."""
    subject = links.check(secret, links.CONFIRM, token)
    at = at or utcnow()
    with store.begin() as uow:
        row = _holder(uow, subject)
        if row is None:
            raise links.BadLink("the link is no longer valid")
        if uow.subscribers.confirm(row.id, at):
            uow.subscribers.add_consent(
                row.id,
                action="confirm",
                method="double_opt_in",
                text_version=policy.consent_version,
                ip_prefix=ip_prefix(ip),
                at=at,
            )
    return row.id


def manage(
    store: Store,
    policy: Policy,
    secret: str,
    token: str,
    *,
    components: Iterable[str] | None = None,
    groups: Iterable[str] = (),
    language: str | None = None,
    at: datetime | None = None,
) -> None:
    """Change what a confirmed subscriber follows and the language they read."""
    subject = links.check(secret, links.MANAGE, token)
    chosen = choose(policy, components, groups)
    language = language_of(policy, language)
    at = at or utcnow()
    with store.begin() as uow:
        row = _holder(uow, subject)
        if row is None or row.state != CONFIRMED:
            raise links.BadLink("the link is no longer valid")
        uow.subscribers.set_preferences(row.id, language=language, components=chosen, at=at)


def unsubscribe(store: Store, secret: str, token: str, *, purpose: str = links.UNSUBSCRIBE) -> bool:
    """Delete the subscriber a manage or unsubscribe link names, with their components
    and consent records. False when they were gone already (the answer is the same)."""
    if purpose not in (links.UNSUBSCRIBE, links.MANAGE):
        raise ValueError(f"a {purpose} link does not unsubscribe")
    subject = links.check(secret, purpose, token)
    with store.begin() as uow:
        row = uow.subscribers.get(subject.subscriber_id)
        if row is None:
            return False
        if row.token_version != subject.token_version:
            raise links.BadLink("the link is no longer valid")
        return uow.subscribers.delete(row.id)
