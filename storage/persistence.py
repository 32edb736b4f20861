"""python-telegram-bot persistence backed by the database, for conversations only.

Dialogue steps write their state themselves before they answer (see handlers/framework.py),
because PTB writes persistence in batches; this class gives PTB the states back after a
restart and records the ends PTB decides on its own (timeouts).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import ConversationDict, ConversationKey

from storage import dialogues
from storage.db import SessionFactory


class DatabasePersistence(BasePersistence[dict, dict, dict]):
    def __init__(self, session_factory: SessionFactory, *, max_idle: timedelta) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=False, user_data=False, callback_data=False
            ),
            update_interval=60,
        )
        self._sessions = session_factory
        self._max_idle = max_idle

    async def get_conversations(self, name: str) -> ConversationDict:
        async with self._sessions() as session:
            return await dialogues.active(session, name=name, max_idle=self._max_idle)

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        chat_id, user_id = (int(part) for part in key)
        async with self._sessions() as session:
            await dialogues.set_state(
                session,
                name=name,
                chat_id=chat_id,
                user_id=user_id,
                state=None if new_state is None else str(new_state),
            )
            await session.commit()

    # Nothing else is persisted: user, chat, bot and callback data live in our own tables.
    async def get_user_data(self) -> dict[int, dict[Any, Any]]:
        return {}

    async def get_chat_data(self) -> dict[int, dict[Any, Any]]:
        return {}

    async def get_bot_data(self) -> dict[Any, Any]:
        return {}

    async def get_callback_data(self) -> None:
        return None

    async def update_user_data(self, user_id: int, data: dict[Any, Any]) -> None:
        return None

    async def update_chat_data(self, chat_id: int, data: dict[Any, Any]) -> None:
        return None

    async def update_bot_data(self, data: dict[Any, Any]) -> None:
        return None

    async def update_callback_data(self, data: object) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        return None

    async def drop_user_data(self, user_id: int) -> None:
        return None

    async def refresh_user_data(self, user_id: int, user_data: dict[Any, Any]) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[Any, Any]) -> None:
        return None

    async def refresh_bot_data(self, bot_data: dict[Any, Any]) -> None:
        return None

    async def flush(self) -> None:
        return None
