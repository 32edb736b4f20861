"""The one place the current time comes from (tests travel in time through it)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def utcnow_seconds() -> datetime:
    """Now, truncated to whole seconds: activity times are whole seconds (metrics.md)."""
    return utcnow().replace(microsecond=0)
