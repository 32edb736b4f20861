"""Dialogues survive SIGKILL, and an update delivered twice is not replayed."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import select

from bot import delivery
from bot.jobs import SWEEP_INTERVAL_SECONDS
from bot.standin import BotApiStandin
from storage.db import create_engine, create_session_factory
from storage.models import EmailOutbox, Ticket, User
from tests.e2e.processes import ticket_assigned_to_agent
from tests.support import databases
from tests.support.harness import BOT_USERNAME, TOKEN, Harness
from tests.support.process import BotProcess, bot_environment


async def read_code(url: str, address: str) -> str:
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            text = await session.scalar(
                select(EmailOutbox.text)
                .where(EmailOutbox.recipient == address)
                .order_by(EmailOutbox.id.desc())
            )
            return re.search(r"\b(\d{6})\b", text).group(1)
    finally:
        await engine.dispose()


async def attempted(standin: BotApiStandin) -> None:
    """Until the stand-in has held back a call with an injected fault."""
    for _ in range(200):
        if standin.faults.injected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the faulty call was never attempted")


@pytest.mark.slow
async def test_sigkill_mid_dialogues_continues_after_restart(tmp_path) -> None:
    url = databases.database_url(tmp_path)
    async with BotApiStandin(token=TOKEN, bot_username=BOT_USERNAME) as standin:
        bot = BotProcess(standin, bot_environment(standin, url), tmp_path / "bot.log")
        alice = standin.user(1001, first_name="Alice")
        await bot.start()
        try:
            await alice.send("/start")
            await alice.receive_text("full name", timeout=10)
            await alice.send("Alice Liddell")
            await alice.receive_text("email")
            await alice.send("alice@example.com")
            await alice.receive_text("6-digit code")
            await bot.kill()  # mid-registration, after the code question

            await bot.start()
            await alice.send(await read_code(url, "alice@example.com"))
            await alice.receive_text("verified", timeout=10)
            await alice.send("/skip")
            await alice.receive_text("all set")

            await alice.send("/new")
            await alice.receive_text("subject")
            await alice.send("Lost parcel")
            await alice.receive_text("Describe")
            await bot.kill()  # mid-/new, after the description question

            await bot.start()
            await alice.send("It never arrived.")
            buttons = await alice.receive_text("How urgent", timeout=10)
            await alice.press(buttons, "High")
            await alice.receive_text("is open")
        finally:
            await bot.stop()

    engine = create_engine(url)
    async with create_session_factory(engine)() as session:
        user = await session.scalar(select(User).where(User.telegram_id == 1001))
        ticket = await session.scalar(select(Ticket))
    await engine.dispose()
    assert user.name == "Alice Liddell" and user.email_verified_at is not None
    assert (ticket.subject, ticket.description, ticket.priority) == (
        "Lost parcel",
        "It never arrived.",
        3,
    )


async def test_update_delivered_twice_is_not_replayed(harness: Harness) -> None:
    alice = harness.user(1001, "Alice")
    await alice.send("/start")
    await alice.receive_text("full name")
    await harness.standin.wait_acknowledged()
    await harness.application.updater.stop()
    answer = await alice.send("Alice")
    update_id = harness.standin.store.updates[-1]["update_id"]
    harness.standin.push_update({"update_id": update_id, "message": answer})
    await harness.application.updater.start_polling(poll_interval=0, timeout=1)

    await alice.receive_text("What is your email")
    repeated = await alice.receive_text("What is your email")  # the question, asked again
    assert "Alice" in repeated["text"]
    await alice.send("alice@example.com")
    await alice.receive_text("6-digit code")
    assert not [m for m in alice.inbox if "does not look like an email" in (m.get("text") or "")]


async def test_silent_dialogue_times_out(tmp_path) -> None:
    from tests.support.harness import started_bot

    async with started_bot(tmp_path, dialogue_timeout_minutes=0.02) as harness:
        alice = harness.user(1001, "Alice")
        await alice.send("/start")
        await alice.receive_text("full name")
        await alice.receive_text("timed out", timeout=10)
        await alice.send("Alice")
        await alice.receive_text("register first")


@pytest.mark.slow
async def test_sigkill_between_storing_and_delivering_delivers_once(tmp_path) -> None:
    url = databases.database_url(tmp_path)
    async with BotApiStandin(token=TOKEN, bot_username=BOT_USERNAME) as standin:
        env = bot_environment(standin, url, REQUIRE_EMAIL_VERIFICATION="false")
        bot = BotProcess(standin, env, tmp_path / "bot.log")
        await bot.start()
        try:
            alice, agent = await ticket_assigned_to_agent(standin)

            # The agent's chat stops answering: the send hangs, nothing is accepted.
            standin.faults.add("sendMessage", "timeout", chat_id=2001, hold=60, times=None)
            await alice.send("Are you there?")
            await attempted(standin)
            await bot.kill()  # stored, attempted, not delivered

            standin.faults.clear()
            await bot.start()
            # The dead process had claimed the row: it is sent once that claim lapses.
            lapse = delivery.LEASE.total_seconds() + SWEEP_INTERVAL_SECONDS
            await agent.receive_text("Are you there?", timeout=lapse + 15)
            await asyncio.sleep(1)
        finally:
            await bot.stop()
        relayed = [m for m in agent.inbox if "Are you there?" in (m.get("text") or "")]
        assert len(relayed) == 1


@pytest.mark.slow
async def test_sigkill_before_an_update_is_processed_gets_it_again(tmp_path) -> None:
    """An update fetched but not fully processed is not acknowledged, so it comes back."""
    url = databases.database_url(tmp_path)
    async with BotApiStandin(token=TOKEN, bot_username=BOT_USERNAME) as standin:
        bot = BotProcess(standin, bot_environment(standin, url), tmp_path / "bot.log")
        alice = standin.user(1001, first_name="Alice")
        await bot.start()
        try:
            await alice.send("/start")
            await alice.receive_text("full name", timeout=10)
            # The answer to the next message hangs: its update is fetched, not finished.
            standin.faults.add("sendMessage", "timeout", chat_id=1001, hold=60, times=None)
            await alice.send("Alice Liddell")
            await attempted(standin)
            await asyncio.sleep(0.5)  # time enough for another getUpdates, were it to come
            await bot.kill()

            standin.faults.clear()
            await bot.start()
            # Redelivered after the restart: the step was stored, so the question is repeated.
            asked = await alice.receive_text("What is your email", timeout=15)
            assert "Alice Liddell" in asked["text"]
            await alice.send("alice@example.com")
            await alice.receive_text("6-digit code")
        finally:
            await bot.stop()


@pytest.mark.slow
async def test_sigkill_after_a_topic_is_created_before_its_id_is_stored_loses_nothing(
    tmp_path,
) -> None:
    url = databases.database_url(tmp_path)
    async with BotApiStandin(
        token=TOKEN, bot_username=BOT_USERNAME, topics_enabled=True
    ) as standin:
        env = bot_environment(standin, url, REQUIRE_EMAIL_VERIFICATION="false")
        bot = BotProcess(standin, env, tmp_path / "bot.log")
        await bot.start()
        try:
            # Telegram creates the agent's topic, but its answer never reaches the bot.
            standin.faults.add("createForumTopic", "drop_after_accept", chat_id=2001, hold=60)
            _, agent = await ticket_assigned_to_agent(standin, card=None)
            await attempted(standin)
            await bot.kill()  # the topic exists; its id was never stored

            standin.faults.clear()
            await bot.start()
            # The killed process's claim on the chat lapses first (LEASE, then a sweep).
            card = await agent.receive_text("Subject: Broken", timeout=40)
        finally:
            await bot.stop()
    opened = [t for t in agent.topics.values() if t.name == "#1 · Broken"]
    assert len(opened) == 2  # the first stays empty; the card went into the second
    assert card["message_thread_id"] == opened[1].thread_id
    assert len([m for m in agent.inbox if "Subject: Broken" in (m.get("text") or "")]) == 1
