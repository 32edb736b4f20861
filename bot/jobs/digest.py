"""The weekly customer digest from the bot's own tickets.

A ticket is in a run's digest when a status activity made it Resolved or Closed, or its
resolved_at/closed_at falls, in the window (previous successful run's end, this run's start];
the ends are exact timestamps, so nothing at a boundary is skipped or counted twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TextIO

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.email import mails, templates
from bot.jobs import runs
from bot.services.activities import TELEGRAM
from storage.db import SessionFactory
from storage.models import Activity, Status, Ticket, User

JOB = "weekly-digest"
FIRST_WINDOW = timedelta(days=7)
SOLVED = (Status.RESOLVED.value, Status.CLOSED.value)
CHUNK = 5000


@dataclass
class Recipient:
    """One customer's digest: grouped by customer id (or email, for reports), never by name."""

    key: str
    email: str
    name: str | None
    lines: dict[str, templates.DigestLine] = field(default_factory=dict)


@dataclass
class DigestResult:
    period: str
    claimed: bool
    window_start: datetime | None = None
    window_end: datetime | None = None
    recipients: list[Recipient] = field(default_factory=list)
    queued: int = 0

    @property
    def tickets(self) -> int:
        return sum(len(r.lines) for r in self.recipients)


async def solved_in_window(
    session: AsyncSession, start: datetime, end: datetime
) -> list[Recipient]:
    """Each customer (with an email, not deleted) and their tickets solved in (start, end]."""
    status = Activity.activity["status"].as_string()
    from_activities = (
        select(
            Ticket.id,
            Ticket.subject,
            Ticket.customer_id,
            User.name,
            User.email,
            status,
            Activity.performed_at,
        )
        .join(Ticket, Ticket.id == Activity.ticket_id)
        .join(User, User.id == Ticket.customer_id)
        .where(
            Activity.source == TELEGRAM,
            Activity.performed_at > start,
            Activity.performed_at <= end,
            status.in_(SOLVED),
            User.deleted_at.is_(None),
            User.email.is_not(None),
        )
    )
    from_tickets = (
        select(
            Ticket.id,
            Ticket.subject,
            Ticket.customer_id,
            User.name,
            User.email,
            Ticket.resolved_at,
            Ticket.closed_at,
        )
        .join(User, User.id == Ticket.customer_id)
        .where(
            or_(
                (Ticket.resolved_at > start) & (Ticket.resolved_at <= end),
                (Ticket.closed_at > start) & (Ticket.closed_at <= end),
            ),
            User.deleted_at.is_(None),
            User.email.is_not(None),
        )
    )
    # ticket id -> (when, status, customer id, name, email, subject): the latest solve wins
    latest: dict[int, tuple[datetime, str, int, str | None, str, str]] = {}

    def note(ticket_id: int, when: datetime, status_name: str, row: Any) -> None:
        seen = latest.get(ticket_id)
        if seen is None or when >= seen[0]:
            latest[ticket_id] = (
                when,
                status_name,
                row.customer_id,
                row.name,
                row.email,
                row.subject,
            )

    for row in await session.execute(from_activities):
        note(row[0], row[6], row[5], row)
    for row in await session.execute(from_tickets):
        for when, status_name in ((row.resolved_at, "Resolved"), (row.closed_at, "Closed")):
            if when is not None and start < when <= end:
                note(row[0], when, status_name, row)

    recipients: dict[int, Recipient] = {}
    for ticket_id in sorted(latest):
        _, status_name, customer_id, name, email, subject = latest[ticket_id]
        recipient = recipients.get(customer_id)
        if recipient is None:
            recipient = recipients[customer_id] = Recipient(str(customer_id), email, name)
        recipient.lines[str(ticket_id)] = templates.DigestLine(str(ticket_id), subject, status_name)
    return list(recipients.values())


def digest_rows(period: str, recipients: Sequence[Recipient], *, prefix: str) -> list[dict]:
    """Outbox rows for the digests: one per recipient and ISO week (the dedupe key)."""
    return [
        mails.outbox_row(
            to=recipient.email,
            rendered=templates.weekly_digest(
                name=recipient.name, lines=list(recipient.lines.values())
            ),
            kind="digest",
            dedupe_key=f"{prefix}:{period}:{recipient.key}",
        )
        for recipient in recipients
    ]


async def queue_digests(
    session: AsyncSession, period: str, recipients: Sequence[Recipient], *, prefix: str
) -> int:
    rows = digest_rows(period, recipients, prefix=prefix)
    queued = 0
    for start in range(0, len(rows), CHUNK):
        queued += await mails.queue_many(session, rows[start : start + CHUNK])
    return queued


async def run(session_factory: SessionFactory, *, tz: Any, dry_run: bool = False) -> DigestResult:
    """One run of the weekly digest for the current ISO week in `tz`."""
    now = utcnow()
    period = runs.iso_week(now.astimezone(tz))
    if dry_run:
        async with session_factory() as session:
            if await runs.is_done(session, job=JOB, period=period):
                return DigestResult(period, claimed=False)
            start = await runs.last_window_end(session, job=JOB) or now - FIRST_WINDOW
            found = await solved_in_window(session, start, now)
        return DigestResult(period, True, start, now, found)

    async def work(
        session: AsyncSession, start: datetime
    ) -> tuple[tuple[list[Recipient], int], dict[str, Any]]:
        found = await solved_in_window(session, start, now)
        queued = await queue_digests(session, period, found, prefix="digest")
        return (found, queued), {"customers": len(found), "queued": queued}

    ran = await runs.run_window(
        session_factory, job=JOB, period=period, now=now, first_window=FIRST_WINDOW, work=work
    )
    if ran is None:
        return DigestResult(period, claimed=False)
    start, (found, queued) = ran
    return DigestResult(period, True, start, now, found, queued)


def print_result(
    result: DigestResult, out: TextIO, *, dry_run: bool, tz: Any, job: str = JOB
) -> None:
    if not result.claimed:
        out.write(f"{job} {result.period}: already done for this week, nothing to send\n")
        return
    assert result.window_start is not None and result.window_end is not None
    window = (
        f"{result.window_start.astimezone(tz):%Y-%m-%d %H:%M} – "
        f"{result.window_end.astimezone(tz):%Y-%m-%d %H:%M}"
    )
    if dry_run:
        out.write(
            f"{job} {result.period} (dry run, window {window}): would mail "
            f"{len(result.recipients)} customer(s) about {result.tickets} ticket(s)\n"
        )
        for recipient in result.recipients:
            out.write(f"  to {recipient.email} ({recipient.name or 'no name'}):\n")
            for line in recipient.lines.values():
                out.write(f"    #{line.number} {line.subject} — {line.status}\n")
        return
    out.write(
        f"{job} {result.period} (window {window}): queued {result.queued} mail(s) about "
        f"{result.tickets} ticket(s)\n"
    )
