"""Forum topics of tickets: which thread a ticket's delivery goes into, opened on first use.

Used by the delivery sender (bot/delivery.py), so a topic is opened where the message that
needs it is sent: in the same chat worker, in the chat's order, retried like any send. The
topic's id is stored once Telegram gave it; a crash between the two leaves the delivery
pending, and the next try opens another topic (an empty one stays behind: nothing is lost).

Where: an agent's and a customer's private chat when topic mode is on (getMe's
`has_topics_enabled` and TOPICS=auto), and the team chat (TEAM_CHAT_ID). A topic that cannot
be opened, or whose sends fail because it is gone, sends that message the header way and is
forgotten, so the next message opens a new one; each such chat is logged once per process.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from telegram import Bot
from telegram.error import BadRequest, TelegramError

from bot.config import Settings
from bot.formatting import shorten
from storage.db import SessionFactory
from storage.models import Status, Ticket, TicketTopic, User

log = logging.getLogger(__name__)

NAME_LIMIT = 128
DONE_MARK = "✅ "
MOVED_MARK = "↪ "
DONE = frozenset({Status.RESOLVED, Status.CLOSED})


def topic_name(number: int, subject: str | None, *, done: bool = False, moved: bool = False) -> str:
    """`#N · subject` (cut to Telegram's 128 characters), marked when done or handed over."""
    mark = MOVED_MARK if moved else DONE_MARK if done else ""
    return shorten(f"{mark}#{number} · {subject}" if subject else f"{mark}#{number}", NAME_LIMIT)


def is_thread_gone(error: BadRequest) -> bool:
    """Telegram's answer to a send into a topic that does not exist (any more)."""
    return "thread not found" in str(error).lower()


def _not_modified(error: BadRequest) -> bool:
    return "not_modified" in str(error).lower().replace(" ", "_")


def router_for(settings: Settings, bot: Bot, sessions: SessionFactory) -> TopicRouter | None:
    """The router the settings and the bot's topic mode ask for (None: no topics anywhere).
    `bot` must be initialised (getMe done)."""
    private = settings.topics == "auto" and bool(bot.bot.has_topics_enabled)
    if not private and settings.team_chat_id is None:
        return None
    return TopicRouter(sessions, bot, private_topics=private, team_chat_id=settings.team_chat_id)


async def check_team_chat(bot: Bot, chat_id: int) -> bool:
    """Whether the bot may open topics in the team chat; says so in the log either way."""
    try:
        member = await bot.get_chat_member(chat_id, bot.id)
    except TelegramError as error:
        log.warning("team chat %s: cannot check the bot's rights: %s", chat_id, error)
        return False
    if getattr(member, "can_manage_topics", False):
        log.info("team chat %s: the bot may manage topics", chat_id)
        return True
    log.warning("team chat %s: make the bot an admin with 'Manage topics'", chat_id)
    return False


class TopicRouter:
    """One per process, beside the delivery sender."""

    def __init__(
        self,
        session_factory: SessionFactory,
        bot: Bot,
        *,
        private_topics: bool,
        team_chat_id: int | None = None,
    ) -> None:
        self._sessions = session_factory
        self._bot = bot
        self.private_topics = private_topics
        self.team_chat_id = team_chat_id
        self._logged: set[int] = set()  # chats whose topic trouble was logged already
        # (ticket, chat) -> thread: topics known to exist, so a relayed message costs no read.
        # Only this process forgets one (lost), and a stale entry fails as a deleted topic does.
        self._known: dict[tuple[int, int], int] = {}

    def covers(self, chat_id: int) -> bool:
        """Whether a ticket's messages to this chat go into a topic."""
        return chat_id == self.team_chat_id or (self.private_topics and chat_id > 0)

    async def thread_for(self, chat_id: int, ticket_id: int | None) -> int | None:
        """The ticket's topic in the chat, opened now if it has none; None: no topic (the
        header layout). A 429 or network error propagates (the delivery is tried again)."""
        if ticket_id is None or not self.covers(chat_id):
            return None
        known = self._known.get((ticket_id, chat_id))
        if known is not None:
            return known
        async with self._sessions() as session:
            topic = await self._topic(session, ticket_id, chat_id)
            if topic is not None and topic.thread_id is not None:
                self._known[ticket_id, chat_id] = topic.thread_id
                return topic.thread_id
            name = await self._name(session, ticket_id, chat_id)
        try:
            created = await self._bot.create_forum_topic(chat_id, name)
        except BadRequest as error:
            self._log_once(chat_id, "no topic for #%s in chat %s: %s", ticket_id, chat_id, error)
            return None
        await self._store(ticket_id, chat_id, created.message_thread_id, name)
        self._known[ticket_id, chat_id] = created.message_thread_id
        return created.message_thread_id

    async def current_thread(self, chat_id: int, ticket_id: int | None) -> int | None:
        """The ticket's topic in the chat as stored (None: none), without opening one."""
        if ticket_id is None or not self.covers(chat_id):
            return None
        async with self._sessions() as session:
            topic = await self._topic(session, ticket_id, chat_id)
            return topic.thread_id if topic is not None else None

    async def lost(self, chat_id: int, ticket_id: int, thread_id: int) -> None:
        """The topic is gone (deleted): forget it, so the next message opens a new one."""
        self._log_once(chat_id, "topic %s of #%s in chat %s is gone", thread_id, ticket_id, chat_id)
        self._known.pop((ticket_id, chat_id), None)
        async with self._sessions() as session:
            await session.execute(
                update(TicketTopic)
                .where(
                    TicketTopic.ticket_id == ticket_id,
                    TicketTopic.chat_id == chat_id,
                    TicketTopic.thread_id == thread_id,
                )
                .values(thread_id=None)
            )
            await session.commit()

    async def sync(self, chat_id: int, ticket_id: int) -> None:
        """Make the ticket's topic in the chat show its state: the name (done, handed over),
        and in the team chat closed while the ticket is Closed."""
        async with self._sessions() as session:
            topic = await self._topic(session, ticket_id, chat_id)
            if topic is None or topic.thread_id is None:
                return
            name = await self._name(session, ticket_id, chat_id)
            ticket = await session.get(Ticket, ticket_id)
            closed = chat_id == self.team_chat_id and ticket.status == Status.CLOSED
            try:
                if name != topic.name:
                    await self._edit(chat_id, topic.thread_id, name)
                    topic.name = name
                if closed != topic.closed:
                    await self._set_closed(chat_id, topic.thread_id, closed)
                    topic.closed = closed
            except BadRequest as error:
                if not is_thread_gone(error):
                    raise
                topic.thread_id = None
                self._known.pop((ticket_id, chat_id), None)
                self._log_once(chat_id, "topic of #%s in chat %s is gone", ticket_id, chat_id)
            await session.commit()

    async def _edit(self, chat_id: int, thread_id: int, name: str) -> None:
        try:
            await self._bot.edit_forum_topic(chat_id, thread_id, name=name)
        except BadRequest as error:
            if not _not_modified(error):
                raise

    async def _set_closed(self, chat_id: int, thread_id: int, closed: bool) -> None:
        method = self._bot.close_forum_topic if closed else self._bot.reopen_forum_topic
        try:
            await method(chat_id, thread_id)
        except BadRequest as error:
            if not _not_modified(error):
                raise

    @staticmethod
    async def _topic(session, ticket_id: int, chat_id: int) -> TicketTopic | None:  # type: ignore[no-untyped-def]
        return await session.scalar(
            select(TicketTopic).where(
                TicketTopic.ticket_id == ticket_id, TicketTopic.chat_id == chat_id
            )
        )

    async def _name(self, session, ticket_id: int, chat_id: int) -> str:  # type: ignore[no-untyped-def]
        ticket = await session.get(Ticket, ticket_id)
        moved = False
        if chat_id != self.team_chat_id and ticket.agent_id is not None:
            agent_chat = await session.scalar(
                select(User.telegram_id).where(User.id == ticket.agent_id)
            )
            customer_chat = await session.scalar(
                select(User.telegram_id).where(User.id == ticket.customer_id)
            )
            moved = chat_id not in (agent_chat, customer_chat)
        return topic_name(ticket.id, ticket.subject, done=ticket.status in DONE, moved=moved)

    async def _store(self, ticket_id: int, chat_id: int, thread_id: int, name: str) -> None:
        async with self._sessions() as session:
            done = await session.execute(
                update(TicketTopic)
                .where(TicketTopic.ticket_id == ticket_id, TicketTopic.chat_id == chat_id)
                .values(thread_id=thread_id, name=name, closed=False)
            )
            if done.rowcount == 0:
                session.add(
                    TicketTopic(
                        ticket_id=ticket_id, chat_id=chat_id, thread_id=thread_id, name=name
                    )
                )
            try:
                await session.commit()
            except IntegrityError:  # stored meanwhile by another process: ours replaces it
                await session.rollback()
                await session.execute(
                    update(TicketTopic)
                    .where(TicketTopic.ticket_id == ticket_id, TicketTopic.chat_id == chat_id)
                    .values(thread_id=thread_id, name=name, closed=False)
                )
                await session.commit()

    def _log_once(self, chat_id: int, message: str, *args: object) -> None:
        if chat_id not in self._logged:
            self._logged.add(chat_id)
            log.warning(message, *args)
