"""Tokens and codes: random, and stored only as hashes."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def new_token() -> str:
    """32 characters of A-Z a-z 0-9 _ - (192 random bits)."""
    return secrets.token_urlsafe(24)


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def digest(value: str, *, salt: str = "") -> str:
    return hashlib.sha256(f"{salt}:{value}".encode()).hexdigest()


def matches(value: str, expected_digest: str, *, salt: str = "") -> bool:
    return hmac.compare_digest(digest(value, salt=salt), expected_digest)
