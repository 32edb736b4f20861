"""Webhook mode that loses nothing: Telegram hears 200 only once the update was processed.

python-telegram-bot's own webhook server answers as soon as an update is queued in memory, so
a process killed in that instant loses the update for good: Telegram has been told it arrived.
Here each request is processed to the end first, exactly as long polling does it
(bot/polling.py): through the Application's update processor (bot/concurrency.py: chats side
by side, each chat's updates in arrival order), one database transaction per update, committed
before anyone is answered. Only then is Telegram answered 200. A crash before that leaves the
request unanswered, and Telegram sends the update again until it gets a 2xx; processing it
twice is harmless (messages are stored once per update id, dialogue steps ignore an update id
they have seen).

Telegram sends a chat's next update only after the previous one was answered, and different
chats' updates over up to `max_connections` connections at once (telegram-bot-api's
WebhookActor keeps a queue per chat), so answering late keeps each chat's order and still
lets chats proceed side by side.

A request without the right secret (compared in constant time) gets 403; a body over 1 MB
gets 413 (Telegram's updates are a few kilobytes). Neither is buffered nor processed.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web
from telegram import Update
from telegram.ext import Application

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
READ_LIMIT = 16 * MAX_BODY  # a longer request is cut off (tornado answers 400 and closes)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@tornado.web.stream_request_body
class _UpdateHandler(tornado.web.RequestHandler):
    """POST {path}: one update, answered when it has been processed."""

    def initialize(self, server: WebhookServer) -> None:  # type: ignore[override]
        self._server = server
        self._body = bytearray()
        self._refusal: int | None = None

    def prepare(self) -> None:
        # Refused requests are still read to the end (and thrown away, never buffered), so
        # the client reads the answer instead of a connection reset; READ_LIMIT bounds that.
        if not self._server.is_secret(self.request.headers.get(SECRET_HEADER, "")):
            self._refusal = 403
        elif int(self.request.headers.get("Content-Length") or 0) > MAX_BODY:
            self._refusal = 413

    def data_received(self, chunk: bytes) -> None:
        if self._refusal is not None:
            return
        if len(self._body) + len(chunk) > MAX_BODY:  # chunked, no Content-Length given
            self._refusal = 413
            self._body.clear()
            return
        self._body += chunk

    async def post(self) -> None:
        if self._refusal is not None:
            self.set_status(self._refusal)
            return
        try:
            data = json.loads(self._body)
            update = Update.de_json(data, self._server.application.bot)
        except (ValueError, TypeError, KeyError, AttributeError):
            update = None
        if update is None:
            log.warning("webhook: a body that is not an update, refused")
            self.set_status(400)  # Telegram never sends one: nothing to process
            return
        if not await self._server.process(update):
            self.set_status(503)  # stopping: Telegram sends it again later
            return
        self.set_status(200)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.finish()  # no body, no traceback

    def log_exception(self, *args: Any) -> None:
        log.exception("webhook request failed")


class WebhookServer:
    """Listens on `listen:port` at `path` and hands each update to the Application."""

    def __init__(
        self, application: Application, *, listen: str, port: int, path: str, secret: str
    ) -> None:
        self.application = application
        self._listen = listen
        self._port = port
        self._path = path
        self._secret = secret.encode()
        self._server: tornado.httpserver.HTTPServer | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._accepting = False

    @property
    def port(self) -> int:
        return self._port

    def is_secret(self, given: str) -> bool:
        return hmac.compare_digest(given.encode("utf-8", "replace"), self._secret)

    async def start(self) -> None:
        route = "/" + re.escape(self._path)
        app = tornado.web.Application(
            [(route, _UpdateHandler, {"server": self})], log_function=lambda _handler: None
        )
        sockets = tornado.netutil.bind_sockets(self._port, self._listen)
        self._port = sockets[0].getsockname()[1]
        self._server = tornado.httpserver.HTTPServer(app, max_body_size=READ_LIMIT)
        self._server.add_sockets(sockets)
        self._accepting = True

    async def process(self, update: Update) -> bool:
        """Process one update to the end, as long polling does; False when stopping."""
        if not self._accepting:
            return False
        application = self.application
        task = asyncio.create_task(
            application.update_processor.process_update(update, application.process_update(update)),
            name=f"webhook-update-{update.update_id}",
        )
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        await asyncio.shield(task)  # a dropped connection does not cancel the processing
        return True

    async def stop(self) -> None:
        """No new updates; the ones being processed finish (their requests are answered)."""
        self._accepting = False
        if self._server is None:
            return
        self._server.stop()
        while self._in_flight:
            await asyncio.wait(set(self._in_flight))
        await asyncio.sleep(0)  # let the handlers write their answers
        await self._server.close_all_connections()
        self._server = None
