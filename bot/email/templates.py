"""Mail texts: every mail in plain text and HTML; the HTML is built as `markupsafe.Markup`,
so every value put into it is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

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


_DOCUMENT = Markup(
    '<!doctype html><html><head><meta charset="utf-8"><title>{}</title></head>'
    "<body>{}</body></html>"
)


def _html(title: str, paragraphs: Sequence[str | Markup], more: Markup | None = None) -> str:
    """A minimal HTML document of paragraphs (plain `str` escaped, `Markup` kept), then `more`."""
    body = Markup("").join(Markup("<p>{}</p>").format(p) for p in paragraphs)
    return str(_DOCUMENT.format(title, body + (more or "")))


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
            _greeting(name),
            Markup("your verification code is <b>{}</b>.").format(code),
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
            _greeting(name),
            sentence,
            Markup("Ticket <b>#{}</b>: {}").format(number, subject),
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
    items = Markup("").join(
        Markup("<li><b>#{}</b> {} — {}</li>").format(line.number, line.subject, line.status)
        for line in lines
    )
    html = _html(
        subject,
        [
            _greeting(name),
            "these tickets of yours were resolved or closed since our last summary:",
        ],
        Markup("<ul>{}</ul>").format(items),
    )
    return Rendered(subject, text, html)


def admin_digest(*, title: str, sections: Sequence[tuple[str, Sequence[str]]]) -> Rendered:
    """A plain report: sections of (heading, lines)."""
    text_parts = [title, ""]
    html_parts = [Markup("<h1>{}</h1>").format(title)]
    for heading, lines in sections:
        text_parts.append(heading)
        text_parts.extend(f"  {line}" for line in lines or ["none"])
        text_parts.append("")
        items = Markup("").join(Markup("<li>{}</li>").format(line) for line in lines or ["none"])
        html_parts.append(Markup("<h2>{}</h2><ul>{}</ul>").format(heading, items))
    html = str(_DOCUMENT.format(title, Markup("").join(html_parts)))
    return Rendered(title, "\n".join(text_parts), html)
