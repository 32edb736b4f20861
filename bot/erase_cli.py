"""`python bot.py erase USER_ID`: what /deleteme does, for an operator answering a request."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.config import Settings


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "erase",
        help="erase a customer's personal data, as /deleteme does",
        description="Erase a customer's personal data and close their tickets, as /deleteme does.",
    )
    parser.add_argument("user_id", metavar="USER_ID", help="the customer's Telegram user id")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace, settings: Settings) -> int:
    digits = args.user_id.strip()
    # Telegram user ids are positive (an erased person's pseudonym is not one).
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 18 or int(digits) == 0:
        print(f"erase: {args.user_id!r} is not a Telegram user id", file=sys.stderr)
        return 2
    return asyncio.run(_erase(settings, int(digits)))


async def _erase(settings: Settings, telegram_id: int) -> int:
    from bot.services import erasure
    from bot.services.errors import ServiceError
    from storage.db import create_engine, create_session_factory
    from storage.migrate import upgrade_async

    await upgrade_async(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            try:
                user = await erasure.by_telegram_id(session, telegram_id)
                done = await erasure.erase(session, user_id=user.id)
            except ServiceError as error:
                print(f"erase: {error.message}", file=sys.stderr)
                return 2
            await session.commit()
    finally:
        await engine.dispose()
    closed = ", ".join(f"#{n}" for n in done.closed) or "none"
    print(
        f"erased user {telegram_id}: {done.tickets} tickets anonymised (closed now: {closed}), "
        f"{done.messages} messages emptied, {done.deliveries} deliveries and {done.mails} mails "
        "dropped"
    )
    return 0
