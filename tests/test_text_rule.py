"""The text rule, unit by unit: every builder's output parses with Telegram's (the stand-in's
strict) HTML parser and reads back exactly the values that went in."""

from __future__ import annotations

import ast
import json
import re
import string
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from markupsafe import Markup, escape

from bot import notices
from bot.formatting import caption_with_header, pack_lines, with_header
from bot.jobs.admin import AdminDigest, telegram_texts
from bot.services import access
from bot.services.errors import Invalid, NotFound, ServiceError
from bot.services.tickets import TicketView
from bot.services.users import Profile
from bot.standin.parse_html import parse_html
from handlers import render
from handlers.framework import Reply, _prompt_of, _stored_prompt, refusal
from storage.models import Priority, Role, Status
from tests.jobs.factories import (  # noqa: F401 (fixtures)
    db_url,
    deliveries,
    make_ticket,
    make_user,
    session_factory,
)

HOSTILE = "<b>x</b> & <name> &amp; 'q' \"qq\""
ROOT = Path(__file__).resolve().parent.parent


def shown(markup: str) -> str:
    """What the chat shows for `markup` (ApiError if Telegram would refuse it)."""
    return parse_html(markup)[0]


def view(**changes: object) -> TicketView:
    values: dict = {
        "number": 7,
        "subject": f"Subject {HOSTILE}",
        "description": f"Description {HOSTILE}",
        "priority": Priority.HIGH,
        "status": Status.OPEN,
        "customer_name": f"Customer {HOSTILE}",
        "customer_telegram_id": 1,
        "agent_name": f"Agent {HOSTILE}",
        "agent_telegram_id": 2,
        "created_at": datetime(2026, 1, 2, 3, 4),
        "rating": 4,
    }
    values.update(changes)
    return TicketView(**values)


@pytest.mark.parametrize("role", list(Role))
def test_ticket_card_and_line_show_hostile_values_as_typed(role: Role) -> None:
    card = "\n".join(shown(part) for part in render.ticket_card(view(), for_role=role))
    assert f"#7 · Subject {HOSTILE}" in card and f"Description {HOSTILE}" in card
    assert f"Agent: Agent {HOSTILE}" in card
    assert (f"Customer: Customer {HOSTILE}" in card) is (role is not Role.CUSTOMER)
    line = shown(render.ticket_line(view(customer_name=HOSTILE[:30]), show_customer=True))
    assert line == f"#7 [Open] Subject {HOSTILE} · {HOSTILE[:30]}"


def test_a_long_description_continues_in_more_messages_each_parsing() -> None:
    parts = render.ticket_card(view(description=(HOSTILE + "\n") * 400), for_role=Role.AGENT)
    assert len(parts) > 1
    assert "".join(shown(part) for part in parts[1:]).count(HOSTILE) == 400


@pytest.mark.parametrize("role", list(Role))
def test_help_shows_every_usage_line_literally(role: Role) -> None:
    text = shown(render.help_text(role))
    for command in access.commands_for(role, menu_only=True):
        assert f"/{command.name} {command.usage}".rstrip() + " — " + command.help in text


def test_profile_shows_hostile_values_as_typed() -> None:
    profile = Profile(Role.CUSTOMER, 5, f"u{HOSTILE}", f"N {HOSTILE}", f"e{HOSTILE}", True, HOSTILE)
    text = shown(render.profile_text(profile))
    for value in (f"@u{HOSTILE}", f"Name: N {HOSTILE}", f"Email: e{HOSTILE} (verified)"):
        assert value in text
    assert f"Phone: {HOSTILE}" in text


def test_headers_captions_and_packed_lines_escape_plain_text_and_keep_markup() -> None:
    parts = with_header(f"#1 · {HOSTILE}", (HOSTILE + " ") * 600)
    assert len(parts) > 1 and all(shown(p).startswith(f"#1 · {HOSTILE} (") for p in parts)
    assert shown(caption_with_header(HOSTILE, HOSTILE * 200)).startswith(f"{HOSTILE}\n{HOSTILE}")
    assert shown(caption_with_header(HOSTILE, None)) == HOSTILE
    packed = pack_lines([Markup("<b>{}</b>").format(HOSTILE), *[HOSTILE] * 300])
    assert len(packed) > 1
    assert "\n".join(shown(p) for p in packed) == "\n".join([HOSTILE] * 301)
    assert parse_html(packed[0])[1][0]["type"] == "bold"


def test_admin_digest_texts_parse_and_show_the_lines() -> None:
    digest = AdminDigest(f"Digest {HOSTILE}", [(f"Head {HOSTILE}", [HOSTILE]), ("Empty", [])])
    text = "\n".join(shown(part) for part in telegram_texts(digest))
    assert text == f"Digest {HOSTILE}\n\nHead {HOSTILE}\n{HOSTILE}\n\nEmpty\nnone"


def test_a_stored_prompt_comes_back_as_it_was_sent() -> None:
    for text in (f"Thanks, {HOSTILE}.", Markup("<b>{}</b>?").format(HOSTILE)):
        reply = Reply(text, [[("a", "b")]])
        stored = json.loads(json.dumps(_stored_prompt(reply)))  # what the JSON column keeps
        again = _prompt_of(stored)
        assert isinstance(again.text, Markup) and again.text == escape(text)
        assert again.buttons == [[["a", "b"]]]


def _sources() -> list[Path]:
    return sorted(
        path
        for folder in ("bot", "handlers")
        for path in (ROOT / folder).rglob("*.py")
        if "standin" not in path.parts
    )


def _markup_templates() -> list[tuple[str, str]]:
    """Every literal `Markup("...")` of a Telegram text in the code, with where it is."""
    found = []
    for path in _sources():
        if "email" in path.parts or path.name == "history.py":
            continue  # mails' HTML and the /history document: web pages, not Telegram's HTML
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Markup"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", node.args[0].value))
    return found


MARKUP_TEMPLATES = _markup_templates()
WHERE = [where for where, _ in MARKUP_TEMPLATES]


def test_the_code_builds_markup_from_templates() -> None:
    assert len(MARKUP_TEMPLATES) > 15  # the scan finds them (each is checked below)


@pytest.mark.parametrize(
    ("where", "template"), MARKUP_TEMPLATES, ids=[w for w, _ in MARKUP_TEMPLATES]
)
def test_every_markup_template_parses_with_hostile_values(where: str, template: str) -> None:
    fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    values = [f"v{n} {HOSTILE}" for n in range(len(fields))]
    text = shown(Markup(template).format(*values))
    for value in values:
        assert value in text, where
    assert not re.search(r"&(lt|gt|amp|#\d+);", text.replace(HOSTILE, "")), where


def _refusal_texts() -> list[tuple[str, str]]:
    """The message of every ServiceError raised in the code, placeholders filled with HOSTILE."""
    errors = {"Invalid", "NotFound", "Forbidden", "ServiceError"}
    found = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (
                isinstance(node, ast.Raise)
                and isinstance(node.exc, ast.Call)
                and isinstance(node.exc.func, ast.Name)
                and node.exc.func.id in errors
                and node.exc.args
            ):
                continue
            arg = node.exc.args[0]
            if isinstance(arg, ast.JoinedStr):
                text = "".join(
                    part.value if isinstance(part, ast.Constant) else HOSTILE for part in arg.values
                )
            elif isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                text = arg.value
            else:
                continue  # a name (a usage constant): its value is sent like any other str
            found.append((f"{path.relative_to(ROOT)}:{node.lineno}", text))
    return found


REFUSALS = _refusal_texts()


def test_every_refusal_is_shown_as_written() -> None:
    assert any("/addagent <name> [email]" in text for _, text in REFUSALS)
    in_chat = SimpleNamespace(callback_query=None)  # a refused message, not a button
    for where, text in REFUSALS:
        error: ServiceError = (Invalid if "Usage" in text else NotFound)(text)
        reply = refusal(in_chat, error)  # type: ignore[arg-type]
        assert shown(escape(reply.text)) == text, where  # escaped once, as `say` sends it


async def test_every_notice_shows_hostile_names_and_subjects_as_typed(
    session_factory,  # noqa: F811 (the fixture)
) -> None:
    async with session_factory() as session, session.begin():
        customer = await make_user(session, name=f"Cu {HOSTILE}")
        agent = await make_user(session, name=f"Ag {HOSTILE}", role=Role.AGENT)
        ticket = await make_ticket(session, customer=customer, subject=f"Su {HOSTILE}")
        ticket.description = f"De {HOSTILE}"
        await notices.assigned(session, ticket=ticket, customer=customer, agent=agent)
        for new in Status:
            await notices.status_changed(
                session, ticket=ticket, customer=customer, agent=agent, new=new, by_customer=True
            )
        await notices.to_staff(session, [agent.telegram_id], f"plain {HOSTILE}")
        await notices.to_staff(session, [agent.telegram_id], Markup("<i>{}</i>").format(HOSTILE))
    texts = []
    for row in await deliveries(session_factory):
        payload = row.payload  # rendered as bot/delivery.py sends it
        if "text" in payload:
            parts = [payload["text"]]
        else:
            parts = with_header(payload["header"], payload["body"])
        texts += [shown(part) for part in parts]
    everything = "\n".join(texts)
    assert f"#{ticket.id} · Cu {HOSTILE} is assigned to you." in everything
    assert f"Subject: Su {HOSTILE}\n\nDe {HOSTILE}" in everything
    assert f"Ag {HOSTILE} is now handling your ticket #{ticket.id}." in everything
    for new in Status:
        assert f"Your ticket #{ticket.id} (Su {HOSTILE}) is now {new.value}." in everything
        assert f"#{ticket.id}: the customer changed the status to {new.value}." in everything
    assert f"plain {HOSTILE}" in texts and HOSTILE in texts
    assert not re.search(r"&(lt|gt|amp|#\d+);", everything.replace(HOSTILE, ""))
