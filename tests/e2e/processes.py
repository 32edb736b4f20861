"""Scenarios for tests that run `python bot.py run` as processes (see tests/support/process.py)."""

from __future__ import annotations

import re
import socket

from bot.standin import BotApiStandin, StandinUser

CUSTOMER_ID, AGENT_ID, ADMIN_ID = 1001, 2001, 900


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def ticket_assigned_to_agent(
    standin: BotApiStandin, *, card: str | None = "is assigned to you"
) -> tuple[StandinUser, StandinUser]:
    """Alice registers (no email verification) and opens #1; the admin makes Sam its agent
    (and Sam gets the ticket's card, unless `card` is None)."""
    admin = standin.user(ADMIN_ID, first_name="Ada")
    agent = standin.user(AGENT_ID, first_name="Sam")
    alice = standin.user(CUSTOMER_ID, first_name="Alice")
    await alice.send("/start")
    await alice.receive_text("full name", timeout=10)
    await alice.send("Alice Liddell")
    await alice.receive_text("email")
    await alice.send("alice@example.com")
    await alice.receive_text("phone")
    await alice.send("/skip")
    await alice.receive_text("all set")
    await alice.send("/new")
    await alice.receive_text("subject")
    await alice.send("Broken")
    await alice.receive_text("Describe")
    await alice.send("Really broken")
    await alice.press(await alice.receive_text("How urgent"), "Low")
    await alice.receive_text("is open")
    await admin.send("/addagent Sam")
    token = re.search(r"start=(\S+)", (await admin.receive_text("Invite"))["text"])[1]
    await agent.send(f"/start {token}")
    await agent.receive_text("You are now an agent")
    await admin.send(f"/assign 1 {AGENT_ID}")
    if card is not None:
        await agent.receive_text(card)
    return alice, agent


def texts(user: StandinUser, containing: str) -> list[str]:
    """The messages in the user's chat whose text contains `containing`."""
    return [m["text"] for m in user.inbox if containing in (m.get("text") or "")]
