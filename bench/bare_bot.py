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

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters


def build(token: str, api_url: str, target_chat: int) -> Application:
    async def copy(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        await context.bot.copy_message(target_chat, message.chat_id, message.message_id)

    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{api_url}/bot")
        .base_file_url(f"{api_url}/file/bot")
        .build()
    )
    application.add_handler(MessageHandler(filters.ALL, copy))
    return application


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    application = build(
        os.environ["TELEGRAM_BOT_TOKEN"],
        os.environ["TELEGRAM_API_URL"].rstrip("/"),
        int(os.environ["BARE_TARGET_CHAT"]),
    )
    application.run_polling(allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
