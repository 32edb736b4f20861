"""What a forwarding support bot does, without a database: the moonshot of bench/relay.py.

    TELEGRAM_BOT_TOKEN=... TELEGRAM_API_URL=http://127.0.0.1:PORT BARE_TARGET_CHAT=ID \
        .venv/bin/python bench/forward_bot.py

Like bench/bare_bot.py (PTB's defaults, no persistence, nothing stored), but for every message
it receives it does the two calls a forwarding support bot makes: `forwardMessage` to the agent
(a fixed chat) and a `sendMessage` receipt to the customer. The helpdesk stores each message
before it is sent and sends no receipt; this bot stores nothing and sends twice.
"""

from __future__ import annotations

import sys
from pathlib import Path

from telegram import Update
from telegram.ext import ContextTypes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bare_bot import Handle, main

RECEIPT = "Received, an agent will answer here."


def forwarding(target_chat: int) -> Handle:
    """Forward every message to the target chat and send the customer a receipt."""

    async def forward(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        await context.bot.forward_message(target_chat, message.chat_id, message.message_id)
        await context.bot.send_message(message.chat_id, RECEIPT)

    return forward


if __name__ == "__main__":
    main(forwarding)
