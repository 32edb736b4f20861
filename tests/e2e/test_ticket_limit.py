"""A customer has at most 10 active (not Closed) tickets."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.services import lifecycle
from bot.services.errors import Invalid
from bot.services.users import actor_of
from storage.models import Priority, Ticket, User
from tests.support.harness import Harness

LIMIT = 10


async def ticket_count(harness: Harness) -> int:
    async with harness.resources.session_factory() as session:
        return await session.scalar(select(func.count()).select_from(Ticket))


async def test_new_refuses_the_eleventh_active_ticket_before_asking(harness: Harness) -> None:
    alice = harness.user(1001, "Alice")
    await harness.register(alice, name="Alice", email="alice@example.com")
    numbers = [
        await harness.open_ticket(alice, subject=f"Problem {i}", description="Details")
        for i in range(LIMIT)
    ]

    await alice.send("/new")
    refusal = await alice.receive_text("active tickets")
    assert "10 active tickets" in refusal["text"] and "/close" in refusal["text"]
    assert "subject" not in refusal["text"]
    assert await ticket_count(harness) == LIMIT

    # The service refuses too, whatever path would open one.
    async with harness.resources.session_factory() as session:
        user = await session.scalar(select(User).where(User.telegram_id == 1001))
        with pytest.raises(Invalid, match="10 active tickets"):
            await lifecycle.open_ticket(
                session,
                customer=actor_of(user, is_admin=False),
                subject="Sneaky",
                description="Another one",
                priority=Priority.LOW,
                auto_assign=False,
            )
    assert await ticket_count(harness) == LIMIT

    # A Closed ticket no longer counts: closing one makes room for exactly one more.
    await alice.send(f"/close {numbers[0]}")
    await alice.receive_text("closed")
    await harness.open_ticket(alice, subject="Problem 11", description="Details")
    await alice.send("/new")
    await alice.receive_text("10 active tickets")
    assert await ticket_count(harness) == LIMIT + 1
