"""interface.md's role table, command by command, for every role."""

from __future__ import annotations

import asyncio

from bot.services import access
from tests.support.harness import Harness, assigned_ticket

CUSTOMER, AGENT, ADMIN = "customer", "agent", "admin"
EVERYONE = {CUSTOMER, AGENT, ADMIN}
STAFF = {AGENT, ADMIN}

# Straight from interface.md's table (plus the dialogue helpers /skip and /resend).
ALLOWED = {
    "start": EVERYONE,
    "help": EVERYONE,
    "cancel": EVERYONE,
    "profile": EVERYONE,
    "feedback": {CUSTOMER, AGENT},
    "new": {CUSTOMER},
    "tickets": {CUSTOMER, ADMIN},
    "close": {CUSTOMER},
    "deleteme": {CUSTOMER},
    "ticket": EVERYONE,
    "queue": STAFF,
    "reply": STAFF,
    "note": STAFF,
    "status": STAFF,
    "resolve": STAFF,
    "search": STAFF,
    "addagent": {ADMIN},
    "agents": {ADMIN},
    "removeagent": {ADMIN},
    "assign": {ADMIN},
    "report": {ADMIN},
    "ban": {ADMIN},
    "unban": {ADMIN},
    "canned": STAFF,
    "r": STAFF,
    "tag": STAFF,
    "untag": STAFF,
    "transfer": STAFF,
    "history": STAFF,
    "skip": EVERYONE,
    "resend": {CUSTOMER},
    "faq": EVERYONE,
    "kb": {ADMIN},
}


def test_access_table_matches_the_interface() -> None:
    table = {c.name: {role.value for role in c.roles} for c in access.COMMANDS}
    assert table == ALLOWED


async def answers_to(user, text: str) -> list[str]:
    before = len(user.inbox)
    await user.send(text)
    await user.wait_until(lambda inbox: len(inbox) > before, timeout=10)
    await asyncio.sleep(0.15)
    return [m.get("text") or m.get("caption") or "" for m in user.inbox[before:]]


async def test_every_command_for_every_role(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    people = {CUSTOMER: customer, AGENT: agent, ADMIN: harness.admin}
    arguments = {
        "ticket": f" {number}",
        "close": " 999",
        "reply": " 999 hi",
        "note": " 999 hi",
        "status": " 999 pending",
        "resolve": " 999",
        "search": " printer",
        "assign": " 999 1",
        "removeagent": " 999",
        "addagent": " Temp Agent",
        "feedback": " all good",
        "ban": " 999",
        "unban": " 999",
        "r": " 999 hello",
        "tag": " 999 word",
        "untag": " 999 word",
        "transfer": " 999 1",
        "history": " 999",
    }
    for role, person in people.items():
        for command, roles in ALLOWED.items():
            answers = await answers_to(person, f"/{command}{arguments.get(command, '')}")
            refused = any("is not available to you" in a for a in answers)
            assert refused == (role not in roles), (role, command, answers)
            if command in ("new", "deleteme"):
                await answers_to(person, "/cancel")
