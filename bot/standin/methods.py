"""The Bot API methods of the stand-in, with Telegram's validation and error texts.

``Methods.call(name, params, files)`` takes the parameters as they came over the wire (strings,
or JSON values for a JSON body) and returns the ``result`` or raises ``ApiError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .albums import AlbumMethods
from .errors import ApiError, bad_request, forbidden, utf16_len
from .parse_html import parse_html
from .parse_markdown import parse_markdown, parse_markdown_v2
from .state import UPDATE_TYPES, Chat, FileRecord, Store
from .topics import TopicMethods, in_topic

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
DOWNLOAD_LIMIT = 20 * 1024 * 1024
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)  # fmt: skip
BUTTON_ACTIONS = (
    "callback_data", "url", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)  # fmt: skip
CONTENT_KEYS = (
    "text", "entities", "photo", "document", "voice", "video", "sticker", "caption",
    "caption_entities",
)  # fmt: skip
MEDIA = ("photo", "document", "voice", "video", "sticker")
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_LANG = re.compile(r"[a-z]{2}")
_TRUE = {"true", "1", "True", "yes"}


# -- parameter helpers ---------------------------------------------------------------------
def p_str(params: dict, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def p_bool(params: dict, name: str) -> bool:
    value = params.get(name)
    return value is True or (isinstance(value, str) and value in _TRUE) or value == 1


def p_int(params: dict, name: str, default: int | None = None, *, empty: str = "") -> int | None:
    value = params.get(name)
    if value is None or value == "":
        if empty:
            raise bad_request(empty)
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"invalid {name} specified") from None


def p_json(params: dict, name: str, error: str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise bad_request(error) from None


def format_text(
    text: str, parse_mode: str | None, entities: Any, strict_ampersand: bool
) -> tuple[str, list[dict]]:
    """Apply ``entities`` or ``parse_mode`` and trim surrounding whitespace as Telegram does."""
    if entities is not None:
        if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
            raise bad_request("can't parse entities JSON object")
        result = [dict(e) for e in entities]
    elif parse_mode:
        mode = parse_mode.lower()
        if mode == "html":
            text, result = parse_html(text, strict_ampersand)
        elif mode == "markdownv2":
            text, result = parse_markdown_v2(text)
        elif mode == "markdown":
            text, result = parse_markdown(text)
        else:
            raise bad_request("unsupported parse_mode")
    else:
        result = []
    stripped = text.strip()
    if stripped != text:
        lead = utf16_len(text) - utf16_len(text.lstrip())
        size = utf16_len(stripped)
        trimmed = []
        for e in result:
            start = max(0, e["offset"] - lead)
            end = min(size, e["offset"] + e["length"] - lead)
            if end > start:
                trimmed.append({**e, "offset": start, "length": end - start})
        text, result = stripped, trimmed
    return text, result


def command_entities(text: str) -> list[dict]:
    """A ``bot_command`` entity for a text starting with ``/command`` (as Telegram adds)."""
    m = re.match(r"/[A-Za-z0-9_]{1,64}(@[A-Za-z0-9_]{3,64})?", text)
    return [{"type": "bot_command", "offset": 0, "length": m.end()}] if m else []


def parse_reply_markup(raw: Any) -> dict | None:
    """Validate reply_markup; return the inline keyboard to store on the message (or None)."""
    error = "can't parse reply keyboard markup JSON object"
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise bad_request(error) from None
    if not isinstance(raw, dict):
        raise bad_request(error)
    if "inline_keyboard" in raw:
        rows = raw["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request("can't parse inline keyboard markup JSON object")
        return {"inline_keyboard": [[_inline_button(b) for b in row] for row in rows]}
    if "keyboard" in raw:
        rows = raw["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request("can't parse keyboard markup JSON object")
        for row in rows:
            for button in row:
                text = button.get("text") if isinstance(button, dict) else button
                if not isinstance(text, str) or not text:
                    raise bad_request("can't parse keyboard button: Text must be non-empty")
        return None
    if raw.get("remove_keyboard") is True or raw.get("force_reply") is True:
        return None
    raise bad_request(error)


def _inline_button(button: Any) -> dict:
    if not isinstance(button, dict):
        raise bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    text = button.get("text")
    if not isinstance(text, str):
        raise bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    if not text.strip():
        raise bad_request("BUTTON_TEXT_INVALID")
    actions = [key for key in BUTTON_ACTIONS if key in button]
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not re.match(r"(https?|tg)://\S+$", url):
            raise bad_request(f"inline keyboard button URL '{url}' is invalid")
    return {"text": text, **{key: button[key] for key in actions}}


def _now() -> int:
    return int(time.time())


class Methods(TopicMethods, AlbumMethods):
    """Implementation of every supported method over a ``Store``."""

    def __init__(self, store: Store, strict_ampersand: bool = True) -> None:
        self.store = store
        self.strict_ampersand = strict_ampersand
        self.table: dict[str, Callable[[dict, dict], Awaitable[Any]]] = {}
        for name in dir(self):
            if name.startswith("m_"):
                self.table[name[2:].lower()] = getattr(self, name)
        self.canonical = {
            name[2:].lower(): name[2].lower() + name[3:].replace("_", "") for name in dir(self)
            if name.startswith("m_")
        }  # fmt: skip
        self.canonical.update({"getme": "getMe", "logout": "logOut", "getupdates": "getUpdates"})

    def resolve(self, method: str) -> str | None:
        """Canonical spelling of a method name (Telegram's are case-insensitive), or None."""
        return self.canonical.get(method.lower())

    async def call(self, method: str, params: dict, files: dict) -> Any:
        return await self.table[method.lower()](params, files)

    # -- shared pieces -------------------------------------------------------------------
    def _chat(self, params: dict, name: str = "chat_id") -> Chat:
        value = params.get(name)
        if value is None or value == "":
            raise bad_request(f"{name} is empty")
        if isinstance(value, str) and value.startswith("@"):
            for chat in self.store.chats.values():
                if (
                    chat.known
                    and chat.info.get("type") != "private"
                    and chat.info.get("username", "").lower() == value[1:].lower()
                ):
                    return chat
            raise bad_request("chat not found")
        try:
            chat_id = int(value)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        chat = self.store.chats.get(chat_id)
        if chat is None or not chat.known:
            raise bad_request("chat not found")
        return chat

    def _writable_chat(self, params: dict) -> Chat:
        chat = self._chat(params)
        if chat.blocked:
            raise forbidden("bot was blocked by the user")
        return chat

    def _reply(self, chat: Chat, params: dict) -> dict | None:
        reply = p_json(params, "reply_parameters", "can't parse reply parameters JSON object")
        allow = p_bool(params, "allow_sending_without_reply")
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow = allow or bool(reply.get("allow_sending_without_reply"))
            if reply.get("chat_id") not in (None, chat.id):
                chat = self._chat({"chat_id": reply["chat_id"]})
        elif reply is not None:
            raise bad_request("can't parse reply parameters JSON object")
        else:
            message_id = p_int(params, "reply_to_message_id")
        if message_id is None:
            return None
        target = chat.messages.get(int(message_id))
        if target is None:
            if allow:
                return None
            raise bad_request("message to be replied not found")
        quoted = dict(target)
        quoted.pop("reply_to_message", None)
        return quoted

    @staticmethod
    def _quote(params: dict, target: dict) -> dict | None:
        """The TextQuote of a reply that quotes part of the replied message, checked."""
        reply = p_json(params, "reply_parameters", "can't parse reply parameters JSON object")
        quote = reply.get("quote") if isinstance(reply, dict) else None
        if quote is None:
            return None
        return text_quote(target, quote, reply.get("quote_position"))

    def _text(self, params: dict) -> dict:
        raw = p_str(params, "text")
        if raw is None or not raw.strip():
            raise bad_request("message text is empty")
        entities = p_json(params, "entities", "can't parse entities JSON object")
        text, ents = format_text(raw, p_str(params, "parse_mode"), entities, self.strict_ampersand)
        if not text:
            raise bad_request("message text is empty")
        if utf16_len(text) > TEXT_LIMIT:
            raise bad_request("message is too long")
        content: dict = {"text": text}
        if ents:
            content["entities"] = ents
        return content

    def _caption(self, params: dict) -> dict | None:
        """The caption content, or None when no caption parameter was given."""
        raw = p_str(params, "caption")
        if raw is None:
            return None
        entities = p_json(params, "caption_entities", "can't parse entities JSON object")
        text, ents = format_text(raw, p_str(params, "parse_mode"), entities, self.strict_ampersand)
        if utf16_len(text) > CAPTION_LIMIT:
            raise bad_request("message caption is too long")
        content: dict = {}
        if text:
            content["caption"] = text
            if ents:
                content["caption_entities"] = ents
        return content

    def _finish(self, chat: Chat, content: dict, params: dict, markup_param: str = "reply_markup"):
        topic = self.thread_of_send(chat, params)
        markup = parse_reply_markup(params.get(markup_param))
        reply = self._reply(chat, params)
        if reply is not None:
            content["reply_to_message"] = reply
            quote = self._quote(params, reply)
            if quote is not None:
                content["quote"] = quote
        if markup is not None:
            content["reply_markup"] = markup
        if topic is not None:
            content = in_topic(chat, topic, content)
        return self.store.bot_message(chat, content)

    def _message(self, chat: Chat, params: dict, missing: str) -> dict:
        message_id = p_int(params, "message_id", empty="message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None:
            raise bad_request(missing)
        return message

    # -- bot -----------------------------------------------------------------------------
    async def m_getMe(self, params: dict, files: dict) -> dict:
        return {
            **self.store.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
            "has_topics_enabled": self.store.topics_enabled,
            "allows_users_to_create_topics": False,
        }

    async def m_close(self, params: dict, files: dict) -> bool:
        return True

    async def m_logOut(self, params: dict, files: dict) -> bool:
        return True

    # -- updates -------------------------------------------------------------------------
    async def m_getUpdates(self, params: dict, files: dict) -> list[dict]:
        store = self.store
        if store.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = p_int(params, "offset")
        limit = max(1, min(100, p_int(params, "limit", 100) or 100))
        timeout = max(0, p_int(params, "timeout", 0) or 0)
        allowed = p_json(params, "allowed_updates", "can't parse allowed updates JSON object")
        if allowed is not None:
            if not isinstance(allowed, list):
                raise bad_request("can't parse allowed updates JSON object")
            store.allowed_updates = [a for a in allowed if a in UPDATE_TYPES]
        if offset is not None:
            store.acknowledge(offset)
        store.poll_generation += 1
        generation = store.poll_generation
        store.notify()  # an older held poll sees the new generation and answers 409
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = store.change_event()
            if store.poll_generation != generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )
            if store.webhook is not None:
                raise ApiError(409, "Conflict: terminated by setWebhook request")
            batch = store.take_batch(limit)
            remaining = deadline - loop.time()
            if batch or remaining <= 0 or store.closed:
                return batch
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def m_setWebhook(self, params: dict, files: dict) -> bool:
        url = p_str(params, "url") or ""
        if not url:
            return await self.m_deleteWebhook(params, files)
        if not re.match(r"https?://[^/\s]+", url):
            raise bad_request("bad webhook: Failed to resolve host: Name or service not known")
        if self.require_https_webhook and not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p_str(params, "secret_token")
        if secret is not None and not _SECRET.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        allowed = p_json(params, "allowed_updates", "can't parse allowed updates JSON object")
        if allowed is not None:
            self.store.allowed_updates = [a for a in allowed if a in UPDATE_TYPES]
        if p_bool(params, "drop_pending_updates"):
            self.store.updates.clear()
        self.store.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": p_int(params, "max_connections", 40),
        }
        self.store.notify()
        return True

    require_https_webhook = False

    async def m_deleteWebhook(self, params: dict, files: dict) -> bool:
        if p_bool(params, "drop_pending_updates"):
            self.store.updates.clear()
        self.store.webhook = None
        self.store.notify()
        return True

    async def m_getWebhookInfo(self, params: dict, files: dict) -> dict:
        hook = self.store.webhook
        info: dict = {
            "url": hook["url"] if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.store.updates),
        }
        if hook:
            info["max_connections"] = hook["max_connections"]
            for key in ("last_error_date", "last_error_message"):
                if key in hook:
                    info[key] = hook[key]
            if self.store.allowed_updates:
                info["allowed_updates"] = self.store.allowed_updates
        return info

    # -- sending -------------------------------------------------------------------------
    async def m_sendMessage(self, params: dict, files: dict) -> dict:
        chat = self._writable_chat(params)
        return self._finish(chat, self._text(params), params)

    async def _send_media(self, kind: str, params: dict, files: dict) -> dict:
        chat = self._writable_chat(params)
        record = self.file_record(kind, params.get(kind), files, files.get(kind), params)
        content: dict = {kind: record.as_object()}
        if kind != "sticker":
            content.update(self._caption(params) or {})
        else:
            content[kind]["emoji"] = p_str(params, "emoji") or "🙂"
        return self._finish(chat, content, params)

    def file_record(
        self, kind: str, value: Any, files: dict, upload: Any, params: dict
    ) -> FileRecord:
        """The file a send names: an upload (a form field or ``attach://name``) or a file id."""
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value[len("attach://") :])
            if upload is None:
                raise bad_request(f"there is no {kind} in the request")
        if upload is not None:
            return self.store.add_file(
                kind,
                upload.body,
                upload.filename or None,
                None if kind == "photo" else upload.content_type,
                p_int(params, "duration", 1) or 0,
            )
        if isinstance(value, str) and value:
            if value.startswith(("http://", "https://")):
                raise bad_request("failed to get HTTP URL content")
            record = self.store.files.get(value)
            if record is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            return record
        raise bad_request(f"there is no {kind} in the request")

    async def m_sendPhoto(self, params: dict, files: dict) -> dict:
        return await self._send_media("photo", params, files)

    async def m_sendDocument(self, params: dict, files: dict) -> dict:
        return await self._send_media("document", params, files)

    async def m_sendVoice(self, params: dict, files: dict) -> dict:
        return await self._send_media("voice", params, files)

    async def m_sendVideo(self, params: dict, files: dict) -> dict:
        return await self._send_media("video", params, files)

    async def m_sendSticker(self, params: dict, files: dict) -> dict:
        return await self._send_media("sticker", params, files)

    async def m_copyMessage(self, params: dict, files: dict) -> dict:
        source_chat = self._chat(params, "from_chat_id")
        source = self._message(source_chat, params, "message to copy not found")
        chat = self._writable_chat(params)
        content = {key: source[key] for key in CONTENT_KEYS if key in source}
        if not content:
            raise bad_request("message can't be copied")
        if "text" not in content:
            caption = self._caption(params)
            if caption is not None:
                content.pop("caption", None)
                content.pop("caption_entities", None)
                content.update(caption)
        message = self._finish(chat, content, params)
        return {"message_id": message["message_id"]}

    async def m_forwardMessage(self, params: dict, files: dict) -> dict:
        source_chat = self._chat(params, "from_chat_id")
        source = self._message(source_chat, params, "message to forward not found")
        chat = self._writable_chat(params)
        topic = self.thread_of_send(chat, params)
        content = {key: source[key] for key in CONTENT_KEYS if key in source}
        origin: dict = {"type": "user", "date": source["date"]}
        if "from" in source:
            origin["sender_user"] = source["from"]
        else:
            origin = {"type": "chat", "date": source["date"], "sender_chat": source["chat"]}
        content = {"forward_origin": origin, **content}
        if topic is not None:
            content = in_topic(chat, topic, content)
        return self.store.bot_message(chat, content)

    async def m_sendChatAction(self, params: dict, files: dict) -> bool:
        chat = self._writable_chat(params)
        self.thread_of_send(chat, params)
        action = p_str(params, "action")
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        chat.actions.append(action)
        return True

    # -- editing -------------------------------------------------------------------------
    def _editable(self, params: dict) -> dict:
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._chat(params)
        if chat.blocked:
            raise forbidden("bot was blocked by the user")
        message = self._message(chat, params, "message to edit not found")
        if message.get("from", {}).get("id") != self.store.bot_id:
            raise bad_request("message can't be edited")
        return message

    def _apply_edit(self, message: dict, changes: dict, removed: tuple[str, ...]) -> dict:
        same = all(message.get(k) == v for k, v in changes.items()) and all(
            k not in message for k in removed
        )
        if same:
            raise bad_request(NOT_MODIFIED)
        for key in removed:
            message.pop(key, None)
        message.update(changes)
        message["edit_date"] = _now()
        self.store.notify()
        return message

    @staticmethod
    def _markup_change(markup: dict | None) -> tuple[dict, tuple[str, ...]]:
        return ({"reply_markup": markup}, ()) if markup else ({}, ("reply_markup",))

    async def m_editMessageText(self, params: dict, files: dict) -> dict:
        message = self._editable(params)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        content = self._text(params)
        changes, removed = self._markup_change(parse_reply_markup(params.get("reply_markup")))
        changes.update(content)
        if "entities" not in content:
            removed += ("entities",)
        return self._apply_edit(message, changes, removed)

    async def m_editMessageCaption(self, params: dict, files: dict) -> dict:
        message = self._editable(params)
        if not any(kind in message for kind in MEDIA if kind != "sticker"):
            raise bad_request("there is no caption in the message to edit")
        caption = self._caption(params) or {}
        changes, removed = self._markup_change(parse_reply_markup(params.get("reply_markup")))
        changes.update(caption)
        removed += tuple(k for k in ("caption", "caption_entities") if k not in caption)
        return self._apply_edit(message, changes, removed)

    async def m_editMessageReplyMarkup(self, params: dict, files: dict) -> dict:
        message = self._editable(params)
        changes, removed = self._markup_change(parse_reply_markup(params.get("reply_markup")))
        return self._apply_edit(message, changes, removed)

    async def m_deleteMessage(self, params: dict, files: dict) -> bool:
        chat = self._chat(params)
        message_id = p_int(params, "message_id", empty="message identifier is not specified")
        if chat.messages.pop(message_id, None) is None:
            raise bad_request("message to delete not found")
        chat.deleted.add(message_id)
        self.store.notify()
        return True

    # -- callback queries and commands ---------------------------------------------------
    async def m_answerCallbackQuery(self, params: dict, files: dict) -> bool:
        query_id = p_str(params, "callback_query_id") or ""
        query = self.store.callback_queries.get(query_id)
        if (
            query is None
            or query["answered"]
            or time.time() - query["created"] > self.store.callback_query_ttl
        ):
            raise bad_request(QUERY_TOO_OLD)
        text = p_str(params, "text")
        if text is not None and len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        query["answered"] = True
        self.store.callback_answers[query_id] = {
            "text": text,
            "show_alert": p_bool(params, "show_alert"),
            "url": p_str(params, "url"),
            "cache_time": p_int(params, "cache_time", 0),
        }
        self.store.notify()
        return True

    def _scope_key(self, params: dict) -> tuple:
        scope = p_json(params, "scope", "can't parse BotCommandScope JSON object")
        language = p_str(params, "language_code") or ""
        if language and not _LANG.fullmatch(language):
            raise bad_request("invalid language code specified")
        return (*scope_key(scope, self._chat), language)

    async def m_setMyCommands(self, params: dict, files: dict) -> bool:
        commands = p_json(params, "commands", "can't parse commands JSON object")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        clean = []
        for item in commands:
            if not isinstance(item, dict):
                raise bad_request("can't parse BotCommand JSON object")
            command, description = item.get("command"), item.get("description")
            if not isinstance(command, str) or not _COMMAND.fullmatch(command):
                raise bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": command, "description": description})
        key = self._scope_key(params)
        if clean:
            self.store.commands[key] = clean
        else:
            self.store.commands.pop(key, None)
        return True

    async def m_getMyCommands(self, params: dict, files: dict) -> list[dict]:
        return self.store.commands.get(self._scope_key(params), [])

    async def m_deleteMyCommands(self, params: dict, files: dict) -> bool:
        self.store.commands.pop(self._scope_key(params), None)
        return True

    # -- chats and files -----------------------------------------------------------------
    async def m_getChat(self, params: dict, files: dict) -> dict:
        chat = self._chat(params)
        return {
            **chat.info,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def m_setChatMenuButton(self, params: dict, files: dict) -> bool:
        chat_id = self._chat(params).id if params.get("chat_id") not in (None, "") else None
        button = p_json(params, "menu_button", "can't parse menu button JSON object")
        if button is not None and (not isinstance(button, dict) or "type" not in button):
            raise bad_request("can't parse menu button JSON object")
        self.store.menu_buttons[chat_id] = button or {"type": "default"}
        return True

    async def m_getChatMenuButton(self, params: dict, files: dict) -> dict:
        chat_id = self._chat(params).id if params.get("chat_id") not in (None, "") else None
        return self.store.menu_buttons.get(chat_id) or {"type": "default"}

    async def m_getFile(self, params: dict, files: dict) -> dict:
        file_id = p_str(params, "file_id") or ""
        record = self.store.files.get(file_id)
        if record is None:
            raise bad_request("invalid file_id")
        if len(record.content) > DOWNLOAD_LIMIT:
            raise bad_request("file is too big")
        return {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_size": len(record.content),
            "file_path": record.file_path,
        }


def text_quote(target: dict, quote: Any, position: Any = None) -> dict:
    """A TextQuote of ``quote`` in the text or caption of ``target`` (QUOTE_TEXT_INVALID if it
    is not there; ``position`` in UTF-16 units picks one of several occurrences)."""
    body = target.get("text") or target.get("caption") or ""
    if not isinstance(quote, str) or not quote.strip() or quote not in body:
        raise bad_request("QUOTE_TEXT_INVALID")
    index = body.find(quote)
    if isinstance(position, int):
        starts = [i for i in range(len(body)) if body.startswith(quote, i)]
        by_units = {utf16_len(body[:i]): i for i in starts}
        if position not in by_units:
            raise bad_request("QUOTE_TEXT_INVALID")
        index = by_units[position]
    return {"text": quote, "position": utf16_len(body[:index]), "is_manual": True}


def scope_key(scope: Any, resolve_chat: Callable[[dict], Chat]) -> tuple:
    """The key commands are stored under for a BotCommandScope (None: the default scope)."""
    if scope is None:
        return ("default",)
    if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
        raise bad_request("can't parse BotCommandScope JSON object")
    kind = scope["type"]
    if kind in ("default", "all_private_chats", "all_group_chats", "all_chat_administrators"):
        return (kind,)
    if kind in ("chat", "chat_administrators", "chat_member"):
        chat = resolve_chat({"chat_id": scope.get("chat_id")})
        if kind != "chat_member":
            return (kind, chat.id)
        user_id = scope.get("user_id")
        if not isinstance(user_id, int):
            raise bad_request("user not found")
        return (kind, chat.id, user_id)
    raise bad_request("wrong bot command scope type specified")
