"""/start: agent invites, and the customer's registration dialogue."""

from __future__ import annotations

from markupsafe import Markup
from telegram import Update
from telegram.ext import CommandHandler, ConversationHandler, MessageHandler

from bot.services import invites, outbound, registration, users, validation
from bot.services.registration import CodeCheck
from handlers.context import HelpdeskContext
from handlers.framework import END, NOT_TEXT, TEXT, Menu, Reply, Step, dialogue, step
from handlers.render import help_text
from storage.models import Role

NAME = "registration"
ASK_NAME, ASK_EMAIL, ASK_CODE, ASK_PHONE = "name", "email", "code", "phone"

EMAIL_PROMPT = "What is your email address? Updates on your tickets go there."
PHONE_PROMPT = "Last question: your phone number? Send /skip if you'd rather not."


@step(NAME)
async def start(update: Update, context: HelpdeskContext) -> Step:
    actor = context.actor
    if context.args:
        return await _redeem_invite(context, context.args[0])
    if actor.registered:
        greeting = Reply(Markup("Hello, {}!\n\n{}").format(actor.name, help_text(actor.role)))
        return Step(END, [greeting, Menu(actor.role)] if actor.is_staff else [greeting])
    return Step(
        ASK_NAME,
        [
            Reply(
                "Welcome to the helpdesk! Let's get you registered: three short questions.\n\n"
                "What is your full name?"
            )
        ],
    )


async def _redeem_invite(context: HelpdeskContext, token: str) -> Step:
    session, actor = context.session, context.actor
    user = await users.get(session, actor.user_id)
    redeemed = await invites.redeem(
        session, user=user, token=token, is_admin=actor.role is Role.ADMIN
    )
    await outbound.queue_text(
        session,
        chat_id=redeemed.invited_by,
        text=f"{redeemed.name} accepted the invite and is now an agent"
        f" (id {user.telegram_id}{', @' + user.username if user.username else ''}).",
    )
    return Step(
        END,
        [
            Reply(f"Welcome to the team, {redeemed.name}! You are now an agent."),
            Reply(help_text(Role.AGENT)),
            Menu(Role.AGENT),
        ],
    )


@step(NAME)
async def got_name(update: Update, context: HelpdeskContext) -> Step:
    name = validation.text(update.message.text, field="name", limit=validation.NAME_MAX)
    context.dialogue["name"] = name
    return Step(ASK_EMAIL, [Reply(f"Thanks, {name}. {EMAIL_PROMPT}")])


@step(NAME)
async def got_email(update: Update, context: HelpdeskContext) -> Step:
    email = validation.email(update.message.text)
    context.dialogue["email"] = email
    if not context.resources.settings.require_email_verification:
        return Step(ASK_PHONE, [Reply(PHONE_PROMPT)])
    await registration.send_code(context.session, actor=context.actor, email=email)
    return Step(
        ASK_CODE,
        [
            Reply(
                f"I have sent a 6-digit code to {email}. Please type it here.\n"
                "It is valid for 15 minutes. /resend sends a new one."
            )
        ],
    )


@step(NAME)
async def got_code(update: Update, context: HelpdeskContext) -> Step:
    result = await registration.check_code(
        context.session,
        actor=context.actor,
        email=context.dialogue["email"],
        code=update.message.text,
    )
    if result.outcome is CodeCheck.OK:
        context.dialogue["verified"] = True
        return Step(ASK_PHONE, [Reply(f"Your email is verified. {PHONE_PROMPT}")])
    if result.outcome is CodeCheck.WRONG:
        tries = "try" if result.attempts_left == 1 else "tries"
        return Step(None, [Reply(f"That code is not right: {result.attempts_left} {tries} left.")])
    if result.outcome is CodeCheck.EXPIRED:
        return Step(None, [Reply("That code has expired. Send /resend for a new one.")])
    return Step(None, [Reply("Too many wrong codes. Send /resend for a new one.")])


@step(NAME)
async def resend(update: Update, context: HelpdeskContext) -> Step:
    email = context.dialogue["email"]
    await registration.send_code(context.session, actor=context.actor, email=email)
    return Step(ASK_CODE, [Reply(f"A new code is on its way to {email}.")])


@step(NAME)
async def got_phone(update: Update, context: HelpdeskContext) -> Step:
    return await _finish(context, validation.phone(update.message.text))


@step(NAME)
async def skip_phone(update: Update, context: HelpdeskContext) -> Step:
    return await _finish(context, None)


async def _finish(context: HelpdeskContext, phone: str | None) -> Step:
    data = context.dialogue
    await registration.complete(
        context.session,
        actor=context.actor,
        name=data["name"],
        email=data["email"],
        email_verified=bool(data.get("verified")),
        phone=phone,
    )
    return Step(
        END,
        [Reply(f"You're all set, {data['name']}! Send /new to open a ticket, /help for more.")],
    )


@step(NAME)
async def cancel(update: Update, context: HelpdeskContext) -> Step:
    return Step(END, [Reply("Registration cancelled. Send /start whenever you are ready.")])


@step(NAME)
async def not_text(update: Update, context: HelpdeskContext) -> Step:
    return Step(None, [Reply("Please answer with a text message, or /cancel.")])


def conversation(timeout_minutes: float) -> ConversationHandler:
    return dialogue(
        NAME,
        entry_points=[CommandHandler("start", start)],
        states={
            ASK_NAME: [MessageHandler(TEXT, got_name), MessageHandler(NOT_TEXT, not_text)],
            ASK_EMAIL: [MessageHandler(TEXT, got_email), MessageHandler(NOT_TEXT, not_text)],
            ASK_CODE: [
                CommandHandler("resend", resend),
                MessageHandler(TEXT, got_code),
                MessageHandler(NOT_TEXT, not_text),
            ],
            ASK_PHONE: [
                CommandHandler("skip", skip_phone),
                MessageHandler(TEXT, got_phone),
                MessageHandler(NOT_TEXT, not_text),
            ],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        timeout_minutes=timeout_minutes,
        timeout_text="Registration timed out. Send /start to begin again.",
    )
