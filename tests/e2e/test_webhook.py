"""Webhook mode: the stand-in posts updates to the bot process; forged posts are refused."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import pytest
from sqlalchemy import func, select

from bot.runner import webhook_path
from bot.standin import BotApiStandin
from storage.db import create_engine
from storage.models import Message, User
from tests.e2e.processes import free_port, texts, ticket_assigned_to_agent
from tests.support import databases
from tests.support.harness import BOT_USERNAME, TOKEN
from tests.support.process import BotProcess, bot_environment

SECRET = "s3cret_Token-42"
MALLORY = 5555


def forged_start(update_id: int) -> dict:
    person = {"id": MALLORY, "is_bot": False, "first_name": "Mallory"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {**person, "type": "private"},
            "from": person,
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


def test_webhook_path_is_the_public_url_path() -> None:
    assert webhook_path("https://example.com/telegram/abc123") == "telegram/abc123"
    assert webhook_path("https://example.com/telegram/abc123/") == "telegram/abc123"
    assert webhook_path("https://example.com") == ""


@pytest.mark.slow
async def test_webhook_serves_a_whole_exchange_and_refuses_forged_posts(tmp_path) -> None:
    url = databases.database_url(tmp_path)
    port = free_port()
    hook = f"http://127.0.0.1:{port}/telegram/hook-7f3a"
    async with BotApiStandin(token=TOKEN, bot_username=BOT_USERNAME) as standin:
        env = bot_environment(
            standin,
            url,
            REQUIRE_EMAIL_VERIFICATION="false",
            WEBHOOK_URL=hook,
            WEBHOOK_SECRET=SECRET,
            WEBHOOK_LISTEN="127.0.0.1",
            WEBHOOK_PORT=str(port),
        )
        bot = BotProcess(standin, env, tmp_path / "bot.log")
        await bot.start()
        try:
            assert standin.webhook["url"] == hook
            assert standin.webhook["secret_token"] == SECRET

            alice, agent = await ticket_assigned_to_agent(standin)
            await alice.send("The printer is on fire")
            relayed = await agent.receive_text("The printer is on fire")
            await agent.reply(to=relayed, text="Stand back, we are coming")
            await alice.receive_text("Stand back, we are coming")
            assert standin.count("getUpdates") == 0  # everything came by webhook

            async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
                statuses = [
                    (
                        await client.post(hook, json=forged_start(10_000 + n), headers=headers)
                    ).status_code
                    for n, headers in enumerate(
                        [{"X-Telegram-Bot-Api-Secret-Token": "guessed"}, {}]
                    )
                ]
                # The same request with the right secret would have been taken.
                control = forged_start(10_002)
                control["message"]["from"]["id"] = control["message"]["chat"]["id"] = MALLORY + 1
                right = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
                accepted = await client.post(hook, json=control, headers=right)
            assert statuses == [403, 403]
            assert accepted.status_code == 200
            await asyncio.sleep(1)  # give a wrongly accepted update time to show
            assert not [call for call in standin.calls if call[1].get("chat_id") == str(MALLORY)]
            status, _ = await bot.signal(signal.SIGTERM)
            assert status == 0, bot.log()[-3000:]
        finally:
            await bot.stop()
    count = databases.fetch(
        url, select(func.count()).select_from(User).where(User.telegram_id == MALLORY)
    )
    assert count == [(0,)]
    assert len(texts(agent, "The printer is on fire")) == 1


def bodies(user, containing: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The texts under the header line of the relayed messages in the user's chat."""
    texts = [m.get("text") or "" for m in user.inbox]
    return [text.split("\n", 1)[-1] for text in texts if containing in text]


BURST = select(Message.text).where(Message.text.like("burst %"))


async def wait_stored(engine, count: int, bot: BotProcess, *, within: float) -> int:  # type: ignore[no-untyped-def]
    """Until at least `count` messages of the burst are stored; how many are."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        async with engine.connect() as connection:
            stored = len(list(await connection.execute(BURST)))
        if stored >= count:
            return stored
        if loop.time() > deadline or bot.process.returncode is not None:
            raise AssertionError(f"{stored} of {count} stored:\n{bot.log()[-3000:]}")
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_a_sigkill_during_a_webhook_burst_loses_nothing(tmp_path) -> None:
    url = databases.database_url(tmp_path)
    port = free_port()
    hook = f"http://127.0.0.1:{port}/telegram/hook-7f3a"
    per_chat = 100
    engine = create_engine(url)
    async with BotApiStandin(token=TOKEN, bot_username=BOT_USERNAME) as standin:
        env = bot_environment(
            standin,
            url,
            REQUIRE_EMAIL_VERIFICATION="false",
            WEBHOOK_URL=hook,
            WEBHOOK_SECRET=SECRET,
            WEBHOOK_LISTEN="127.0.0.1",
            WEBHOOK_PORT=str(port),
        )
        bot = BotProcess(standin, env, tmp_path / "bot.log")
        await bot.start()
        try:
            alice, agent = await ticket_assigned_to_agent(standin)
            # Two chats at once: the customer writes, the agent answers with /reply.
            for n in range(per_chat):
                await alice.send(f"burst c{n}")
                await agent.send(f"/reply 1 burst a{n}")
            await wait_stored(engine, 20, bot, within=20)
            await bot.kill()
            at_kill = await wait_stored(engine, 0, bot, within=1)
            assert at_kill < 2 * per_chat and standin.pending_updates  # killed mid-burst
            await bot.start()
            await wait_stored(engine, 2 * per_chat, bot, within=60)
            await standin.wait_acknowledged(timeout=30)
            await agent.wait_until(
                lambda inbox: (
                    {f"burst c{n}" for n in range(per_chat)}
                    <= {m["text"].split("\n", 1)[-1] for m in inbox if m.get("text")}
                ),
                timeout=30,
            )
            await alice.wait_until(
                lambda inbox: (
                    {f"burst a{n}" for n in range(per_chat)}
                    <= {m["text"].split("\n", 1)[-1] for m in inbox if m.get("text")}
                ),
                timeout=30,
            )
            status, _ = await bot.signal(signal.SIGTERM)
            assert status == 0, bot.log()[-3000:]
        finally:
            await bot.stop()
            await engine.dispose()
    texts = [text for (text,) in databases.fetch(url, BURST)]
    assert sorted(texts) == sorted(
        [f"burst c{n}" for n in range(per_chat)] + [f"burst a{n}" for n in range(per_chat)]
    )  # every update processed, none twice
    # Each chat's messages in the order they were written (the first copy of each, as a
    # message whose answer the crash lost may have been sent twice).
    relayed = [
        m["text"].split("\n", 1)[-1] for m in agent.inbox if "burst c" in (m.get("text") or "")
    ]
    assert list(dict.fromkeys(relayed)) == [f"burst c{n}" for n in range(per_chat)]
    answered = [
        m["text"].split("\n", 1)[-1] for m in alice.inbox if "burst a" in (m.get("text") or "")
    ]
    assert list(dict.fromkeys(answered)) == [f"burst a{n}" for n in range(per_chat)]


@pytest.mark.slow
async def test_webhook_refuses_a_wrong_secret_and_a_body_over_1_mb(tmp_path) -> None:
    url = databases.database_url(tmp_path)
    port = free_port()
    hook = f"http://127.0.0.1:{port}/telegram/hook-7f3a"
    async with BotApiStandin(token=TOKEN, bot_username=BOT_USERNAME) as standin:
        env = bot_environment(
            standin,
            url,
            WEBHOOK_URL=hook,
            WEBHOOK_SECRET=SECRET,
            WEBHOOK_LISTEN="127.0.0.1",
            WEBHOOK_PORT=str(port),
        )
        bot = BotProcess(standin, env, tmp_path / "bot.log")
        await bot.start()
        try:
            right = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            wrong = {"X-Telegram-Bot-Api-Secret-Token": SECRET[:-1] + "x"}
            huge = forged_start(20_001)
            huge["message"]["text"] = "/start " + "x" * (2 * 1024 * 1024)
            async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
                refused = [
                    (await client.post(hook, json=forged_start(20_000), headers=wrong)).status_code,
                    (await client.post(hook, json=huge, headers=wrong)).status_code,
                    (await client.post(hook, json=huge, headers=right)).status_code,
                    (await client.post(hook, content=b"[1, 2]", headers=right)).status_code,
                    (await client.get(hook, headers=right)).status_code,
                ]
            assert refused == [403, 403, 413, 400, 405]
            await asyncio.sleep(0.5)  # give a wrongly accepted update time to show
            assert not [call for call in standin.calls if call[1].get("chat_id") == str(MALLORY)]
            status, _ = await bot.signal(signal.SIGTERM)
            assert status == 0, bot.log()[-3000:]
        finally:
            await bot.stop()
    assert databases.fetch(url, select(func.count()).select_from(User)) == [(0,)]
