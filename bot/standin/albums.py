"""Albums (media groups) for the stand-in: sendMediaGroup and copyMessages.

A user's album arrives as one update per item, sharing a ``media_group_id`` (the caption, if
any, on the first); a bot sends one with sendMediaGroup (2-10 photos/videos, or 2-10
documents, or 2-10 audios: documents and audios mix with nothing else) or copies messages
with copyMessages, which keeps an album's grouping (the copies share a new media_group_id)
and skips ids that are not found, as Telegram does.
"""

from __future__ import annotations

import secrets
from typing import Any

from . import methods as wire  # the wire helpers (methods imports this module: no names yet)
from .errors import bad_request, utf16_len
from .topics import in_topic

ALBUM_KINDS = ("photo", "video", "document", "audio")
ALONE_KINDS = frozenset({"document", "audio"})  # mix with nothing else in one album
COPY_LIMIT = 100


def new_media_group_id() -> str:
    return str(secrets.randbits(62))


class AlbumMethods:
    """sendMediaGroup and copyMessages, mixed into ``Methods``."""

    async def m_sendMediaGroup(self, params: dict, files: dict) -> list[dict]:
        chat = self._writable_chat(params)
        topic = self.thread_of_send(chat, params)
        media = wire.p_json(params, "media", "can't parse InputMedia JSON object")
        if not isinstance(media, list) or not all(isinstance(m, dict) for m in media):
            raise bad_request("can't parse InputMedia JSON object")
        if not 2 <= len(media) <= 10:
            raise bad_request("wrong number of media in the album: must be 2-10")
        kinds = [item.get("type") for item in media]
        if any(kind not in ALBUM_KINDS for kind in kinds):
            raise bad_request("wrong type of the media in the album")
        if len(set(kinds)) > 1 and ALONE_KINDS & set(kinds):
            alone = sorted(ALONE_KINDS & set(kinds))[0]
            raise bad_request(f"{alone} can't be mixed with other media types")
        reply = self._reply(chat, params)
        contents = []  # everything checked before anything is stored
        for kind, item in zip(kinds, media, strict=True):
            record = self.file_record(kind, item.get("media"), files, None, item)
            content: dict = {kind: record.as_object()}
            if item.get("caption") is not None:
                text, entities = wire.format_text(
                    str(item["caption"]),
                    item.get("parse_mode"),
                    item.get("caption_entities"),
                    self.strict_ampersand,
                )
                if utf16_len(text) > wire.CAPTION_LIMIT:
                    raise bad_request("message caption is too long")
                if text:
                    content["caption"] = text
                    if entities:
                        content["caption_entities"] = entities
            contents.append(content)
        group = new_media_group_id()
        contents = [{"media_group_id": group, **content} for content in contents]
        return self._store_album(chat, topic, contents, reply)

    async def m_copyMessages(self, params: dict, files: dict) -> list[dict]:
        source_chat = self._chat(params, "from_chat_id")
        chat = self._writable_chat(params)
        topic = self.thread_of_send(chat, params)
        ids = wire.p_json(params, "message_ids", "can't parse message identifiers JSON object")
        if (
            not isinstance(ids, list)
            or not 1 <= len(ids) <= COPY_LIMIT
            or not all(isinstance(i, int) for i in ids)
        ):
            raise bad_request("message identifiers are invalid")
        if ids != sorted(set(ids)):
            raise bad_request("message identifiers must be in strictly increasing order")
        sources = [source_chat.messages[i] for i in ids if i in source_chat.messages]
        if not sources:
            raise bad_request("there are no messages to copy")
        remove_caption = wire.p_bool(params, "remove_caption")
        groups: dict[str, str] = {}
        copies = []
        for source in sources:
            content = {key: source[key] for key in wire.CONTENT_KEYS if key in source}
            if not content:
                continue  # service messages are skipped
            if remove_caption:
                content.pop("caption", None)
                content.pop("caption_entities", None)
            group = source.get("media_group_id")
            if group is not None:
                content["media_group_id"] = groups.setdefault(group, new_media_group_id())
            copies.append(content)
        if not copies:
            raise bad_request("there are no messages to copy")
        return [{"message_id": m["message_id"]} for m in self._store_album(chat, topic, copies)]

    def _store_album(
        self, chat: Any, topic: Any, contents: list[dict], reply: dict | None = None
    ) -> list[dict]:
        messages = []
        for content in contents:
            if reply is not None:
                content["reply_to_message"] = reply
            if topic is not None:
                content = in_topic(chat, topic, content)
            messages.append(self.store.bot_message(chat, content))
        return messages
