"""Admins and the team: /agents, /removeagent, automatic assignment, /feedback."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Feedback, Ticket
from tests.support.harness import (
    ADMIN_ID,
    AGENT_ID,
    Harness,
    assigned_ticket,
    customer_with_ticket,
    started_bot,
)


async def test_agents_shows_load_and_last_activity(harness: Harness) -> None:
    _, _agent, _number = await assigned_ticket(harness)
    await harness.admin.send("/agents")
    listing = (await harness.admin.receive_text("Agents"))["text"]
    line = next(line for line in listing.splitlines() if str(AGENT_ID) in line)
    assert "@sam" in line and "Sam Support" in line and " · 1 · " in line
    assert "never" not in line


async def test_remove_agent_unassigns_tickets_and_tells_admins(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    await harness.admin.send("/removeagent @sam")
    await harness.admin.receive_text("is no longer an agent")
    told = await harness.admin.receive_text("Tickets back to unassigned")
    assert f"#{number}" in told["text"]
    async with harness.resources.session_factory() as session:
        assert (await session.get(Ticket, number)).agent_id is None
    await agent.send("/queue")
    await agent.receive_text("not available to you")
    await customer.send("hello?")
    await customer.receive_text("reaches an agent as soon as one is assigned")
    await harness.admin.send("/removeagent @nobody")
    await harness.admin.receive_text("No agent @nobody")


async def test_automatic_assignment_picks_least_loaded_then_longest_idle(tmp_path) -> None:
    async with started_bot(tmp_path, assignment="auto") as harness:
        sam, kim = harness.user(2001, "Sam", "sam"), harness.user(2002, "Kim", "kim")
        await harness.add_agent(kim, "Kim")
        await harness.add_agent(sam, "Sam")  # Sam was active last: Kim has been idle longer
        await sam.send("/help")  # (within a minute: last_active_at is not written again)
        await sam.receive_text("What you can do")
        _, first = await customer_with_ticket(harness, subject="First")
        await kim.receive_text(f"#{first} · Alice is assigned to you")
        bob, second = await customer_with_ticket(harness, telegram_id=1002, name="Bob Stone")
        await sam.receive_text(f"#{second} · Bob Stone is assigned to you")
        async with harness.resources.session_factory() as session:
            agents = dict((await session.execute(select(Ticket.id, Ticket.agent_id))).all())
        assert agents[first] != agents[second]
        await bob.receive_text("is now handling your ticket")


async def test_feedback_reaches_admins_and_is_stored(harness: Harness) -> None:
    customer, _ = await customer_with_ticket(harness)
    await harness.admin.send("/help")  # the admin has opened the bot
    await harness.admin.receive_text("What you can do")
    await customer.send("/feedback The bot is <great> & fast")
    await customer.receive_text("went to the admins")
    told = await harness.admin.receive_text("Feedback from Alice")
    assert "The bot is <great> & fast" in told["text"]
    async with harness.resources.session_factory() as session:
        assert await session.scalar(select(Feedback.text)) == "The bot is <great> & fast"
    await customer.send("/feedback")
    await customer.receive_text("Usage: /feedback")
    assert harness.admin.id == ADMIN_ID


async def test_deleteme_erases_personal_data_but_keeps_tickets(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    await customer.send("secret message")
    await agent.receive_text("secret message")
    await customer.send("/deleteme")
    confirm = await customer.receive_text("cannot be undone")
    await customer.press(confirm, "Yes, erase my data")
    await customer.wait_until(lambda inbox: "is erased" in (inbox[-1].get("text") or ""))
    async with harness.resources.session_factory() as session:
        from storage.models import Message, User

        kept = await session.get(Ticket, number)
        user = await session.get(User, kept.customer_id)
        texts = list(await session.scalars(select(Message.text)))
    assert (user.name, user.email, user.phone, user.deleted_at is not None) == (
        None,
        None,
        None,
        True,
    )
    assert user.telegram_id != customer.id  # a pseudonym (tests/e2e/test_erasure.py)
    assert texts == [None] and kept.status == "Closed"
    await agent.send(f"/reply {number} hello?")
    await agent.receive_text("erased their data")
