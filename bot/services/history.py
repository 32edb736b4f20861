"""A ticket's whole conversation as one HTML document: messages both ways, notes marked,
status changes, times in TIMEZONE."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import relay, tickets
from bot.services.activities import TELEGRAM
from bot.services.users import Actor
from storage.models import Activity, Message, User

PAGE = Markup(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ticket #{number}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; color: #222 }}
li {{ margin: .6rem 0; list-style: none }} .who {{ font-weight: 600 }}
.when {{ color: #777; font-size: .85em }} .note {{ background: #fff6d6; padding: .3rem }}
.status {{ color: #555; font-style: italic }} .text {{ white-space: pre-wrap }}
</style></head><body>
<h1>#{number} · {subject}</h1>
<p>Customer: {customer} · Agent: {agent} · Status: {status} · Priority: {priority}</p>
<p>Opened {opened} ({zone})</p>
<ol>
{entries}
</ol>
</body></html>
"""
)
MESSAGE = Markup(
    '<li class="{kind}"><span class="when">{when}</span> <span class="who">{who}</span>'
    '{label}<div class="text">{text}</div></li>'
)
STATUS = Markup('<li class="status"><span class="when">{when}</span> status: {status}</li>')
LABELS = {
    relay.CUSTOMER: Markup(""),
    relay.AGENT: Markup(" (to the customer)"),
    relay.NOTE: Markup(" (internal note)"),
}


@dataclass(frozen=True)
class Document:
    filename: str
    data: bytes


async def document(session: AsyncSession, *, actor: Actor, number: int, tz: tzinfo) -> Document:
    """The conversation of a ticket the actor may see, as a self-contained HTML file."""
    view = await tickets.view(session, actor=actor, number=number)

    def at(moment: datetime) -> str:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    entries: list[tuple[datetime, int, Markup]] = []
    rows = await session.execute(
        select(Message, User)
        .outerjoin(User, User.id == Message.author_id)
        .where(Message.ticket_id == number)
        .order_by(Message.id)
    )
    for message, author in rows:
        text = message.text or ""
        if message.media_kind is not None:
            text = f"({message.media_kind}) {text}".strip()
        entries.append(
            (
                message.created_at,
                message.id,
                MESSAGE.format(
                    kind=message.kind,
                    when=at(message.created_at),
                    who=author.display_name if author is not None else "someone",
                    label=LABELS.get(message.kind, Markup("")),
                    text=text,
                ),
            )
        )
    changes = await session.execute(
        select(Activity.performed_at, Activity.id, Activity.activity)
        .where(Activity.source == TELEGRAM, Activity.ticket_id == number)
        .order_by(Activity.performed_at, Activity.id)
    )
    for performed_at, _, activity in changes:
        if "status" in activity:
            entries.append(
                (performed_at, 0, STATUS.format(when=at(performed_at), status=activity["status"]))
            )
    entries.sort(key=lambda entry: (entry[0], entry[1]))
    page = PAGE.format(
        number=view.number,
        subject=view.subject,
        customer=view.customer_name,
        agent=view.agent_name or "not assigned",
        status=view.status.value,
        priority=view.priority.name.title(),
        opened=at(view.created_at),
        zone=str(tz),
        entries=Markup("\n").join(entry for _, _, entry in entries),
    )
    return Document(filename=f"ticket-{view.number}.html", data=page.encode("utf-8"))
