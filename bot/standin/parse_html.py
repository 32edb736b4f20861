"""Telegram's ``parse_mode=HTML``: turns marked-up text into plain text plus entities.

Follows tdlib's parser (the one behind the Bot API): the same supported tags, the same
error texts (``Unsupported start tag "x" at byte offset N`` ...), offsets and lengths in
UTF-16 code units. Unlike Telegram, an ``&`` that does not start a supported entity is refused
when ``strict_ampersand`` is true (Telegram keeps it literally), because it almost always
means user input was not escaped.
"""

from __future__ import annotations

import re

from .errors import ApiError, bad_request

_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_SPACE = " \t\r\n"


def _parse_error(reason: str) -> ApiError:
    return bad_request(f"can't parse entities: {reason}")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_entity(text: str, i: int) -> tuple[str, int] | None:
    """The character an HTML entity at ``text[i]`` stands for and the index after it."""
    m = _ENTITY.match(text, i)
    if not m:
        return None
    if m.group(1):
        return _NAMED[m.group(1)], m.end()
    code = int(m.group(2)) if m.group(2) else int(m.group(3), 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), m.end()


def parse_html(text: str, strict_ampersand: bool = True) -> tuple[str, list[dict]]:
    """Parse Telegram HTML; return ``(plain_text, entities)`` or raise ``ApiError`` (400)."""
    out: list[str] = []
    pos = 0  # UTF-16 position in the output
    stack: list[dict] = []
    entities: list[dict] = []
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        if c == "&":
            decoded = _decode_entity(text, i)
            if decoded is not None:
                ch, i = decoded
                out.append(ch)
                pos += 2 if ord(ch) > 0xFFFF else 1
                continue
            if strict_ampersand:
                raise _parse_error(
                    f'Unsupported HTML entity at byte offset {_byte_offset(text, i)}: escape "&" as'
                    ' "&amp;"'
                )
        if c != "<":
            out.append(c)
            pos += 2 if ord(c) > 0xFFFF else 1
            i += 1
            continue
        begin = i
        if i + 1 < n and text[i + 1] == "/":
            i = _close_tag(text, i + 2, begin, stack, entities, pos)
        else:
            i = _open_tag(text, i + 1, begin, stack, pos)
    if stack:
        raise _parse_error(f'Can\'t find end tag corresponding to start tag "{stack[-1]["tag"]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _open_tag(text: str, i: int, begin: int, stack: list[dict], pos: int) -> int:
    n = len(text)
    start = i
    while i < n and text[i] not in _SPACE and text[i] != ">":
        i += 1
    tag = text[start:i].lower()
    if tag not in _TAGS:
        raise _parse_error(
            f'Unsupported start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
        )
    attrs: dict[str, str] = {}
    while True:
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n:
            raise _parse_error(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        if text[i] == ">":
            i += 1
            break
        name_start = i
        while i < n and text[i] not in _SPACE and text[i] not in "=>":
            i += 1
        name = text[name_start:i].lower()
        if not name:
            raise _parse_error(
                f'Empty attribute name in the tag "{tag}" at byte offset '
                f"{_byte_offset(text, begin)}"
            )
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n or text[i] != "=":
            if tag == "blockquote" and name == "expandable":
                attrs[name] = ""
                continue
            raise _parse_error(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" at byte '
                f"offset {_byte_offset(text, begin)}"
            )
        i += 1
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n:
            raise _parse_error(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        value_chars: list[str] = []
        if text[i] in "'\"":
            quote = text[i]
            i += 1
            while i < n and text[i] != quote:
                decoded = _decode_entity(text, i) if text[i] == "&" else None
                if decoded is not None:
                    value_chars.append(decoded[0])
                    i = decoded[1]
                else:
                    value_chars.append(text[i])
                    i += 1
            if i >= n:
                raise _parse_error(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
            i += 1
        else:
            while i < n and text[i] not in _SPACE and text[i] != ">":
                value_chars.append(text[i])
                i += 1
        attrs[name] = "".join(value_chars)
    if tag == "span" and attrs.get("class") != "tg-spoiler":
        raise _parse_error(
            f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(text, begin)}'
        )
    if tag == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
        raise _parse_error(
            f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset '
            f"{_byte_offset(text, begin)}"
        )
    stack.append({"tag": tag, "attrs": attrs, "offset": pos})
    return i


def _close_tag(
    text: str, i: int, begin: int, stack: list[dict], entities: list[dict], pos: int
) -> int:
    end = text.find(">", i)
    if end < 0:
        raise _parse_error(f"Unclosed end tag at byte offset {_byte_offset(text, begin)}")
    name = text[i:end].strip(_SPACE).lower()
    if not stack:
        raise _parse_error(f"Unexpected end tag at byte offset {_byte_offset(text, begin)}")
    top = stack[-1]
    if name != top["tag"]:
        raise _parse_error(
            f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
            f'expected "</{top["tag"]}>", found "</{name}>"'
        )
    stack.pop()
    length = pos - top["offset"]
    tag, attrs = top["tag"], top["attrs"]
    kind = _TAGS[tag]
    if kind == "code" and stack and stack[-1]["tag"] == "pre":
        # <pre><code class="language-x"> is one pre entity with a language
        language = attrs.get("class", "")
        if language.startswith("language-") and len(language) > 9:
            stack[-1]["language"] = language[9:]
        return end + 1
    if length <= 0:
        return end + 1
    entity: dict = {"type": kind, "offset": top["offset"], "length": length}
    if kind == "text_link":
        href = attrs.get("href", "")
        if not href:
            return end + 1
        entity["url"] = href
    elif kind == "pre" and top.get("language"):
        entity["language"] = top["language"]
    elif kind == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    elif kind == "custom_emoji":
        entity["custom_emoji_id"] = attrs["emoji-id"]
    entities.append(entity)
    return end + 1
