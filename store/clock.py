"""The store's clock: naive UTC timestamps, as DuckDB's TIMESTAMP columns hold them."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
