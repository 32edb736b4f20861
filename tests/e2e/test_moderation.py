"""/ban and /unban: a banned person's messages are not relayed, they are told once, tickets stay."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import func, select

from bot.services import flood, moderation
from bot.standin import StandinUser
from storage.models import Delivery, Message, Ticket, User
from tests.support.harness import ADMIN_ID, Harness, assigned_ticket, started_bot


def relayed(agent: StandinUser, number: int) -> list[str]:
    prefix = f"#{number} · Alice\n"
    return [m["text"][len(prefix) :] for m in agent.inbox if m.get("text", "").startswith(prefix)]


def texts(person: StandinUser, containing: str) -> list[str]:
    return [m["text"] for m in person.inbox if containing in (m.get("text") or "")]


async def answer(person: StandinUser, text: str) -> str:
    before = len(person.inbox)
    await person.send(text)
    await person.wait_until(lambda inbox: len(inbox) > before, timeout=10)
    return person.inbox[before]["text"]


async def quiet(person: StandinUser, text: str) -> None:
    """`text` is handled and gets no answer."""
    before = len(person.inbox)
    await person.send(text)
    await asyncio.sleep(0.4)
    assert len(person.inbox) == before, person.inbox[before:]


async def customer_messages(harness: Harness) -> list[str]:
    async with harness.resources.session_factory() as session:
        rows = await session.scalars(
            select(Message.text).where(Message.kind == "customer").order_by(Message.id)
        )
        return list(rows)


async def test_ban_stops_relaying_tells_once_and_unban_restores_it(
    harness: Harness, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="bot.services.moderation")
    customer, agent, number = await assigned_ticket(harness)
    await customer.send("before the ban")
    await agent.wait_until(lambda _: relayed(agent, number) == ["before the ban"], 5)

    said = await answer(harness.admin, "/ban @alice spamming the agents")
    assert "Alice is banned" in said and "/unban @alice" in said
    async with harness.resources.session_factory() as session:
        alice = await session.scalar(select(User).where(User.telegram_id == customer.id))
    assert (alice.banned_by, alice.ban_reason) == (ADMIN_ID, "spamming the agents")
    assert f"user 1001 banned by {ADMIN_ID}" in caplog.text
    assert "spamming" not in caplog.text  # ids only in the log

    assert await answer(customer, "hello?") == moderation.BANNED
    await quiet(customer, "still there?")  # told once, not on every message
    await quiet(customer, "/new")
    await quiet(customer, "/feedback let me in")
    assert (await answer(customer, "/tickets")).count(f"#{number}") == 1  # tickets stay
    await asyncio.sleep(0.3)
    assert relayed(agent, number) == ["before the ban"]
    assert await customer_messages(harness) == ["before the ban"]  # nothing else stored

    assert "already banned" in await answer(harness.admin, "/ban 1001")
    said = await answer(harness.admin, "/unban 1001")
    assert "Alice is no longer banned" in said
    assert f"user 1001 unbanned by {ADMIN_ID}" in caplog.text
    await customer.receive_text(moderation.UNBANNED, timeout=5)
    await customer.send("back again")
    await agent.wait_until(lambda _: relayed(agent, number)[-1:] == ["back again"], 5)
    assert relayed(agent, number) == ["before the ban", "back again"]
    assert "is not banned" in await answer(harness.admin, "/unban @alice")

    # A new ban is told again, once.
    await answer(harness.admin, "/ban @alice")
    assert await answer(customer, "one more") == moderation.BANNED
    await quiet(customer, "and another")
    assert len(texts(customer, "You have been banned")) == 2


async def test_ban_refuses_bad_input_and_changes_nothing(tmp_path) -> None:
    async with started_bot(tmp_path, admin_ids=[ADMIN_ID, 901]) as harness:
        customer, agent, number = await assigned_ticket(harness)
        other_admin = harness.user(901, "Otto", "otto")
        await other_admin.send("/help")
        await other_admin.receive_text("What you can do here")
        admin = harness.admin

        assert "Usage: /ban <user id" in await answer(admin, "/ban")
        assert "Usage: /unban <user id" in await answer(admin, "/unban")
        assert "No user 4242 has written to the bot" in await answer(admin, "/ban 4242")
        assert "No user @nobody" in await answer(admin, "/ban @nobody")
        assert "cannot ban yourself" in await answer(admin, f"/ban {ADMIN_ID}")
        assert "is an admin" in await answer(admin, "/ban @otto")
        assert "is an agent" in await answer(admin, "/ban @sam")
        assert "reason is too long" in await answer(admin, "/ban @alice " + "x" * 201)
        assert "not available to you" in await answer(agent, "/ban @alice")
        assert "not available to you" in await answer(customer, "/unban @alice")

        async with harness.resources.session_factory() as session:
            banned = await session.scalar(
                select(func.count()).select_from(User).where(User.banned_at.is_not(None))
            )
        assert banned == 0
        await customer.send("still relayed")
        await agent.wait_until(lambda _: relayed(agent, number) == ["still relayed"], 5)


async def test_ban_mid_flood_stops_the_paced_backlog(tmp_path) -> None:
    async with started_bot(tmp_path, flood_limit=2) as harness:
        customer, agent, number = await assigned_ticket(harness)
        for n in range(6):  # 2 at once, then one every 5 seconds
            await customer.send(f"m{n}")
        await customer.receive_text(flood.PACING, timeout=5)
        await agent.wait_until(lambda _: relayed(agent, number) == ["m0", "m1"], 5)
        for _ in range(100):  # all six stored (the customer's chat runs beside the admin's)
            if len(await customer_messages(harness)) == 6:
                break
            await asyncio.sleep(0.05)

        said = await answer(harness.admin, "/ban @alice")
        assert "4 of their messages waiting to be sent will not be" in said
        async with harness.resources.session_factory() as session:
            statuses = list(
                await session.scalars(
                    select(Delivery.status)
                    .where(Delivery.message_id.is_not(None))
                    .order_by(Delivery.id)
                )
            )
            tickets = await session.scalar(select(func.count()).select_from(Ticket))
        assert statuses == ["sent"] * 2 + ["cancelled"] * 4
        assert tickets == 1  # their ticket stays
        assert len(await customer_messages(harness)) == 6  # and what they wrote before
        await harness.application.bot_data.delivery.sweep()
        assert relayed(agent, number) == ["m0", "m1"]
