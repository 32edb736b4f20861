"""Agents and admins: /search words, and its paging buttons."""

from __future__ import annotations

from markupsafe import Markup, escape
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.formatting import shorten
from bot.services import search, validation
from handlers.context import HelpdeskContext
from handlers.framework import Answer, Buttons, Edit, Reply, Result, action

PREFIX = "search"  # button data "search:<saved search id>:<offset>"


@action
async def find(update: Update, context: HelpdeskContext) -> Result:
    page = await search.search(
        context.session, actor=context.actor, query=" ".join(context.args or [])
    )
    text, buttons = _shown(page)
    return Reply(text, buttons=buttons)


@action
async def turn_page(update: Update, context: HelpdeskContext) -> Result:
    try:
        _, search_id, offset = update.callback_query.data.split(":")
        page = await search.turn(
            context.session,
            actor=context.actor,
            search_id=validation.small_number(search_id, digits=18),
            offset=validation.small_number(offset, digits=9),
        )
    except ValueError:
        return Answer("This button is not valid.", alert=True)
    text, buttons = _shown(page)
    return [Answer(), Edit(text, buttons=buttons)]


def _shown(page: search.Page) -> tuple[Markup, Buttons | None]:
    if not page.hits:
        return Markup("No tickets you may see match <i>{}</i>.").format(page.query), None
    lines = [
        Markup("<b>Search: {}</b> · {}–{} of {}").format(
            page.query, page.offset + 1, page.offset + len(page.hits), page.total
        )
    ]
    for hit in page.hits:
        lines.append(
            Markup("\n#{} [{}] {}\n{}").format(
                hit.number, hit.status.value, shorten(hit.subject, 50), _snippet(hit.snippet)
            )
        )
    nav = []
    if page.offset > 0:
        previous = max(page.offset - search.PAGE_SIZE, 0)
        nav.append(("« Previous", f"{PREFIX}:{page.search_id}:{previous}"))
    if page.has_next:
        nav.append(("Next »", f"{PREFIX}:{page.search_id}:{page.offset + search.PAGE_SIZE}"))
    return Markup("\n").join(lines), [nav] if nav else None


def _snippet(pieces: tuple[tuple[str, bool], ...]) -> Markup:
    """The snippet in italics, its matching words in bold; everything else escaped."""
    inner = Markup("").join(
        Markup("<b>{}</b>").format(piece) if matched else escape(piece) for piece, matched in pieces
    )
    return Markup("<i>{}</i>").format(inner)


def handlers() -> list:
    return [
        CommandHandler("search", find),
        CallbackQueryHandler(turn_page, pattern=rf"^{PREFIX}:"),
    ]
