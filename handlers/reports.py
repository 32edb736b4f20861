"""/report [days]: the summary of metrics.md and the chart, for admins."""

from __future__ import annotations

import asyncio
import io

from markupsafe import Markup
from telegram import Update
from telegram.ext import CommandHandler

from bot.clock import utcnow
from bot.formatting import TEXT_LIMIT, split_text
from bot.reports.chart import draw_chart
from bot.reports.summary import summary_for_period
from bot.services.errors import Invalid
from handlers.context import HelpdeskContext
from handlers.framework import Photo, Reply, Result, action, read_apart

DEFAULT_DAYS = 7
MAX_DAYS = 3650


def _days(args: list[str]) -> int:
    if not args:
        return DEFAULT_DAYS
    days = args[0]
    if len(args) > 1 or not days.isdecimal() or len(days) > 9 or not 1 <= int(days) <= MAX_DAYS:
        raise Invalid(f"Usage: /report [days], days from 1 to {MAX_DAYS}.")
    return int(args[0])


def _png(rows: list) -> bytes:
    buffer = io.BytesIO()
    draw_chart(rows, buffer)
    return buffer.getvalue()


@action
async def report(update: Update, context: HelpdeskContext) -> Result:
    days = _days(context.args or [])
    as_of = utcnow()
    # 100,000 tickets take a few hundred milliseconds: apart, so other chats are not held up
    summary = await read_apart(
        context, lambda session: summary_for_period(session, days=days, as_of=as_of)
    )
    title = f"Report for the last {days} day{'s' if days != 1 else ''}"
    # <pre> keeps the columns aligned; each part stays within Telegram's limit once parsed.
    parts = split_text(summary.text(), TEXT_LIMIT - len(title) - 2)
    replies: list = [
        Reply(
            Markup("<b>{}</b>\n<pre>{}</pre>").format(title, part)
            if n == 0
            else Markup("<pre>{}</pre>").format(part)
        )
        for n, part in enumerate(parts)
    ]
    png = await asyncio.to_thread(_png, summary.rows)
    replies.append(Photo(png, caption=title, filename="report.png"))
    return replies


def handlers() -> list:
    return [CommandHandler("report", report)]
