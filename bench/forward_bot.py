"""What a forwarding support bot does, without a database: the moonshot of bench/relay.py.

    TELEGRAM_BOT_TOKEN=... TELEGRAM_API_URL=http://127.0.0.1:PORT BARE_TARGET_CHAT=ID \
        .venv/bin/python bench/forward_bot.py

Like bench/bare_bot.py (PTB's defaults, no persistence, nothing stored), but for every message
it receives it does the two calls a forwarding support bot makes: `forwardMessage` to the agent
(a fixed chat) and a `sendMessage` receipt to the customer. The helpdesk stores each message
before it is sent and sends no receipt; this bot stores nothing and sends twice.
"""

from __future__ import annotations

import logging
import os

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

RECEIPT = "Received, an agent will answer here."


def build(token: str, api_url: str, target_chat: int) -> Application:
    async def forward(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        await context.bot.forward_message(target_chat, message.chat_id, message.message_id)
        await context.bot.send_message(message.chat_id, RECEIPT)

    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{api_url}/bot")
        .base_file_url(f"{api_url}/file/bot")
        .build()
    )
    application.add_handler(MessageHandler(filters.ALL, forward))
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
