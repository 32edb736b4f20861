"""The admin digest: tickets by status, unassigned, past the first-response limit, agent load."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from markupsafe import Markup
from sqlalchemy import func, select

from bot.clock import utcnow
from bot.config import Settings
from bot.email import mails, templates
from bot.formatting import pack_lines
from bot.jobs import runs, sla
from bot.services import outbound
from storage.db import SessionFactory
from storage.models import Role, Status, Ticket, User

log = logging.getLogger(__name__)

JOB = "admin-digest"
SOLVED = (Status.RESOLVED.value, Status.CLOSED.value)
MAX_LINES = 20


@dataclass
class AdminDigest:
    title: str
    sections: list[tuple[str, list[str]]]


def _capped(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_LINES:
        return lines
    return [*lines[:MAX_LINES], f"… and {len(lines) - MAX_LINES} more"]


async def build(session_factory: SessionFactory, settings: Settings) -> AdminDigest:
    now = utcnow()
    day = now.astimezone(settings.tz).date()
    async with session_factory() as session:
        grouped = await session.execute(select(Ticket.status, func.count()).group_by(Ticket.status))
        counts = {status: number for status, number in grouped}
        unassigned = (
            await session.execute(
                select(Ticket.id, Ticket.subject, Ticket.created_at)
                .where(Ticket.agent_id.is_(None), Ticket.status.not_in(SOLVED))
                .order_by(Ticket.id)
            )
        ).all()
        load = (
            await session.execute(
                select(User.id, User.name, User.username, func.count(Ticket.id))
                .outerjoin(Ticket, (Ticket.agent_id == User.id) & Ticket.status.not_in(SOLVED))
                .where(User.role.in_((Role.AGENT.value, Role.ADMIN.value)))
                .where(User.deleted_at.is_(None))
                .group_by(User.id, User.name, User.username)
                .order_by(func.count(Ticket.id).desc(), User.id)
            )
        ).all()
    limit = timedelta(hours=settings.sla_first_response_hours)
    late = await sla.awaiting_agent(session_factory, limit=limit, assigned_only=False)

    def age(since) -> str:  # type: ignore[no-untyped-def]
        return f"{(now - since).total_seconds() / 3600:.1f} h"

    by_status = [f"{status.value}: {counts.get(status.value, 0)}" for status in Status]
    sections = [
        ("Tickets by status", by_status),
        (
            f"Unassigned ({len(unassigned)})",
            _capped([f"#{t.id} {t.subject} (open {age(t.created_at)})" for t in unassigned]),
        ),
        (
            f"Waiting on an agent over {settings.sla_first_response_hours:g} h ({len(late)})",
            _capped(
                [
                    f"#{w.ticket_id} {w.subject} — {w.agent_name or 'unassigned'}, "
                    f"waiting {age(w.since)}"
                    for w in late
                ]
            ),
        ),
        (
            "Open tickets per agent",
            [
                f"{a.name or (f'@{a.username}' if a.username else f'agent {a.id}')}: {a[3]}"
                for a in load
            ],
        ),
    ]
    return AdminDigest(f"Helpdesk daily digest {day.isoformat()}", sections)


def telegram_texts(digest: AdminDigest) -> list[Markup]:
    """The digest as HTML messages, split between whole lines to fit Telegram's limit."""
    parts: list[str | Markup] = [Markup("<b>{}</b>").format(digest.title)]
    for heading, lines in digest.sections:
        parts.append(Markup("\n<b>{}</b>").format(heading))
        parts.extend(lines or ["none"])  # plain lines: pack_lines escapes them
    return pack_lines(parts)


async def run(
    session_factory: SessionFactory, settings: Settings, *, dry_run: bool = False
) -> list[str]:
    """Queue the digest to every admin chat and ADMIN_EMAILS, once per day in TIMEZONE."""
    period = utcnow().astimezone(settings.tz).date().isoformat()
    digest = await build(session_factory, settings)
    rendered = templates.admin_digest(title=digest.title, sections=digest.sections)
    if dry_run:
        return [
            f"would send to {len(settings.admin_ids)} admin chat(s) and "
            f"{len(settings.admin_emails)} address(es):",
            rendered.text,
        ]
    async with session_factory() as session, session.begin():
        claimed = await runs.claim(session, job=JOB, period=period)
        if claimed is None:
            return [f"{JOB} {period}: already sent today"]
        texts = telegram_texts(digest)
        for chat_id in settings.admin_ids:
            for text in texts:
                await outbound.queue_text(session, chat_id=chat_id, text=text)
        mailed = 0
        for address in settings.admin_emails:
            mailed += await mails.queue_mail(
                session,
                to=address,
                rendered=rendered,
                kind="admin-digest",
                dedupe_key=f"admin-digest:{period}:{mails.address_key(address)}",
            )
        await runs.finish(
            session, claimed, detail={"chats": len(settings.admin_ids), "mails": mailed}
        )
    return [f"{JOB} {period}: queued to {len(settings.admin_ids)} chat(s), {mailed} mail(s)"]
