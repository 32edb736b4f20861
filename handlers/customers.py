"""Customers: /close N and the rating that follows, /feedback, /deleteme."""

from __future__ import annotations

from markupsafe import Markup
from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
)

from bot.services import erasure, feedback, lifecycle, validation
from bot.services.errors import Invalid
from handlers.context import HelpdeskContext
from handlers.framework import (
    END,
    TEXT,
    Answer,
    Edit,
    Reply,
    Result,
    Step,
    action,
    dialogue,
    end_dialogues,
    step,
)
from storage.models import Status

RATING = "rating"
ASK_COMMENT = "comment"


@action
async def close(update: Update, context: HelpdeskContext) -> Reply:
    number = validation.ticket_number(" ".join(context.args or []))
    await lifecycle.change_status(
        context.session, actor=context.actor, number=number, new=Status.CLOSED
    )
    return Reply(f"Ticket #{number} is closed. Thank you!")


@step(RATING)
async def rate(update: Update, context: HelpdeskContext) -> Step:
    try:
        _, number, stars = update.callback_query.data.split(":")
        number, stars = validation.small_number(number), validation.small_number(stars, digits=1)
    except ValueError:
        return Step(END, [Answer("This button is not valid.", alert=True)])
    await lifecycle.rate(context.session, actor=context.actor, number=number, stars=stars)
    context.dialogue["ticket"] = number
    return Step(
        ASK_COMMENT,
        [
            Answer(f"Thank you: {stars}/5"),
            Edit(Markup("You rated ticket #{}: <b>{}/5</b>").format(number, stars)),
            Reply("Anything you would like to add? Send a comment, or /skip."),
        ],
    )


@step(RATING)
async def got_comment(update: Update, context: HelpdeskContext) -> Step:
    await lifecycle.comment(
        context.session,
        actor=context.actor,
        number=context.dialogue["ticket"],
        text=update.message.text,
    )
    return Step(END, [Reply("Thank you for the feedback!")])


@step(RATING)
async def skip_comment(update: Update, context: HelpdeskContext) -> Step:
    return Step(END, [Reply("Thank you!")])


def rating_conversation(timeout_minutes: float) -> ConversationHandler:
    """Entered by a rating button of a delivered notice; the comment is optional."""
    return dialogue(
        RATING,
        entry_points=[CallbackQueryHandler(rate, pattern=r"^rate:")],
        states={
            ASK_COMMENT: [
                CommandHandler("skip", skip_comment),
                MessageHandler(TEXT, got_comment),
            ]
        },
        fallbacks=[CommandHandler("cancel", skip_comment)],
        timeout_minutes=timeout_minutes,
        timeout_text=None,
    )


@action
async def send_feedback(update: Update, context: HelpdeskContext) -> Reply:
    parts = (update.message.text or "").split(maxsplit=1)
    if len(parts) < 2:
        raise Invalid("Usage: /feedback your message to the team")
    await feedback.send(
        context.session,
        actor=context.actor,
        text=parts[1],
        admin_ids=context.resources.settings.admin_ids,
    )
    return Reply("Thank you! Your feedback went to the admins.")


@action
async def delete_me(update: Update, context: HelpdeskContext) -> Reply:
    return Reply(
        "This erases your name, username, email and phone, everything you wrote (messages, "
        "files, ticket subjects and descriptions, rating comments, feedback) and closes your "
        "active tickets. Your tickets stay, anonymised, for statistics. This cannot be undone. "
        "Erase now?",
        buttons=[[("Yes, erase my data", "erase:yes"), ("No, keep it", "erase:no")]],
    )


@action
async def confirm_erase(update: Update, context: HelpdeskContext) -> Result:
    if update.callback_query.data != "erase:yes":
        return [Answer(), Edit("Nothing was erased.")]
    await erasure.erase(context.session, user_id=context.actor.user_id)
    chat_id, user_id = update.effective_chat.id, update.effective_user.id
    end_dialogues(context.application, chat_id=chat_id, user_id=user_id)
    context.application.drop_chat_data(chat_id)
    context.application.drop_user_data(user_id)
    return [
        Answer(),
        Edit(
            "Your personal data is erased. If you write again you are a new customer: "
            "send /start to register."
        ),
    ]


def handlers() -> list:
    return [
        CommandHandler("close", close),
        CommandHandler("feedback", send_feedback),
        CommandHandler("deleteme", delete_me),
        CallbackQueryHandler(confirm_erase, pattern=r"^erase:"),
    ]
