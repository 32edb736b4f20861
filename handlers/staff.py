"""Agents and admins at work: /queue, /reply, /note, /status, /resolve."""

from __future__ import annotations

from markupsafe import Markup
from telegram import Update
from telegram.ext import CommandHandler

from bot.formatting import pack_lines
from bot.services import lifecycle, relay, tickets, validation
from bot.services.errors import Invalid
from bot.services.relay import Incoming
from handlers.context import HelpdeskContext
from handlers.framework import Reply, Result, action
from handlers.relay import paced
from handlers.render import STATUS_ARGS, ticket_line
from handlers.threads import number_and_rest, topic_ticket
from storage.models import Status

STATUS_USAGE = "Usage: /status N " + "|".join(STATUS_ARGS)


@action
async def queue(update: Update, context: HelpdeskContext) -> Result:
    mine, total = await tickets.listing(
        context.session, actor=context.actor.mine(), scope="open", limit=50
    )
    if not total:
        return Reply("Your queue is empty.")
    lines = [Markup("<b>Your open tickets</b> ({})").format(total)]
    lines += [ticket_line(view, show_customer=True) for view in mine]
    return [Reply(text) for text in pack_lines(lines)]


@action
async def reply(update: Update, context: HelpdeskContext) -> Result:
    number, text = await number_and_rest(
        update, context, usage="Usage: /reply N text", rest_required=True
    )
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
        team_chat_id=context.resources.settings.team_chat_id,
        not_before=not_before,
    )
    return [Reply(f"Sent to the customer of #{number}."), *notice]


@action
async def note(update: Update, context: HelpdeskContext) -> Reply:
    number, text = await number_and_rest(
        update, context, usage="Usage: /note N text", rest_required=True
    )
    await relay.note(
        context.session, actor=context.actor, number=number, text=text, update_id=update.update_id
    )
    return Reply(f"Internal note added to #{number}. The customer does not see it.")


@action
async def status(update: Update, context: HelpdeskContext) -> Reply:
    number, word = await number_and_rest(update, context, usage=STATUS_USAGE, rest_required=True)
    if word.strip().lower() not in STATUS_ARGS:
        raise Invalid(STATUS_USAGE)
    change = await lifecycle.change_status(
        context.session, actor=context.actor, number=number, new=STATUS_ARGS[word.strip().lower()]
    )
    return Reply(
        Markup("#{}: {} → <b>{}</b>.").format(change.number, change.old.value, change.new.value)
    )


@action
async def resolve(update: Update, context: HelpdeskContext) -> Reply:
    number = await topic_ticket(update, context)
    if number is None:
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
