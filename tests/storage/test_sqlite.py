"""SQLite runs on the event loop's thread and waits for other processes' locks on the loop.

These use a SQLite file of their own whatever backend the suite runs on: the behaviour is
SQLite's.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import OperationalError

from storage import db, sqlite
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import JobRun


@pytest.fixture
def database(tmp_path) -> tuple[str, str]:
    path = tmp_path / "helpdesk.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    return url, str(path)


async def _claim(sessions, period: str) -> None:
    async with sessions() as session:
        await session.execute(insert(JobRun).values(job="test", period=period))
        await session.commit()


async def _count(sessions) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(JobRun))


@pytest.mark.skipif(
    db.DEFAULT_SQLITE_DRIVER != "inline", reason="the inline driver's: stock aiosqlite has threads"
)
async def test_statements_run_on_the_loop_thread_without_a_thread_per_connection(
    database,
) -> None:
    url, _ = database
    engine = create_engine(url)
    threads = set(threading.enumerate())
    try:
        sessions = create_session_factory(engine)
        await _claim(sessions, "p1")
        assert await _count(sessions) == 1
        # aiosqlite would have started one (a thread left by an earlier test may end meanwhile)
        assert set(threading.enumerate()) <= threads
    finally:
        await engine.dispose()


async def test_writer_waits_for_another_process_on_the_loop_then_writes(database) -> None:
    url, path = database
    other = sqlite3.connect(path, isolation_level=None)  # another process, as far as SQLite knows
    other.execute("BEGIN IMMEDIATE")
    engine = create_engine(url)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        sessions = create_session_factory(engine)
        loop = asyncio.get_running_loop()
        loop.call_later(0.3, other.execute, "COMMIT")
        started = time.monotonic()
        await _claim(sessions, "p1")
        waited = time.monotonic() - started
        assert waited >= 0.25  # it did wait for the other writer...
        assert ticks >= 10  # ...and the loop kept running meanwhile
        assert await _count(sessions) == 1
    finally:
        ticker.cancel()
        other.close()
        await engine.dispose()


async def test_writer_gives_up_after_the_lock_wait_and_the_next_writer_proceeds(
    database, monkeypatch
) -> None:
    url, path = database
    monkeypatch.setattr(sqlite, "LOCK_WAIT_SECONDS", 0.2)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    engine = create_engine(url)
    try:
        sessions = create_session_factory(engine)
        with pytest.raises(OperationalError, match="database is locked"):
            await _claim(sessions, "p1")
        other.execute("COMMIT")
        # the failed writer gave back this process's write turn: the next one gets it
        await asyncio.wait_for(_claim(sessions, "p2"), 2)
        assert await _count(sessions) == 1
    finally:
        other.close()
        await engine.dispose()


async def test_a_claim_through_a_cte_waits_for_a_writer_of_the_same_process(database) -> None:
    """`WITH picked AS (...) UPDATE ...` (storage/claims.py) is a write: it queues behind the
    process's other writer instead of failing with "database is locked"."""
    from bot.clock import utcnow
    from storage import claims
    from storage.models import EmailOutbox

    url, _ = database
    engine = create_engine(url)
    try:
        sessions = create_session_factory(engine)
        async with sessions() as session:
            await session.execute(
                insert(EmailOutbox).values(
                    recipient="a@example.com", subject="s", text="t", kind="k", dedupe_key="d1"
                )
            )
            await session.commit()
        async with sessions() as holder:
            await holder.execute(insert(JobRun).values(job="test", period="held"))  # writing

            async def claim() -> int:
                async with sessions() as session:
                    due = select(EmailOutbox).where(EmailOutbox.status == "pending")
                    rows = await claims.claim(
                        session, EmailOutbox, due, values={"next_try_at": utcnow()},
                        returning=(EmailOutbox.id,),
                    )  # fmt: skip
                    found = len(rows.all())
                    await session.commit()
                    return found

            waiting = asyncio.ensure_future(claim())
            await asyncio.sleep(0.2)
            assert not waiting.done()  # queued behind the holder, not refused
            await holder.commit()
        assert await asyncio.wait_for(waiting, 5) == 1
    finally:
        await engine.dispose()
