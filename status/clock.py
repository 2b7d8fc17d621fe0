"""The one clock: UTC-aware now. Everything stores and compares UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
