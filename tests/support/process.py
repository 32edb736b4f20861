"""The bot as a separate process (`python bot.py run`), for crash and restart tests."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
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


STARTED = "Application started"


async def terminate(process: asyncio.subprocess.Process, *, within: float) -> int:
    """SIGTERM if still running, SIGKILL after `within` seconds; the exit status."""
    if process.returncode is not None:
        return process.returncode
    process.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(process.wait(), within)
    except TimeoutError:
        process.kill()
        return await process.wait()


class BotProcess:
    """Start, signal, SIGKILL and restart `python bot.py run` against a stand-in."""

    def __init__(self, standin: BotApiStandin, env: dict[str, str], log_path: Path) -> None:
        self.standin = standin
        self.env = env
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None
        self._log_from = 0

    async def start(self, ready: str = STARTED, *, within: float = 20) -> None:
        """Start the process and wait until it logs `ready` (by default: it is running).

        The Application logs that it started once its first getUpdates is on the way (the
        stand-in counts a getUpdates only when it answers it, up to 10 s later); a standby
        logs that it waits.
        """
        self._log_from = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "bot.py", "run", cwd=ROOT, env=self.env, stdout=log, stderr=log
        )
        log.close()
        await self.wait_for(self.logged(ready), within=within, what=f"logging {ready!r}")

    async def wait_for(self, condition: Callable[[], bool], *, within: float, what: str) -> float:
        """Seconds until `condition()` holds; fails if the process exits or time runs out."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        while not condition():
            assert self.process is not None
            if self.process.returncode is not None or loop.time() - started > within:
                raise AssertionError(f"bot not {what} within {within}s:\n{self.log()[-3000:]}")
            await asyncio.sleep(0.05)
        return loop.time() - started

    def log(self) -> str:
        """Everything the process logged, over all its starts."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def logged(self, text: str) -> Callable[[], bool]:
        """Whether the current start logged `text`."""
        return lambda: text.encode() in self.log_path.read_bytes()[self._log_from :]

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def signal(
        self, signum: int = signal.SIGTERM, *, within: float = 15
    ) -> tuple[int, float]:
        """Send `signum`; returns the exit status and the seconds the process took to exit."""
        assert self.process is not None
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.process.send_signal(signum)
        try:
            status = await asyncio.wait_for(self.process.wait(), within)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise AssertionError(
                f"bot did not exit within {within}s:\n{self.log()[-3000:]}"
            ) from None
        return status, loop.time() - started

    async def stop(self) -> int:
        """SIGTERM if still running (SIGKILL after 15 s); the exit status."""
        return 0 if self.process is None else await terminate(self.process, within=15)
