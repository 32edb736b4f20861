"""Sends the queued Telegram deliveries: in order per chat, retried until delivered.

A chat being sent to has a worker of its own that sends its pending rows in id order; a chat
whose oldest pending row is not yet due (or fails now) keeps all its later rows waiting, so a
chat's order always holds. Chats are served concurrently, and a row queued for a chat whose
worker is busy is read by that worker as soon as it is done (the chat is marked dirty), so a
new message waits for its own chat only, never for the other chats. Each sent part is
committed before its chat's next part (parts of different chats confirmed at the same time
share one transaction), so a crash resends at most one part per chat: the one whose answer
was lost.

A paced row (a flood, bot/services/flood.py) waits for its `not_before` and holds only the later
rows of its own chat and ticket, not the whole chat (see `_OUTSIDE_PACED_LANES`).

Several processes may send (the running bot, `python bot.py job delivery-sweep` from cron):
each claims a chat's rows before sending them (`storage.claims`: a lease in `next_try_at`,
`claimed_by` naming the process), always together with every older pending row of that chat,
so no two processes send the same row or one chat's rows side by side. A process renews its
leases while it sends and gives back what it did not send when it stops; one that dies gives
its rows back when the lease ends (LEASE), and whoever runs then sends them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections import defaultdict
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from markupsafe import Markup, escape
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    update,
)
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.clock import utcnow
from bot.formatting import (
    CAPTION_LIMIT,
    caption_with_header,
    shorten,
    with_header,
    without_header,
)
from bot.services.outbound import HELD_UNTIL
from bot.topics import TopicRouter, is_thread_gone, router_for
from storage import claims
from storage.db import SessionFactory
from storage.models import ChatMessageRef, Delivery, Message, User

if TYPE_CHECKING:
    from bot.resources import Resources

log = logging.getLogger(__name__)

PENDING, SENT, BLOCKED, FAILED = "pending", "sent", "blocked", "failed"
# BLOCKED: rows given up on a 403 before chats were held (`_hold`); released like held ones.
MAX_BACKOFF = timedelta(minutes=1)
BATCH = 500
CONCURRENT_CHATS = 16
ALBUM_WAIT = timedelta(seconds=1)  # an album's items arrive as separate updates
ALBUM_LIMIT = 10
JOB_GRACE_SECONDS = 30.0  # `job delivery-sweep`: what a send under way may take to finish


# A claim is this process's for LEASE; it is renewed every RENEW_EVERY while it sends. A
# worker stops before a part when less than LEASE_MARGIN of its claim may be left, so a send
# in flight ends before another process could take the row.
LEASE = timedelta(seconds=15)
RENEW_EVERY = 5.0
LEASE_MARGIN = 5.0

# A chat whose oldest pending row is postponed (or claimed by another process) is held whole:
# its rows are not even read, so a long backlog of one held chat never fills a batch that
# other chats' rows should have.
_HELD_CHATS = select(Delivery.chat_id).where(
    Delivery.status == PENDING, Delivery.next_try_at > bindparam("now")
)

# Pacing (bot/services/flood.py). A message relayed past its sender's flood limit is queued at
# once with `not_before`, the time it may go. Until then it holds the later rows of its lane,
# its chat *and* ticket, not the whole chat: a flooding customer's backlog never delays the
# other customers' messages to the same agent. The lanes are few (the tickets of people being
# paced), found through ix_deliveries_paced.
_NOT_PACED_NOW = or_(Delivery.not_before.is_(None), Delivery.not_before <= bindparam("now"))
_PACED_LANES = (
    select(Delivery.chat_id, Delivery.ticket_id, func.min(Delivery.id).label("first_id"))
    .where(Delivery.status == PENDING, Delivery.not_before > bindparam("now"))
    .group_by(Delivery.chat_id, Delivery.ticket_id)
    .subquery("paced")
)
_OUTSIDE_PACED_LANES = ~(
    select(_PACED_LANES.c.first_id)
    .where(
        _PACED_LANES.c.chat_id == Delivery.chat_id,
        _PACED_LANES.c.ticket_id == Delivery.ticket_id,
        _PACED_LANES.c.first_id <= Delivery.id,
    )
    .exists()
)
# When the sender must look again: the next paced row falls due.
_NEXT_PACED = select(func.min(Delivery.not_before)).where(
    Delivery.status == PENDING, Delivery.not_before > bindparam("now")
)


_DUE = (
    select(Delivery)
    .where(
        Delivery.status == PENDING,
        Delivery.next_try_at <= bindparam("now"),  # checked again on a row locked meanwhile
        Delivery.chat_id.not_in(_HELD_CHATS),
    )
    .where(_NOT_PACED_NOW, _OUTSIDE_PACED_LANES)
    .order_by(Delivery.id)
    .limit(BATCH)
)
# A pass: the chats that have no worker now (a busy chat's worker reads its own rows).
_PENDING = _DUE.where(Delivery.chat_id.not_in(bindparam("busy", expanding=True)))
_CHAT_PENDING = _DUE.where(Delivery.chat_id == bindparam("chat"))


# Telegram's answers to an edit that cannot or need not be made: nothing to retry.
_GONE_OR_SAME = ("not modified", "not found", "can't be edited")


def _albums(rows: list[Delivery]) -> list[list[Delivery]]:
    """The rows in order, an album's consecutive copies (same source album) as one group."""
    groups: list[list[Delivery]] = []
    for row in rows:
        album = row.payload.get("album")
        last = groups[-1][0].payload if groups else {}
        same = (
            album is not None
            and last.get("album") == album
            and last.get("from_chat_id") == row.payload.get("from_chat_id")
            and len(groups[-1]) < ALBUM_LIMIT
        )
        if same:
            groups[-1].append(row)
        else:
            groups.append([row])
    return groups


def _unfinished(rows: type[Delivery]) -> ColumnElement[bool]:
    """An older row a claim must take along: pending, and not paced for later (a paced row
    holds only its own lane, see `_OUTSIDE_PACED_LANES`, which `_DUE` applies)."""
    return and_(
        rows.status == PENDING, or_(rows.not_before.is_(None), rows.not_before <= bindparam("now"))
    )


def claimer_name(role: str) -> str:
    """Who claims in `claimed_by`: the role, the host and the process, unique per run."""
    return f"{role}:{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(3)}"


def backoff(failures: int) -> timedelta:
    """0.5 s, 1 s, 2 s, ... up to a minute between tries after network errors and 5xx."""
    return min(timedelta(seconds=0.5 * 2 ** min(max(failures - 1, 0), 10)), MAX_BACKOFF)


def keyboard(rows: list[list[list[str]]] | None) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


class DeliverySender:
    """One per process; `kick()` after a commit that queued rows, `sweep()` from the job.

    `role` starts the name this process claims rows under (`bot`, or `job` from cron).
    """

    def __init__(
        self,
        session_factory: SessionFactory,
        bot: Bot,
        topics: TopicRouter | None = None,
        *,
        role: str = "bot",
    ) -> None:
        self._sessions = session_factory
        self._bot = bot
        self._topics = topics  # None: no forum topics (the header layout everywhere)
        self.name = claimer_name(role)
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._lock = asyncio.Lock()
        self._limit = asyncio.Semaphore(CONCURRENT_CHATS)
        self._wakeup: asyncio.TimerHandle | None = None
        self._wakeup_at: float | None = None
        self._closed = False
        self._confirmations = _Confirmations(session_factory)
        self._holds: set[asyncio.Future[None]] = set()  # answers to be said before a read
        self._workers: dict[int, asyncio.Task[int]] = {}  # chat id: the worker sending to it
        self._dirty: set[int] = set()  # busy chats with rows queued since their worker read
        self._withdrawn: set[int] = set()  # busy chats whose rows were withdrawn meanwhile
        self._leases: dict[int, float] = {}  # chat id: loop time its worker's claim ends
        self._renewer: asyncio.Task[None] | None = None
        self.delivered = 0  # rows this sender's workers finished (sent, blocked or refused)

    def kick(
        self, *, after: asyncio.Future[None] | None = None, chats: Collection[int] | None = None
    ) -> None:
        """Send what was queued for `chats` (None: for any chat) now.

        A busy chat's worker reads the new rows when done with the ones it has; for the other
        chats a pass starts now, or right after the running pass. With `after` (an update's
        answer being said), the rows are read once it is said, so a chat sees that answer
        before the notices the same update queued.
        """
        if self._closed:
            return
        if after is not None and not after.done():
            self._holds.add(after)
            after.add_done_callback(self._holds.discard)
        if chats is not None:
            busy = self._workers.keys() & chats
            self._dirty |= busy
            if len(busy) == len(chats):
                return  # nothing queued, or only for chats whose workers will read it
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.create_task(self._run_until_quiet(), name="delivery-pass")

    async def _run_until_quiet(self) -> None:
        self._again = True
        while self._again:
            self._again = False
            try:
                await self._pass()
            except Exception:
                log.exception("delivery pass failed")

    def withdrawn(self, chats: Collection[int]) -> None:
        """Rows of these chats were withdrawn (deleted) since a worker read them: a busy
        chat's worker stops sending what it holds and reads the chat's rows again."""
        self._withdrawn |= self._workers.keys() & chats

    def _wake_at(self, when: datetime) -> None:
        """Make sure a pass runs when a postponed row falls due (the sweep job is a backstop)."""
        loop = asyncio.get_running_loop()
        at = loop.time() + max((when - utcnow()).total_seconds(), 0)
        if self._wakeup is not None and self._wakeup_at is not None and self._wakeup_at <= at:
            return
        if self._wakeup is not None:
            self._wakeup.cancel()
        self._wakeup_at = at
        self._wakeup = loop.call_at(at, self._woken)

    def _woken(self) -> None:
        self._wakeup = self._wakeup_at = None
        self.kick()

    def _running(self) -> list[asyncio.Task]:
        tasks = [*self._workers.values(), *([self._task] if self._task is not None else [])]
        return [task for task in tasks if not task.done()]

    async def _claim(self, due: Select[tuple[Delivery]], **params: object) -> list[Delivery]:
        """Claim the rows `due` selects for this process (committed), in id order."""
        now = utcnow()
        async with self._sessions() as session:
            result = await claims.claim(
                session,
                Delivery,
                due,
                values={"claimed_by": self.name, "next_try_at": now + LEASE},
                returning=(Delivery,),
                in_order_of="chat_id",
                unfinished=_unfinished,
                params={"now": now, **params},
            )
            rows = list(result.scalars())
            paced = await session.scalar(_NEXT_PACED, {"now": now})
            await session.commit()
        if paced is not None:  # a paced row falls due later: be awake for it
            self._wake_at(paced)
        rows.sort(key=lambda row: row.id)
        return rows

    def _note_claim(self, chat_id: int, claimed_at: float) -> None:
        """The chat's worker holds a claim made at loop time `claimed_at`."""
        self._leases[chat_id] = claimed_at + LEASE.total_seconds()
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_leases(), name="delivery-leases")

    def _claim_lasts(self, chat_id: int) -> bool:
        """Whether the chat's claim surely lasts past a send starting now."""
        until = self._leases.get(chat_id, 0.0)
        return asyncio.get_running_loop().time() + LEASE_MARGIN < until

    async def _renew_leases(self) -> None:
        """While workers send, extend this process's claims every RENEW_EVERY seconds.

        A claim that lapsed before a renewal is not counted as renewed (another process may
        have taken its rows meanwhile): its worker stops at its next row.
        """
        loop = asyncio.get_running_loop()
        while self._leases and not self._closed:
            await asyncio.sleep(RENEW_EVERY)
            if not self._leases:
                break  # every worker ended (and gave back what it had not sent)
            started = loop.time()
            valid = [chat for chat, until in self._leases.items() if until > started]
            try:
                async with self._sessions() as session:
                    await session.execute(
                        update(Delivery)
                        .where(Delivery.claimed_by == self.name, Delivery.status == PENDING)
                        .values(next_try_at=utcnow() + LEASE)
                    )
                    await session.commit()
            except Exception:
                log.warning("delivery claims not renewed", exc_info=True)
                continue
            for chat in valid:
                if chat in self._leases:
                    self._leases[chat] = started + LEASE.total_seconds()

    async def _release(self, chat_id: int | None = None) -> None:
        """Give back this process's claimed rows (of one chat, or all): due again now."""
        statement = update(Delivery).where(
            Delivery.claimed_by == self.name, Delivery.status == PENDING
        )
        if chat_id is not None:
            statement = statement.where(Delivery.chat_id == chat_id)
        async with self._sessions() as session:
            await session.execute(statement.values(claimed_by=None, next_try_at=utcnow()))
            await session.commit()

    async def wait_idle(self) -> None:
        """Until no pass and no chat's worker is running."""
        while running := self._running():
            await asyncio.wait(running)

    async def close(self, *, grace: float) -> None:
        """Shutting down: no new passes; running sends get `grace` seconds, then are cancelled.

        Whatever is not sent stays pending in the database for the next run.
        """
        self._closed = True
        if self._wakeup is not None:
            self._wakeup.cancel()
        if self._renewer is not None:
            self._renewer.cancel()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while (running := self._running()) and (left := deadline - loop.time()) > 0:
            await asyncio.wait(running, timeout=left)
        running = self._running()
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await self._confirmations.drain()  # a part that went out is stored before we stop
        try:
            await self._release()  # the next run (or another process) sends them at once
        except Exception:
            log.warning("claimed deliveries not given back; they are due again in %s", LEASE)

    async def sweep(self) -> int:
        """Send every due row; returns how many rows the chats' workers it started delivered."""
        started = await self._pass()
        return sum(await asyncio.gather(*started))

    async def _pass(self) -> list[asyncio.Task[int]]:
        """Start a worker for each chat with due rows and no worker yet, a batch at a time."""
        started: list[asyncio.Task[int]] = []
        async with self._lock:  # one pass at a time: the busy chats it excludes stay busy
            while not self._closed:
                await self._said()
                busy = list(self._workers)
                self._dirty.update(busy)  # rows queued for them: their workers read them
                claimed_at = asyncio.get_running_loop().time()
                rows = await self._claim(_PENDING, busy=busy)
                by_chat: dict[int, list[Delivery]] = defaultdict(list)
                for row in rows:
                    by_chat[row.chat_id].append(row)
                for chat_id, chat_rows in by_chat.items():
                    self._note_claim(chat_id, claimed_at)
                    task = asyncio.create_task(self._work(chat_id, chat_rows), name="delivery")
                    self._workers[chat_id] = task
                    started.append(task)
                if len(rows) < BATCH:
                    break  # all read (a chat cut off by the batch is dirty on the next read)
        return started

    async def _said(self) -> None:
        if self._holds:
            await asyncio.wait(list(self._holds))

    async def _work(self, chat_id: int, rows: list[Delivery]) -> int:
        """A chat's worker: send its rows, then whatever was queued for it meanwhile."""
        sent = 0
        unsent = True  # claimed rows it has not finished, to give back when it stops
        try:
            while True:
                rows = await self._album_complete(chat_id, rows)
                async with self._limit:
                    for group in _albums(rows):  # all due: a chat with a postponed row is not read
                        if chat_id in self._withdrawn:
                            self._withdrawn.discard(chat_id)
                            await self._release_quietly(chat_id)  # the rest: claimed again
                            self._dirty.add(chat_id)  # read again: the withdrawn rows are gone
                            break
                        if self._closed or not self._claim_lasts(chat_id):
                            return sent  # the claim may lapse before the answer: stop here
                        if not await self._send_row(group):
                            if group[0].next_try_at < HELD_UNTIL:
                                self._wake_at(group[0].next_try_at)
                            return sent
                        sent += len(group)
                        self.delivered += len(group)
                unsent = False
                if chat_id not in self._dirty or self._closed:
                    return sent
                self._dirty.discard(chat_id)
                await self._said()
                claimed_at = asyncio.get_running_loop().time()
                unsent = True
                rows = await self._claim(_CHAT_PENDING, chat=chat_id)
                self._note_claim(chat_id, claimed_at)
        except Exception:  # its rows stay pending: the sweep job tries them again
            log.exception("delivery to a chat failed")
            return sent
        finally:
            del self._workers[chat_id]
            self._dirty.discard(chat_id)
            self._withdrawn.discard(chat_id)
            self._leases.pop(chat_id, None)
            if unsent and not self._closed:  # closing gives back every claim at once
                await self._release_quietly(chat_id)

    async def _release_quietly(self, chat_id: int) -> None:
        try:
            await self._release(chat_id)
        except Exception:
            log.warning("claimed deliveries not given back; they are due again in %s", LEASE)

    async def _album_complete(self, chat_id: int, rows: list[Delivery]) -> list[Delivery]:
        """An album arrives as one update per item: a moment after its first item was queued
        the chat's rows are given back and claimed again, so the album goes out whole."""
        young = [
            row.created_at + ALBUM_WAIT for row in rows if row.payload.get("album") is not None
        ]
        if not young or (wait := (max(young) - utcnow()).total_seconds()) <= 0:
            return rows
        await asyncio.sleep(wait)
        await self._release(chat_id)
        claimed_at = asyncio.get_running_loop().time()
        rows = await self._claim(_CHAT_PENDING, chat=chat_id)
        self._note_claim(chat_id, claimed_at)
        return rows

    async def _send_row(self, group: list[Delivery]) -> bool:
        """Deliver one row (or an album's rows at once); False leaves it (and its chat's later
        rows) for a later pass."""
        row = group[0]
        try:
            if len(group) > 1:
                await self._deliver_album(group)
            else:
                await self._deliver(row)
        except RetryAfter as exc:
            retry = exc.retry_after
            seconds = retry.total_seconds() if isinstance(retry, timedelta) else float(retry)
            # Telegram said exactly when: that is not a failure of ours, so no back-off.
            await self._postpone(row, timedelta(seconds=seconds), str(exc), failed=False)
            return False
        except Forbidden as exc:
            await self._hold(row, str(exc))
            return False
        except BadRequest as exc:
            log.warning("delivery %s refused by Telegram: %s", row.id, exc)
            for each in group:
                await self._finish(each, FAILED, str(exc))
            return True
        except (NetworkError, TelegramError) as exc:
            await self._postpone(row, backoff(row.attempts + 1), str(exc), failed=True)
            return False
        return True

    async def _deliver_album(self, group: list[Delivery]) -> None:
        """An album's copies in one copyMessages call, which keeps them one album; in the
        header layout the header goes first, as a message of its own."""
        first = group[0]
        thread = None
        if self._topics is not None:
            thread = await self._topics.thread_for(first.chat_id, first.ticket_id)
        if thread is None and "header" in first.payload:
            await self._bot.send_message(
                first.chat_id,
                Markup("<b>{}</b>").format(first.payload["header"]),
                parse_mode=ParseMode.HTML,
            )
        copies = await self._bot.copy_messages(
            first.chat_id,
            first.payload["from_chat_id"],
            [row.payload["message_id"] for row in group],
            message_thread_id=thread,
        )
        for row, copy in zip(group, copies, strict=False):
            await self._part_sent(row, copy.message_id, done=True)

    async def _deliver(self, row: Delivery) -> None:
        if row.payload["type"] == "topic":  # show the ticket's state in its topic's name
            if self._topics is not None:
                await self._topics.sync(row.chat_id, row.ticket_id)
            await self._part_sent(row, None, done=True)
            return
        if row.payload["type"] == "edit":  # a relayed message was edited by its author
            await self._edit_copy(row)
            await self._part_sent(row, None, done=True)
            return
        thread = None
        if self._topics is not None:
            thread = await self._topics.thread_for(row.chat_id, row.ticket_id)
        try:
            await self._send(row, thread)
        except BadRequest as error:
            if row.payload.get("quote") and "quote" in str(error).lower():
                # The quoted part is not in the original as it is here (a header line of
                # the copy, say): answer it without the quote.
                row.payload = {k: v for k, v in row.payload.items() if k != "quote"}
                await self._send(row, thread)
                return
            if thread is None or not is_thread_gone(error):
                raise
            # The topic was deleted (or Telegram refuses topics now): the header way instead.
            await self._topics.lost(row.chat_id, row.ticket_id, thread)
            await self._send(row, None)

    async def _send(self, row: Delivery, thread: int | None) -> None:
        """Send the row's remaining parts: into the ticket's topic without the header line,
        or (thread None) into the chat with it."""
        payload = row.payload
        markup = keyboard(payload.get("buttons"))
        reply = None
        if "reply_to" in payload:
            reply = ReplyParameters(
                payload["reply_to"], quote=payload.get("quote"), allow_sending_without_reply=True
            )
        if payload["type"] == "copy":
            caption = payload.get("caption")  # plain text, like a relayed body
            if "header" in payload and thread is None:
                caption = caption_with_header(payload["header"], caption)
            elif caption is not None:
                caption = escape(caption)  # Telegram's own caption, within its limit
            sent = await self._bot.copy_message(
                chat_id=row.chat_id,
                from_chat_id=payload["from_chat_id"],
                message_id=payload["message_id"],
                caption=caption,
                parse_mode=ParseMode.HTML if caption is not None else None,
                reply_markup=markup,
                message_thread_id=thread,
                reply_parameters=reply,
            )
            await self._landed(row, thread, sent.message_thread_id if thread else None)
            await self._part_sent(row, sent.message_id, done=True)
            return
        if "header" not in payload:
            parts = [payload["text"]]  # stored as markup by queue_text
        elif thread is None:
            parts = with_header(payload["header"], payload["body"])
        else:
            parts = without_header(payload["body"])
        for index in range(row.parts_sent, len(parts)):
            last = index == len(parts) - 1
            sent = await self._bot.send_message(
                chat_id=row.chat_id,
                text=parts[index],
                parse_mode=ParseMode.HTML,
                reply_markup=markup if last else None,
                message_thread_id=thread,
                reply_parameters=reply if index == 0 else None,
            )
            await self._landed(row, thread, sent.message_thread_id if thread else None)
            await self._part_sent(row, sent.message_id, done=last)

    async def _edit_copy(self, row: Delivery) -> None:
        """Edit the copy delivered by row `of` to its message's text now, marked (edited); a
        copy sent in several parts, or one the new text no longer fits, is sent anew."""
        async with self._sessions() as session:
            original = await session.get(Delivery, row.payload["of"])
            message = await session.get(Message, original.message_id) if original else None
        if message is None or original.status != SENT or original.sent_message_id is None:
            return  # never delivered (blocked, refused): nothing to edit
        thread = None
        if self._topics is not None:
            thread = await self._topics.current_thread(row.chat_id, row.ticket_id)
        header = original.payload["header"]
        body = message.text or ""
        try:
            if original.payload["type"] == "copy":
                caption = shorten(body, CAPTION_LIMIT - 200) + "\n(edited)"
                await self._bot.edit_message_caption(
                    chat_id=row.chat_id,
                    message_id=original.sent_message_id,
                    caption=escape(caption) if thread else caption_with_header(header, caption),
                    parse_mode=ParseMode.HTML,
                )
                return
            text = f"{body}\n(edited)"
            parts = without_header(text) if thread else with_header(header, text)
            if len(parts) == 1 and original.parts_sent == 1:
                await self._bot.edit_message_text(
                    parts[0],
                    chat_id=row.chat_id,
                    message_id=original.sent_message_id,
                    parse_mode=ParseMode.HTML,
                )
                return
            for part in parts:
                await self._bot.send_message(
                    row.chat_id, part, parse_mode=ParseMode.HTML, message_thread_id=thread
                )
        except BadRequest as error:
            if not any(s in str(error).lower() for s in _GONE_OR_SAME):
                raise
            log.info("delivery %s: the copy was not edited: %s", row.id, error)

    async def _landed(self, row: Delivery, thread: int | None, landed: int | None) -> None:
        """A send into a deleted private topic has landed in the chat itself (reported against
        the Bot API): the topic is gone, the next message opens a new one."""
        if thread is not None and landed != thread:
            await self._topics.lost(row.chat_id, row.ticket_id, thread)

    async def _part_sent(self, row: Delivery, message_id: int | None, *, done: bool) -> None:
        """Store that a part went out; the chat's next part waits until this is committed."""
        row.parts_sent += 1
        row.attempts += 1
        if row.sent_message_id is None and message_id is not None:
            row.sent_message_id = message_id
        if done:
            row.status = SENT
        await self._confirmations.confirm(row, message_id, done=done)

    async def _postpone(self, row: Delivery, wait: timedelta, error: str, *, failed: bool) -> None:
        row.attempts += int(failed)
        row.next_try_at = utcnow() + wait
        async with self._sessions() as session:
            await session.execute(
                update(Delivery)
                .where(Delivery.id == row.id)
                .values(
                    attempts=row.attempts,
                    next_try_at=row.next_try_at,
                    claimed_by=None,  # held by its back-off now, not by this process
                    last_error=error[:500],
                )
            )
            await session.commit()

    async def _finish(self, row: Delivery, status: str, error: str) -> None:
        row.status = status
        async with self._sessions() as session:
            await session.execute(
                update(Delivery)
                .where(Delivery.id == row.id)
                .values(status=status, attempts=row.attempts + 1, last_error=error[:500])
            )
            await session.commit()

    async def _hold(self, row: Delivery, error: str) -> None:
        """403: the person blocked the bot. Their chat is held (this row and every later one
        stay pending, untried) and they are marked, until they unblock the bot or write to it
        (`outbound.release_held`). Telegram is not asked again meanwhile."""
        async with self._sessions() as session:
            held = await session.execute(
                update(Delivery)
                # Unless given back while this send was on its way: then it is simply due.
                .where(Delivery.id == row.id, Delivery.claimed_by == self.name)
                .values(
                    next_try_at=HELD_UNTIL,
                    claimed_by=None,  # held by the block now, not by this process
                    attempts=row.attempts + 1,
                    last_error=error[:500],
                )
            )
            if held.rowcount:
                await session.execute(
                    update(User).where(User.telegram_id == row.chat_id).values(blocked_at=utcnow())
                )
            await session.commit()
        row.attempts += 1
        row.next_try_at = HELD_UNTIL if held.rowcount else utcnow()


class _Confirmations:
    """Confirmations of sent parts, committed in groups: one transaction for whatever parts of
    different chats were confirmed while the previous transaction ran.

    Each caller waits until its own confirmation is committed and only then sends its chat's
    next part, so a crash still leaves at most one sent-but-unconfirmed part per chat (the
    one Telegram accepted while the process died: resent, counted as a duplicate, never lost).
    """

    _table = Delivery.__table__
    _refs = ChatMessageRef.__table__
    _status = bindparam("b_status", type_=_table.c.status.type)
    # One statement for every part; the last part of a row (b_status SENT) also finishes it.
    _progress = (
        update(_table)
        .where(_table.c.id == bindparam("b_id"))
        .values(
            parts_sent=bindparam("b_parts_sent"),
            attempts=bindparam("b_attempts"),
            sent_message_id=bindparam("b_sent_message_id"),
            status=_status,
            sent_at=bindparam("b_sent_at"),
            last_error=case((_status == SENT, None), else_=_table.c.last_error),
        )
    )
    _insert_refs = insert(_refs)

    def __init__(self, session_factory: SessionFactory) -> None:
        self._sessions = session_factory
        self._waiting: list[tuple[Delivery, int | None, bool, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def confirm(self, row: Delivery, message_id: int | None, *, done: bool) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((row, message_id, done, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._write_all(), name="delivery-confirmations")
        await future

    async def drain(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _write_all(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self._write(batch)
            except Exception as error:  # the callers' passes fail; their rows stay pending
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(error)
            else:
                for *_, future in batch:
                    if not future.done():
                        future.set_result(None)

    async def _write(
        self, batch: list[tuple[Delivery, int | None, bool, asyncio.Future[None]]]
    ) -> None:
        now = utcnow()
        progress = [
            {
                "b_id": row.id,
                "b_parts_sent": row.parts_sent,
                "b_attempts": row.attempts,
                "b_sent_message_id": row.sent_message_id,
                "b_status": SENT if done else PENDING,
                "b_sent_at": now if done else None,
            }
            for row, _, done, _ in batch
        ]
        refs = [
            {"chat_id": row.chat_id, "telegram_message_id": message_id, "ticket_id": row.ticket_id}
            for row, message_id, _, _ in batch
            if row.ticket_id is not None and message_id is not None
        ]
        async with self._sessions() as session:
            await session.execute(self._progress, progress)
            if refs:
                await session.execute(self._insert_refs, refs)
            await session.commit()


async def pending_count(session_factory: SessionFactory) -> int:
    async with session_factory() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.status == PENDING)
            )
            or 0
        )


async def sweep_once(resources: Resources) -> int:
    """`python bot.py job delivery-sweep`: one pass with a Bot of its own (for cron users)."""
    settings = resources.settings
    if not settings.telegram_bot_token:
        raise RuntimeError("TELEGRAM_BOT_TOKEN is needed to deliver Telegram messages")
    root = settings.telegram_api_url
    bot = Bot(settings.telegram_bot_token, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot")
    async with bot:  # getMe: whether topic mode is on
        topics = router_for(settings, bot, resources.session_factory)
        sender = DeliverySender(resources.session_factory, bot, topics, role="job")
        try:
            await sender.sweep()
        finally:
            # Sends under way (a retry that fell due meanwhile) end and are stored; no new ones.
            await sender.close(grace=JOB_GRACE_SECONDS)
    return sender.delivered
