"""How tickets, people and lists look in Telegram (HTML built as `Markup`).

Plain `str` lines joined with `Markup("\\n").join` are escaped there; values go into markup
only through `Markup(...).format`."""

from __future__ import annotations

from markupsafe import Markup, escape

from bot.formatting import TEXT_LIMIT, shorten, split_text, utf16_len
from bot.services import access
from bot.services.tickets import TicketView
from bot.services.users import Profile
from storage.models import Priority, Role, Status

STATUS_ARGS = {
    "open": Status.OPEN,
    "pending": Status.PENDING,
    "waiting-customer": Status.WAITING_CUSTOMER,
    "waiting-third-party": Status.WAITING_THIRD_PARTY,
    "resolved": Status.RESOLVED,
    "closed": Status.CLOSED,
}


def priority_name(priority: Priority) -> str:
    return priority.name.title()


def ticket_line(ticket: TicketView, *, show_customer: bool = False) -> Markup:
    # Shortened: ten lines of long (or emoji) subjects and names must fit in one message.
    line = Markup("#{} [{}] {}").format(
        ticket.number, ticket.status.value, shorten(ticket.subject, 60)
    )
    if show_customer:
        line += Markup(" · {}").format(shorten(ticket.customer_name, 40))
    return line


def ticket_card(ticket: TicketView, *, for_role: Role) -> list[Markup]:
    """The ticket's details; a description too long for one message continues in more."""
    lines = [
        Markup("<b>#{} · {}</b>").format(ticket.number, ticket.subject),
        f"Status: {ticket.status.value}",
        f"Priority: {priority_name(ticket.priority)}",
        f"Opened: {ticket.created_at:%Y-%m-%d %H:%M} UTC",
    ]
    if for_role is not Role.CUSTOMER:
        lines.append(f"Customer: {ticket.customer_name}")
    lines.append(f"Agent: {ticket.agent_name or 'not assigned yet'}")
    if ticket.rating:
        lines.append(f"Rating: {ticket.rating}/5")
    if ticket.tags and for_role is not Role.CUSTOMER:
        lines.append(Markup("Tags: {}").format(", ".join(ticket.tags)))
    head = Markup("\n").join(lines)
    description = escape(ticket.description)
    if utf16_len(head) + utf16_len(description) + 2 <= TEXT_LIMIT:
        return [head + Markup("\n\n") + description]
    return [head, *map(escape, split_text(ticket.description, TEXT_LIMIT))]


def help_text(role: Role) -> Markup:
    lines = [Markup("<b>What you can do here</b> ({})").format(role.value)]
    for command in access.commands_for(role, menu_only=True):
        usage = f" {command.usage}" if command.usage else ""
        lines.append(f"/{command.name}{usage} — {command.help}")
    if role is Role.CUSTOMER:
        lines += ["", "Anything else you send goes to the agent handling your ticket."]
    else:
        lines += ["", "Reply to a customer's message to answer them."]
    return Markup("\n").join(lines)


def profile_text(profile: Profile) -> Markup:
    lines = [Markup("<b>Your profile</b> ({})").format(profile.role.value)]
    lines.append(f"Telegram id: {profile.telegram_id}")
    if profile.username:
        lines.append(f"Username: @{profile.username}")
    lines.append(f"Name: {profile.name or '—'}")
    if profile.email:
        verified = " (verified)" if profile.email_verified else ""
        lines.append(f"Email: {profile.email}{verified}")
    else:
        lines.append("Email: —")
    lines.append(f"Phone: {profile.phone or '—'}")
    return Markup("\n").join(lines)
