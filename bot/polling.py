"""Long polling that acknowledges an update only after it was processed.

Telegram forgets an update once a later getUpdates names an offset past it. PTB's Updater asks
for the next batch as soon as it has queued the current one, so a bot killed (SIGKILL, power
cut) before processing a queued batch would lose those updates: a customer's message gone
without a trace. Here a getUpdates never names an offset past an update still being processed,
so a crash leaves unprocessed updates unacknowledged and Telegram delivers them again after the
restart. It waits for the batch fetched before only briefly (BATCH_WAIT_SECONDS): while one
update takes long (/report), the next updates are fetched and processed meanwhile (Telegram
gives the unfinished ones back too; they are skipped). Processing the same update twice (after
a crash) is harmless: messages are stored once per update id and dialogue steps ignore an
update id they have seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from telegram import Update
from telegram.ext import Application, ExtBot

log = logging.getLogger(__name__)

# How long a getUpdates first waits for the updates fetched before to be processed (a batch
# usually is, sooner; one long update, such as /report, then holds up the others no longer).
BATCH_WAIT_SECONDS = 0.03


class UpdateAcks:
    """Which fetched updates are being processed, and which were processed but may still come
    back (Telegram forgets an update only once a getUpdates names an offset past it)."""

    def __init__(self) -> None:
        self._pending: set[int] = set()
        self._done: set[int] = set()  # processed, not yet confirmed by an offset past them
        self._idle = asyncio.Event()
        self._idle.set()

    def offset(self, requested: int | None) -> int | None:
        """The offset to ask with: never past an update not processed yet."""
        if self._pending:
            return min(self._pending)
        return requested

    def new(self, updates: Iterable[Update], *, asked: int | None) -> list[Update]:
        """Of a batch fetched with offset `asked`, those not seen before; they are pending from
        now on. Processed updates below `asked` are confirmed: they never come back."""
        if asked is not None:
            self._done = {done for done in self._done if done >= asked}
        fresh = [u for u in updates if u.update_id not in self._pending | self._done]
        self._pending.update(u.update_id for u in fresh)
        if self._pending:
            self._idle.clear()
        return fresh

    def processed(self, update_id: int) -> None:
        self._pending.discard(update_id)
        self._done.add(update_id)
        if not self._pending:
            self._idle.set()

    async def all_processed(self, within: float) -> None:
        """Until every fetched update was processed, or `within` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), within)


class AcknowledgingBot(ExtBot):
    """An ExtBot whose getUpdates confirms only updates that were processed."""

    def __init__(self, *args: Any, acks: UpdateAcks, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acks = acks

    @property
    def acks(self) -> UpdateAcks:
        return self._acks

    async def get_updates(self, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        await self._acks.all_processed(BATCH_WAIT_SECONDS)
        asked = kwargs["offset"] = self._acks.offset(kwargs.get("offset"))
        updates = await super().get_updates(*args, **kwargs)
        return tuple(self._acks.new(updates, asked=asked))


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
