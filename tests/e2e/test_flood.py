"""Past FLOOD_LIMIT a person's messages are paced, never dropped: stored at once, sent in order."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select

from bot.services import flood
from bot.services.flood import FloodLimiter
from bot.standin import BotApiStandin, StandinUser
from storage.db import create_engine, create_session_factory
from storage.models import Delivery, Message
from tests.e2e.processes import ticket_assigned_to_agent
from tests.support import databases
from tests.support.harness import BOT_USERNAME, TOKEN, Harness, assigned_ticket, started_bot
from tests.support.process import BotProcess, bot_environment


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def relayed(agent: StandinUser, number: int, name: str = "Alice") -> list[str]:
    """The texts relayed to the agent from `name`'s ticket `number`, in the order they came."""
    prefix = f"#{number} · {name}\n"
    return [m["text"][len(prefix) :] for m in agent.inbox if m.get("text", "").startswith(prefix)]


def notices(person: StandinUser) -> list[dict]:
    return [m for m in person.inbox if m.get("text") == flood.PACING]


async def test_a_flood_of_100_reaches_the_agent_in_order_paced_and_told_once(tmp_path) -> None:
    async with started_bot(tmp_path, flood_limit=20) as harness:  # FLOOD_LIMIT's default
        assert harness.application.bot_data.flood.limit == 20
        customer, agent, number = await assigned_ticket(harness)
        bob = harness.user(1002, "Bob", "bob")
        await harness.register(bob, name="Bob", email="bob@example.com")
        bobs = await harness.open_ticket(bob, subject="Other", description="Bob's problem")
        await harness.admin.send(f"/assign {bobs} 2001")
        await agent.receive_text(f"#{bobs} · Bob is assigned to you")

        started = time.monotonic()
        for n in range(100):  # 100 messages in 2 seconds
            await customer.send(f"m{n}")
            await asyncio.sleep(0.02)
        sent_in = time.monotonic() - started
        assert sent_in < 3

        # Every message is stored at once; the ones past the limit wait with a send time.
        async with harness.resources.session_factory() as session:
            for _ in range(300):  # up to 15 s on a busy machine
                stored = await session.scalar(
                    select(func.count()).select_from(Message).where(Message.kind == "customer")
                )
                if stored == 100:
                    break
                await asyncio.sleep(0.05)
            paced = await session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.not_before.is_not(None))
            )
        assert stored == 100
        assert 70 <= paced <= 80  # about 20 at once (plus what the bucket refilled meanwhile)

        # The pace is visible: far from all of them have arrived yet ...
        arrived = len(relayed(agent, number))
        assert 20 <= arrived < 50, arrived
        # ... yet another customer of the same agent is not held up behind the flood,
        await bob.send("Bob is waiting too")
        await agent.wait_until(lambda _: "Bob is waiting too" in relayed(agent, bobs, "Bob"), 3)
        assert len(relayed(agent, number)) < 90
        # ... and the flooding customer's commands are answered at once.
        await customer.send("/help")
        await customer.receive_text("What you can do here", timeout=3)

        await agent.wait_until(lambda _: len(relayed(agent, number)) >= 100, timeout=70)
        took = time.monotonic() - started
        assert relayed(agent, number) == [f"m{n}" for n in range(100)]
        # 20 at once, then one every half second (10 s / 20): about 40 seconds in all.
        assert 30 < took < 60, took
        assert len(notices(customer)) == 1


async def test_a_notice_about_the_ticket_keeps_its_place_behind_the_paced_messages(
    tmp_path,
) -> None:
    async with started_bot(tmp_path, flood_limit=10) as harness:
        customer, agent, number = await assigned_ticket(harness)
        for n in range(14):  # 10 at once, then one a second
            await customer.send(f"m{n}")
        await customer.receive_text(flood.PACING, timeout=5)
        await customer.send(f"/close {number}")  # handled at once; the agent is told in turn
        await customer.receive_text("is closed", timeout=5)
        closed = f"#{number}: the customer changed the status to Closed"
        await agent.wait_until(lambda inbox: closed in inbox[-1].get("text", ""), timeout=15)
        assert relayed(agent, number) == [f"m{n}" for n in range(14)]


async def test_staff_may_send_five_times_as_many_before_being_paced(tmp_path) -> None:
    async with started_bot(tmp_path, flood_limit=4) as harness:
        assert harness.application.bot_data.flood.staff_limit == 20
        customer, agent, number = await assigned_ticket(harness)
        for n in range(20):
            await agent.send(f"/reply {number} a{n}")
        await agent.wait_until(
            lambda inbox: sum("Sent to the customer" in m.get("text", "") for m in inbox) == 20, 10
        )
        assert not notices(agent)

        for n in range(20, 30):  # past the limit (the bucket refills a few meanwhile): paced
            await agent.send(f"/reply {number} a{n}")
        await agent.receive_text(flood.PACING, timeout=5)
        await customer.wait_until(
            lambda inbox: sum(m.get("text", "").endswith("\na29") for m in inbox) == 1, 15
        )
        assert [m["text"].rsplit("\n", 1)[-1] for m in customer.inbox[-30:]] == [
            f"a{n}" for n in range(30)
        ]
        assert len(notices(agent)) == 1


async def test_pressing_buttons_fast_is_answered_every_time(tmp_path) -> None:
    async with started_bot(tmp_path, flood_limit=3) as harness:
        customer = harness.user(1001, "Alice", "alice")
        await customer.send("/help")
        shown = await customer.receive_text("What you can do here")
        queries = [await customer.press_data(shown, "page:all:0") for _ in range(10)]
        answers = harness.standin.callback_answers
        await customer.wait_until(lambda _: all(q in answers for q in queries), 10)
        assert not notices(customer)


async def test_off_when_the_setting_is_zero(harness: Harness) -> None:
    assert harness.settings.flood_limit == 0
    customer, agent, number = await assigned_ticket(harness)
    for n in range(60):
        await customer.send(f"m{n}")
    await agent.wait_until(lambda _: len(relayed(agent, number)) == 60, timeout=20)
    assert relayed(agent, number) == [f"m{n}" for n in range(60)]
    assert not notices(customer)


@pytest.mark.slow
async def test_sigkill_mid_pacing_loses_nothing(tmp_path) -> None:
    url = databases.database_url(tmp_path)
    async with BotApiStandin(token=TOKEN, bot_username=BOT_USERNAME) as standin:
        env = bot_environment(standin, url, REQUIRE_EMAIL_VERIFICATION="false", FLOOD_LIMIT="10")
        bot = BotProcess(standin, env, tmp_path / "bot.log")
        await bot.start()
        try:
            alice, agent = await ticket_assigned_to_agent(standin)
            await asyncio.sleep(1)  # the setup's own messages leave the bucket
            for n in range(30):
                await alice.send(f"m{n}")
            await alice.receive_text(flood.PACING, timeout=10)
            # 10 at once, then one a second: kill it while the rest wait for their turn.
            await agent.wait_until(lambda _: len(relayed(agent, 1, "Alice Liddell")) >= 13, 15)
            await bot.kill()
            assert len(relayed(agent, 1, "Alice Liddell")) < 25

            await bot.start()
            await agent.wait_until(lambda _: len(relayed(agent, 1, "Alice Liddell")) >= 30, 40)
            await asyncio.sleep(1.5)
        finally:
            await bot.stop()
        got = relayed(agent, 1, "Alice Liddell")
        # At most the one part whose answer the kill lost comes twice (interface.md).
        unique = [text for index, text in enumerate(got) if text not in got[:index]]
        assert unique == [f"m{n}" for n in range(30)]
        assert len(got) - len(unique) <= 1
        assert len(notices(alice)) == 1

    engine = create_engine(url)
    async with create_session_factory(engine)() as session:
        pending = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status == "pending")
        )
    await engine.dispose()
    assert pending == 0


def test_limiter_lets_a_burst_through_then_paces_and_tells_once_an_episode() -> None:
    clock = FakeClock()
    limiter = FloodLimiter(limit=4, window=10, staff_limit=8, clock=clock)
    paces = [limiter.pace(1) for _ in range(7)]
    assert [p.delay for p in paces] == [0, 0, 0, 0, 2.5, 5.0, 7.5]  # 10 s / 4 apart
    assert [p.notice for p in paces] == [False] * 4 + [True, False, False]
    assert limiter.pace(2).delay == 0  # others are not affected
    assert [limiter.pace(3, staff=True).delay for _ in range(9)] == [0] * 8 + [1.25]

    clock.now += 5  # the backlog is still going out: the same episode
    later = limiter.pace(1)
    assert (later.delay, later.notice) == (5.0, False)
    clock.now += 20  # all sent, and a quiet window: the bucket is full, the episode over
    assert [limiter.pace(1) for _ in range(4)] == [flood.AT_ONCE] * 4
    again = limiter.pace(1)
    assert (again.delay, again.notice) == (2.5, True)

    clock.now += 60
    limiter.pace(4)
    assert len(limiter) == 1  # full buckets forgotten: memory stays small
    off = FloodLimiter.from_setting(0)
    assert all(off.pace(5) is flood.AT_ONCE for _ in range(1000))
    assert FloodLimiter.from_setting(7).staff_limit == 35


def test_limiter_does_not_pace_the_last_message_of_a_burst_by_rounding() -> None:
    limiter = FloodLimiter(limit=3, window=10, staff_limit=15, clock=FakeClock())
    assert [limiter.pace(1).delay for _ in range(3)] == [0, 0, 0]  # 10/3 does not add up
    assert limiter.pace(1).notice
