"""The command menu each role sees (setMyCommands per chat scope)."""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError

from bot.services import access
from storage.models import Role

log = logging.getLogger(__name__)


def _commands(role: Role) -> list[BotCommand]:
    return [BotCommand(c.name, c.help) for c in access.commands_for(role, menu_only=True)]


async def set_default_menu(bot: Bot) -> None:
    await bot.set_my_commands(_commands(Role.CUSTOMER), scope=BotCommandScopeDefault())


async def set_menu(bot: Bot, chat_id: int, role: Role) -> None:
    """The menu of one staff member's chat (customers see the default one)."""
    try:
        if role is Role.CUSTOMER:
            await bot.delete_my_commands(scope=BotCommandScopeChat(chat_id))
        else:
            await bot.set_my_commands(_commands(role), scope=BotCommandScopeChat(chat_id))
    except TelegramError as error:  # e.g. an admin who never opened the bot yet
        log.info("menu for chat %s not set: %s", chat_id, error)
