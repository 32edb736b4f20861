"""How every handler runs: one transaction per update, committed before anyone is answered.

`transaction` is the one place that owns it: the guard opens the update's session (it reads
who is writing, and writes only when that changed: handlers/guard.py), `action` and `step` run
the handler in it and commit, and the application commits it when no handler took it
(bot/polling.py). An update costs one commit; a handler run without the guard (a dialogue's
timeout) opens its own.

A handler returns what to say (`Reply`, `Answer`, `Edit`); the wrapper commits first and
only then talks to Telegram, so nothing is promised that was not stored. A `ServiceError`
rolls the whole action back and its message is the answer. Dialogue steps (`step`) also
store the next state, the dialogue's data and the update id in the same transaction, which
is what lets a dialogue survive a crash and ignore an update delivered twice.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from markupsafe import Markup, escape
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InputFile, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    BaseHandler,
    ConversationHandler,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.delivery import keyboard
from bot.services import outbound
from bot.services.errors import ServiceError
from handlers import menus
from handlers.context import HelpdeskContext
from storage import db as storage_db
from storage import dialogues
from storage.models import Role

log = logging.getLogger(__name__)

END = ConversationHandler.END
Buttons = list[list[tuple[str, str]]]


@dataclass
class Reply:
    """A message to the chat the update came from: a plain `str` is sent as it reads
    (escaped when sent), a `Markup` as HTML."""

    text: str | Markup
    buttons: Buttons | None = None


@dataclass
class Answer:
    """The answer to a pressed button (a short notice at the top of the chat)."""

    text: str | None = None
    alert: bool = False


@dataclass
class Edit:
    """Change the message whose button was pressed; `buttons=None` removes the keyboard."""

    text: str | Markup | None = None
    buttons: Buttons | None = None


@dataclass
class Menu:
    """Set this chat's command menu for a role (after the role changed)."""

    role: Role


@dataclass
class Photo:
    """An image (PNG bytes) with an optional caption (plain `str` or `Markup`)."""

    data: bytes
    caption: str | Markup | None = None
    filename: str = "image.png"


@dataclass
class File:
    """A document (bytes) under a file name, with an optional HTML caption."""

    data: bytes
    filename: str
    caption: str | None = None


Output = Reply | Answer | Edit | Menu | Photo | File


@dataclass
class Step:
    """A dialogue step's outcome: the state to go to (END to finish) and what to say."""

    state: str | int | None
    say: list[Output] = field(default_factory=list)


Result = Output | Sequence[Output] | None
Handler = Callable[[Update, HelpdeskContext], Awaitable[Result]]
StepHandler = Callable[[Update, HelpdeskContext], Awaitable[Step]]


SORRY = "Sorry, something went wrong. Please try again."
DIALOGUE_GONE = "That conversation has ended. Send /help to see what you can do."
CONTINUES = "continues_a_dialogue"  # marks the steps of a dialogue's states (see `dialogue`)


async def on_error(update: object, context: HelpdeskContext) -> None:
    """The error handler: log the failure with its update id, tell the user once, no details.

    Raising ApplicationHandlerStop ends the update here, so a failure in the guard does not
    run the other handlers (which would fail again and apologise twice).
    """
    update_id = getattr(update, "update_id", None)
    log.error("update %s failed", update_id, exc_info=context.error)
    if not isinstance(update, Update):
        return  # a job's failure: nobody to tell
    chat = update.effective_chat
    if chat is not None and chat.type == ChatType.PRIVATE:
        try:
            if update.callback_query is not None:
                try:
                    await update.callback_query.answer(SORRY, show_alert=True)
                except TelegramError:  # answered already, or too old: say it in the chat
                    await context.bot.send_message(chat.id, SORRY)
            else:
                await context.bot.send_message(chat.id, SORRY)
        except TelegramError as error:
            log.warning("update %s: could not apologise: %s", update_id, error)
    raise ApplicationHandlerStop


def refusal(update: Update, error: ServiceError) -> Reply | Answer:
    """A refused button press is answered at the button; a refused message with a message."""
    if update.callback_query is not None:
        return Answer(error.message[:200], alert=True)
    return Reply(error.message)


Redo = Callable[[AsyncSession], Awaitable[object]]
T = TypeVar("T")


async def transaction(
    update: Update,
    context: HelpdeskContext,
    work: Callable[[AsyncSession], Awaitable[T]],
    refused: Callable[[ServiceError], T],
) -> tuple[T, asyncio.Future[None]]:
    """Run `work` in the update's one transaction and commit it; a `ServiceError` rolls the
    work back (keeping what the guard wrote) and `refused` makes the outcome of its message.

    The transaction is the one the guard opened for the update (its read of who is writing,
    and its few writes), or a new one when the guard did not run (a dialogue's timeout).
    Returns the outcome and a future to resolve once it was said (see `after_commit`).
    """
    session = context.take_unit()
    redo = context.redo_guard if session is not None else None
    if session is None:
        session = context.resources.session_factory()
    async with session:
        with context.using(session):
            try:
                outcome = await work(session)
                await session.commit()
            except ServiceError as error:
                await session.rollback()
                outbound.queued_chats(session)  # rolled back: nothing to send
                outbound.withdrawn_chats(session)
                if redo is not None:  # who wrote, and when, stays committed
                    await redo(session)
                    await session.commit()
                outcome = refused(error)
    return outcome, after_commit(context, session)


async def read_apart(context: HelpdeskContext, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Long read-only work (/report and its figures): the update's transaction is committed
    first (what the guard wrote; no write lock stays held), then `work` runs in a worker
    thread on a connection of its own, so other chats' updates keep flowing meanwhile."""
    await context.session.commit()
    settings = context.resources.settings
    return await asyncio.to_thread(
        storage_db.read_apart,
        settings.database_url,
        work,
        sqlite_driver=settings.sqlite_driver,
    )


def action(func: Handler) -> Callable[[Update, HelpdeskContext], Awaitable[None]]:
    """Run a handler in the update's transaction, then say what it returned."""

    @functools.wraps(func)
    async def wrapper(update: Update, context: HelpdeskContext) -> None:
        result, said = await transaction(
            update, context, lambda _: func(update, context), lambda e: refusal(update, e)
        )
        try:
            await say(update, context, result)
        finally:
            said.set_result(None)

    return wrapper


def step(dialogue: str) -> Callable[[StepHandler], Callable[..., Awaitable[object]]]:
    """Like `action`, for a step of the dialogue `dialogue` (a ConversationHandler's name)."""

    def decorate(func: StepHandler) -> Callable[..., Awaitable[object]]:
        @functools.wraps(func)
        async def wrapper(update: Update, context: HelpdeskContext) -> object:
            chat_id, user_id = update.effective_chat.id, update.effective_user.id
            key = {"name": dialogue, "chat_id": chat_id, "user_id": user_id}

            async def work(session: AsyncSession) -> Step:
                row = await dialogues.load(session, **key)
                if row is not None and update.update_id <= row.last_update_id:
                    # Delivered again after a crash: repeat the question, change nothing.
                    return Step(None, [_prompt_of(row.prompt)] if row.prompt else [])
                if row is None and getattr(wrapper, CONTINUES, False):
                    # Ended outside PTB's view: the person's data was erased (perhaps by
                    # `python bot.py erase` in another process). Nothing to go on.
                    return Step(END, [Reply(DIALOGUE_GONE)])
                context.dialogue = dict(row.data) if row is not None else {}
                outcome = await func(update, context)
                await _store(session, key, outcome, context, update.update_id)
                return outcome

            outcome, said = await transaction(
                update, context, work, lambda e: Step(None, [refusal(update, e)])
            )
            try:
                await say(update, context, outcome.say)
            finally:
                said.set_result(None)
            return outcome.state

        return wrapper

    return decorate


async def _store(session, key, outcome: Step, context: HelpdeskContext, update_id: int) -> None:  # type: ignore[no-untyped-def]
    if outcome.state == END:
        await dialogues.end(session, **key)
    elif outcome.state is not None:
        replies = [_stored_prompt(item) for item in outcome.say if isinstance(item, Reply)]
        await dialogues.save(
            session,
            **key,
            state=str(outcome.state),
            data=context.dialogue,
            update_id=update_id,
            prompt=replies[-1] if replies else None,
        )


def _stored_prompt(reply: Reply) -> dict:
    """A prompt as JSON: its text stored as markup (escaped), since JSON forgets `Markup`."""
    return {"text": str(escape(reply.text)), "buttons": reply.buttons}


def _prompt_of(stored: dict) -> Reply:
    """The stored prompt again, its text markup as it was sent (not escaped a second time)."""
    return Reply(Markup(stored["text"]), stored.get("buttons"))


def after_commit(context: HelpdeskContext, session: AsyncSession) -> asyncio.Future[None]:
    """Wake the Telegram sender for the chats the transaction queued rows for; they wait for
    the returned future, to be resolved once the answer was said: the chat sees the answer
    before the notices its own update queued. (Queued mail wakes the mail sender on every
    commit, handler or not: bot/app.py.)"""
    said: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    context.bot_data.delivery.withdrawn(outbound.withdrawn_chats(session))
    context.bot_data.delivery.kick(after=said, chats=outbound.queued_chats(session))
    return said


async def say(update: Update, context: HelpdeskContext, result: Result) -> None:
    """Send the outputs; a pressed button is always answered exactly once.

    Texts and captions go out as HTML: a plain `str` escaped, a `Markup` as it is. An
    `Answer` is not parsed by Telegram, so its text stays plain."""
    outputs: Sequence[Output] = (
        [] if result is None else ([result] if isinstance(result, Output) else result)
    )
    query = update.callback_query
    answered = False
    chat_id = update.effective_chat.id
    thread = topic_of(update)  # an answer to a message in a topic goes into that topic
    for output in outputs:
        try:
            if isinstance(output, Reply):
                await context.bot.send_message(
                    chat_id,
                    escape(output.text),
                    parse_mode=ParseMode.HTML,
                    reply_markup=keyboard(output.buttons),
                    message_thread_id=thread,
                )
            elif isinstance(output, Answer) and query is not None and not answered:
                answered = True
                await query.answer(output.text, show_alert=output.alert)
            elif isinstance(output, Photo):
                await context.bot.send_photo(
                    chat_id,
                    InputFile(output.data, filename=output.filename),
                    caption=None if output.caption is None else escape(output.caption),
                    parse_mode=ParseMode.HTML,
                    message_thread_id=thread,
                )
            elif isinstance(output, File):
                await context.bot.send_document(
                    chat_id,
                    InputFile(output.data, filename=output.filename),
                    caption=output.caption,
                    parse_mode=ParseMode.HTML,
                    message_thread_id=thread,
                )
            elif isinstance(output, Menu):
                await menus.set_menu(context.bot, chat_id, output.role)
            elif isinstance(output, Edit) and query is not None and query.message is not None:
                if output.text is not None:
                    await query.edit_message_text(
                        escape(output.text),
                        parse_mode=ParseMode.HTML,
                        reply_markup=keyboard(output.buttons),
                    )
                else:
                    await query.edit_message_reply_markup(keyboard(output.buttons))
        except TelegramError as error:
            log.warning("update %s: could not answer: %s", update.update_id, error)
    if query is not None and not answered:
        try:
            await query.answer()
        except TelegramError as error:
            log.warning("update %s: could not answer the button: %s", update.update_id, error)


def topic_of(update: Update) -> int | None:
    """The forum topic the update's message (or pressed button's message) is in, if any."""
    message = update.effective_message
    if message is None or not message.is_topic_message:
        return None
    return message.message_thread_id


TEXT = filters.TEXT & ~filters.COMMAND
NOT_TEXT = ~filters.COMMAND & ~filters.TEXT


def end_dialogues(application: Application, *, chat_id: int, user_id: int) -> None:
    """End this person's dialogues in PTB's memory too, with their timeouts (their stored state
    is gone: erased). PTB has no public way to end a conversation from outside it;
    `_update_state(END, key)` is what it does itself. Should that change, a step that finds no
    stored state ends its dialogue anyway (see `step`), at the cost of one answer."""
    key = (chat_id, user_id)
    for handlers in application.handlers.values():
        for handler in handlers:
            if isinstance(handler, ConversationHandler):
                handler._update_state(END, key)
                job = handler.timeout_jobs.pop(key, None)
                if job is not None:
                    job.schedule_removal()


def dialogue(
    name: str,
    *,
    entry_points: list[BaseHandler],
    states: dict[object, list[BaseHandler]],
    fallbacks: list[BaseHandler],
    timeout_minutes: float,
    timeout_text: str | None,
) -> ConversationHandler:
    """A ConversationHandler whose state lives in the database (see `step`).

    It is persistent (its states come back after a restart), re-entered by its entry points,
    and ends after `timeout_minutes` of silence, telling the user `timeout_text`.
    """

    @action
    async def timed_out(update: Update, context: HelpdeskContext) -> Reply | None:
        key = {
            "name": name,
            "chat_id": update.effective_chat.id,
            "user_id": update.effective_user.id,
        }
        if await dialogues.load(context.session, **key) is None:
            return None  # ended meanwhile (the person's data was erased): nothing to say
        await dialogues.end(context.session, **key)
        return Reply(timeout_text) if timeout_text else None

    # A state's step finds its dialogue stored; an entry point's starts one.
    entries = {handler.callback for handler in entry_points}
    for handler in (handler for handlers in states.values() for handler in handlers):
        if handler.callback not in entries:
            setattr(handler.callback, CONTINUES, True)

    # PTB warns that a CallbackQueryHandler is not tracked per message when per_message is
    # False. That is what we want: dialogues are per user, and our button data carries what
    # it answers (a nonce, a ticket number), so a button of another message is refused.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "If 'per_message=False'", PTBUserWarning)
        return ConversationHandler(
            name=name,
            persistent=True,
            allow_reentry=True,
            conversation_timeout=timeout_minutes * 60,
            entry_points=entry_points,
            states={**states, ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)]},
            fallbacks=fallbacks,
        )
