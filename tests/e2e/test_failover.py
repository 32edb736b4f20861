"""Failover on PostgreSQL: a standby waits on the leader lock and takes over after SIGKILL."""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest
from sqlalchemy import select, text

from bot.leader import lock_key
from bot.standin import BotApiStandin
from storage.models import EmailOutbox, JobRun
from tests.e2e.processes import texts, ticket_assigned_to_agent
from tests.support import databases
from tests.support.harness import BOT_USERNAME, TOKEN
from tests.support.process import ROOT, BotProcess, bot_environment

STANDBY = "standby: another bot process holds the leader lock"
TOOK_OVER = "took over: the active bot process is gone"

needs_postgresql = pytest.mark.skipif(
    not databases.is_postgresql(),
    reason="failover needs PostgreSQL: set TEST_DATABASE_URL=postgresql+asyncpg://... to run it",
)


def test_lock_key_comes_from_the_bot_id_not_the_secret() -> None:
    assert lock_key("123456:AAA") == lock_key("123456:BBB")
    assert lock_key("123456:AAA") != lock_key("654321:AAA")
    assert -(2**63) <= lock_key("123456:AAA") < 2**63


async def run_job(env: dict[str, str], name: str) -> tuple[int, bytes]:
    job = await asyncio.create_subprocess_exec(
        sys.executable,
        "bot.py",
        "job",
        name,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await job.communicate()
    return job.returncode, output


@pytest.mark.slow
@needs_postgresql
async def test_standby_takes_over_after_sigkill_without_doubles(tmp_path) -> None:
    url = databases.database_url(tmp_path)
    async with BotApiStandin(token=TOKEN, bot_username=BOT_USERNAME) as standin:
        env = bot_environment(standin, url, REQUIRE_EMAIL_VERIFICATION="false")
        active = BotProcess(standin, env, tmp_path / "active.log")
        standby = BotProcess(standin, env, tmp_path / "standby.log")
        late = BotProcess(standin, env, tmp_path / "late.log")
        await active.start()
        try:
            assert "holding the leader lock" in active.log()
            await standby.start(STANDBY)
            alice, agent = await ticket_assigned_to_agent(standin)
            await alice.send("Before the takeover")
            await agent.receive_text("Before the takeover")
            await asyncio.sleep(1.5)  # a few of the standby's tries at the lock
            assert standby.process.returncode is None
            assert not standby.logged("Application started")()
            assert standin.count("getMe") == 1  # the standby never talked to Telegram

            await active.kill()
            seconds = await standby.wait_for(
                standby.logged("Application started"), within=10, what="taking over"
            )
            assert standby.logged(TOOK_OVER)()
            assert seconds < 10
            assert standin.count("getMe") == 2

            await alice.send("After the takeover")
            await agent.receive_text("After the takeover", timeout=10)

            # A third process finds the new active one and waits; SIGTERM ends it at once.
            await late.start(STANDBY)
            status, stopped_in = await late.signal(signal.SIGTERM)
            assert (status, stopped_in < 5) == (0, True), late.log()[-2000:]

            # The digest run twice at once (cron on two machines) claims its week once.
            await agent.send("/resolve 1")
            await alice.receive_text("is now Resolved", timeout=10)
            first, second = await asyncio.gather(
                run_job(env, "weekly-digest"), run_job(env, "weekly-digest")
            )
            assert (first[0], second[0]) == (0, 0), first[1] + second[1]
            await asyncio.sleep(0.5)
        finally:
            await standby.stop()
            await active.stop()
            await late.stop()
    assert len(texts(agent, "Before the takeover")) == 1
    assert len(texts(agent, "After the takeover")) == 1
    runs = databases.fetch(url, select(JobRun.period).where(JobRun.job == "weekly-digest"))
    assert len(runs) == 1
    digests = databases.fetch(url, select(EmailOutbox.id).where(EmailOutbox.kind == "digest"))
    assert len(digests) == 1


@pytest.mark.slow
@needs_postgresql
async def test_active_that_loses_its_lock_connection_stops_and_standby_takes_over(
    tmp_path,
) -> None:
    url = databases.database_url(tmp_path)
    async with BotApiStandin(token=TOKEN, bot_username=BOT_USERNAME) as standin:
        env = bot_environment(standin, url, REQUIRE_EMAIL_VERIFICATION="false")
        active = BotProcess(standin, env, tmp_path / "active.log")
        standby = BotProcess(standin, env, tmp_path / "standby.log")
        await active.start()
        try:
            await standby.start(STANDBY)
            # The server ends the lock's session, as after a network cut noticed by keepalive.
            databases.fetch(
                url,
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                    " AND granted AND database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())"
                ),
            )
            assert await asyncio.wait_for(active.process.wait(), 10) == 1  # LOCK_LOST
            assert "lost the connection that holds the leader lock" in active.log()
            await standby.wait_for(standby.logged("Application started"), within=5, what="active")
            alice = standin.user(1001, first_name="Alice")
            await alice.send("/start")
            await alice.receive_text("full name", timeout=10)
        finally:
            await standby.stop()
            await active.stop()
