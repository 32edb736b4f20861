"""Text shown to people: HTML escaping and splitting to Telegram's limits."""

from __future__ import annotations

import html

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024


def esc(value: object) -> str:
    """Escape anything for Telegram's HTML parse mode."""
    return html.escape(str(value), quote=False)


def utf16_len(text: str) -> int:
    """Telegram's length: UTF-16 code units (an emoji outside the BMP counts twice)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _fitting(text: str, limit: int) -> int:
    """How many characters of `text` fit in `limit` UTF-16 code units."""
    units = 0
    for index, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` UTF-16 units, cut at a line break, else a space, else hard."""
    pieces: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        end = _fitting(rest, limit)
        window = rest[:end]
        cut = window.rfind("\n")
        if cut < end // 2:
            cut = max(cut, window.rfind(" "))
        if cut <= 0:
            cut = end
        pieces.append(rest[:cut])
        # The one space or line break at the cut is the boundary itself; nothing else is lost.
        rest = rest[cut + 1 :] if cut < end else rest[cut:]
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def with_header(header: str, body: str) -> list[str]:
    """HTML messages of a bold header line and the body, each within TEXT_LIMIT once parsed."""
    parts = split_text(body, TEXT_LIMIT - utf16_len(header) - 12)
    if len(parts) == 1:
        return [f"<b>{esc(header)}</b>\n{esc(parts[0])}"]
    total = len(parts)
    return [f"<b>{esc(header)}</b> ({n}/{total})\n{esc(part)}" for n, part in enumerate(parts, 1)]


def without_header(body: str) -> list[str]:
    """HTML messages of the body alone (a ticket's topic names the ticket), split if long."""
    return [esc(part) for part in split_text(body, TEXT_LIMIT)]


def caption_with_header(header: str, caption: str | None) -> str:
    body = esc(caption or "")
    room = CAPTION_LIMIT - utf16_len(header) - 2
    if utf16_len(caption or "") > room:
        body = esc((caption or "")[: _fitting(caption or "", room - 1)] + "…")
    return f"<b>{esc(header)}</b>\n{body}" if body else f"<b>{esc(header)}</b>"


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, an ellipsis marking a cut (for one-line listings)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def pack_lines(lines: list[str], limit: int = TEXT_LIMIT) -> list[str]:
    """Whole lines (each complete HTML) packed into messages of at most `limit` UTF-16 units."""
    messages: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        units = utf16_len(line) + 1
        if current and size + units > limit:
            messages.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += units
    if current or not messages:
        messages.append("\n".join(current))
    return messages
