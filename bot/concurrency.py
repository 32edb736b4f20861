"""Updates of different chats run concurrently; a chat's own updates run one at a time, in order.

Why not PTB's plain `concurrent_updates(N)`: it runs any N updates at once, so two messages of
one chat can overtake each other. Here that would break three things. ConversationHandler keys
its dialogues by (chat, user) and reads the state a previous update left (PTB warns against
concurrent updates with conversations for exactly this reason); a customer's messages must
reach the agent in the order they were written (the relay stores them in handling order); and
a button pressed right after a message must see what that message changed. Keying by chat
keeps all three: updates of one chat (or, without a chat, of one user) form a queue processed
strictly in arrival order, while different chats proceed side by side, so one slow chat (a
long network wait, a long transaction) no longer holds up everyone else as PTB's default
sequential processing does.

Updates reach `do_process_update` in the order PTB fetched them: PTB starts one task per
update, in order, and the admission semaphore of `BaseUpdateProcessor` is sized so that it
never makes a task wait (a waiting task could be woken out of order). The real bound,
`max_concurrent_updates`, applies to updates actually running; an update waiting for its
chat's previous one takes no slot, so a burst from one chat cannot starve the others.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Hashable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

# Updates admitted at once (running or waiting for their chat); far above any real backlog:
# PTB fetches 100 updates per getUpdates and starts a task for each as soon as it has them.
ADMISSION = 1_000_000


def chat_key(update: object) -> Hashable:
    """What orders an update: its chat, else its user, else one queue for everything else."""
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return ("chat", update.effective_chat.id)
        if update.effective_user is not None:
            return ("user", update.effective_user.id)
    return ("other", None)


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """At most `max_concurrent_updates` updates at once, never two of the same chat."""

    __slots__ = ("_limit", "_running", "_tails")

    def __init__(self, max_concurrent_updates: int = 32) -> None:
        if max_concurrent_updates < 1:
            raise ValueError("max_concurrent_updates must be a positive integer")
        super().__init__(ADMISSION)
        self._limit = max_concurrent_updates
        self._running = asyncio.Semaphore(max_concurrent_updates)
        # The last update of each chat not yet finished: the next one of that chat waits for it.
        self._tails: dict[Hashable, asyncio.Future[None]] = {}

    @property
    def running_limit(self) -> int:
        """How many updates may run at the same time (of different chats)."""
        return self._limit

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = chat_key(update)
        previous = self._tails.get(key)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = done  # before any await: arrival order is registration order
        started = False
        try:
            if previous is not None:
                await asyncio.shield(previous)  # cancelling us must not cancel the other
            async with self._running:
                started = True
                await coroutine
        finally:
            if not started and inspect.iscoroutine(coroutine):
                coroutine.close()  # cancelled while waiting (shutdown): never started
            done.set_result(None)
            if self._tails.get(key) is done:
                del self._tails[key]

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass
