"""Forum topics as Telegram has them (Bot API 9.3-10.0), for the stand-in.

Where topics exist:
* a private chat, once topic mode is on for the bot (``Store.topics_enabled``: getMe's
  ``has_topics_enabled``); there createForumTopic, editForumTopic and deleteForumTopic work,
  closeForumTopic and reopenForumTopic do not (Telegram closes topics in supergroups only);
* a forum supergroup (``info["is_forum"]``) where the bot is an administrator with
  ``can_manage_topics`` (``Store.admin_rights``); every method works there.

A topic's ``message_thread_id`` is the id of the service message that created it
(``forum_topic_created``). Messages in a topic carry ``message_thread_id`` and
``is_topic_message``; one that replies to nothing carries ``reply_to_message`` = that creation
message, as in forum supergroups: code that reads every reply as "answers a relayed message"
falls into this trap here too. Thread 1 is the General topic of a forum and is never a
topic the bot may send into, edit or delete here (refused as "message thread not found").

Fault switch: ``Store.fail_topic_sends`` makes every send with a ``message_thread_id`` fail
with 400 "message thread not found" (seen after a Bot API rollout, tdlib/telegram-bot-api
#847); ``Store.deleted_topic_lands_in_chat`` makes a send into a deleted topic land in the
chat itself instead of failing (also reported, #866). Error texts of topic methods other
than "message thread not found" are Telegram's as far as known (not verified against the
live API).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import bad_request
from .state import Chat

NAME_LIMIT = 128
GENERAL_THREAD = 1
# The colours Telegram allows for a topic's icon (RGB), the first being the default.
ICON_COLORS = (0x6FB9F0, 0xFFD67E, 0xCB86DB, 0x8EEE98, 0xFF93B2, 0xFB6F5F)
THREAD_NOT_FOUND = "message thread not found"
NOT_A_FORUM = "the chat is not a forum"
NOT_MODIFIED = "TOPIC_NOT_MODIFIED"
SUPERGROUPS_ONLY = "method is available only for supergroups"


@dataclass
class Topic:
    """One forum topic of a chat."""

    thread_id: int
    name: str
    icon_color: int
    icon_custom_emoji_id: str | None = None
    closed: bool = False
    deleted: bool = False

    def as_object(self) -> dict:
        """The ForumTopic object createForumTopic returns."""
        found = {
            "message_thread_id": self.thread_id,
            "name": self.name,
            "icon_color": self.icon_color,
        }
        if self.icon_custom_emoji_id:
            found["icon_custom_emoji_id"] = self.icon_custom_emoji_id
        return found


def is_forum_group(chat: Chat) -> bool:
    return chat.info.get("type") == "supergroup" and bool(chat.info.get("is_forum"))


class TopicMethods:
    """The forum-topic methods, mixed into ``Methods`` (uses its ``store`` and ``_chat``)."""

    # -- shared pieces -----------------------------------------------------------------
    def _has_topics(self, chat: Chat) -> bool:
        if chat.info.get("type") == "private":
            return self.store.topics_enabled
        return is_forum_group(chat)

    def _topic_chat(self, params: dict) -> Chat:
        """The chat of a topic method, where the bot may manage topics."""
        chat = self._chat(params)
        if not self._has_topics(chat):
            raise bad_request(NOT_A_FORUM)
        if chat.info.get("type") != "private":
            rights = self.store.admin_rights.get(chat.id) or {}
            if not rights.get("can_manage_topics"):
                raise bad_request("not enough rights to manage topics")
        return chat

    def _topic(self, chat: Chat, params: dict) -> Topic:
        thread = params.get("message_thread_id")
        try:
            thread_id = int(thread)
        except (TypeError, ValueError):
            raise bad_request(THREAD_NOT_FOUND) from None
        topic = chat.topics.get(thread_id)
        if thread_id == GENERAL_THREAD or topic is None or topic.deleted:
            raise bad_request(THREAD_NOT_FOUND)
        return topic

    def thread_of_send(self, chat: Chat, params: dict) -> Topic | None:
        """The topic a send goes into (None: the chat itself); refused as Telegram does."""
        thread = params.get("message_thread_id")
        if thread in (None, "", "0", 0):
            return None
        if self.store.fail_topic_sends or not self._has_topics(chat):
            raise bad_request(THREAD_NOT_FOUND)
        found = chat.topics.get(int(thread)) if str(thread).lstrip("-").isdigit() else None
        if found is not None and found.deleted and self.store.deleted_topic_lands_in_chat:
            return None  # the other reported behaviour: the send lands in the chat itself
        return self._topic(chat, params)

    def _service(self, chat: Chat, topic: Topic, content: dict) -> dict:
        message = self.store.bot_message(
            chat, {**content, "message_thread_id": topic.thread_id, "is_topic_message": True}
        )
        return message

    @staticmethod
    def _name(params: dict, *, required: bool) -> str | None:
        name = params.get("name")
        if name is None and not required:
            return None
        name = str(name or "")
        if not name.strip():
            raise bad_request("TOPIC_TITLE_EMPTY")
        if len(name) > NAME_LIMIT:
            raise bad_request("TOPIC_TITLE_TOO_LONG")
        return name

    # -- methods -----------------------------------------------------------------------
    async def m_createForumTopic(self, params: dict, files: dict) -> dict:
        chat = self._topic_chat(params)
        name = self._name(params, required=True)
        color = params.get("icon_color")
        try:
            icon_color = ICON_COLORS[0] if color in (None, "") else int(color)
        except (TypeError, ValueError):
            raise bad_request("TOPIC_ICON_COLOR_INVALID") from None
        if icon_color not in ICON_COLORS:
            raise bad_request("TOPIC_ICON_COLOR_INVALID")
        emoji = params.get("icon_custom_emoji_id") or None
        created = {"name": name, "icon_color": icon_color}
        if emoji:
            created["icon_custom_emoji_id"] = emoji
        # The creation message's id is the topic's thread id; 1 is the General topic's.
        chat.next_message_id = max(chat.next_message_id, GENERAL_THREAD + 1)
        thread_id = chat.next_message_id
        topic = chat.topics[thread_id] = Topic(thread_id, name, icon_color, emoji)
        message = self._service(chat, topic, {"forum_topic_created": created})
        assert message["message_id"] == thread_id
        return topic.as_object()

    async def m_editForumTopic(self, params: dict, files: dict) -> bool:
        chat = self._topic_chat(params)
        topic = self._topic(chat, params)
        name = self._name(params, required=False)
        emoji = params.get("icon_custom_emoji_id")
        edited: dict = {}
        if name is not None and name != topic.name:
            topic.name = edited["name"] = name
        if emoji is not None and (emoji or None) != topic.icon_custom_emoji_id:
            topic.icon_custom_emoji_id = emoji or None
            edited["icon_custom_emoji_id"] = emoji
        if not edited:
            raise bad_request(NOT_MODIFIED)
        self._service(chat, topic, {"forum_topic_edited": edited})
        return True

    async def m_deleteForumTopic(self, params: dict, files: dict) -> bool:
        chat = self._topic_chat(params)
        topic = self._topic(chat, params)
        delete_topic(chat, topic)
        self.store.notify()
        return True

    async def _set_closed(self, params: dict, closed: bool) -> bool:
        chat = self._topic_chat(params)
        if chat.info.get("type") == "private":
            raise bad_request(SUPERGROUPS_ONLY)
        topic = self._topic(chat, params)
        if topic.closed == closed:
            raise bad_request(NOT_MODIFIED)
        topic.closed = closed
        self._service(chat, topic, {"forum_topic_closed" if closed else "forum_topic_reopened": {}})
        return True

    async def m_closeForumTopic(self, params: dict, files: dict) -> bool:
        return await self._set_closed(params, True)

    async def m_reopenForumTopic(self, params: dict, files: dict) -> bool:
        return await self._set_closed(params, False)

    async def m_getChatMember(self, params: dict, files: dict) -> dict:
        chat = self._chat(params)
        try:
            user_id = int(params.get("user_id"))
        except (TypeError, ValueError):
            raise bad_request("user not found") from None
        if user_id == self.store.bot_id:
            rights = self.store.admin_rights.get(chat.id)
            if rights is not None:
                return administrator(self.store.bot_user, rights)
            return {"status": "member", "user": self.store.bot_user}
        member = chat.members.get(user_id)
        if member is None:
            raise bad_request("user not found")
        return {"status": "member", "user": member}


def delete_topic(chat: Chat, topic: Topic) -> None:
    """Delete a topic and every message in it (a deleted topic's id is never used again)."""
    topic.deleted = True
    for message_id, message in list(chat.messages.items()):
        if message.get("message_thread_id") == topic.thread_id:
            del chat.messages[message_id]
            chat.deleted.add(message_id)


def in_topic(chat: Chat, topic: Topic, content: dict) -> dict:
    """A message's content placed in a topic: the thread id, and the topic's creation message
    as what it replies to when it replies to nothing else."""
    content = {**content, "message_thread_id": topic.thread_id, "is_topic_message": True}
    if "reply_to_message" not in content:
        creation = chat.messages.get(topic.thread_id)
        if creation is not None:
            content["reply_to_message"] = {
                k: v for k, v in creation.items() if k != "reply_to_message"
            }
    return content


def administrator(user: dict, rights: dict) -> dict:
    """A ChatMemberAdministrator object for ``user`` with ``rights`` (others False)."""
    flags = (
        "can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages",
        "can_manage_video_chats", "can_restrict_members", "can_promote_members",
        "can_change_info", "can_invite_users", "can_post_stories", "can_edit_stories",
        "can_delete_stories", "can_pin_messages", "can_manage_topics",
    )  # fmt: skip
    return {"status": "administrator", "user": user, **{f: bool(rights.get(f)) for f in flags}}
