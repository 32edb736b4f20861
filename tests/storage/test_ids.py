from __future__ import annotations

from sqlalchemy import select

from storage.db import create_engine, create_session_factory
from storage.models import Message, Ticket, User


async def test_number_beyond_32_bits_finds_nothing_and_fits_on_both_databases(
    database_url: str,
) -> None:
    # Row ids are BIGINT on PostgreSQL as on SQLite: a typed or forged ticket number above
    # 2**31 - 1 is simply not found, instead of the driver refusing the query.
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session, session.begin():
            assert await session.scalar(select(Ticket).where(Ticket.id == 99_999_999_999)) is None
            user = User(id=2**40, telegram_id=2**40)
            session.add(user)
            await session.flush()
            ticket = Ticket(customer_id=user.id, subject="Big", description="ids")
            session.add(ticket)
            await session.flush()
            session.add(Message(ticket_id=ticket.id, author_id=user.id, kind="customer"))
            await session.flush()
            found = await session.scalar(select(User.id).where(User.id == 2**40))
        assert found == 2**40
    finally:
        await engine.dispose()
