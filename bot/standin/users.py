"""Simulated Telegram users: what they send to the bot and what they see in their chat."""

from __future__ import annotations

import asyncio
import copy
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .albums import new_media_group_id
from .methods import command_entities, text_quote
from .state import Chat
from .topics import GENERAL_THREAD, Topic, delete_topic, in_topic

if TYPE_CHECKING:
    from .state import Store


def _summary(message: dict) -> str:
    body = message.get("text") or message.get("caption")
    if body is None:
        body = next((f"<{k}>" for k in ("photo", "document", "voice", "video", "sticker")
                     if k in message), "<message>")  # fmt: skip
    return f"#{message['message_id']}: {body!r}"


class StandinUser:
    """A Telegram user talking to the bot in a private chat (``standin.user(...)``).

    Sending methods queue an update and return the message as the user sent it.
    ``inbox`` lists the bot's messages in this chat (edits applied in place, deletions
    listed in ``deleted``); ``receive()`` walks through it with a cursor.
    """

    def __init__(
        self,
        store: Store,
        user_id: int,
        first_name: str,
        username: str | None = None,
        language_code: str | None = None,
        last_name: str | None = None,
    ) -> None:
        self._store = store
        self.id = user_id
        self.info: dict = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            self.info["last_name"] = last_name
        if username:
            self.info["username"] = username
        if language_code:
            self.info["language_code"] = language_code
        self.cursor = 0

    def __repr__(self) -> str:
        return f"StandinUser({self.id}, {self.info['first_name']!r})"

    @property
    def chat(self) -> Chat:
        """This user's private chat with the bot."""
        return self._store.private_chat(self.info)

    @property
    def inbox(self) -> list[dict]:
        """Every message the bot sent into this chat, oldest first."""
        return self.chat.inbox

    @property
    def deleted(self) -> set[int]:
        """Ids of messages deleted in this chat."""
        return self.chat.deleted

    @property
    def actions(self) -> list[str]:
        """Chat actions (``typing`` ...) the bot sent to this chat."""
        return self.chat.actions

    @property
    def blocked(self) -> bool:
        return self.chat.blocked

    def block(self) -> None:
        """Block the bot: from now on it gets 403 "Forbidden: bot was blocked by the user".

        As Telegram does, the bot gets a ``my_chat_member`` update (member -> kicked).
        """
        if not self.chat.blocked:
            self.chat.blocked = True
            self._membership_changed("member", "kicked")

    def unblock(self) -> None:
        """Unblock the bot (Telegram's "Restart"): a ``my_chat_member`` update, kicked -> member."""
        if self.chat.blocked:
            self.chat.blocked = False
            self._membership_changed("kicked", "member")

    def _membership_changed(self, old: str, new: str) -> None:
        def member(status: str) -> dict:
            state = {"user": self._store.bot_user, "status": status}
            return {**state, "until_date": 0} if status == "kicked" else state

        change = {
            "chat": self.chat.info,
            "from": self.info,
            "date": int(time.time()),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }
        self._store.push_update({"my_chat_member": change})

    # -- topics --------------------------------------------------------------------------
    @property
    def topics(self) -> dict[int, Topic]:
        """The forum topics of this private chat (thread id -> Topic, deleted ones too)."""
        return self.chat.topics

    def topic_named(self, name: str) -> Topic:
        """The live topic with this name in this chat (ValueError listing the names)."""
        for topic in self.chat.topics.values():
            if topic.name == name and not topic.deleted:
                return topic
        names = [t.name for t in self.chat.topics.values() if not t.deleted]
        raise ValueError(f"no topic {name!r} in the chat with {self.id}; has {names}")

    def in_thread(self, thread: int | None) -> list[dict]:
        """The bot's messages in one topic (None: outside every topic), service ones included."""
        return [m for m in self.inbox if m.get("message_thread_id") == thread]

    def delete_topic(self, thread: int) -> None:
        """The user deletes a topic of this private chat, with its messages (no update)."""
        delete_topic(self.chat, self.chat.topics[thread])
        self._store.notify()

    def _thread(self, chat: Chat, thread: int | None, content: dict) -> dict:
        if thread is None:
            return content
        topic = chat.topics.get(thread)
        if thread == GENERAL_THREAD or topic is None or topic.deleted:
            raise ValueError(f"thread {thread} does not exist in chat {chat.id}")
        if topic.closed:
            raise ValueError(f"TOPIC_CLOSED: topic {thread} of chat {chat.id} is closed")
        return in_topic(chat, topic, content)

    # -- sending -------------------------------------------------------------------------
    def _post(
        self, chat: Chat, content: dict, kind: str = "message", thread: int | None = None
    ) -> dict:
        chat.known = True
        if chat.info.get("type") != "private":
            chat.members[self.id] = self.info
        content = self._thread(chat, thread, content)
        message = self._store.new_message(chat, self.info, content)
        self._store.push_update({kind: message})
        return message

    @staticmethod
    def _text_content(text: str, entities: list[dict] | None) -> dict:
        content: dict = {"text": text}
        entities = entities if entities is not None else command_entities(text)
        if entities:
            content["entities"] = entities
        return content

    def _find(self, message: dict | int, chat: Chat | None = None) -> dict:
        chat = chat or self.chat
        message_id = message["message_id"] if isinstance(message, dict) else int(message)
        found = chat.messages.get(message_id)
        if found is None:
            raise ValueError(f"message {message_id} does not exist in the chat with {self.id}")
        return found

    async def send(
        self, text: str, *, entities: list[dict] | None = None, thread: int | None = None
    ) -> dict:
        """Send a text message (a leading ``/command`` gets its bot_command entity), in the
        topic ``thread`` if given."""
        return self._post(self.chat, self._text_content(text, entities), thread=thread)

    async def reply(self, to: dict | int, text: str, *, quote: str | None = None) -> dict:
        """Send ``text`` as a reply to a message (dict or id) of this chat, in its topic;
        ``quote``: the part of that message's text the reply quotes (a TextQuote)."""
        quoted = dict(self._find(to))
        quoted.pop("reply_to_message", None)
        content = self._text_content(text, None)
        content["reply_to_message"] = quoted
        if quote is not None:
            content["quote"] = text_quote(quoted, quote)
        return self._post(self.chat, content, thread=quoted.get("message_thread_id"))

    async def edit(self, message: dict | int, text: str) -> dict:
        """Edit one of this user's text messages: the bot gets an ``edited_message`` update."""
        old = self._find(message)
        content = self._text_content(text, None)
        edited = {k: v for k, v in old.items() if k != "entities"}
        edited.update(content, edit_date=int(time.time()))
        self.chat.messages[old["message_id"]] = edited
        self._store.push_update({"edited_message": edited})
        return edited

    async def edit_caption(self, message: dict | int, caption: str) -> dict:
        """Edit the caption of one of this user's media messages (an ``edited_message``)."""
        old = self._find(message)
        edited = {k: v for k, v in old.items() if k not in ("caption", "caption_entities")}
        edited.update(caption=caption, edit_date=int(time.time()))
        self.chat.messages[old["message_id"]] = edited
        self._store.push_update({"edited_message": edited})
        return edited

    async def send_album(
        self,
        contents: list[bytes],
        caption: str | None = None,
        kind: str = "photo",
        thread: int | None = None,
        reply_to: dict | int | None = None,
    ) -> list[dict]:
        """Send an album: one message (and update) per item sharing a ``media_group_id``,
        the caption on the first, as Telegram delivers them (``reply_to``: each item replies
        to that message of this chat)."""
        group = new_media_group_id()
        quoted = None
        if reply_to is not None:
            quoted = dict(self._find(reply_to))
            quoted.pop("reply_to_message", None)
            thread = thread or quoted.get("message_thread_id")
        messages = []
        for index, content in enumerate(contents):
            body = self._media(kind, content, caption if index == 0 else None)
            body["media_group_id"] = group
            if quoted is not None:
                body["reply_to_message"] = quoted
            messages.append(self._post(self.chat, body, thread=thread))
        return messages

    async def send_in_group(
        self, group_id: int, text: str, title: str | None = None, thread: int | None = None
    ) -> dict:
        """Send ``text`` in a group chat (created and made known on first use), in the
        forum topic ``thread`` if given."""
        chat = self._store.chats.get(group_id)
        if chat is None:
            info = {"id": group_id, "type": "group", "title": title or f"Group {group_id}"}
            chat = self._store.register_chat(info)
        return self._post(chat, self._text_content(text, None), thread=thread)

    def _media(self, kind: str, content: bytes, caption: str | None, **extra: Any) -> dict:
        record = self._store.add_file(kind, content, **extra)
        body: dict = {kind: record.as_object()}
        if caption:
            body["caption"] = caption
        return body

    async def send_photo(
        self, content: bytes = b"", caption: str | None = None, thread: int | None = None
    ) -> dict:
        """Send a photo (PNG/JPEG bytes give real dimensions)."""
        return self._post(self.chat, self._media("photo", content, caption), thread=thread)

    async def send_document(
        self,
        content: bytes = b"",
        filename: str = "document.pdf",
        caption: str | None = None,
        mime_type: str = "application/octet-stream",
        thread: int | None = None,
    ) -> dict:
        """Send a document with a file name and MIME type."""
        body = self._media("document", content, caption, file_name=filename, mime_type=mime_type)
        return self._post(self.chat, body, thread=thread)

    async def send_voice(
        self, content: bytes = b"", duration: int = 1, thread: int | None = None
    ) -> dict:
        """Send a voice message."""
        body = self._media("voice", content, None, duration=duration)
        return self._post(self.chat, body, thread=thread)

    async def send_video(
        self,
        content: bytes = b"",
        caption: str | None = None,
        duration: int = 1,
        thread: int | None = None,
    ) -> dict:
        """Send a video."""
        body = self._media("video", content, caption, duration=duration, mime_type="video/mp4")
        return self._post(self.chat, body, thread=thread)

    async def send_sticker(
        self, content: bytes = b"", emoji: str = "🙂", thread: int | None = None
    ) -> dict:
        """Send a sticker."""
        body = self._media("sticker", content, None)
        body["sticker"]["emoji"] = emoji
        return self._post(self.chat, body, thread=thread)

    # -- buttons -------------------------------------------------------------------------
    async def press(self, message: dict | int, label: str) -> str:
        """Press the inline button labelled ``label``; returns the callback query id."""
        stored = self._find(message)
        rows = (stored.get("reply_markup") or {}).get("inline_keyboard", [])
        labels = [button["text"] for row in rows for button in row]
        for row in rows:
            for button in row:
                if button["text"] == label:
                    if "callback_data" not in button:
                        raise ValueError(f"button {label!r} has no callback_data: {button}")
                    return self._callback(stored, button["callback_data"])
        raise ValueError(f"no button {label!r} on message {stored['message_id']}; has {labels}")

    async def press_data(self, message: dict | int, data: str) -> str:
        """Send a callback query with arbitrary (possibly forged) ``data``."""
        return self._callback(self._find(message), data)

    def _callback(self, message: dict, data: str) -> str:
        query_id = str(secrets.randbits(63))
        self._store.callback_queries[query_id] = {"created": time.time(), "answered": False}
        query = {
            "id": query_id,
            "from": self.info,
            "message": copy.deepcopy(message),
            "chat_instance": str(-(abs(hash((self._store.bot_id, self.id))) % 10**18)),
            "data": data,
        }
        self._store.push_update({"callback_query": query})
        return query_id

    # -- receiving -----------------------------------------------------------------------
    def _arrived(self) -> str:
        shown = [_summary(m) for m in self.inbox]
        return f"inbox of {self.info['first_name']} ({self.id}) has {len(shown)}: {shown}"

    async def receive(self, timeout: float = 5) -> dict:  # noqa: ASYNC109
        """The next bot message here not yet received; TimeoutError if none comes in time."""
        chat = self.chat
        start = self.cursor
        if not await self._store.wait_for(lambda: len(chat.inbox) > start, timeout):
            raise TimeoutError(
                f"no new message for {self.info['first_name']} within {timeout}s after "
                f"{start} received; {self._arrived()}"
            )
        self.cursor = start + 1
        return chat.inbox[start]

    async def receive_text(self, containing: str, timeout: float = 5) -> dict:  # noqa: ASYNC109
        """The next message whose text or caption contains ``containing`` (others skipped)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        skipped: list[str] = []
        while True:
            remaining = deadline - loop.time()
            try:
                message = await self.receive(max(0.0, remaining))
            except TimeoutError:
                raise TimeoutError(
                    f"no message containing {containing!r} for {self.info['first_name']} "
                    f"within {timeout}s; skipped {skipped}; {self._arrived()}"
                ) from None
            if containing in (message.get("text") or message.get("caption") or ""):
                return message
            skipped.append(_summary(message))

    async def wait_until(
        self,
        predicate: Callable[[list[dict]], bool],
        timeout: float = 5,  # noqa: ASYNC109
    ) -> list[dict]:
        """Wait until ``predicate(inbox)`` holds; returns the inbox."""
        chat = self.chat
        if not await self._store.wait_for(lambda: predicate(chat.inbox), timeout):
            raise TimeoutError(f"condition not met within {timeout}s; {self._arrived()}")
        return chat.inbox
