"""Text shown to people: splitting to Telegram's limits, and the one text rule.

Messages are sent with Telegram's HTML parse mode. A plain `str` is text: it is always
escaped when sent. Markup is a `markupsafe.Markup`, built so that every value put into it
is escaped (`Markup("<b>{}</b>").format(name)`, `Markup("\n").join(lines)`, `escape(v)`).
"""

from __future__ import annotations

from collections.abc import Iterable

from markupsafe import Markup, escape

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024


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


def with_header(header: str, body: str) -> list[Markup]:
    """Messages of a bold header line and the (plain) body, each within TEXT_LIMIT once parsed."""
    parts = split_text(str(body), TEXT_LIMIT - utf16_len(header) - 12)
    if len(parts) == 1:
        return [Markup("<b>{}</b>\n{}").format(header, parts[0])]
    total = len(parts)
    return [
        Markup("<b>{}</b> ({}/{})\n{}").format(header, n, total, part)
        for n, part in enumerate(parts, 1)
    ]


def without_header(body: str) -> list[Markup]:
    """Messages of the (plain) body alone (a ticket's topic names the ticket), split if long."""
    return [escape(part) for part in split_text(str(body), TEXT_LIMIT)]


def caption_with_header(header: str, caption: str | None) -> Markup:
    """A bold header line on top of a (plain) caption, within CAPTION_LIMIT once parsed."""
    body = str(caption or "")
    room = CAPTION_LIMIT - utf16_len(header) - 2
    if utf16_len(body) > room:
        body = body[: _fitting(body, room - 1)] + "…"
    if not body:
        return Markup("<b>{}</b>").format(header)
    return Markup("<b>{}</b>\n{}").format(header, body)


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, an ellipsis marking a cut (for one-line listings)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def pack_lines(lines: Iterable[str | Markup], limit: int = TEXT_LIMIT) -> list[Markup]:
    """Whole lines (plain text, escaped here, or Markup) packed into messages of at most
    `limit` UTF-16 units of markup."""
    messages: list[Markup] = []
    current: list[Markup] = []
    size = 0
    for line in map(escape, lines):
        units = utf16_len(line) + 1
        if current and size + units > limit:
            messages.append(Markup("\n").join(current))
            current, size = [], 0
        current.append(line)
        size += units
    if current or not messages:
        messages.append(Markup("\n").join(current))
    return messages
