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
from storage.models import User
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
