"""Mail texts: every mail in plain text and HTML, user-supplied values escaped in the HTML."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

BRAND = "Helpdesk"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class DigestLine:
    """One ticket in a digest: its number (or another system's id), subject and status."""

    number: str
    subject: str
    status: str


def _html(title: str, paragraphs: Sequence[str]) -> str:
    """Wrap already-escaped paragraphs in a minimal HTML document."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"</head><body>{body}</body></html>"
    )


def _greeting(name: str | None) -> str:
    return f"Hello {name}," if name else "Hello,"


def verification_code(*, name: str | None, code: str, minutes: int = 15) -> Rendered:
    subject = f"{BRAND}: your verification code {code}"
    text = (
        f"{_greeting(name)}\n\n"
        f"your verification code is {code}.\n"
        f"Type it in the chat with the bot within {minutes} minutes.\n\n"
        "If you did not ask for it, ignore this mail.\n"
    )
    html = _html(
        subject,
        [
            escape(_greeting(name)),
            f"your verification code is <b>{escape(code)}</b>.",
            f"Type it in the chat with the bot within {minutes} minutes.",
            "If you did not ask for it, ignore this mail.",
        ],
    )
    return Rendered(subject, text, html)


STATUS_EVENTS = {
    "assigned": (
        "an agent is working on it",
        "An agent has been assigned to your ticket and will answer you in Telegram.",
    ),
    "waiting_customer": (
        "waiting for your answer",
        "Your ticket is waiting for your answer: please reply to the agent in Telegram.",
    ),
    "resolved": (
        "resolved",
        "Your ticket has been resolved. If something is still wrong, just write in Telegram "
        "and the ticket reopens.",
    ),
    "closed": (
        "closed",
        "Your ticket has been closed. You can rate the help you got with the buttons 1 to 5 "
        "in Telegram.",
    ),
}


def status_mail(*, event: str, name: str | None, number: int, subject: str) -> Rendered:
    headline, sentence = STATUS_EVENTS[event]
    mail_subject = f"#{number} {subject}: {headline}"
    text = f"{_greeting(name)}\n\n{sentence}\n\nTicket #{number}: {subject}\n"
    html = _html(
        mail_subject,
        [
            escape(_greeting(name)),
            escape(sentence),
            f"Ticket <b>#{number}</b>: {escape(subject)}",
        ],
    )
    return Rendered(mail_subject, text, html)


def weekly_digest(*, name: str | None, lines: Sequence[DigestLine]) -> Rendered:
    count = len(lines)
    noun = "ticket" if count == 1 else "tickets"
    subject = f"{BRAND}: {count} {noun} solved this week"
    text_lines = [f"  #{line.number} {line.subject} — {line.status}" for line in lines]
    text = (
        f"{_greeting(name)}\n\nthese tickets of yours were resolved or closed since our last "
        "summary:\n\n" + "\n".join(text_lines) + "\n"
    )
    items = "".join(
        f"<li><b>#{escape(line.number)}</b> {escape(line.subject)} — {escape(line.status)}</li>"
        for line in lines
    )
    html = _html(
        subject,
        [
            escape(_greeting(name)),
            "these tickets of yours were resolved or closed since our last summary:",
        ],
    ).replace("</body>", f"<ul>{items}</ul></body>")
    return Rendered(subject, text, html)


def admin_digest(*, title: str, sections: Sequence[tuple[str, Sequence[str]]]) -> Rendered:
    """A plain report: sections of (heading, lines)."""
    text_parts = [title, ""]
    html_parts = [f"<h1>{escape(title)}</h1>"]
    for heading, lines in sections:
        text_parts.append(heading)
        text_parts.extend(f"  {line}" for line in lines or ["none"])
        text_parts.append("")
        items = "".join(f"<li>{escape(line)}</li>" for line in lines or ["none"])
        html_parts.append(f"<h2>{escape(heading)}</h2><ul>{items}</ul>")
    html = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"</head><body>{''.join(html_parts)}</body></html>"
    )
    return Rendered(title, "\n".join(text_parts), html)
