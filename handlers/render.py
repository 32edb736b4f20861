"""How tickets, people and lists look in Telegram (HTML)."""

from __future__ import annotations

from bot.formatting import TEXT_LIMIT, esc, shorten, split_text, utf16_len
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


def ticket_line(ticket: TicketView, *, show_customer: bool = False) -> str:
    # Shortened: ten lines of long (or emoji) subjects and names must fit in one message.
    who = f" · {esc(shorten(ticket.customer_name, 40))}" if show_customer else ""
    return f"#{ticket.number} [{ticket.status.value}] {esc(shorten(ticket.subject, 60))}{who}"


def ticket_card(ticket: TicketView, *, for_role: Role) -> list[str]:
    """The ticket's details; a description too long for one message continues in more."""
    lines = [
        f"<b>#{ticket.number} · {esc(ticket.subject)}</b>",
        f"Status: {ticket.status.value}",
        f"Priority: {priority_name(ticket.priority)}",
        f"Opened: {ticket.created_at:%Y-%m-%d %H:%M} UTC",
    ]
    if for_role is not Role.CUSTOMER:
        lines.append(f"Customer: {esc(ticket.customer_name)}")
    lines.append(f"Agent: {esc(ticket.agent_name) if ticket.agent_name else 'not assigned yet'}")
    if ticket.rating:
        lines.append(f"Rating: {ticket.rating}/5")
    if ticket.tags and for_role is not Role.CUSTOMER:
        lines.append(f"Tags: {esc(', '.join(ticket.tags))}")
    head = "\n".join(lines)
    if utf16_len(head) + utf16_len(esc(ticket.description)) + 2 <= TEXT_LIMIT:
        return [f"{head}\n\n{esc(ticket.description)}"]
    return [head, *(esc(part) for part in split_text(ticket.description, TEXT_LIMIT))]


def help_text(role: Role) -> str:
    lines = [f"<b>What you can do here</b> ({role.value})"]
    for command in access.commands_for(role, menu_only=True):
        usage = f" {esc(command.usage)}" if command.usage else ""
        lines.append(f"/{command.name}{usage} — {esc(command.help)}")
    if role is Role.CUSTOMER:
        lines += ["", "Anything else you send goes to the agent handling your ticket."]
    else:
        lines += ["", "Reply to a customer's message to answer them."]
    return "\n".join(lines)


def profile_text(profile: Profile) -> str:
    lines = [f"<b>Your profile</b> ({profile.role.value})"]
    lines.append(f"Telegram id: {profile.telegram_id}")
    if profile.username:
        lines.append(f"Username: @{esc(profile.username)}")
    lines.append(f"Name: {esc(profile.name) if profile.name else '—'}")
    if profile.email:
        verified = " (verified)" if profile.email_verified else ""
        lines.append(f"Email: {esc(profile.email)}{verified}")
    else:
        lines.append("Email: —")
    lines.append(f"Phone: {esc(profile.phone) if profile.phone else '—'}")
    return "\n".join(lines)
