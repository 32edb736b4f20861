"""Text shown to people: HTML escaping and splitting to Telegram's limits."""

from __future__ import annotations

import html

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024


def esc(value: object) -> str:
    """Escape anything for Telegram's HTML parse mode."""
    return html.escape(str(value), quote=False)


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at a line break, else a space, else hard."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = window.rfind("\n")
        if cut < limit // 2:
            cut = max(cut, window.rfind(" "))
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut])
        # The one space or line break at the cut is the boundary itself; nothing else is lost.
        rest = rest[cut + 1 :] if cut < limit else rest[cut:]
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def with_header(header: str, body: str) -> list[str]:
    """HTML messages of a bold header line and the body, each within TEXT_LIMIT once parsed."""
    parts = split_text(body, TEXT_LIMIT - len(header) - 12)
    if len(parts) == 1:
        return [f"<b>{esc(header)}</b>\n{esc(parts[0])}"]
    total = len(parts)
    return [f"<b>{esc(header)}</b> ({n}/{total})\n{esc(part)}" for n, part in enumerate(parts, 1)]


def caption_with_header(header: str, caption: str | None) -> str:
    body = esc(caption or "")
    room = CAPTION_LIMIT - len(header) - 2
    if len(caption or "") > room:
        body = esc((caption or "")[: room - 1] + "…")
    return f"<b>{esc(header)}</b>\n{body}" if body else f"<b>{esc(header)}</b>"
