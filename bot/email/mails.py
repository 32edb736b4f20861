"""Queueing mails: one outbox row per mail, written in the caller's transaction.

Each function flushes (never commits) an `INSERT ... ON CONFLICT (dedupe_key) DO NOTHING`, so a
mail for the same event is queued once however often the caller runs; it returns True when this
call queued the row.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.email import templates
from bot.email.backends import one_line
from storage.models import EmailCode, EmailOutbox, Ticket, User

log = logging.getLogger(__name__)

STATUS_EVENTS = frozenset(templates.STATUS_EVENTS)


def insert_ignoring(session: AsyncSession, table: Any, *conflict_columns: str) -> Any:
    """`INSERT ... ON CONFLICT (columns) DO NOTHING` for the session's dialect."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))


def address_key(email: str) -> str:
    """A short stable key for an address (dedupe keys stay short and carry no address)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]


def outbox_row(
    *, to: str, rendered: templates.Rendered, kind: str, dedupe_key: str
) -> dict[str, Any]:
    now = utcnow()
    return {
        "recipient": to.strip(),
        "subject": one_line(rendered.subject)[:300],
        "text": rendered.text,
        "html": rendered.html,
        "kind": kind,
        "dedupe_key": dedupe_key,
        "status": "pending",
        "attempts": 0,
        "next_try_at": now,
        "created_at": now,
    }


async def queue_mail(
    session: AsyncSession,
    *,
    to: str,
    rendered: templates.Rendered,
    kind: str,
    dedupe_key: str,
) -> bool:
    """Queue one mail unless a mail with this dedupe key was ever queued."""
    row = outbox_row(to=to, rendered=rendered, kind=kind, dedupe_key=dedupe_key)
    statement = insert_ignoring(session, EmailOutbox, "dedupe_key").returning(EmailOutbox.id)
    result = await session.execute(statement, row)
    queued = result.first() is not None
    if queued:
        session.info[_QUEUED] = True
    log.debug("mail %s %s", dedupe_key, "queued" if queued else "already queued")
    return queued


async def queue_many(session: AsyncSession, rows: Iterable[Mapping[str, Any]]) -> int:
    """Queue many prepared rows (see `outbox_row`) at once; returns how many were new."""
    batch = list(rows)
    if not batch:
        return 0
    # Core executemany; RETURNING counts the new rows (asyncpg gives no rowcount for a batch).
    connection = await session.connection()
    statement = insert_ignoring(session, EmailOutbox, "dedupe_key").returning(EmailOutbox.id)
    result = await connection.execute(statement, batch)
    queued = len(result.all())
    if queued:
        session.info[_QUEUED] = True
    return queued


def queued(session: AsyncSession | Session) -> bool:
    """Whether the session queued a mail since the last call (the mail sender's wake-up)."""
    return bool(session.info.pop(_QUEUED, False))


_QUEUED = "mails.queued"


async def queue_verification_code(
    session: AsyncSession, *, user: User, email: str, code: str, code_id: int | None = None
) -> bool:
    """Mail a verification code, once per code row (`code_id`, else the user's newest code row)."""
    if code_id is None:
        code_id = await session.scalar(
            select(func.max(EmailCode.id)).where(EmailCode.user_id == user.id)
        )
    which = code_id if code_id is not None else hashlib.sha256(code.encode()).hexdigest()[:16]
    return await queue_mail(
        session,
        to=email,
        rendered=templates.verification_code(name=user.name, code=code),
        kind="verification",
        dedupe_key=f"verify:{user.id}:{which}",
    )


async def queue_status_mail(
    session: AsyncSession, *, ticket: Ticket, customer: User, event: str
) -> bool:
    """Tell the customer by mail that their ticket was assigned/waits for them/was solved.

    At most once per ticket and event; customers without an email or deleted get nothing.
    """
    if event not in STATUS_EVENTS:
        raise ValueError(f"unknown status mail event {event!r}")
    if not customer.email or customer.deleted_at is not None:
        return False
    return await queue_mail(
        session,
        to=customer.email,
        rendered=templates.status_mail(
            event=event, name=customer.name, number=ticket.id, subject=ticket.subject
        ),
        kind=f"status:{event}",
        dedupe_key=f"status:{ticket.id}:{event}",
    )
