"""Long polling that acknowledges an update only after it was processed.

Telegram forgets an update once a later getUpdates names an offset past it. PTB's Updater asks
for the next batch as soon as it has queued the current one, so a bot killed (SIGKILL, power
cut) before processing a queued batch would lose those updates: a customer's message gone
without a trace. Here the next getUpdates waits until every update fetched before has been
processed, so a crash leaves unprocessed updates unacknowledged and Telegram delivers them again
after the restart. Processing the same update twice is harmless: messages are stored once per
update id and dialogue steps ignore an update id they have seen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from telegram import Update
from telegram.error import NetworkError
from telegram.ext import Application, ExtBot

log = logging.getLogger(__name__)

# How long a getUpdates waits for the previous batch; past it, PTB's polling loop retries.
PROCESSING_WAIT_SECONDS = 30


class UpdateAcks:
    """The ids of fetched updates whose processing has not finished yet."""

    def __init__(self) -> None:
        self._pending: set[int] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def fetched(self, update_ids: Iterable[int]) -> None:
        self._pending.update(update_ids)
        if self._pending:
            self._idle.clear()

    def processed(self, update_id: int) -> None:
        self._pending.discard(update_id)
        if not self._pending:
            self._idle.set()

    async def all_processed(self) -> None:
        await self._idle.wait()


class AcknowledgingBot(ExtBot):
    """An ExtBot whose getUpdates first waits for the previous batch to be processed."""

    def __init__(self, *args: Any, acks: UpdateAcks, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acks = acks

    @property
    def acks(self) -> UpdateAcks:
        return self._acks

    async def get_updates(self, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        try:
            await asyncio.wait_for(self._acks.all_processed(), PROCESSING_WAIT_SECONDS)
        except TimeoutError:
            raise NetworkError("earlier updates are still being processed") from None
        updates = await super().get_updates(*args, **kwargs)
        self._acks.fetched(update.update_id for update in updates)
        return updates


class AcknowledgingApplication(Application):
    """Reports each processed update to the bot's acknowledgements.

    It also sees every update end, whatever the handlers did: `at_end` registers what must run
    then (the guard's unit of work is committed and closed there when no handler took it).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._at_end: dict[int, Callable[[], Awaitable[None]]] = {}

    def at_end(self, update: object, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` once `update` has been processed (it is alive until then: keyed by id)."""
        self._at_end[id(update)] = callback

    async def process_update(self, update: object) -> None:
        try:
            await super().process_update(update)
        finally:
            try:
                finish = self._at_end.pop(id(update), None)
                if finish is not None:
                    await finish()
            except Exception:
                log.exception("update %s: finishing failed", getattr(update, "update_id", None))
            finally:
                if isinstance(update, Update) and isinstance(self.bot, AcknowledgingBot):
                    self.bot.acks.processed(update.update_id)
