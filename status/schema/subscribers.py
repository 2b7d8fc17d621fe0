"""Subscribers, their consent records, and the delivery outbox."""

from __future__ import annotations

import sqlalchemy as sa

from status.schema.base import UTCDateTime, component_column, created_columns, id_column, metadata

# -- subscribers and delivery ------------------------------------------------------------
subscribers = sa.Table(
    "subscribers",
    metadata,
    id_column(),
    # How the subscriber is told: "email" (``email`` set) or "webhook" (``webhook_url``
    # and the secret its deliveries are signed with set; ``email`` NULL).
    sa.Column("channel", sa.String(16), nullable=False, server_default="email"),
    sa.Column("email", sa.String(320), unique=True),
    sa.Column("webhook_url", sa.String(2048)),
    sa.Column("webhook_secret", sa.String(128)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("language", sa.String(8), nullable=False, server_default="en"),
    # True: every component; otherwise the rows in subscriber_components.
    sa.Column("all_components", sa.Boolean, nullable=False, server_default=sa.true()),
    *created_columns(),
    sa.Column("confirmed_at", UTCDateTime),
    sa.Column("unsubscribed_at", UTCDateTime),
    # Bumped to invalidate every signed link issued before (manage/unsubscribe tokens).
    sa.Column("token_version", sa.Integer, nullable=False, server_default="1"),
    # Confirmation emails asked for while pending: capped per address (no mail bombing).
    sa.Column("confirm_requests", sa.Integer, nullable=False, server_default="0"),
    sa.Column("confirm_requested_at", UTCDateTime),
    sa.Index("ix_subscribers_state", "state"),
    sa.CheckConstraint(
        "(channel = 'email' AND email IS NOT NULL) OR "
        "(channel = 'webhook' AND webhook_url IS NOT NULL AND webhook_secret IS NOT NULL)",
        name="channel_address",
    ),
)

subscriber_components = sa.Table(
    "subscriber_components",
    metadata,
    sa.Column(
        "subscriber_id",
        sa.Integer,
        sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    component_column(),
    sa.PrimaryKeyConstraint("subscriber_id", "component_id"),
)

# GDPR: proof of consent (what was agreed to, when, how) outlives nothing it need not.
consent_records = sa.Table(
    "consent_records",
    metadata,
    id_column(),
    sa.Column(
        "subscriber_id",
        sa.Integer,
        sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("method", sa.String(32), nullable=False),
    sa.Column("text_version", sa.String(64), nullable=False, server_default=""),
    # The address truncated (IPv4 /24, IPv6 /48): evidence enough, no person's address.
    sa.Column("ip_prefix", sa.String(64)),
)

# The outbox is the truth about what was sent: one row per event, recipient and channel.
# It holds no address: the channel reads it from the subscriber at send time, so an
# erased subscriber leaves only the keyed hash that keeps a repeated fan-out from
# writing a second row for the same person (subscribers/outbox.py).
outbox = sa.Table(
    "outbox",
    metadata,
    id_column(),
    sa.Column(
        "event_id", sa.Integer, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("recipient_hash", sa.String(64), nullable=False),
    sa.Column(
        "subscriber_id",
        sa.Integer,
        sa.ForeignKey("subscribers.id", ondelete="SET NULL"),
        index=True,
    ),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("claimed_by", sa.String(200)),
    sa.Column("claimed_until", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime),
    sa.UniqueConstraint(
        "event_id", "channel", "recipient_hash", name="uq_outbox_event_channel_recipient"
    ),
    sa.Index("ix_outbox_due", "state", "next_attempt_at"),
)

# How far each event's fan-out got: subscribers are visited in id order, a batch at a
# time, and the batch's rows and this progress commit together.
outbox_fanout = sa.Table(
    "outbox_fanout",
    metadata,
    sa.Column(
        "event_id",
        sa.Integer,
        sa.ForeignKey("events.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("last_subscriber_id", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows", sa.Integer, nullable=False, server_default="0"),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("done_at", UTCDateTime),
)
