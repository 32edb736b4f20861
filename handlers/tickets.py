"""Customers' tickets: /new (a dialogue), /tickets, /ticket N."""

from __future__ import annotations

import secrets

from markupsafe import Markup
from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.services import kb as kb_service
from bot.services import lifecycle, tags, tickets, validation
from bot.services.errors import Invalid
from handlers import kb
from handlers.context import HelpdeskContext
from handlers.framework import (
    END,
    NOT_TEXT,
    TEXT,
    Answer,
    Edit,
    Reply,
    Result,
    Step,
    action,
    dialogue,
    step,
)
from handlers.render import priority_name, ticket_card, ticket_line
from handlers.threads import topic_ticket
from storage.models import Priority, Role

NAME = "new_ticket"
ASK_SUBJECT, ASK_DESCRIPTION, ASK_PRIORITY = "subject", "description", "priority"
PAGE_SIZE = 10


@step(NAME)
async def new(update: Update, context: HelpdeskContext) -> Step:
    await tickets.check_can_open(context.session, customer=context.actor)
    return Step(
        ASK_SUBJECT,
        [Reply(f"New ticket. What is the subject? (up to {validation.SUBJECT_MAX} characters)")],
    )


@step(NAME)
async def got_subject(update: Update, context: HelpdeskContext) -> Step:
    subject = validation.text(update.message.text, field="subject", limit=validation.SUBJECT_MAX)
    context.dialogue["subject"] = subject
    return Step(
        ASK_DESCRIPTION,
        [Reply(f"Describe the problem (up to {validation.DESCRIPTION_MAX} characters).")],
    )


@step(NAME)
async def got_description(update: Update, context: HelpdeskContext) -> Step:
    context.dialogue["description"] = validation.text(
        update.message.text, field="description", limit=validation.DESCRIPTION_MAX
    )
    # A fresh nonce per dialogue: buttons of an earlier /new cannot answer this one.
    nonce = secrets.token_hex(4)
    context.dialogue["nonce"] = nonce
    suggestions = await kb.offer_articles(
        context,
        subject=context.dialogue["subject"],
        description=context.dialogue["description"],
        nonce=nonce,
    )
    if suggestions is not None:
        return suggestions
    return ask_priority(context)


def ask_priority(context: HelpdeskContext) -> Step:
    """The priority question, with buttons that answer this dialogue only."""
    nonce = context.dialogue["nonce"]
    buttons = [[(priority_name(p), f"new:{nonce}:{p.name.lower()}") for p in Priority]]
    return Step(ASK_PRIORITY, [Reply("How urgent is it?", buttons=buttons)])


@step(NAME)
async def got_priority(update: Update, context: HelpdeskContext) -> Step:
    _, nonce, choice = ([*update.callback_query.data.split(":"), "", ""])[:3]
    if nonce != context.dialogue.get("nonce"):
        return Step(None, [Answer("This button belongs to an earlier dialogue.", alert=True)])
    priority = tickets.parse_priority(choice)
    ticket = await lifecycle.open_ticket(
        context.session,
        customer=context.actor,
        subject=context.dialogue["subject"],
        description=context.dialogue["description"],
        priority=priority,
        auto_assign=context.resources.settings.assignment == "auto",
        team_chat_id=context.resources.settings.team_chat_id,
    )
    if "offer" in context.dialogue:  # articles were offered first: the ticket keeps which
        await kb_service.ticket_opened(
            context.session,
            offer_id=context.dialogue["offer"],
            user_id=context.actor.user_id,
            ticket_id=ticket.id,
        )
    return Step(
        END,
        [
            Answer(),
            Edit(Markup("How urgent is it? <b>{}</b>").format(priority_name(priority))),
            Reply(
                Markup(
                    "Ticket <b>#{}</b> is open: {}.\n"
                    "An agent will answer here. Anything you send now is added to the ticket."
                ).format(ticket.id, ticket.subject)
            ),
        ],
    )


@step(NAME)
async def press_a_button(update: Update, context: HelpdeskContext) -> Step:
    return Step(None, [Reply("Please choose the priority with the buttons above, or /cancel.")])


@step(NAME)
async def not_text(update: Update, context: HelpdeskContext) -> Step:
    return Step(None, [Reply("Please answer with a text message, or /cancel.")])


@step(NAME)
async def cancel(update: Update, context: HelpdeskContext) -> Step:
    return Step(END, [Reply("Cancelled; no ticket was opened.")])


def conversation(timeout_minutes: float) -> ConversationHandler:
    return dialogue(
        NAME,
        entry_points=[CommandHandler("new", new)],
        states={
            ASK_SUBJECT: [MessageHandler(TEXT, got_subject), MessageHandler(NOT_TEXT, not_text)],
            ASK_DESCRIPTION: [
                MessageHandler(TEXT, got_description),
                MessageHandler(NOT_TEXT, not_text),
            ],
            kb.STATE: kb.dialogue_state(NAME, ask_priority),
            ASK_PRIORITY: [
                CallbackQueryHandler(got_priority, pattern=r"^new:"),
                MessageHandler(~filters.COMMAND, press_a_button),
            ],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        timeout_minutes=timeout_minutes,
        timeout_text="The new ticket timed out before it was finished. Send /new to start again.",
    )


def _scope(context: HelpdeskContext) -> str:
    if context.actor.role is Role.CUSTOMER:
        return "all"
    return _checked_scope((context.args or ["open"])[0].lower())


def _checked_scope(scope: str) -> str:
    """`open`, `unassigned`, `all`, or `tag:word` with a valid tag."""
    if scope.startswith("tag:"):
        return "tag:" + tags.parse(scope[4:])
    if scope not in ("open", "unassigned", "all"):
        raise Invalid("Use /tickets open, /tickets unassigned, /tickets all or /tickets tag:word.")
    return scope


async def _page(context: HelpdeskContext, scope: str, offset: int) -> tuple[str | Markup, list]:
    actor = context.actor
    views, total = await tickets.listing(
        context.session, actor=actor, scope=scope, offset=offset, limit=PAGE_SIZE
    )
    if not total:
        if actor.role is Role.CUSTOMER:
            return "You have no tickets yet. Send /new to open one.", []
        return f"No tickets ({scope}).", []
    staff = actor.role is not Role.CUSTOMER
    title = "Your tickets" if not staff else f"Tickets ({scope})"
    lines = [Markup("<b>{}</b> {}–{} of {}").format(title, offset + 1, offset + len(views), total)]
    lines += [ticket_line(view, show_customer=staff) for view in views]
    lines.append("\nSend /ticket N for details.")
    nav = []
    if offset > 0:
        nav.append(("« Newer", f"page:{scope}:{max(offset - PAGE_SIZE, 0)}"))
    if offset + PAGE_SIZE < total:
        nav.append(("Older »", f"page:{scope}:{offset + PAGE_SIZE}"))
    return Markup("\n").join(lines), [nav] if nav else []


@action
async def list_tickets(update: Update, context: HelpdeskContext) -> Result:
    text, buttons = await _page(context, _scope(context), 0)
    return Reply(text, buttons=buttons or None)


@action
async def turn_page(update: Update, context: HelpdeskContext) -> Result:
    try:
        scope, offset = update.callback_query.data.split(":", 1)[1].rsplit(":", 1)
        scope = _checked_scope(scope)
        start = validation.small_number(offset, digits=9)
    except (ValueError, Invalid):
        return Answer("This button is not valid.", alert=True)
    if context.actor.role is Role.CUSTOMER:
        scope = "all"
    text, buttons = await _page(context, scope, start)
    return [Answer(), Edit(text, buttons=buttons or None)]


@action
async def show_ticket(update: Update, context: HelpdeskContext) -> Result:
    number = await topic_ticket(update, context)
    if number is None:
        number = validation.ticket_number(" ".join(context.args or []))
    view = await tickets.view(context.session, actor=context.actor, number=number)
    card = [Reply(text) for text in ticket_card(view, for_role=context.actor.role)]
    return card + await kb.articles_shown(context, ticket_id=view.number)


def handlers() -> list:
    return [
        CommandHandler("tickets", list_tickets),
        CallbackQueryHandler(turn_page, pattern=r"^page:"),
        CommandHandler("ticket", show_ticket),
    ]
