"""An invite is redeemed once, even by two redemptions at the same moment."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import event, select
from sqlalchemy.util import await_only

from bot.services import invites
from bot.services.errors import Invalid
from bot.services.users import Actor
from storage.db import create_engine, create_session_factory
from storage.models import AgentInvite, Role, User


async def test_two_concurrent_redemptions_make_exactly_one_agent(database_url) -> None:
    engine = create_engine(database_url)
    factory = create_session_factory(engine)
    admin = Actor(user_id=0, telegram_id=900, role=Role.ADMIN, name="Ada", registered=True)
    async with factory() as session, session.begin():
        people = [User(telegram_id=5001, name="Kim"), User(telegram_id=5002, name="Lee")]
        session.add_all(people)
        invite = await invites.create(session, by=admin, name="Sam Support")
    ids = [person.id for person in people]

    # Both redemptions read the unused invite before either writes: the race at its worst.
    both_read = asyncio.Barrier(2)

    def after_execute(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "agent_invites" in statement:
            with contextlib.suppress(TimeoutError):
                await_only(asyncio.wait_for(both_read.wait(), 3))

    event.listen(engine.sync_engine, "after_cursor_execute", after_execute)

    async def redeem(user_id: int) -> str:
        try:
            async with factory() as session, session.begin():
                user = await session.get(User, user_id)
                await invites.redeem(session, user=user, token=invite.token, is_admin=False)
        except Invalid as refusal:
            return refusal.message
        return "agent"

    try:
        answers = await asyncio.gather(*(redeem(user_id) for user_id in ids))
        event.remove(engine.sync_engine, "after_cursor_execute", after_execute)
        async with factory() as session:
            roles = list(await session.scalars(select(User.role).order_by(User.telegram_id)))
            stored = await session.scalar(select(AgentInvite))
    finally:
        await engine.dispose()

    assert answers.count("agent") == 1, answers
    winner = answers.index("agent")
    assert "already been used" in answers[1 - winner]
    assert roles.count(Role.AGENT) == 1 and roles[winner] == Role.AGENT
    assert stored.used_by == 5001 + winner
