"""The chaos benchmark in a reduced form: faults, SIGKILLs, and still every message, in order.

150 messages over 10 tickets (customers to their agent; agents by replying to a relayed message
or with /reply N text) while the stand-in fails 10% of calls (429, 500, 502, connections
closed before or after the call was accepted, client timeouts) and the bot process is
SIGKILLed and restarted twice. See bench/chaos.py for what is checked and how.
"""

from __future__ import annotations

import asyncio

import pytest

from bench.chaos import Config, run_chaos
from bot.standin import BotApiStandin
from tests.support import databases
from tests.support.harness import BOT_USERNAME, TOKEN
from tests.support.process import BotProcess, bot_environment


@pytest.mark.slow
async def test_faults_and_sigkills_lose_nothing_and_keep_order(tmp_path) -> None:
    config = Config(
        messages=150, tickets=10, agents=3, kills=2, fault_rate=0.1, rate=25, seed=7, drain_limit=45
    )
    url = databases.database_url(tmp_path)
    outcome = await asyncio.wait_for(run_chaos(config, url, tmp_path), 120)
    report = outcome.summary()

    assert outcome.kills == 2, report
    assert sum(outcome.faults.values()) > 0, report
    assert outcome.lost == 0, report
    assert outcome.drain_seconds is not None, report
    assert outcome.order_violations == 0, report
    # A duplicate only where an accepted message's answer never reached the bot.
    assert outcome.unexplained_duplicates == 0, report
    assert outcome.duplicates <= outcome.unanswered, report
    assert outcome.pending_after == 0 and outcome.not_sent_rows == 0, report


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["429", "timeout"])
async def test_bot_starts_although_setting_the_menu_fails(tmp_path, kind: str) -> None:
    """A transient failure of setMyCommands at start-up is logged; the bot polls anyway."""
    url = databases.database_url(tmp_path)
    async with BotApiStandin(token=TOKEN, bot_username=BOT_USERNAME) as standin:
        standin.faults.add("setMyCommands", kind, times=1)
        bot = BotProcess(standin, bot_environment(standin, url), tmp_path / "bot.log")
        await bot.start()
        try:
            alice = standin.user(1001, first_name="Alice")
            await alice.send("/start")
            await alice.receive_text("full name", timeout=10)
        finally:
            await bot.stop()
        assert standin.faults.injected == [("setMyCommands", kind)]
