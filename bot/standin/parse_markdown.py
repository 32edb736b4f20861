"""Telegram's ``MarkdownV2`` and legacy ``Markdown`` parse modes (after tdlib's parsers).

MarkdownV2: ``*bold*``, ``_italic_``, ``__underline__``, ``~strike~``, ``||spoiler||``,
```` `code` ````, ```` ```lang\\npre``` ````, ``[text](url)``, ``>`` blockquote lines and ``\\``
escapes; an unescaped reserved character outside an entity is refused with Telegram's
"Character 'X' is reserved and must be escaped with the preceding '\\'". Legacy Markdown:
``*bold*``, ``_italic_``, ```` `code` ````, ```` ```pre``` ````, ``[text](url)``.
"""

from __future__ import annotations

from .errors import ApiError, bad_request

RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
}


def _err(reason: str) -> ApiError:
    return bad_request(f"can't parse entities: {reason}")


def _boff(text: str, i: int) -> int:
    return len(text[:i].encode("utf-8"))


def _w(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def parse_markdown_v2(text: str) -> tuple[str, list[dict]]:
    """Parse MarkdownV2; return ``(plain_text, entities)`` or raise ``ApiError`` (400)."""
    out: list[str] = []
    pos = 0
    stack: list[dict] = []
    entities: list[dict] = []
    quote_start: int | None = None
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        top = stack[-1]["type"] if stack else None
        if c == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.append(text[i + 1])
            pos += 1
            i += 2
            continue
        if top in ("code", "pre"):
            closing = text.startswith("```", i) if top == "pre" else c == "`"
            if not closing:
                out.append(c)
                pos += _w(c)
                i += 1
                continue
        if c == "\n" and quote_start is not None and not text.startswith(">", i + 1):
            if pos > quote_start:
                entities.append(
                    {"type": "blockquote", "offset": quote_start, "length": pos - quote_start}
                )
            quote_start = None
        if c not in RESERVED:
            out.append(c)
            pos += _w(c)
            i += 1
            continue
        if c == ">" and (i == 0 or text[i - 1] == "\n"):
            if quote_start is None:
                quote_start = pos
            i += 1
            continue
        ends = {
            "bold": c == "*",
            "italic": c == "_" and not text.startswith("__", i),
            "underline": text.startswith("__", i),
            "strikethrough": c == "~",
            "spoiler": text.startswith("||", i),
            "code": c == "`",
            "pre": text.startswith("```", i),
            "text_link": c == "]",
        }
        if top is not None and ends[top]:
            entry = stack.pop()
            i += {"underline": 2, "spoiler": 2, "pre": 3}.get(top, 1)
            entity: dict = {"type": top, "offset": entry["offset"], "length": pos - entry["offset"]}
            if top == "pre" and entry.get("language"):
                entity["language"] = entry["language"]
            if top == "text_link":
                if i < n and text[i] == "(":
                    url, i = _read_url(text, i + 1, entry["begin"])
                    entity["url"] = url
                else:
                    continue
                if not entity["url"]:
                    continue
            if entity["length"] > 0:
                entities.append(entity)
            continue
        begin = i
        if c == "_" and text.startswith("__", i):
            kind, i = "underline", i + 2
        elif c == "_":
            kind, i = "italic", i + 1
        elif c == "*":
            kind, i = "bold", i + 1
        elif c == "~":
            kind, i = "strikethrough", i + 1
        elif c == "|" and text.startswith("||", i):
            kind, i = "spoiler", i + 2
        elif c == "[":
            kind, i = "text_link", i + 1
        elif text.startswith("```", i):
            kind, i = "pre", i + 3
        elif c == "`":
            kind, i = "code", i + 1
        else:
            raise _err(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
        entry = {"type": kind, "offset": pos, "begin": begin}
        if kind == "pre":
            newline = text.find("\n", i)
            first_line = text[i:newline] if newline >= 0 else ""
            if newline >= 0 and (not first_line or not any(ch in " `" for ch in first_line)):
                if first_line:
                    entry["language"] = first_line
                i = newline + 1
        stack.append(entry)
    if stack:
        entry = stack[-1]
        raise _err(
            f"Can't find end of {_NAMES[entry['type']]} entity at byte offset "
            f"{_boff(text, entry['begin'])}"
        )
    if quote_start is not None and pos > quote_start:
        entities.append({"type": "blockquote", "offset": quote_start, "length": pos - quote_start})
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _read_url(text: str, i: int, begin: int) -> tuple[str, int]:
    url: list[str] = []
    n = len(text)
    while i < n and text[i] != ")":
        if text[i] == "\\" and i + 1 < n:
            i += 1
        url.append(text[i])
        i += 1
    if i >= n:
        raise _err(f"Can't find end of a url at byte offset {_boff(text, begin)}")
    return "".join(url), i + 1


def parse_markdown(text: str) -> tuple[str, list[dict]]:
    """Parse legacy Markdown; return ``(plain_text, entities)`` or raise ``ApiError`` (400)."""
    out: list[str] = []
    pos = 0
    entities: list[dict] = []
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.append(text[i + 1])
            pos += 1
            i += 2
            continue
        if c not in "_*`[":
            out.append(c)
            pos += _w(c)
            i += 1
            continue
        begin = i
        if text.startswith("```", i):
            end_token, kind, i = "```", "pre", i + 3
        else:
            end_token = "]" if c == "[" else c
            kind = {"_": "italic", "*": "bold", "`": "code", "[": "text_link"}[c]
            i += 1
        end = text.find(end_token, i)
        if end < 0:
            raise _err(f"Can't find end of the entity starting at byte offset {_boff(text, begin)}")
        inner = text[i:end]
        i = end + len(end_token)
        entity: dict = {"type": kind, "offset": pos}
        if kind == "text_link" and i < n and text[i] == "(":
            close = text.find(")", i)
            if close < 0:
                raise _err(f"Can't find end of a url at byte offset {_boff(text, begin)}")
            entity["url"] = text[i + 1 : close]
            i = close + 1
        out.append(inner)
        length = sum(_w(ch) for ch in inner)
        pos += length
        entity["length"] = length
        if length > 0 and (kind != "text_link" or entity.get("url")):
            entities.append(entity)
    return "".join(out), entities
