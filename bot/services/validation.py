"""Limits and checks of what people type (interface.md)."""

from __future__ import annotations

import re

from bot.services.errors import Invalid

NAME_MAX = 100
SUBJECT_MAX = 150
DESCRIPTION_MAX = 4000
EMAIL_MAX = 254
MESSAGE_LIMIT = 4096  # what Telegram lets a person send in one message
FEEDBACK_MAX = 4000
COMMENT_MAX = 1000

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,30}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text(value: str | None, *, field: str, limit: int) -> str:
    """Trimmed text that is neither empty nor longer than `limit` characters."""
    cleaned = _CONTROL.sub("", value or "").strip()
    if not cleaned:
        raise Invalid(f"The {field} cannot be empty.")
    if len(cleaned) > limit:
        raise Invalid(f"The {field} is too long: {len(cleaned)} characters, at most {limit}.")
    return cleaned


def email(value: str | None) -> str:
    cleaned = (value or "").strip()
    local, _, domain = cleaned.rpartition("@")
    if len(cleaned) > EMAIL_MAX or len(local) > 64 or not _EMAIL.match(cleaned) or ".." in cleaned:
        raise Invalid(
            "That does not look like an email address. Please send one like name@example.com."
        )
    return f"{local}@{domain.lower()}"


def phone(value: str | None) -> str:
    cleaned = (value or "").strip()
    if not _PHONE.match(cleaned) or sum(ch.isdigit() for ch in cleaned) < 6:
        raise Invalid(
            "That does not look like a phone number. Send digits like +44 20 7946 0958, or /skip."
        )
    return cleaned


def ticket_number(value: str | None) -> int:
    cleaned = (value or "").strip().removeprefix("#")
    # isdecimal, not isdigit: "²" is a digit that int() refuses; "٣" is a decimal, 3.
    if not cleaned.isdecimal() or len(cleaned) > 12 or int(cleaned) == 0:
        raise Invalid("Give a ticket number, like 12 or #12.")
    return int(cleaned)


def small_number(value: str, *, digits: int = 12) -> int:
    """A non-negative number of at most `digits` digits (button data, offsets); else ValueError."""
    if not value.isdecimal() or len(value) > digits:
        raise ValueError(f"not a number of at most {digits} digits: {value[:20]!r}")
    return int(value)
