"""Fixtures for the stand-in's own tests: a running stand-in, a raw HTTP client and a PTB Bot."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
from telegram import Bot

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.standin import BotApiStandin  # noqa: E402

TOKEN = "123456:TEST-token"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # durations as timedelta, without the warning


@pytest.fixture
async def standin():
    async with BotApiStandin(token=TOKEN, bot_username="helpdesk_test_bot") as server:
        yield server


@pytest.fixture
async def http():
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        yield client


class Api:
    """Raw Bot API calls: ``await api("sendMessage", chat_id=1, text="x")`` -> (status, body)."""

    def __init__(self, http: httpx.AsyncClient, standin: BotApiStandin) -> None:
        self.http = http
        self.base = f"{standin.url}/bot{standin.token}"

    async def __call__(self, method: str, **params) -> tuple[int, dict]:
        data = {k: str(v) for k, v in params.items()}
        response = await self.http.post(f"{self.base}/{method}", data=data)
        return response.status_code, response.json()

    async def ok(self, method: str, **params):
        status, body = await self(method, **params)
        assert status == 200 and body["ok"] is True, body
        return body["result"]

    async def error(self, method: str, **params) -> tuple[int, str]:
        status, body = await self(method, **params)
        assert body["ok"] is False and body["error_code"] == status, body
        return status, body["description"]


@pytest.fixture
def api(http: httpx.AsyncClient, standin: BotApiStandin) -> Api:
    return Api(http, standin)


@pytest.fixture
async def bot(standin: BotApiStandin):
    async with Bot(
        standin.token, base_url=f"{standin.url}/bot", base_file_url=f"{standin.url}/file/bot"
    ) as ptb_bot:
        yield ptb_bot
