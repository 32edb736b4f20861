"""Claiming Telegram deliveries (storage/claims.py through bot/delivery.py's sender).

A chat's pending rows belong to one process at a time, for the lease; a claim never takes a
chat's newer rows without its older ones, even when PostgreSQL skips rows locked by a claim
still in progress.
"""

from __future__ import annotations

import asyncio

import pytest
import time_machine
from sqlalchemy import insert, select

from bot.clock import utcnow
from bot.delivery import _PENDING, LEASE, DeliverySender, _unfinished
from storage import claims
from storage.db import create_engine, create_session_factory
from storage.models import Delivery
from tests.support import databases


@pytest.fixture
async def sessions(database_url):  # type: ignore[no-untyped-def]
    engine = create_engine(database_url)
    yield create_session_factory(engine)
    await engine.dispose()


async def queue(sessions, *chat_ids: int) -> list[int]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        ids = []
        for chat_id in chat_ids:
            result = await session.execute(
                insert(Delivery)
                .values(chat_id=chat_id, payload={"type": "text", "text": "x"})
                .returning(Delivery.id)
            )
            ids.append(result.scalar_one())
        await session.commit()
    return ids


def sender(sessions, role: str) -> DeliverySender:  # type: ignore[no-untyped-def]
    return DeliverySender(sessions, bot=None, role=role)  # type: ignore[arg-type]


async def claim(who: DeliverySender) -> list[tuple[int, int]]:
    return [(row.chat_id, row.id) for row in await who._claim(_PENDING, busy=[])]


async def test_a_claimed_chat_is_held_from_another_process_until_given_back(sessions) -> None:
    first = await queue(sessions, 1, 2, 1)
    bot, job = sender(sessions, "bot"), sender(sessions, "job")
    assert await claim(bot) == [(1, first[0]), (2, first[1]), (1, first[2])]
    later = await queue(sessions, 1, 3)
    # Chat 1 is the bot's (its older rows are claimed): only chat 3 is free.
    assert await claim(job) == [(3, later[1])]
    await bot._release(chat_id=1)
    assert await claim(job) == [(1, first[0]), (1, first[2]), (1, later[0])]
    async with sessions() as session:
        rows = await session.execute(select(Delivery.id, Delivery.claimed_by))
        owners = {row.id: row.claimed_by for row in rows}
    assert owners[first[1]] == bot.name and owners[later[0]] == job.name


async def test_a_dead_process_claim_lapses_after_the_lease(sessions) -> None:
    ids = await queue(sessions, 1, 1)
    await claim(sender(sessions, "bot"))  # and the process dies: nothing renews or gives back
    job = sender(sessions, "job")
    assert await claim(job) == []
    with time_machine.travel(utcnow() + LEASE, tick=True):
        assert await claim(job) == [(1, ids[0]), (1, ids[1])]


@pytest.mark.skipif(not databases.is_postgresql(), reason="SKIP LOCKED is PostgreSQL's")
async def test_a_claim_in_progress_keeps_the_chat_whole(sessions) -> None:
    """PostgreSQL skips rows another claim has locked; the newer row must not go alone."""
    older = await queue(sessions, 1, 1, 2)
    async with sessions() as first:
        now = utcnow()
        taken = await claims.claim(
            first,
            Delivery,
            _PENDING,
            values={"claimed_by": "bot:a", "next_try_at": now + LEASE},
            returning=(Delivery.id,),
            in_order_of="chat_id",
            unfinished=_unfinished,
            params={"now": now, "busy": []},
        )
        assert sorted(taken.scalars()) == older  # locked, not committed yet
        newer = await queue(sessions, 1, 4)
        # Another process claims meanwhile: chat 1's older rows are locked (skipped), so
        # its newer row is not claimable alone; chat 4 is.
        assert await asyncio.wait_for(claim(sender(sessions, "job")), 5) == [(4, newer[1])]
        await first.commit()
