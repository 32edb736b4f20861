"""Updates of different chats run side by side; each chat's own updates keep their order."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

from telegram import Chat, Message, Update, User

from bot.concurrency import PerChatUpdateProcessor, chat_key
from tests.support.harness import Harness, customer_with_ticket

AGENTS = (2001, 2002)
CUSTOMERS = 6
MESSAGES = 12


async def _team(harness: Harness, customers: int) -> list[tuple[object, object, int]]:
    """Registered customers, each with a ticket assigned to one of two agents (notices read)."""
    agents = [harness.user(tid, f"Agent{n}", f"agent{n}") for n, tid in enumerate(AGENTS)]
    for n, agent in enumerate(agents):
        await harness.add_agent(agent, f"Agent {n}")
    pairs = []
    for c in range(customers):
        name = f"Cust{c} Example"
        customer, number = await customer_with_ticket(
            harness, telegram_id=1001 + c, name=name, subject=f"Help {c}"
        )
        agent = agents[c % len(agents)]
        await harness.admin.send(f"/assign {number} {agent.id}")
        await harness.admin.receive_text("is assigned")
        await agent.receive_text(f"#{number} · {name} is assigned to you")
        await customer.receive_text("is now handling your ticket")
        pairs.append((customer, agent, number))
    return pairs


def _relayed(agent, number: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Benchmark-style texts (`m3`) relayed to the agent from ticket `number`, as they arrived."""
    pattern = re.compile(rf"^#{number} · [^\n]*\n(m\d+)$")
    return [found[1] for m in agent.inbox if (found := pattern.match(m.get("text", "")))]


async def test_application_uses_the_per_chat_processor(harness: Harness) -> None:
    processor = harness.application.update_processor
    assert isinstance(processor, PerChatUpdateProcessor)
    assert processor.running_limit > 1


async def test_every_agent_gets_each_customers_messages_once_and_in_order(
    harness: Harness,
) -> None:
    pairs = await _team(harness, CUSTOMERS)
    # interleaved: every customer's n-th message before anyone's n+1-th, all queued at once
    for n in range(MESSAGES):
        for customer, _, _ in pairs:
            await customer.send(f"m{n}")
    expected = [f"m{n}" for n in range(MESSAGES)]
    for _, agent, number in pairs:
        await agent.wait_until(lambda _, a=agent, t=number: len(_relayed(a, t)) >= MESSAGES, 30)
    await asyncio.sleep(0.3)  # nothing more arrives
    for _, agent, number in pairs:
        assert _relayed(agent, number) == expected


async def test_a_slow_chat_does_not_hold_up_the_others(harness: Harness) -> None:
    (slow, agent, slow_number), (quick, _, quick_number) = await _team(harness, 2)
    # The answer to the slow customer's next update hangs for 3 s in the Bot API.
    harness.standin.faults.add("sendMessage", "timeout", times=1, chat_id=slow.id, hold=3)
    await slow.send("/nonsense")  # refused with a message: the one that hangs
    await slow.send("m1")  # must wait for the refusal: same chat
    await quick.send("m1")  # another chat: goes ahead
    other_agent = harness.user(AGENTS[1], "Agent1")
    await other_agent.wait_until(lambda _: _relayed(other_agent, quick_number) == ["m1"], 2.5)
    assert _relayed(agent, slow_number) == []  # still behind its chat's hanging update
    await agent.wait_until(lambda _: _relayed(agent, slow_number) == ["m1"], 10)


def test_chat_key_orders_by_chat_then_user() -> None:
    user = User(7, "A", is_bot=False)
    message = Message(1, date=datetime.now(UTC), chat=Chat(42, "private"), from_user=user)
    assert chat_key(Update(1, message=message)) == ("chat", 42)
    assert chat_key(object()) == ("other", None)
