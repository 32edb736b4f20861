"""The agents' daily tools: canned replies, tags, transfer and the history document."""

from __future__ import annotations

from markupsafe import Markup, escape
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.formatting import pack_lines, shorten
from bot.services import canned, history, lifecycle, tags, validation
from bot.services.errors import Invalid
from bot.services.relay import Incoming
from handlers.context import HelpdeskContext
from handlers.framework import Answer, File, Reply, Result, action, read_apart
from handlers.threads import number_and_rest, topic_ticket

# Refusals are plain text (escaped when sent), so usage lines may show <name> as it is.
CANNED_USAGE = (
    "Usage: /canned (the list), /canned add <name> <text> (admins; the text may span lines),"
    " /canned del <name> (admins). Send one with /r <name> in a ticket's topic, or /r N <name>."
)


def _incoming(update: Update) -> Incoming:
    message = update.effective_message
    return Incoming(
        update_id=update.update_id,
        chat_id=message.chat_id,
        message_id=message.message_id,
        thread_id=message.message_thread_id if message.is_topic_message else None,
    )


@action
async def canned_command(update: Update, context: HelpdeskContext) -> Result:
    """/canned, /canned add name text, /canned del name."""
    parts = (update.message.text or "").split(maxsplit=3)
    verb = parts[1].lower() if len(parts) > 1 else ""
    if verb == "add":
        if len(parts) < 4:
            raise Invalid(CANNED_USAGE)
        new = await canned.save(context.session, by=context.actor, name=parts[2], text=parts[3])
        word = "added" if new else "updated"
        return Reply(Markup("Canned reply <b>{}</b> {}.").format(parts[2].lower(), word))
    if verb in ("del", "delete"):
        if len(parts) != 3:
            raise Invalid(CANNED_USAGE)
        await canned.remove(context.session, by=context.actor, name=parts[2])
        return Reply(Markup("Canned reply <b>{}</b> deleted.").format(parts[2].lower()))
    if verb:
        raise Invalid(CANNED_USAGE)
    replies = await canned.listing(context.session)
    if not replies:
        return Reply("No canned replies yet. An admin adds one with /canned add name text.")
    number = await topic_ticket(update, context)
    lines = [Markup("<b>Canned replies</b> ({})").format(len(replies))]
    lines += [
        Markup("<code>{}</code> — {}").format(r.name, shorten(r.text.splitlines()[0], 60))
        for r in replies
    ]
    if number is None:
        lines.append(escape("\nSend one with /r N <name>, or press it in a ticket's topic."))
        return [Reply(text) for text in pack_lines(lines)]
    buttons = [[(reply.name, f"canned:{reply.id}:{number}")] for reply in replies[:50]]
    lines.append(Markup("\nPress one to send it to the customer of #{}.").format(number))
    return Reply(Markup("\n").join(lines), buttons=buttons)


@action
async def send_canned(update: Update, context: HelpdeskContext) -> Result:
    """/r name in a ticket's topic, or /r N name."""
    number, name = await number_and_rest(
        update,
        context,
        usage="Usage: /r N <name> (or /r <name> in a ticket's topic)",
        rest_required=True,
    )
    reply = await canned.named(context.session, name)
    await canned.send(
        context.session,
        actor=context.actor,
        number=number,
        reply=reply,
        incoming=_incoming(update),
        team_chat_id=context.resources.settings.team_chat_id,
    )
    return Reply(Markup("Sent <b>{}</b> to the customer of #{}.").format(reply.name, number))


@action
async def canned_button(update: Update, context: HelpdeskContext) -> Result:
    try:
        _, reply_id, number = update.callback_query.data.split(":")
        reply_id, number = validation.small_number(reply_id), validation.ticket_number(number)
    except (ValueError, Invalid):
        return Answer("This button is not valid.", alert=True)
    reply = await canned.by_id(context.session, reply_id)
    await canned.send(
        context.session,
        actor=context.actor,
        number=number,
        reply=reply,
        incoming=_incoming(update),
        team_chat_id=context.resources.settings.team_chat_id,
    )
    return Answer(f"Sent {reply.name} to the customer of #{number}.")


@action
async def tag(update: Update, context: HelpdeskContext) -> Reply:
    number, words = await number_and_rest(
        update, context, usage="Usage: /tag N word...", rest_required=True
    )
    now = await tags.add(context.session, actor=context.actor, number=number, words=words.split())
    return Reply(Markup("#{} is tagged: {}.").format(number, ", ".join(now)))


@action
async def untag(update: Update, context: HelpdeskContext) -> Reply:
    number, word = await number_and_rest(
        update, context, usage="Usage: /untag N word", rest_required=True
    )
    if len(word.split()) != 1:
        raise Invalid("Usage: /untag N word")
    now = await tags.remove(context.session, actor=context.actor, number=number, word=word)
    left = ", ".join(now) if now else "none"
    return Reply(Markup("Tag removed from #{}. Its tags: {}.").format(number, left))


@action
async def transfer(update: Update, context: HelpdeskContext) -> Reply:
    number, agent = await number_and_rest(
        update,
        context,
        usage="Usage: /transfer N <agent id or @username>",
        rest_required=True,
    )
    done = await lifecycle.transfer(
        context.session, by=context.actor, number=number, agent_ref=agent
    )
    return Reply(
        Markup("#{} is now {}'s. They and the customer have been told.").format(
            done.number, done.new_name
        )
    )


@action
async def show_history(update: Update, context: HelpdeskContext) -> Result:
    number = await topic_ticket(update, context)
    if number is None:
        number = validation.ticket_number(" ".join(context.args or []))
    actor, tz = context.actor, context.resources.settings.tz
    # a long ticket's whole conversation: read apart, so other chats are not held up
    found = await read_apart(
        context, lambda session: history.document(session, actor=actor, number=number, tz=tz)
    )
    return File(found.data, found.filename, caption=f"The whole conversation of #{number}.")


def handlers() -> list:
    return [
        CommandHandler("canned", canned_command),
        CommandHandler("r", send_canned),
        CallbackQueryHandler(canned_button, pattern=r"^canned:"),
        CommandHandler("tag", tag),
        CommandHandler("untag", untag),
        CommandHandler("transfer", transfer),
        CommandHandler("history", show_history),
    ]
