"""In-memory state of the stand-in: chats, messages, files, the update queue and call log.

Everything here is plain data manipulated from the single asyncio loop the server runs on;
``Store.notify()`` wakes every coroutine waiting for a change (long polls, the webhook pusher,
tests waiting for the bot's messages).
"""

from __future__ import annotations

import asyncio
import secrets
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Update types Telegram sends when allowed_updates is empty/unset.
NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
UPDATE_TYPES = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post",
        "business_connection", "business_message", "edited_business_message",
        "deleted_business_messages", "message_reaction", "message_reaction_count",
        "inline_query", "chosen_inline_result", "callback_query", "shipping_query",
        "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer", "my_chat_member",
        "chat_member", "chat_join_request", "chat_boost", "removed_chat_boost",
    }
)  # fmt: skip
MESSAGE_UPDATE_KEYS = ("message", "edited_message", "channel_post", "edited_channel_post")


@dataclass
class Chat:
    """One chat as the stand-in knows it.

    ``info`` is the Chat object as Telegram serialises it; ``known`` turns true once the chat
    sent the bot something (before that the bot gets "chat not found"); ``inbox`` holds every
    message the bot sent here (the same dicts as ``messages``, so edits show in place).
    """

    id: int
    info: dict
    known: bool = False
    blocked: bool = False
    next_message_id: int = 1
    messages: dict[int, dict] = field(default_factory=dict)
    inbox: list[dict] = field(default_factory=list)
    deleted: set[int] = field(default_factory=set)
    actions: list[str] = field(default_factory=list)
    topics: dict[int, Any] = field(default_factory=dict)  # thread id -> topics.Topic
    members: dict[int, dict] = field(default_factory=dict)  # groups: user id -> User


@dataclass
class FileRecord:
    """A file the stand-in holds (uploaded by the bot or sent by a user)."""

    file_id: str
    file_unique_id: str
    kind: str
    content: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0
    duration: int = 0

    def as_object(self) -> dict | list:
        """The Telegram object for this file (a list of PhotoSize for photos)."""
        base = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
        }
        if self.kind == "photo":
            return [{**base, "width": self.width, "height": self.height}]
        if self.kind == "sticker":
            return {
                **base, "width": self.width, "height": self.height, "is_animated": False,
                "is_video": False, "type": "regular",
            }  # fmt: skip
        obj = dict(base)
        if self.kind in ("voice", "video"):
            obj["duration"] = self.duration
        if self.kind == "video":
            obj["width"], obj["height"] = self.width, self.height
        if self.file_name and self.kind in ("document", "video"):
            obj["file_name"] = self.file_name
        if self.mime_type:
            obj["mime_type"] = self.mime_type
        return obj


_EXT = {"photo": "jpg", "voice": "oga", "video": "mp4", "sticker": "webp"}
_FOLDER = {"photo": "photos", "voice": "voice", "video": "videos", "sticker": "stickers"}
_PREFIX = {"photo": "AgAC", "document": "BQAC", "voice": "AwAC", "video": "BAAC", "sticker": "CAAC"}


def image_size(content: bytes) -> tuple[int, int]:
    """Width and height of a PNG or JPEG (320x240 when it is neither)."""
    if content[:8] == b"\x89PNG\r\n\x1a\n" and len(content) >= 24:
        return struct.unpack(">II", content[16:24])
    if content[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(content):
            if content[i] != 0xFF:
                break
            marker, seg = content[i + 1], struct.unpack(">H", content[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                h, w = struct.unpack(">HH", content[i + 5 : i + 9])
                return w, h
            i += 2 + seg
    return 320, 240


def update_type(update: dict) -> str:
    """The kind of an update: its one key other than ``update_id``."""
    for key in update:
        if key != "update_id":
            return key
    return ""


def is_allowed(kind: str, allowed: list[str] | None) -> bool:
    """Whether an update of ``kind`` passes an ``allowed_updates`` setting."""
    if not allowed:
        return kind not in NOT_BY_DEFAULT
    return kind in allowed


class Store:
    """All state of one stand-in."""

    def __init__(self, token: str, bot_username: str, bot_first_name: str) -> None:
        self.token = token
        head = token.split(":", 1)[0]
        self.bot_id = int(head) if head.isdigit() else 123456
        self.bot_user = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.chats: dict[int, Chat] = {}
        self.files: dict[str, FileRecord] = {}
        self.files_by_path: dict[str, FileRecord] = {}
        self.updates: deque[dict] = deque()  # queued, not yet acknowledged
        self.next_update_id = 100_000_001
        self.allowed_updates: list[str] | None = None
        self.webhook: dict | None = None
        self.poll_generation = 0
        self.commands: dict[tuple, list[dict]] = {}
        self.menu_buttons: dict[int | None, dict] = {}
        self.callback_queries: dict[str, dict] = {}
        self.callback_answers: dict[str, dict] = {}
        self.callback_query_ttl = 900.0
        self.calls: list[tuple[str, dict, int]] = []
        self.call_times: list[float] = []  # time.monotonic() of each entry of `calls`
        self.call_counts: dict[str, int] = {}
        self.refusals: list[tuple[str, dict, int, str]] = []  # 4xx: (method, params, status, why)
        self.closed = False
        # Forum topics (bot/standin/topics.py): topic mode for private chats (getMe's
        # has_topics_enabled), the bot's administrator rights per group, and the fault switch
        # that makes every send into a topic fail with "message thread not found".
        self.topics_enabled = False
        self.admin_rights: dict[int, dict] = {}
        self.fail_topic_sends = False
        self.deleted_topic_lands_in_chat = False
        self._changed = asyncio.Event()

    # -- change notification ------------------------------------------------------------
    def notify(self) -> None:
        """Wake everything waiting for a change."""
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def change_event(self) -> asyncio.Event:
        """The event the next ``notify()`` sets; take it *before* checking a condition."""
        return self._changed

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until ``predicate()`` is true (checked after each change); False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._changed
            if predicate():
                return True
            remaining = deadline - loop.time()
            if remaining <= 0 or self.closed:
                return False
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return predicate()

    # -- chats and messages -------------------------------------------------------------
    def private_chat(self, user: dict) -> Chat:
        """The private chat with ``user`` (created unknown if new)."""
        chat = self.chats.get(user["id"])
        if chat is None:
            info = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
            for key in ("last_name", "username"):
                if user.get(key):
                    info[key] = user[key]
            chat = self.chats[user["id"]] = Chat(user["id"], info)
        return chat

    def register_chat(self, info: dict) -> Chat:
        """Make a chat from a Chat object known (used for pushed updates and groups)."""
        chat = self.chats.get(info["id"])
        if chat is None:
            chat = self.chats[info["id"]] = Chat(info["id"], dict(info))
        chat.known = True
        return chat

    def new_message(self, chat: Chat, sender: dict | None, content: dict) -> dict:
        """Store a new message in ``chat`` with the next per-chat id and return it."""
        message_id = chat.next_message_id
        chat.next_message_id += 1
        message: dict = {"message_id": message_id}
        if sender is not None:
            message["from"] = sender
        message["chat"] = chat.info
        message["date"] = int(time.time())
        message.update(content)
        chat.messages[message_id] = message
        return message

    def bot_message(self, chat: Chat, content: dict) -> dict:
        """Store a message the bot sent into ``chat`` and show it in the chat's inbox."""
        message = self.new_message(chat, self.bot_user, content)
        chat.inbox.append(message)
        self.notify()
        return message

    # -- files --------------------------------------------------------------------------
    def add_file(
        self,
        kind: str,
        content: bytes,
        file_name: str | None = None,
        mime_type: str | None = None,
        duration: int = 0,
    ) -> FileRecord:
        """Store a file and give it Telegram-looking ids and a download path."""
        number = len(self.files)
        file_id = _PREFIX.get(kind, "BQAC") + "AgI" + secrets.token_urlsafe(40)
        unique = "AQAD" + secrets.token_urlsafe(9)
        ext = _EXT.get(kind) or (file_name.rsplit(".", 1)[-1] if file_name and "." in file_name
                                 else "bin")  # fmt: skip
        path = f"{_FOLDER.get(kind, 'documents')}/file_{number}.{ext}"
        width = height = 0
        if kind in ("photo", "video"):
            width, height = image_size(content) if kind == "photo" else (640, 360)
        elif kind == "sticker":
            width = height = 512
        if kind == "voice":
            mime_type = mime_type or "audio/ogg"
        record = FileRecord(
            file_id, unique, kind, content, path, file_name, mime_type, width, height, duration
        )
        self.files[file_id] = record
        self.files_by_path[path] = record
        return record

    # -- updates ------------------------------------------------------------------------
    def push_update(self, update: dict) -> int:
        """Queue an update (``update_id`` assigned if absent); chats in it become known."""
        if "update_id" not in update:
            update = {"update_id": self.next_update_id, **update}
        self.next_update_id = max(self.next_update_id, update["update_id"] + 1)
        body = update.get(update_type(update))
        if isinstance(body, dict):
            message = body.get("message") if "chat" not in body else body
            if isinstance(message, dict) and isinstance(message.get("chat"), dict):
                self.register_chat(message["chat"])
        self.updates.append(update)
        self.notify()
        return update["update_id"]

    def acknowledge(self, offset: int) -> None:
        """Forget every update before ``offset`` (negative: keep only the last -offset)."""
        changed = False
        if offset < 0:
            while len(self.updates) > -offset:
                self.updates.popleft()
                changed = True
        else:
            while self.updates and self.updates[0]["update_id"] < offset:
                self.updates.popleft()
                changed = True
        if changed:
            self.notify()

    def take_batch(self, limit: int) -> list[dict]:
        """Up to ``limit`` queued updates that pass ``allowed_updates`` (they stay queued).

        Queued updates the bot does not want are dropped, as Telegram does.
        """
        batch: list[dict] = []
        unwanted = False
        for update in self.updates:
            if not is_allowed(update_type(update), self.allowed_updates):
                unwanted = True
                continue
            if len(batch) < limit:
                batch.append(update)
            elif not unwanted:
                break
        if unwanted:
            self.updates = deque(
                u for u in self.updates if is_allowed(update_type(u), self.allowed_updates)
            )
            self.notify()
        return batch

    def record_call(self, method: str, params: dict, status: int, description: str = "") -> None:
        """Log one answered Bot API call (and, for a 4xx answer, why it was refused)."""
        self.calls.append((method, params, status))
        if 400 <= status < 500:
            self.refusals.append((method, params, status, description))
            self.notify()  # a test waiting for an answer learns that none will come
        self.call_times.append(time.monotonic())
        self.call_counts[method] = self.call_counts.get(method, 0) + 1
