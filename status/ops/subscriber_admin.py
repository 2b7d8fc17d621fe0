"""The operator's and the clock's commands on subscribers: purge unconfirmed sign-ups,
find one by exact address, export one (GDPR Art. 15), erase one (Art. 17), import a
list from another status page. Each is audited.

The audit log is a hash chain kept for years: it names subscribers by id, never by
address, so erasing a person leaves no address behind in it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from status import clock, links
from status.clock import utcnow
from status.models import SubscriberState
from status.ops import audit
from status.ops.actor import Actor
from status.ops.errors import Invalid, NotFound, OpsError
from status.ops.subscribers import (
    CONFIRM_REQUESTED,
    Policy,
    choose,
    language_of,
    normalise_email,
    request_mail,
)
from status.store import Store, UnitOfWork

PENDING, CONFIRMED = SubscriberState.PENDING.value, SubscriberState.CONFIRMED.value
TRUE = {"1", "true", "yes", "y", "confirmed", "ja", "x"}
MAX_IMPORT_ERRORS = 50


def purge_unconfirmed(store: Store, actor: Actor, *, days: int, now: datetime | None = None) -> int:
    """Delete sign-ups still unconfirmed ``days`` after they were made (in batches, each
    a unit of work with its audit entry); returns how many went."""
    now = now or utcnow()
    before = now - timedelta(days=days)
    total = 0
    while ids := store.subscribers.pending_before(before):
        with store.begin() as uow:
            deleted = uow.subscribers.delete_pending(ids, before)
            if deleted:
                audit.record(
                    uow, actor, "subscriber.purge_unconfirmed", ("subscriber", ""), now,
                    deleted=deleted, days=days,
                )  # fmt: skip
        total += deleted
        if deleted < len(ids):  # confirmed meanwhile: they stay; do not loop on them
            break
    return total


def _found(uow: UnitOfWork, email: str):
    return uow.subscribers.by_email(normalise_email(email))


def find(store: Store, actor: Actor, email: str) -> dict | None:
    """The subscriber with exactly this address (state, language, components), or None."""
    at = utcnow()
    with store.begin() as uow:
        row = _found(uow, email)
        audit.record(
            uow, actor, "subscriber.find", ("subscriber", row.id if row else ""), at,
            found=row is not None,
        )  # fmt: skip
        return describe(uow, row) if row else None


def describe(uow: UnitOfWork, row) -> dict:
    return {
        "id": row.id,
        "email": row.email,
        "state": row.state,
        "language": row.language,
        "components": None if row.all_components else uow.subscribers.components(row.id),
        "created_at": row.created_at.isoformat(),
        "confirmed_at": row.confirmed_at.isoformat() if row.confirmed_at else None,
    }


def export(store: Store, actor: Actor, email: str) -> dict:
    """Everything held about one subscriber (GDPR Art. 15), as JSON-ready data."""
    at = utcnow()
    with store.begin() as uow:
        row = _found(uow, email)
        if row is None:
            raise NotFound("no subscriber with this address", "email")
        data = describe(uow, row)
        data["consent_records"] = [
            {
                "action": c.action,
                "at": c.at.isoformat(),
                "method": c.method,
                "consent_text_version": c.text_version,
                "ip_prefix": c.ip_prefix,
            }
            for c in uow.subscribers.consents(row.id)
        ]
        audit.record(uow, actor, "subscriber.export", ("subscriber", row.id), at)
    return data


def erase(store: Store, actor: Actor, email: str) -> int:
    """Delete one subscriber and all that is held about them (GDPR Art. 17); their id."""
    at = utcnow()
    with store.begin() as uow:
        row = _found(uow, email)
        if row is None:
            raise NotFound("no subscriber with this address", "email")
        uow.subscribers.delete(row.id)
        audit.record(uow, actor, "subscriber.erase", ("subscriber", row.id), at, state=row.state)
    return row.id


@dataclass
class ImportResult:
    added: int = 0
    confirmed: int = 0
    skipped: int = 0  # already subscribed: left as they are
    errors: list[str] = field(default_factory=list)  # "line 7: email: ..."


def import_csv(
    store: Store, actor: Actor, policy: Policy, text: str, *, at: datetime | None = None
) -> ImportResult:
    """Subscribers from a CSV with a header: ``email`` (required), ``confirmed`` (yes/no;
    only a yes counts as consent given elsewhere), ``language``, ``components`` (ids,
    separated by spaces or ``;``; empty: all), ``confirmed_at`` (ISO 8601).

    A confirmed row becomes a confirmed subscriber with a consent record of method
    ``import``; any other row a pending one, sent a confirmation email like a sign-up.
    Addresses already known are skipped. Rows with errors are reported, not imported;
    the rest commit together with one audit entry.
    """
    at = at or utcnow()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if "email" not in (reader.fieldnames or []):
        raise Invalid("the CSV needs a header line with an email column", "file")
    result = ImportResult()
    with store.begin() as uow:
        seen: set[str] = set()
        for line, row in enumerate(reader, start=2):
            try:
                _import_row(uow, policy, row, at, seen, result)
            except OpsError as exc:
                if len(result.errors) < MAX_IMPORT_ERRORS:
                    result.errors.append(f"line {line}: {exc}")
        audit.record(
            uow, actor, "subscriber.import", ("subscriber", ""), at,
            added=result.added, confirmed=result.confirmed, skipped=result.skipped,
            errors=len(result.errors),
        )  # fmt: skip
    return result


def _import_row(uow: UnitOfWork, policy: Policy, row: dict, at, seen, result) -> None:
    email = normalise_email(row.get("email"))
    if email in seen or uow.subscribers.by_email(email) is not None:
        result.skipped += 1
        return
    seen.add(email)
    raw = (row.get("components") or "").replace(";", " ").split()
    chosen = choose(policy, raw or None)
    language = language_of(policy, (row.get("language") or "").strip() or None)
    confirmed = (row.get("confirmed") or "").strip().lower() in TRUE
    when = _moment(row.get("confirmed_at"), at) if confirmed else at
    subscriber_id = uow.subscribers.create(
        email=email,
        language=language,
        components=chosen,
        state=CONFIRMED if confirmed else PENDING,
        token_version=links.first_version(),
        at=at,
    )
    uow.subscribers.add_consent(
        subscriber_id,
        action="confirm" if confirmed else "subscribe",
        method="import",
        text_version=(row.get("consent_version") or "").strip()[:64] or "import",
        ip_prefix=None,
        at=when,
    )
    if not confirmed:
        uow.subscribers.count_mail_request(subscriber_id, at=at, window_start=at)
        request_mail(uow, CONFIRM_REQUESTED, subscriber_id, language, at)
    result.added += 1
    result.confirmed += confirmed


def _moment(value: str | None, default: datetime) -> datetime:
    if not (value or "").strip():
        return default
    try:
        return clock.moment(value)
    except ValueError:
        raise Invalid("is not an ISO 8601 time", "confirmed_at") from None
