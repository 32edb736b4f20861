"""The HTTP side of the stand-in (tornado on the running asyncio loop) and ``BotApiStandin``.

Routes, laid out like api.telegram.org:

* ``POST|GET /bot{token}/{method}``: Bot API methods (form, multipart, JSON or query string).
* ``GET /file/bot{token}/{file_path}``: file downloads after ``getFile``.
* ``/_standin/...``: a small control API for benchmarks in another process
  (``POST /_standin/send``, ``POST /_standin/press``, ``GET /_standin/inbox/{chat_id}``,
  ``GET /_standin/stats``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

import tornado.httpclient
import tornado.httpserver
import tornado.netutil
import tornado.web

from .errors import ApiError
from .faults import FaultInjector
from .methods import Methods, scope_key
from .state import Store, is_allowed, update_type
from .users import StandinUser

log = logging.getLogger(__name__)
_UNAUTHORIZED = ApiError(401, "Unauthorized")
_NOT_FOUND = ApiError(404, "Not Found")


def _dumps(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _Base(tornado.web.RequestHandler):
    def initialize(self, standin: BotApiStandin) -> None:
        self.standin = standin
        self.store = standin.store

    def check_xsrf_cookie(self) -> None:  # pragma: no cover - xsrf is off anyway
        pass

    def answer(self, status: int, body: dict) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(_dumps(body))

    def abort_connection(self) -> None:
        """Close the connection without any answer (the client sees a network error)."""
        self._finished = True
        with contextlib.suppress(Exception):
            self.request.connection.close()  # type: ignore[union-attr]


class ApiHandler(_Base):
    """``/bot{token}/{method}``."""

    def _params(self) -> tuple[dict, dict]:
        params: dict[str, Any] = {
            k: v[-1].decode("utf-8", "replace") for k, v in self.request.query_arguments.items()
        }
        ctype = self.request.headers.get("Content-Type", "")
        if ctype.startswith("application/json") and self.request.body:
            try:
                body = json.loads(self.request.body)
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON object") from None
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: can't parse JSON object")
            params.update(body)
        else:
            for k, v in self.request.body_arguments.items():
                params[k] = v[-1].decode("utf-8", "replace")
        files = {name: parts[0] for name, parts in self.request.files.items() if parts}
        return params, files

    async def get(self, token: str, method: str) -> None:
        await self.post(token, method)

    async def post(self, token: str, method: str) -> None:
        store = self.store
        if token != store.token:
            self.answer(401, _UNAUTHORIZED.payload())
            return
        name = self.standin.methods.resolve(method)
        if name is None:
            store.record_call(method, {}, 404, _NOT_FOUND.description)
            self.answer(404, _NOT_FOUND.payload())
            return
        try:
            params, files = self._params()
        except ApiError as error:
            store.record_call(name, {}, error.status, error.description)
            self.answer(error.status, error.payload())
            return
        if self.standin.latency and name != "getUpdates":
            # A network's round trip: the answer leaves this long after the request came.
            await asyncio.sleep(self.standin.latency)
        recorded = dict(params)
        for field, upload in files.items():
            recorded[field] = f"<file {upload.filename!r} {len(upload.body)} bytes>"
        fault = self.standin.faults.take(name, params)
        if fault is not None and fault.kind == "timeout":
            if fault.hold > 0:
                await store.wait_for(lambda: store.closed, fault.hold)
            self.abort_connection()
            return
        if fault is not None and fault.kind != "drop_after_accept":
            error = {
                "429": ApiError(
                    429,
                    f"Too Many Requests: retry after {fault.retry_after}",
                    retry_after=fault.retry_after,
                ),
                "500": ApiError(500, "Internal Server Error"),
                "502": ApiError(502, "Bad Gateway"),
                "403": ApiError(403, "Forbidden: bot was blocked by the user"),
            }[fault.kind]
            store.record_call(name, recorded, error.status, error.description)
            self.answer(error.status, error.payload())
            return
        try:
            result = await self.standin.methods.call(name, params, files)
        except ApiError as error:
            store.record_call(name, recorded, error.status, error.description)
            self.answer(error.status, error.payload())
            return
        store.record_call(name, recorded, 200)
        if fault is not None:  # drop_after_accept: done, but the client never hears of it
            if fault.hold > 0:  # ... and waits that long first (a process killed meanwhile)
                await store.wait_for(lambda: store.closed, fault.hold)
            self.abort_connection()
            return
        self.answer(200, {"ok": True, "result": result})

    def on_connection_close(self) -> None:
        pass


class FileHandler(_Base):
    """``/file/bot{token}/{file_path}``."""

    async def get(self, token: str, path: str) -> None:
        record = self.store.files_by_path.get(path)
        if token != self.store.token or record is None:
            self.answer(404, _NOT_FOUND.payload())
            return
        self.set_header("Content-Type", record.mime_type or "application/octet-stream")
        self.finish(record.content)


class ControlHandler(_Base):
    """``/_standin/{action}``: inject messages and read inboxes from another process."""

    async def get(self, action: str) -> None:
        if action.startswith("inbox/"):
            chat = self.store.chats.get(int(action[len("inbox/") :]))
            self.answer(200, {"ok": True, "result": chat.inbox if chat else []})
        elif action == "stats":
            result = {
                "calls": self.store.call_counts,
                "pending_updates": len(self.store.updates),
                "chats": len(self.store.chats),
            }
            self.answer(200, {"ok": True, "result": result})
        else:
            self.answer(404, _NOT_FOUND.payload())

    async def post(self, action: str) -> None:
        try:
            body = json.loads(self.request.body or b"{}")
            user = self.standin.user(
                int(body["user_id"]),
                first_name=body.get("first_name", f"User{body['user_id']}"),
                username=body.get("username"),
            )
            if action == "send":
                result: Any = await user.send(body["text"])
            elif action == "press" and "label" in body:
                result = await user.press(body["message_id"], body["label"])
            elif action == "press":
                result = await user.press_data(body["message_id"], body["data"])
            else:
                self.answer(404, _NOT_FOUND.payload())
                return
        except (KeyError, ValueError, TypeError) as error:
            self.answer(400, {"ok": False, "error_code": 400, "description": str(error)})
            return
        self.answer(200, {"ok": True, "result": result})


class NotFoundHandler(_Base):
    async def get(self, *args: Any) -> None:
        self.answer(404, _NOT_FOUND.payload())

    post = get


class BotApiStandin:
    """A local Telegram Bot API server for tests, demos and benchmarks.

    ``async with BotApiStandin(token, bot_username) as standin:`` starts it on 127.0.0.1 on a
    free port (``port=0``) on the running loop; point the bot at ``standin.url``.
    """

    def __init__(
        self,
        token: str = "123456:TEST-token",
        bot_username: str = "helpdesk_test_bot",
        *,
        bot_first_name: str = "Helpdesk Test Bot",
        host: str = "127.0.0.1",
        port: int = 0,
        strict_ampersand: bool = True,
        require_https_webhook: bool = False,
        webhook_retry_delay: float = 0.2,
        latency: float = 0.0,
        topics_enabled: bool = False,
    ) -> None:
        self.store = Store(token, bot_username, bot_first_name)
        self.store.topics_enabled = topics_enabled
        # Seconds every Bot API call takes before it is handled (getUpdates aside), to model
        # the round trip to Telegram's servers (tens of milliseconds) in benchmarks.
        self.latency = latency
        self.methods = Methods(self.store, strict_ampersand)
        self.methods.require_https_webhook = require_https_webhook
        self.faults = FaultInjector()
        self.host = host
        self.port = port
        self.webhook_retry_delay = webhook_retry_delay
        self._users: dict[int, StandinUser] = {}
        self._server: tornado.httpserver.HTTPServer | None = None
        self._pusher: asyncio.Task | None = None

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> BotApiStandin:
        """Listen on ``host:port`` (a free port for 0) on the running event loop."""
        kwargs = {"standin": self}
        app = tornado.web.Application(
            [
                (r"/bot([^/]*)/([^/]+)", ApiHandler, kwargs),
                (r"/file/bot([^/]*)/(.+)", FileHandler, kwargs),
                (r"/_standin/(.+)", ControlHandler, kwargs),
            ],
            default_handler_class=NotFoundHandler,
            default_handler_args=kwargs,
            log_function=lambda handler: None,
        )
        sockets = tornado.netutil.bind_sockets(self.port, self.host)
        self.port = sockets[0].getsockname()[1]
        self._server = tornado.httpserver.HTTPServer(app, max_body_size=60 * 1024 * 1024)
        self._server.add_sockets(sockets)
        self.store.closed = False
        self._pusher = asyncio.get_running_loop().create_task(self._push_webhooks())
        return self

    async def stop(self) -> None:
        """Answer held requests, close every connection and stop listening."""
        self.store.closed = True
        self.store.notify()
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
            self._pusher = None
        if self._server is not None:
            self._server.stop()
            await asyncio.sleep(0)  # let held long polls answer
            await self._server.close_all_connections()
            self._server = None

    async def __aenter__(self) -> BotApiStandin:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The API root, e.g. ``http://127.0.0.1:PORT`` (bot: ``base_url=f"{url}/bot"``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def token(self) -> str:
        return self.store.token

    @property
    def bot_user(self) -> dict:
        return self.store.bot_user

    # -- test-facing API -----------------------------------------------------------------
    def user(
        self,
        user_id: int,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        last_name: str | None = None,
    ) -> StandinUser:
        """The simulated user with this id (the same object for the same id)."""
        found = self._users.get(user_id)
        if found is None:
            found = self._users[user_id] = StandinUser(
                self.store,
                user_id,
                first_name or f"User{user_id}",
                username,
                language_code,
                last_name,
            )
        return found

    # -- forum topics (bot/standin/topics.py) -------------------------------------------
    @property
    def topics_enabled(self) -> bool:
        """Topic mode of the bot (getMe's has_topics_enabled): topics in private chats."""
        return self.store.topics_enabled

    @topics_enabled.setter
    def topics_enabled(self, value: bool) -> None:
        self.store.topics_enabled = value

    @property
    def fail_topic_sends(self) -> bool:
        """Fault switch: every send into a topic fails with "message thread not found"."""
        return self.store.fail_topic_sends

    @fail_topic_sends.setter
    def fail_topic_sends(self, value: bool) -> None:
        self.store.fail_topic_sends = value

    @property
    def deleted_topic_lands_in_chat(self) -> bool:
        """Fault switch: a send into a deleted topic lands in the chat instead of failing."""
        return self.store.deleted_topic_lands_in_chat

    @deleted_topic_lands_in_chat.setter
    def deleted_topic_lands_in_chat(self, value: bool) -> None:
        self.store.deleted_topic_lands_in_chat = value

    def forum_group(
        self, chat_id: int, title: str = "Support team", *, bot_rights: dict | None = None
    ):
        """A forum supergroup, known to the bot, where the bot is an administrator with
        ``bot_rights`` (default: can_manage_topics; ``{}``: an administrator without it; use
        ``store.admin_rights.pop(chat_id)`` for a plain member)."""
        chat = self.store.register_chat(
            {"id": chat_id, "type": "supergroup", "title": title, "is_forum": True}
        )
        rights = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}
        self.store.admin_rights[chat_id] = rights if bot_rights is None else bot_rights
        return chat

    def push_update(self, update: dict) -> int:
        """Queue a raw update (``update_id`` added if absent); returns its update_id."""
        return self.store.push_update(update)

    def chat(self, chat_id: int):
        """The stand-in's record of a chat (``.inbox``, ``.messages``, ``.deleted`` ...)."""
        return self.store.chats[chat_id]

    @property
    def callback_answers(self) -> dict[str, dict]:
        """``{query_id: {"text", "show_alert", "url", "cache_time"}}`` from answerCallbackQuery."""
        return self.store.callback_answers

    @property
    def callback_query_ttl(self) -> float:
        """Seconds a callback query can be answered (900, as Telegram's 15 minutes)."""
        return self.store.callback_query_ttl

    @callback_query_ttl.setter
    def callback_query_ttl(self, value: float) -> None:
        self.store.callback_query_ttl = value

    def commands(self, scope: dict | None = None, language_code: str = "") -> list[dict]:
        """What setMyCommands stored for exactly this scope and language ([] if nothing)."""
        key = (*scope_key(scope, lambda p: self.store.chats[int(p["chat_id"])]), language_code)
        return list(self.store.commands.get(key, []))

    @property
    def calls(self) -> list[tuple[str, dict, int]]:
        """Every answered call: ``(method, params as received, http status)``."""
        return self.store.calls

    @property
    def refusals(self) -> list[tuple[str, dict, int, str]]:
        """Every call answered with a 4xx: ``(method, params, status, description)``."""
        return self.store.refusals

    def count(self, method: str) -> int:
        """How many calls of ``method`` (any spelling) were answered."""
        name = self.methods.resolve(method) or method
        return self.store.call_counts.get(name, 0)

    @property
    def webhook(self) -> dict | None:
        """The webhook setting (url, secret_token, ...) or None."""
        return self.store.webhook

    @property
    def pending_updates(self) -> list[dict]:
        """Updates queued and not yet acknowledged."""
        return list(self.store.updates)

    async def wait_acknowledged(self, timeout: float = 5) -> None:  # noqa: ASYNC109
        """Wait until every queued update was acknowledged (or delivered to the webhook)."""
        store = self.store
        if not await store.wait_for(lambda: not store.updates, timeout):
            pending = [(u["update_id"], update_type(u)) for u in store.updates]
            raise TimeoutError(f"updates not acknowledged within {timeout}s: {pending}")

    # -- webhook delivery ----------------------------------------------------------------
    async def _push_webhooks(self) -> None:
        """POST queued updates to the webhook as Telegram's server does (its WebhookActor).

        Updates are queued per chat (else per user): a chat's next update is sent only once
        the previous one was answered with a 2xx, while different chats' updates go out side
        by side over up to ``max_connections`` connections. A failed update (non-2xx, refused
        or dropped connection, timeout) is sent again after 0.2 s, doubling up to 2 s.
        """
        store = self.store
        client = tornado.httpclient.AsyncHTTPClient(force_instance=True, max_clients=100)
        sending: dict[object, asyncio.Task[None]] = {}  # queue key: its update being sent
        retry: dict[int, tuple[float, float]] = {}  # update id: (next try, delay after it)
        loop = asyncio.get_running_loop()

        async def send(hook: dict, update: dict, key: object) -> None:
            headers = {"Content-Type": "application/json"}
            if hook.get("secret_token"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
            error = None
            try:
                response = await client.fetch(
                    hook["url"],
                    method="POST",
                    body=_dumps(update),
                    headers=headers,
                    raise_error=False,
                    request_timeout=60,
                )
                if not 200 <= response.code < 300:
                    error = f"Wrong response from the webhook: {response.code}"
            except Exception as exc:  # connection refused, timeout ...
                error = f"Connection failed: {exc}"
            if error is None:
                retry.pop(update["update_id"], None)
                with contextlib.suppress(ValueError):
                    store.updates.remove(update)
            else:
                hook["last_error_date"] = int(time.time())
                hook["last_error_message"] = error
                _, delay = retry.get(update["update_id"], (0.0, self.webhook_retry_delay))
                retry[update["update_id"]] = (loop.time() + delay, min(delay * 2, 2.0))
            del sending[key]  # before the pusher wakes: the chat's queue is free again
            store.notify()

        try:
            while not store.closed:
                event = store.change_event()
                hook = store.webhook
                wake: float | None = None
                if hook is not None:
                    limit = max(1, int(hook.get("max_connections") or 40))
                    waiting: set[object] = set()  # queues whose first update is not due
                    for update in list(store.updates):
                        if len(sending) >= limit:
                            break
                        if not is_allowed(update_type(update), store.allowed_updates):
                            store.updates.remove(update)
                            continue
                        key = _queue_key(update)
                        if key in sending or key in waiting:
                            continue  # behind the chat's earlier update
                        waiting.add(key)
                        due, _ = retry.get(update["update_id"], (0.0, 0.0))
                        if due > loop.time():
                            wake = due if wake is None else min(wake, due)
                            continue
                        sending[key] = loop.create_task(send(hook, update, key))
                timeout = None if wake is None else max(wake - loop.time(), 0.0)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), timeout)
        finally:
            for task in sending.values():
                task.cancel()
            client.close()


def _queue_key(update: dict) -> object:
    """Telegram's webhook queue of an update: its chat, else its user, else one for the rest."""
    body = update.get(update_type(update))
    if isinstance(body, dict):
        chat = body.get("chat") or (body.get("message") or {}).get("chat")
        if isinstance(chat, dict):
            return ("chat", chat.get("id"))
        user = body.get("from")
        if isinstance(user, dict):
            return ("user", user.get("id"))
    return ("other", None)
