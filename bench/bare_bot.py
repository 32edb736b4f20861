"""The ceiling of the stack for bench/relay.py: python-telegram-bot and nothing else.

    TELEGRAM_BOT_TOKEN=... TELEGRAM_API_URL=http://127.0.0.1:PORT BARE_TARGET_CHAT=ID \
        .venv/bin/python bench/bare_bot.py

An Application with PTB's defaults (long polling, updates one at a time, no rate limiter, no
persistence, no database) that copies every message it receives to one fixed chat with
copyMessage. Whatever the helpdesk bot does on top of this is the cost of the helpdesk.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

Handle = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


def copying(target_chat: int) -> Handle:
    """Copy every message to the target chat (the bare bot's whole work)."""

    async def copy(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        await context.bot.copy_message(target_chat, message.chat_id, message.message_id)

    return copy


def build(token: str, api_url: str, handle: Handle) -> Application:
    """PTB's defaults against the Bot API at `api_url`, `handle` for every message."""
    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{api_url}/bot")
        .base_file_url(f"{api_url}/file/bot")
        .build()
    )
    application.add_handler(MessageHandler(filters.ALL, handle))
    return application


def main(handler_for: Callable[[int], Handle] = copying) -> None:
    """Run the bot from the environment the benchmark gives it (shared with forward_bot.py)."""
    logging.basicConfig(level=logging.WARNING)
    application = build(
        os.environ["TELEGRAM_BOT_TOKEN"],
        os.environ["TELEGRAM_API_URL"].rstrip("/"),
        handler_for(int(os.environ["BARE_TARGET_CHAT"])),
    )
    application.run_polling(allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
