"""A person who blocked the bot: what is meant for them is held, in order, until they are back."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.services.outbound import HELD_UNTIL
from storage.models import Delivery, User
from tests.support.harness import Harness, assigned_ticket


def tries_to(harness: Harness, chat_id: int) -> list[int]:
    """The HTTP status of every send the bot tried into this chat."""
    return [
        status
        for method, params, status in harness.standin.calls
        if method in ("sendMessage", "copyMessage") and params.get("chat_id") == str(chat_id)
    ]


def without_sweep(harness: Harness) -> None:
    """Only the wake-up after the unblocking update can send what was held (no backstop)."""
    for job in harness.application.job_queue.get_jobs_by_name("delivery-sweep"):
        job.schedule_removal()


async def blocked_at(harness: Harness, telegram_id: int):  # type: ignore[no-untyped-def]
    async with harness.resources.session_factory() as session:
        return await session.scalar(select(User.blocked_at).where(User.telegram_id == telegram_id))


async def test_a_blocked_chat_is_held_untried_and_released_in_order_on_unblock(
    harness: Harness,
) -> None:
    customer, agent, number = await assigned_ticket(harness)
    without_sweep(harness)
    sent_before = len(tries_to(harness, customer.id))
    # Blocked, and the bot has not heard of it yet (the my_chat_member update comes later).
    customer.chat.blocked = True
    for text in ("one", "two", "three"):
        await agent.send(f"/reply {number} {text}")
        await agent.receive_text("Sent to the customer")
    await harness.application.bot_data.delivery.wait_idle()
    await asyncio.sleep(1.0)  # the sweep job runs meanwhile: a held chat is not tried again
    assert tries_to(harness, customer.id)[sent_before:] == [403]
    async with harness.resources.session_factory() as session:
        rows = list(
            await session.scalars(
                select(Delivery).where(Delivery.chat_id == customer.id).order_by(Delivery.id)
            )
        )
    unsent = [row for row in rows if row.status != "sent"]
    assert [row.status for row in unsent] == ["pending"] * 3
    assert unsent[0].next_try_at == HELD_UNTIL
    assert await blocked_at(harness, customer.id) is not None

    customer.unblock()  # Telegram: my_chat_member, kicked -> member
    for text in ("one", "two", "three"):
        await customer.receive_text(text)  # each after the one before: in order
    assert await blocked_at(harness, customer.id) is None
    await agent.send(f"/reply {number} four")
    await customer.receive_text("four")


async def test_writing_to_the_bot_releases_what_was_held(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    without_sweep(harness)
    customer.block()
    await agent.send(f"/reply {number} are you there?")
    await agent.receive_text("Sent to the customer")
    await agent.send(f"/status {number} pending")
    await agent.receive_text("Pending")
    await harness.application.bot_data.delivery.wait_idle()
    assert await blocked_at(harness, customer.id) is not None
    # Back, without the my_chat_member update reaching the bot: their message proves it.
    customer.chat.blocked = False
    await customer.send("yes, sorry")
    await customer.receive_text("are you there?")
    await customer.receive_text("is now Pending")
    assert (await agent.receive_text("yes, sorry"))["text"].endswith("yes, sorry")
    assert await blocked_at(harness, customer.id) is None


async def test_blocking_is_recorded_from_telegram_and_groups_are_ignored(
    harness: Harness,
) -> None:
    customer, _, _ = await assigned_ticket(harness)
    customer.block()
    for _ in range(50):
        if await blocked_at(harness, customer.id) is not None:
            break
        await asyncio.sleep(0.05)
    assert await blocked_at(harness, customer.id) is not None
    # The bot removed from a group: a my_chat_member update of a group, nothing to do.
    bot_user = harness.standin.bot_user
    harness.standin.push_update(
        {
            "my_chat_member": {
                "chat": {"id": -77, "type": "group", "title": "G"},
                "from": customer.info,
                "date": 1,
                "old_chat_member": {"user": bot_user, "status": "member"},
                "new_chat_member": {"user": bot_user, "status": "left"},
            }
        }
    )
    customer.unblock()
    await harness.standin.wait_acknowledged()
    for _ in range(50):
        if await blocked_at(harness, customer.id) is None:
            break
        await asyncio.sleep(0.05)
    assert await blocked_at(harness, customer.id) is None


async def test_a_refused_command_also_proves_they_are_back(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    without_sweep(harness)
    customer.block()
    await agent.send(f"/reply {number} still there?")
    await agent.receive_text("Sent to the customer")
    await harness.application.bot_data.delivery.wait_idle()
    customer.chat.blocked = False
    await customer.send("/frobnicate")  # refused by the guard, no handler takes the update
    await customer.receive_text("still there?")
    assert await blocked_at(harness, customer.id) is None
