"""SIGTERM and Ctrl-C: the process exits within 10 s with status 0 and nothing queued is lost."""

from __future__ import annotations

import asyncio
import signal

import pytest
from sqlalchemy import select

from bot.standin import BotApiStandin
from storage.models import Delivery, EmailOutbox, Message
from tests.e2e.processes import AGENT_ID, texts, ticket_assigned_to_agent
from tests.support import databases
from tests.support.harness import BOT_USERNAME, TOKEN
from tests.support.process import BotProcess, bot_environment

pytestmark = pytest.mark.slow


def environment(standin: BotApiStandin, url: str) -> dict[str, str]:
    return bot_environment(standin, url, REQUIRE_EMAIL_VERIFICATION="false")


async def test_sigterm_while_a_delivery_hangs_exits_and_keeps_it_pending(tmp_path) -> None:
    url = databases.database_url(tmp_path)
    async with BotApiStandin(token=TOKEN, bot_username=BOT_USERNAME) as standin:
        bot = BotProcess(standin, environment(standin, url), tmp_path / "bot.log")
        await bot.start()
        try:
            alice, agent = await ticket_assigned_to_agent(standin)

            # The agent's chat stops answering: the send hangs, nothing is accepted.
            standin.faults.add("sendMessage", "timeout", chat_id=AGENT_ID, hold=60, times=None)
            await alice.send("Are you there?")
            await bot.wait_for(lambda: standin.faults.injected, within=10, what="sending")
            status, seconds = await bot.signal(signal.SIGTERM)
            assert status == 0, bot.log()[-3000:]
            assert seconds < 10
            assert "stopped; pending deliveries and mails stay queued" in bot.log()

            rows = databases.fetch(
                url, select(Delivery.status, Delivery.payload).where(Delivery.chat_id == AGENT_ID)
            )
            held = [status for status, payload in rows if "Are you there?" in str(payload)]
            assert held == ["pending"]

            standin.faults.clear()
            await bot.start()
            await agent.receive_text("Are you there?", timeout=15)
            await asyncio.sleep(0.5)
        finally:
            await bot.stop()
        assert len(texts(agent, "Are you there?")) == 1


async def test_ctrl_c_right_after_a_message_loses_and_doubles_nothing(tmp_path) -> None:
    url = databases.database_url(tmp_path)
    async with BotApiStandin(token=TOKEN, bot_username=BOT_USERNAME) as standin:
        bot = BotProcess(standin, environment(standin, url), tmp_path / "bot.log")
        await bot.start()
        try:
            alice, agent = await ticket_assigned_to_agent(standin)
            for number in range(1, 6):
                await alice.send(f"Update {number}")
            status, seconds = await bot.signal(signal.SIGINT)  # while those are in flight
            assert status == 0, bot.log()[-3000:]
            assert seconds < 10
            # Each update was handled and stored, or is still unacknowledged (so comes again).
            stored = {text for (text,) in databases.fetch(url, select(Message.text))}
            unacknowledged = {u["message"].get("text") for u in standin.pending_updates}
            assert {f"Update {n}" for n in range(1, 6)} <= stored | unacknowledged

            await bot.start()
            await agent.wait_until(
                lambda inbox: sum("Update 5" in (m.get("text") or "") for m in inbox), timeout=15
            )
            await asyncio.sleep(0.5)
        finally:
            await bot.stop()
        relayed = [text.split("\n")[-1] for text in texts(agent, "Update ")]
        assert relayed == [f"Update {number}" for number in range(1, 6)]


async def test_sigterm_while_a_mail_server_hangs_exits_within_10_s_mail_still_queued(
    tmp_path,
) -> None:
    url = databases.database_url(tmp_path)

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts, never greets: smtplib waits for its 20 s timeout
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, BotApiStandin(token=TOKEN, bot_username=BOT_USERNAME) as standin:
        env = bot_environment(
            standin,
            url,
            EMAIL_BACKEND="smtp",
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(port),
            SMTP_STARTTLS="false",
        )
        bot = BotProcess(standin, env, tmp_path / "bot.log")
        await bot.start()
        try:
            alice = standin.user(1001, first_name="Alice")
            await alice.send("/start")
            await alice.receive_text("full name", timeout=10)
            await alice.send("Alice")
            await alice.receive_text("email")
            await alice.send("alice@example.com")
            await alice.receive_text("6-digit code")  # the code's mail is being sent: it hangs
            await asyncio.sleep(0.5)
            status, seconds = await bot.signal(signal.SIGTERM)
        finally:
            await bot.stop()
    assert status == 0, bot.log()[-3000:]
    assert seconds < 10
    mails = databases.fetch(url, select(EmailOutbox.status, EmailOutbox.sent_at))
    assert mails == [("pending", None)]
