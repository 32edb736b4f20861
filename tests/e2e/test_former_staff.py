"""People who stop being staff: removed agents, and admins taken out of ADMIN_IDS.

Nothing queued for them reaches them as staff any more; what was meant for the agent of a
ticket goes to the ticket's next agent, in order; ADMIN_IDS takes effect at the restart.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bot.standin import BotApiStandin
from storage.models import Delivery, Role, Ticket, User
from tests.support.harness import (
    ADMIN_ID,
    BOT_USERNAME,
    TOKEN,
    Harness,
    assigned_ticket,
    customer_with_ticket,
    started_bot,
)

BEN = 901  # an admin, then not


async def pending_to(harness: Harness, chat_id: int) -> int:
    async with harness.resources.session_factory() as session:
        return await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.chat_id == chat_id, Delivery.status == "pending")
        )


async def role_of(harness: Harness, telegram_id: int) -> str:
    async with harness.resources.session_factory() as session:
        return await session.scalar(select(User.role).where(User.telegram_id == telegram_id))


@pytest.mark.parametrize("failure", ["502", "blocked"])
async def test_what_waited_for_a_removed_agent_goes_to_the_next_agent_in_order(
    harness: Harness, failure: str
) -> None:
    customer, sam, number = await assigned_ticket(harness)
    if failure == "blocked":
        sam.block()
    else:
        harness.standin.faults.add(None, "502", times=None, chat_id=sam.id)
    for text in ("first", "second", "third"):
        await customer.send(text)
    for _ in range(100):  # Sam's chat refuses them: they stay pending
        if await pending_to(harness, sam.id) == 3:
            break
        await asyncio.sleep(0.05)
    assert await pending_to(harness, sam.id) == 3

    await harness.admin.send("/removeagent @sam")
    await harness.admin.receive_text("is no longer an agent")
    assert await pending_to(harness, sam.id) == 0

    kim = harness.user(2002, "Kim", "kim")
    await harness.add_agent(kim, "Kim Support")
    await harness.admin.send(f"/assign {number} @kim")
    await harness.admin.receive_text("is assigned")
    await kim.receive_text(f"#{number} · Alice is assigned to you")
    received = [(await kim.receive())["text"] for _ in range(3)]
    assert received == [f"#{number} · Alice\n{text}" for text in ("first", "second", "third")]

    # Sam's chat works again: nothing of the ticket reaches him any more.
    harness.standin.faults.clear()
    sam.unblock()
    await kim.send(f"/reply {number} Kim here")
    await customer.receive_text("Kim here")
    await harness.application.bot_data.delivery.sweep()
    assert not [m for m in sam.inbox if "first" in (m.get("text") or "")]


async def test_admin_ids_take_effect_at_start_not_at_the_next_message(tmp_path) -> None:
    async with BotApiStandin(token=TOKEN, bot_username=BOT_USERNAME) as standin:
        async with started_bot(tmp_path, standin=standin, assignment="auto") as harness:
            ben, kim = harness.user(BEN, "Ben", "ben"), harness.user(2002, "Kim", "kim")
            await harness.add_agent(kim, "Kim")  # Kim is idle longest: assignment picks her
            await harness.add_agent(ben, "Ben")  # an agent first
            await ben.send("/help")
            await ben.receive_text("What you can do")
            customer, first = await customer_with_ticket(harness)
            await kim.receive_text(f"#{first} · Alice is assigned to you")  # Kim: load 1
            await harness.admin.send("/help")
            await harness.admin.receive_text("What you can do")

        async with started_bot(
            tmp_path, standin=standin, assignment="auto", admin_ids=[ADMIN_ID, BEN]
        ) as harness:
            assert await role_of(harness, BEN) == Role.ADMIN  # before Ben writes anything
            admin_menu = {c["command"] for c in standin.commands({"type": "chat", "chat_id": BEN})}
            assert "assign" in admin_menu
            second = await harness.open_ticket(customer, subject="Again", description="More")
            await kim.receive_text(f"#{second} · Alice is assigned to you")  # admins are not picked
            await ben.send(f"/assign {second} {BEN}")  # Ben acts as an admin, takes the ticket
            await ben.receive_text("is assigned")
            await ben.receive_text(f"#{second} · Alice is assigned to you")

        async with started_bot(
            tmp_path, standin=standin, assignment="auto", admin_ids=[ADMIN_ID]
        ) as harness:
            # Before Ben writes anything: he is a customer, his ticket is unassigned again.
            assert await role_of(harness, BEN) == Role.CUSTOMER
            async with harness.resources.session_factory() as session:
                assert (await session.get(Ticket, second)).agent_id is None
            told = await harness.admin.receive_text("is no longer an admin")
            assert f"#{second}" in told["text"]
            assert standin.commands({"type": "chat", "chat_id": BEN}) == []  # default menu

            await customer.send("/feedback Nice bot")
            await customer.receive_text("went to the admins")
            await harness.admin.receive_text("Feedback from Alice")
            async with harness.resources.session_factory() as session:
                payloads = list(
                    await session.scalars(select(Delivery.payload).where(Delivery.chat_id == BEN))
                )
            assert not [p for p in payloads if "Feedback" in p.get("header", "")]

            await harness.admin.send(f"/assign {second} {BEN}")
            await harness.admin.receive_text(f"No agent {BEN}")
            await harness.admin.send(f"/assign {second}")
            offered = await harness.admin.receive_text("to:")
            labels = [b["text"] for row in offered["reply_markup"]["inline_keyboard"] for b in row]
            assert labels and not [label for label in labels if label.startswith("Ben")]

            # Automatic assignment: Ben (no load) would win over Kim (one) if he were staff.
            _, third = await customer_with_ticket(harness, telegram_id=1002, name="Bob Stone")
            await kim.receive_text(f"#{third} · Bob Stone is assigned to you")
            async with harness.resources.session_factory() as session:
                agents = dict((await session.execute(select(Ticket.id, Ticket.agent_id))).all())
                kim_id = await session.scalar(select(User.id).where(User.telegram_id == kim.id))
            assert agents[third] == kim_id


async def test_a_removed_agents_backlog_being_sent_stops_at_once(harness: Harness) -> None:
    customer, sam, number = await assigned_ticket(harness)
    texts = [f"m{n}" for n in range(30)]
    # One failure: Sam's chat waits half a second, so his worker then reads all 30 at once.
    harness.standin.faults.add("sendMessage", "502", chat_id=sam.id)
    for text in texts:
        await customer.send(text)
    for _ in range(100):
        if await pending_to(harness, sam.id) == len(texts):
            break
        await asyncio.sleep(0.05)
    harness.standin.latency = 0.1  # each Bot API call: 100 ms, so the backlog takes 3 s

    def relayed(user) -> list[str]:  # type: ignore[no-untyped-def]
        bodies = [m.get("text", "").split("\n", 1)[-1] for m in user.inbox]
        return [body for body in bodies if body in texts]

    await sam.wait_until(lambda _: len(relayed(sam)) >= 2, timeout=10)
    await harness.admin.send("/removeagent @sam")
    await harness.admin.receive_text("is no longer an agent")
    at_removal = len(relayed(sam))
    harness.standin.latency = 0
    await harness.application.bot_data.delivery.sweep()
    assert len(relayed(sam)) <= at_removal + 1  # at most the one on its way

    kim = harness.user(2002, "Kim", "kim")
    await harness.add_agent(kim, "Kim Support")
    await harness.admin.send(f"/assign {number} @kim")
    await harness.admin.receive_text("is assigned")
    got = len(relayed(sam))
    assert relayed(sam) == texts[:got]
    await kim.wait_until(lambda _: relayed(kim)[-1:] == texts[-1:], timeout=10)
    # Kim gets the rest in order: everything Sam's chat had not accepted when he was removed
    # (the one on its way then reached both: Telegram had it already).
    assert relayed(kim) in (texts[got:], texts[got - 1 :])
