"""The live bot and `python bot.py job delivery-sweep` from cron send one backlog together.

Both claim a chat's rows before sending them (bot/delivery.py, storage/claims.py), so each
row reaches its chat exactly once and every chat's rows arrive in the order they were queued,
whichever process sends them, also when a chat changes hands after a failed send.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from sqlalchemy import func, insert, select
from telegram import Bot

import bot.jobs
from bot import delivery
from bot.delivery import DeliverySender
from storage.models import Delivery
from tests.support.harness import TOKEN, Harness, started_bot
from tests.support.process import ROOT, bot_environment

CHATS = list(range(3001, 3013))
ROWS_PER_CHAT = 25
FAILING_FIRST = CHATS[:4]  # their first send fails (502): the chat is given back, taken again


def text(chat_id: int, number: int) -> str:
    return f"backlog {chat_id} #{number:02d}"


async def queue_backlog(harness: Harness) -> None:
    """Rows written straight into the queue, interleaved across chats; nobody is woken."""
    rows = [
        {"chat_id": chat_id, "payload": {"type": "text", "text": text(chat_id, number)}}
        for number in range(ROWS_PER_CHAT)
        for chat_id in CHATS
    ]
    async with harness.resources.session_factory() as session:
        await session.execute(insert(Delivery), rows)
        await session.commit()


async def count(harness: Harness, *where: object) -> int:
    async with harness.resources.session_factory() as session:
        return await session.scalar(select(func.count()).select_from(Delivery).where(*where))


async def start_sweep(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "bot.py",
        "job",
        "delivery-sweep",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def until(condition, *, within: float, what: str) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"not {what} within {within}s")
        await asyncio.sleep(0.05)


async def test_live_bot_and_cron_sweep_send_each_row_once_in_order(tmp_path, monkeypatch) -> None:
    # The bot sends when kicked (as by live traffic) or when a retry falls due; its own
    # periodic sweep would only add a third sender to the two under test.
    monkeypatch.setattr(bot.jobs, "SWEEP_INTERVAL_SECONDS", 3600)
    async with started_bot(tmp_path) as harness:
        standin = harness.standin
        for chat_id in CHATS:
            standin.user(chat_id, first_name=f"Chat{chat_id}").chat.known = True
        await asyncio.sleep(1.5)  # the bot's first sweep (1 s after start) has run
        standin.latency = 0.01  # a round trip to Telegram: sends take a while
        for chat_id in FAILING_FIRST:
            standin.faults.add("sendMessage", "502", chat_id=chat_id, times=1)
        await queue_backlog(harness)
        env = bot_environment(standin, harness.settings.database_url)

        # The cron job starts first and claims the backlog; the live bot keeps being kicked,
        # and cron runs the job again whenever the last run ended, until all is sent.
        job = await start_sweep(env)
        claimed_by_job = Delivery.claimed_by.like("job:%")
        await until(lambda: count(harness, claimed_by_job), within=20, what="claimed by the job")
        standin.faults.random(rate=0.05, kinds=["502"], methods=["sendMessage"], seed=14)
        outputs: list[bytes] = []
        sender = harness.application.bot_data.delivery
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while await count(harness, Delivery.status == "pending"):
            assert loop.time() < deadline, "the backlog was not sent within 60 s"
            sender.kick()
            if job.returncode is not None:
                output, _ = await job.communicate()
                assert job.returncode == 0, output.decode()
                outputs.append(output)
                job = await start_sweep(env)
            await asyncio.sleep(0.05)
        output, _ = await job.communicate()
        outputs.append(output)
        standin.faults.clear()
        await sender.wait_idle()

        for chat_id in CHATS:
            received = [message["text"] for message in standin.user(chat_id).inbox]
            assert received == [text(chat_id, number) for number in range(ROWS_PER_CHAT)]
        async with harness.resources.session_factory() as session:
            senders = set(
                await session.scalars(select(Delivery.claimed_by).where(Delivery.status == "sent"))
            )
        assert {name.split(":")[0] for name in senders} == {"bot", "job"}
        sent_by_jobs = sum(
            int(output.decode().rsplit("delivered ", 1)[1].split()[0]) for output in outputs
        )
        sent_by_bot = await count(harness, Delivery.claimed_by.like("bot:%"))
        assert sent_by_jobs > 0 and sent_by_bot > 0
        assert sent_by_jobs + sent_by_bot == len(CHATS) * ROWS_PER_CHAT


async def test_a_claim_is_renewed_while_its_chat_is_sent_to(tmp_path, monkeypatch) -> None:
    """Sending a chat's backlog outlasts the lease: renewed, it is never taken over."""
    monkeypatch.setattr(bot.jobs, "SWEEP_INTERVAL_SECONDS", 3600)
    monkeypatch.setattr(delivery, "LEASE", timedelta(seconds=1.2))
    monkeypatch.setattr(delivery, "RENEW_EVERY", 0.3)
    monkeypatch.setattr(delivery, "LEASE_MARGIN", 0.4)
    async with started_bot(tmp_path) as harness:
        standin = harness.standin
        chat_id = CHATS[0]
        standin.user(chat_id, first_name="Chat").chat.known = True
        await asyncio.sleep(1.5)  # the bot's first sweep (1 s after start) has run
        standin.latency = 0.15  # 20 sends: about 3 s, more than twice the lease
        async with harness.resources.session_factory() as session:
            await session.execute(
                insert(Delivery),
                [
                    {"chat_id": chat_id, "payload": {"type": "text", "text": text(chat_id, n)}}
                    for n in range(20)
                ],
            )
            await session.commit()
        sender = harness.application.bot_data.delivery
        sender.kick()
        other_bot = Bot(TOKEN, base_url=f"{standin.url}/bot")
        async with other_bot:
            other = DeliverySender(harness.resources.session_factory, other_bot, role="job")
            while await count(harness, Delivery.status == "pending"):
                await other.sweep()  # a job that tries again and again meanwhile
                await asyncio.sleep(0.1)
            await other.close(grace=5)
        await sender.wait_idle()
        received = [message["text"] for message in standin.user(chat_id).inbox]
        assert received == [text(chat_id, n) for n in range(20)]
        assert other.delivered == 0
        assert await count(harness, Delivery.claimed_by.like("bot:%")) == 20
