"""The typed context every handler receives (PTB's contexttypesbot pattern)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram.ext import Application, CallbackContext, ExtBot

from bot.services import outbound
from bot.services.users import Actor

if TYPE_CHECKING:
    from bot.delivery import DeliverySender
    from bot.resources import Resources
    from bot.services.flood import FloodLimiter


class BotData:
    """Process-wide objects, set once at start (typed, instead of string keys)."""

    resources: Resources
    delivery: DeliverySender
    bot_username: str
    kick_email: Any  # () -> None: run the email outbox now
    flood: FloodLimiter  # paces what a person relays past FLOOD_LIMIT (handlers/relay.py)


class HelpdeskContext(CallbackContext[ExtBot, dict, dict, BotData]):
    """Adds who is writing (`actor`), the update's session, and the dialogue's data."""

    def __init__(
        self,
        application: Application,
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self._actor: Actor | None = None
        self._session: AsyncSession | None = None
        # The update's unit of work, opened by the guard and not yet taken by a handler.
        self._unit: AsyncSession | None = None
        # Re-applies the guard's own writes (users.touch) after the handler rolled back.
        self.redo_guard: Callable[[AsyncSession], Awaitable[object]] | None = None
        self.dialogue: dict[str, Any] = {}

    @property
    def actor(self) -> Actor:
        if self._actor is None:
            raise RuntimeError("the guard did not run for this update")
        return self._actor

    @actor.setter
    def actor(self, value: Actor) -> None:
        self._actor = value

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("no unit of work is open: decorate the handler")
        return self._session

    @contextlib.contextmanager
    def using(self, session: AsyncSession) -> Iterator[None]:
        """`session` is the handler's (`self.session`) while the block runs."""
        self._session = session
        try:
            yield
        finally:
            self._session = None

    def open_unit(self, session: AsyncSession) -> None:
        """The guard's session becomes the update's one transaction (see handlers/framework)."""
        self._unit = session

    def take_unit(self) -> AsyncSession | None:
        """The open unit of work, now the caller's to commit and close (None if there is none)."""
        session, self._unit = self._unit, None
        return session

    async def end_unit(self) -> None:
        """Commit and close the unit of work if no handler took it (refused or unhandled)."""
        session = self.take_unit()
        if session is not None:
            async with session:
                await session.commit()
            # What the guard's users.touch changed: held rows released, a demotion's withdrawals.
            self.bot_data.delivery.withdrawn(outbound.withdrawn_chats(session))
            queued = outbound.queued_chats(session)
            if queued:
                self.bot_data.delivery.kick(chats=queued)

    @property
    def resources(self) -> Resources:
        return self.bot_data.resources
