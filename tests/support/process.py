"""The bot as a separate process (`python bot.py run`), for crash and restart tests."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from bot.standin import BotApiStandin
from tests.support.harness import ADMIN_ID, TOKEN

ROOT = Path(__file__).resolve().parents[2]


def bot_environment(standin: BotApiStandin, database_url: str, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELEGRAM_", "DATABASE_", "EMAIL_", "ADMIN_", "WEBHOOK_"))
    }
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=standin.url,
        DATABASE_URL=database_url,
        ADMIN_IDS=str(ADMIN_ID),
        EMAIL_BACKEND="console",
        DIGEST_SCHEDULE="off",
        ADMIN_DIGEST_SCHEDULE="off",
        NO_PROXY="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
        FLOOD_LIMIT="0",  # scripted people send faster than anyone could type
    )
    env.update(extra)
    return env


class BotProcess:
    """Start, SIGKILL and restart `python bot.py run` against a stand-in."""

    def __init__(self, standin: BotApiStandin, env: dict[str, str], log_path: Path) -> None:
        self.standin = standin
        self.env = env
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, *, within: float = 20) -> None:
        polls_before = self.standin.count("getUpdates")
        log = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "bot.py", "run", cwd=ROOT, env=self.env, stdout=log, stderr=log
        )
        log.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while self.standin.count("getUpdates") <= polls_before:
            if self.process.returncode is not None or loop.time() > deadline:
                raise AssertionError(f"bot did not start:\n{self.log_path.read_text()[-3000:]}")
            await asyncio.sleep(0.05)

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> int:
        if self.process is None or self.process.returncode is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), 15)
        except TimeoutError:
            self.process.kill()
            return await self.process.wait()
