"""The per-user flood limit: one polite notice, later updates dropped, nothing accepted lost."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.services import flood
from bot.services.flood import FloodLimiter, Verdict
from storage.models import Message, User
from tests.support.harness import Harness, assigned_ticket, started_bot


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _customer_messages(harness: Harness) -> list[str]:
    async with harness.resources.session_factory() as session:
        rows = await session.scalars(
            select(Message.text).where(Message.kind == "customer").order_by(Message.id)
        )
        return list(rows)


def _relayed(agent, number: int) -> list[str]:
    prefix = f"#{number} · Alice\n"
    return [m["text"][len(prefix) :] for m in agent.inbox if m.get("text", "").startswith(prefix)]


async def test_flooding_customer_is_told_once_and_nothing_accepted_is_lost(tmp_path) -> None:
    async with started_bot(tmp_path, flood_limit=20) as harness:
        assert harness.application.bot_data.flood.limit == 20  # FLOOD_LIMIT wired
        customer, agent, number = await assigned_ticket(harness)
        clock = FakeClock()
        harness.application.bot_data.flood = FloodLimiter(
            limit=20, window=10, staff_limit=100, clock=clock
        )
        seen_before = len(customer.inbox)
        for n in range(30):  # all within the same instant
            await customer.send(f"m{n}")
        await agent.wait_until(lambda _: len(_relayed(agent, number)) >= 20, timeout=15)
        await customer.wait_until(lambda inbox: len(inbox) > seen_before, timeout=5)
        await asyncio.sleep(0.5)  # the rest are handled (dropped) too
        assert _relayed(agent, number) == [f"m{n}" for n in range(20)]
        notices = [m["text"] for m in customer.inbox[seen_before:]]
        assert notices == [flood.SLOW_DOWN]
        assert await _customer_messages(harness) == [f"m{n}" for n in range(20)]

        # Still inside the window: dropped without a second notice, and without any work
        # (not even the user's last-active time is written).
        async with harness.resources.session_factory() as session:
            active_before = await session.scalar(
                select(User.last_active_at).where(User.telegram_id == customer.id)
            )
        await customer.send("/help")
        await customer.send("late")
        await asyncio.sleep(0.5)
        assert len(customer.inbox) == seen_before + 1
        async with harness.resources.session_factory() as session:
            active_after = await session.scalar(
                select(User.last_active_at).where(User.telegram_id == customer.id)
            )
        assert active_after == active_before

        # The window has passed: everything works again.
        clock.now += 10.5
        await customer.send("after the pause")
        await agent.wait_until(lambda _: _relayed(agent, number)[-1:] == ["after the pause"], 5)
        await customer.send("/help")
        await customer.receive_text("What you can do here")
        assert len(await _customer_messages(harness)) == 21


async def test_staff_have_a_higher_limit(tmp_path) -> None:
    async with started_bot(tmp_path, flood_limit=20) as harness:
        customer, agent, number = await assigned_ticket(harness)
        harness.application.bot_data.flood = FloodLimiter(
            limit=20, window=10, staff_limit=100, clock=FakeClock()
        )
        for n in range(40):
            await agent.send(f"/reply {number} a{n}")
        await customer.wait_until(
            lambda inbox: sum(m.get("text", "").endswith("\na39") for m in inbox) == 1, 20
        )
        assert not any(flood.SLOW_DOWN in m.get("text", "") for m in agent.inbox)
        assert [m["text"].rsplit("\n", 1)[-1] for m in customer.inbox[-40:]] == [
            f"a{n}" for n in range(40)
        ]


async def test_flood_on_buttons_is_answered_at_the_button(tmp_path) -> None:
    async with started_bot(tmp_path, flood_limit=20) as harness:
        customer = harness.user(1001, "Alice", "alice")
        harness.application.bot_data.flood = FloodLimiter(limit=3, window=10, clock=FakeClock())
        await customer.send("/help")
        shown = await customer.receive_text("What you can do here")
        queries = [await customer.press_data(shown, "page:all:0") for _ in range(4)]
        answers = harness.standin.callback_answers
        await customer.wait_until(lambda _: queries[2] in answers, 5)
        await asyncio.sleep(0.3)
        assert queries[0] in answers and queries[1] in answers
        assert answers[queries[2]]["text"] == flood.SLOW_DOWN
        assert queries[3] not in answers  # dropped: told once already


async def test_off_when_the_setting_is_zero(harness: Harness) -> None:
    assert harness.settings.flood_limit == 0
    customer = harness.user(1001, "Alice", "alice")
    for _ in range(60):
        await customer.send("/help")
    await customer.wait_until(lambda inbox: len(inbox) == 60, timeout=20)
    assert not any(flood.SLOW_DOWN in m["text"] for m in customer.inbox)


def test_limiter_slides_warns_once_per_window_and_forgets_idle_users() -> None:
    clock = FakeClock()
    limiter = FloodLimiter(limit=3, window=10, staff_limit=5, clock=clock)
    assert [limiter.check(1) for _ in range(3)] == [Verdict.ACCEPT] * 3
    assert limiter.check(1) is Verdict.WARN
    assert limiter.check(1) is Verdict.DROP
    assert limiter.check(2) is Verdict.ACCEPT  # others are not affected
    assert [limiter.check(3, staff=True) for _ in range(6)] == [Verdict.ACCEPT] * 5 + [Verdict.WARN]
    clock.now += 5
    assert limiter.check(1) is Verdict.DROP  # the first three are still in the window
    clock.now += 5.1
    assert limiter.check(1) is Verdict.ACCEPT  # they slid out
    assert [limiter.check(1) for _ in range(3)] == [Verdict.ACCEPT] * 2 + [Verdict.WARN]
    clock.now += 30
    limiter.check(4)
    assert len(limiter) == 1  # idle users forgotten: memory stays small
    off = FloodLimiter.from_setting(0)
    assert all(off.check(5) is Verdict.ACCEPT for _ in range(1000))
    assert FloodLimiter.from_setting(7).staff_limit == 35
