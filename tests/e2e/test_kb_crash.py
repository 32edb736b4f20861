"""An article offered by /new survives SIGKILL of the bot: the answer after the restart counts."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.kb.files import read_folder
from bot.services import kb
from bot.standin import BotApiStandin
from storage.db import create_engine, create_session_factory
from storage.models import KbArticle, KbOffer, Ticket
from tests.support import databases
from tests.support.harness import BOT_USERNAME, TOKEN
from tests.support.process import ROOT, BotProcess, bot_environment


async def in_session(url: str, work):  # type: ignore[no-untyped-def]
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            result = await work(session)
            await session.commit()
            return result
    finally:
        await engine.dispose()


@pytest.mark.slow
async def test_sigkill_while_an_article_is_shown_continues_after_restart(tmp_path) -> None:
    url = databases.database_url(tmp_path)

    async def load(session):  # type: ignore[no-untyped-def]
        return await kb.import_articles(session, read_folder(ROOT / "examples" / "kb"))

    await in_session(url, load)
    async with BotApiStandin(token=TOKEN, bot_username=BOT_USERNAME) as standin:
        env = bot_environment(standin, url, REQUIRE_EMAIL_VERIFICATION="false")
        bot = BotProcess(standin, env, tmp_path / "bot.log")
        alice = standin.user(1001, first_name="Alice")
        await bot.start()
        try:
            await alice.send("/start")
            await alice.receive_text("full name", timeout=10)
            await alice.send("Alice Liddell")
            await alice.receive_text("email")
            await alice.send("alice@example.com")
            await alice.receive_text("phone")
            await alice.send("/skip")
            await alice.receive_text("all set")
            await alice.send("/new")
            await alice.receive_text("subject")
            await alice.send("Parcel")
            await alice.receive_text("Describe")
            await alice.send("My order is late, the delivery date has passed")
            offered = await alice.receive_text("These articles may answer it", timeout=15)
            await alice.press(offered, "My order is late")
            shown = await alice.receive_text("Deliveries normally take")
            await bot.kill()  # the article is on the screen, its buttons not pressed yet

            await bot.start()
            await alice.press(shown, "That solved it")
            await alice.receive_text("Glad it helped", timeout=15)
        finally:
            await bot.stop()

    async def outcome(session):  # type: ignore[no-untyped-def]
        offers = list(await session.scalars(select(KbOffer)))
        article = await session.scalar(select(KbArticle).where(KbArticle.key == "order-late"))
        return offers, await session.scalar(select(Ticket)), article

    offers, ticket, article = await in_session(url, outcome)
    assert [(o.outcome, o.article_id) for o in offers] == [("solved", article.id)]
    assert ticket is None and (article.shown, article.solved) == (1, 1)
