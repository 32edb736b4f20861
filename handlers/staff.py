"""Agents and admins at work: /queue, /reply, /note, /status, /resolve."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.formatting import esc, pack_lines
from bot.services import lifecycle, relay, tickets, validation
from bot.services.errors import Invalid
from bot.services.relay import Incoming
from handlers.context import HelpdeskContext
from handlers.framework import Reply, Result, action
from handlers.relay import paced
from handlers.render import STATUS_ARGS, ticket_line
from storage.models import Status

STATUS_USAGE = "Usage: /status N " + "|".join(STATUS_ARGS)


def _number_and_text(update: Update, usage: str) -> tuple[int, str]:
    """`/cmd N text`, keeping the text exactly as typed (line breaks included)."""
    parts = (update.message.text or "").split(maxsplit=2)
    if len(parts) < 3:
        raise Invalid(usage)
    return validation.ticket_number(parts[1]), parts[2]


@action
async def queue(update: Update, context: HelpdeskContext) -> Result:
    mine, total = await tickets.listing(
        context.session, actor=context.actor.mine(), scope="open", limit=50
    )
    if not total:
        return Reply("Your queue is empty.")
    lines = [f"<b>Your open tickets</b> ({total})"]
    lines += [ticket_line(view, show_customer=True) for view in mine]
    return [Reply(text) for text in pack_lines(lines)]


@action
async def reply(update: Update, context: HelpdeskContext) -> Result:
    number, text = _number_and_text(update, "Usage: /reply N text")
    message = update.message
    incoming = Incoming(
        update_id=update.update_id,
        chat_id=message.chat_id,
        message_id=message.message_id,
        text=text,
    )
    not_before, notice = paced(context)
    await relay.staff_message(
        context.session,
        actor=context.actor,
        incoming=incoming,
        number=number,
        not_before=not_before,
    )
    return [Reply(f"Sent to the customer of #{number}."), *notice]


@action
async def note(update: Update, context: HelpdeskContext) -> Reply:
    number, text = _number_and_text(update, "Usage: /note N text")
    await relay.note(
        context.session, actor=context.actor, number=number, text=text, update_id=update.update_id
    )
    return Reply(f"Internal note added to #{number}. The customer does not see it.")


@action
async def status(update: Update, context: HelpdeskContext) -> Reply:
    args = context.args or []
    if len(args) != 2 or args[1].lower() not in STATUS_ARGS:
        raise Invalid(STATUS_USAGE)
    number = validation.ticket_number(args[0])
    change = await lifecycle.change_status(
        context.session, actor=context.actor, number=number, new=STATUS_ARGS[args[1].lower()]
    )
    return Reply(f"#{change.number}: {change.old.value} → <b>{esc(change.new.value)}</b>.")


@action
async def resolve(update: Update, context: HelpdeskContext) -> Reply:
    number = validation.ticket_number(" ".join(context.args or []))
    change = await lifecycle.change_status(
        context.session, actor=context.actor, number=number, new=Status.RESOLVED
    )
    return Reply(f"#{change.number} is resolved. The customer has been told.")


def handlers() -> list:
    return [
        CommandHandler("queue", queue),
        CommandHandler("reply", reply),
        CommandHandler("note", note),
        CommandHandler("status", status),
        CommandHandler("resolve", resolve),
    ]
