"""The error type every Bot API method of the stand-in raises to refuse a call."""

from __future__ import annotations


class ApiError(Exception):
    """A refusal answered as ``{"ok": false, "error_code": ..., "description": ...}``.

    ``status`` is both the HTTP status and ``error_code``; ``retry_after`` adds
    ``"parameters": {"retry_after": N}`` as Telegram does for 429.
    """

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict:
        body: dict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(reason: str) -> ApiError:
    """A 400 answer; ``reason`` is what follows ``"Bad Request: "``."""
    return ApiError(400, f"Bad Request: {reason}")


def forbidden(reason: str) -> ApiError:
    """A 403 answer; ``reason`` is what follows ``"Forbidden: "``."""
    return ApiError(403, f"Forbidden: {reason}")


def too_many_requests(retry_after: int) -> ApiError:
    """A 429 answer with ``parameters.retry_after``."""
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Telegram's offsets and limits."""
    return len(text.encode("utf-16-le")) // 2
