"""The guard's read of who is writing (users.touch) writes only when something changed."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import event, select

from bot.clock import utcnow
from bot.services import users
from storage.db import create_engine, create_session_factory
from storage.models import User


@pytest.fixture
async def sessions(database_url):  # type: ignore[no-untyped-def]
    engine = create_engine(database_url)
    writes: list[str] = []

    def on_statement(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement.split()[0])

    event.listen(engine.sync_engine, "before_cursor_execute", on_statement)
    factory = create_session_factory(engine)
    factory.writes = writes  # type: ignore[attr-defined]
    yield factory
    await engine.dispose()


async def _touch(sessions, username: str | None = "ann") -> users.Actor:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        actor, _ = await users.touch(
            session, telegram_id=501, username=username, language="en", is_admin=False
        )
        await session.commit()
    return actor


async def test_touch_reads_unless_stale_new_or_changed(sessions) -> None:  # type: ignore[no-untyped-def]
    await _touch(sessions)
    assert sessions.writes == ["INSERT"]  # a new person
    sessions.writes.clear()
    await _touch(sessions)
    assert sessions.writes == []  # seconds later, nothing changed: a read only
    with time_machine.travel(utcnow() + timedelta(minutes=2), tick=False):
        await _touch(sessions)
        assert sessions.writes == ["UPDATE"]  # last_active_at was more than a minute old
        async with sessions() as session:
            stored = await session.scalar(select(User.last_active_at))
        assert utcnow() - stored < timedelta(seconds=1)
    sessions.writes.clear()
    actor = await _touch(sessions, username="ann_new")
    assert sessions.writes == ["UPDATE"]  # a new username is kept at once
    assert actor.name == "@ann_new"
