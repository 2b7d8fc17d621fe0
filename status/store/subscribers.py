"""Subscribers, the components each follows, and their consent records.

A subscriber's row is deleted when they unsubscribe or are erased: their components and
consent records go with it (``ON DELETE CASCADE``), the outbox keeps only its hashed
recipient (``subscriber_id`` set to NULL).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from status import schema as t
from status.models import SubscriberState
from status.store.scope import Repository

PENDING, CONFIRMED = SubscriberState.PENDING.value, SubscriberState.CONFIRMED.value


class SubscriberRepository(Repository):
    def count_by_state(self) -> dict[str, int]:
        s = t.subscribers.c
        with self.scope.read() as conn:
            return dict(conn.execute(sa.select(s.state, sa.func.count()).group_by(s.state)).all())

    def get(self, subscriber_id: int) -> sa.Row | None:
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(t.subscribers).where(t.subscribers.c.id == subscriber_id)
            ).first()

    def by_email(self, email: str) -> sa.Row | None:
        """The subscriber with exactly this (normalised) address."""
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(t.subscribers).where(t.subscribers.c.email == email)
            ).first()

    def create(
        self,
        *,
        email: str | None,
        language: str,
        components: list[str] | None,
        state: str,
        token_version: int,
        at: datetime,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> int:
        """A new subscriber, told by email or (``webhook_url`` and its signing secret
        given, ``email`` None) by webhook; ``components`` None: all of them."""
        with self.scope.write() as conn:
            subscriber_id = conn.execute(
                sa.insert(t.subscribers).values(
                    channel="webhook" if webhook_url else "email",
                    email=email,
                    webhook_url=webhook_url,
                    webhook_secret=webhook_secret,
                    state=state,
                    language=language,
                    all_components=components is None,
                    created_at=at,
                    updated_at=at,
                    confirmed_at=at if state == CONFIRMED else None,
                    token_version=token_version,
                )
            ).inserted_primary_key[0]
            self._set_components(conn, subscriber_id, components or [])
        return subscriber_id

    def webhooks(self, *, limit: int = 1000) -> list[sa.Row]:
        """Webhook subscriptions, oldest first (the operator's list)."""
        s = t.subscribers.c
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(t.subscribers).where(s.channel == "webhook").order_by(s.id).limit(limit)
            ).all()

    def webhook_registrations(self, url: str, since: datetime) -> int:
        """Unconfirmed registrations of ``url`` made since ``since`` (a cap: nobody
        makes us knock at one URL again and again)."""
        s = t.subscribers.c
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(sa.func.count()).where(
                    s.channel == "webhook",
                    s.webhook_url == url,
                    s.state == PENDING,
                    s.created_at >= since,
                )
            ).scalar_one()

    def components(self, subscriber_id: int) -> list[str]:
        sc = t.subscriber_components.c
        with self.scope.read() as conn:
            return list(
                conn.execute(
                    sa.select(sc.component_id)
                    .where(sc.subscriber_id == subscriber_id)
                    .order_by(sc.component_id)
                ).scalars()
            )

    def set_preferences(
        self, subscriber_id: int, *, language: str, components: list[str] | None, at: datetime
    ) -> None:
        """Language and components (None: all of them) replace the ones before."""
        with self.scope.write() as conn:
            conn.execute(
                sa.update(t.subscribers)
                .where(t.subscribers.c.id == subscriber_id)
                .values(language=language, all_components=components is None, updated_at=at)
            )
            conn.execute(
                sa.delete(t.subscriber_components).where(
                    t.subscriber_components.c.subscriber_id == subscriber_id
                )
            )
            self._set_components(conn, subscriber_id, components or [])

    def _set_components(self, conn, subscriber_id: int, components: Iterable[str]) -> None:
        rows = [{"subscriber_id": subscriber_id, "component_id": c} for c in components]
        if rows:
            conn.execute(sa.insert(t.subscriber_components), rows)

    def confirm(self, subscriber_id: int, at: datetime) -> bool:
        """Pending -> confirmed; False when it was not pending (a second click)."""
        s = t.subscribers.c
        with self.scope.write() as conn:
            return bool(
                conn.execute(
                    sa.update(t.subscribers)
                    .where(s.id == subscriber_id, s.state == PENDING)
                    .values(state=CONFIRMED, confirmed_at=at, updated_at=at)
                ).rowcount
            )

    def count_mail_request(self, subscriber_id: int, *, at: datetime, window_start: datetime):
        """One more confirmation (or manage) email asked for; the count starts again when
        the last request is older than ``window_start``. Returns the new count."""
        s = t.subscribers.c
        fresh = sa.or_(s.confirm_requested_at.is_(None), s.confirm_requested_at < window_start)
        with self.scope.write() as conn:
            conn.execute(
                sa.update(t.subscribers)
                .where(s.id == subscriber_id)
                .values(
                    confirm_requests=sa.case((fresh, 1), else_=s.confirm_requests + 1),
                    confirm_requested_at=at,
                )
            )
            return conn.execute(
                sa.select(s.confirm_requests).where(s.id == subscriber_id)
            ).scalar_one()

    def bump_token_version(self, subscriber_id: int, at: datetime) -> None:
        """Every link issued before stops working."""
        s = t.subscribers.c
        with self.scope.write() as conn:
            conn.execute(
                sa.update(t.subscribers)
                .where(s.id == subscriber_id)
                .values(token_version=s.token_version + 1, updated_at=at)
            )

    def delete(self, subscriber_id: int) -> bool:
        """The row and, by cascade, its components and consent records."""
        with self.scope.write() as conn:
            return bool(_delete(conn, [subscriber_id]))

    def pending_before(self, before: datetime, limit: int = 500) -> list[int]:
        """Ids of sign-ups still unconfirmed that were made before ``before``."""
        s = t.subscribers.c
        with self.scope.read() as conn:
            return list(
                conn.execute(
                    sa.select(s.id)
                    .where(s.state == PENDING, s.created_at < before)
                    .order_by(s.id)
                    .limit(limit)
                ).scalars()
            )

    def delete_pending(self, ids: list[int], before: datetime) -> int:
        """Delete those of ``ids`` still pending and older than ``before`` (a confirmation
        that came in meanwhile keeps its row); returns how many went."""
        if not ids:
            return 0
        s = t.subscribers.c
        with self.scope.write() as conn:
            gone = list(
                conn.execute(
                    sa.select(s.id).where(s.id.in_(ids), s.state == PENDING, s.created_at < before)
                ).scalars()
            )
            return _delete(conn, gone) if gone else 0

    def add_consent(
        self,
        subscriber_id: int,
        *,
        action: str,
        method: str,
        text_version: str,
        ip_prefix: str | None,
        at: datetime,
    ) -> None:
        with self.scope.write() as conn:
            conn.execute(
                sa.insert(t.consent_records).values(
                    subscriber_id=subscriber_id,
                    action=action,
                    method=method,
                    text_version=text_version,
                    ip_prefix=ip_prefix,
                    at=at,
                )
            )

    def consents(self, subscriber_id: int) -> list[sa.Row]:
        c = t.consent_records.c
        with self.scope.read() as conn:
            return conn.execute(
                sa.select(t.consent_records)
                .where(c.subscriber_id == subscriber_id)
                .order_by(c.at, c.id)
            ).all()


def _delete(conn, ids: list[int]) -> int:
    # SQLite cascades only with PRAGMA foreign_keys (make_engine sets it); delete the
    # dependent rows outright anyway, so no engine setting decides whether data stays.
    for table in (t.subscriber_components, t.consent_records):
        conn.execute(sa.delete(table).where(table.c.subscriber_id.in_(ids)))
    return conn.execute(sa.delete(t.subscribers).where(t.subscribers.c.id.in_(ids))).rowcount
