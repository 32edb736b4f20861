"""Helpers for tests that run `python bot.py run` as processes: readiness, signals, a ticket."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import sys
from collections.abc import Callable

from bot.standin import BotApiStandin, StandinUser
from tests.support.process import ROOT, BotProcess

CUSTOMER_ID, AGENT_ID, ADMIN_ID = 1001, 2001, 900


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


STARTED = "Application started"


class Bot(BotProcess):
    """A bot process that may be polling, receiving by webhook, or waiting as a standby."""

    _log_from = 0

    async def launch(self, ready: str = STARTED, *, within: float = 20) -> None:
        """Start the process and wait until it logs `ready` (by default: it is running).

        The Application logs that it started once its first getUpdates is on the way; the
        stand-in counts a getUpdates only when it answers it, up to 10 s later.
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
        """Everything the process logged, over all its launches."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def logged(self, text: str) -> Callable[[], bool]:
        """Whether the current launch logged `text`."""
        return lambda: text.encode() in self.log_path.read_bytes()[self._log_from :]

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


async def ticket_assigned_to_agent(
    standin: BotApiStandin,
) -> tuple[StandinUser, StandinUser]:
    """Alice registers (no email verification) and opens #1; the admin makes Sam its agent."""
    admin = standin.user(ADMIN_ID, first_name="Ada")
    agent = standin.user(AGENT_ID, first_name="Sam")
    alice = standin.user(CUSTOMER_ID, first_name="Alice")
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
    await alice.send("Broken")
    await alice.receive_text("Describe")
    await alice.send("Really broken")
    await alice.press(await alice.receive_text("How urgent"), "Low")
    await alice.receive_text("is open")
    await admin.send("/addagent Sam")
    token = re.search(r"start=(\S+)", (await admin.receive_text("Invite"))["text"])[1]
    await agent.send(f"/start {token}")
    await agent.receive_text("You are now an agent")
    await admin.send(f"/assign 1 {AGENT_ID}")
    await agent.receive_text("is assigned to you")
    return alice, agent


def texts(user: StandinUser, containing: str) -> list[str]:
    """The messages in the user's chat whose text contains `containing`."""
    return [m["text"] for m in user.inbox if containing in (m.get("text") or "")]
