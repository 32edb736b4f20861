"""The process's TZ, whatever its form, never stops the bot; its times follow TIMEZONE."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.standin import BotApiStandin
from tests.support import databases
from tests.support.harness import BOT_USERNAME, TOKEN
from tests.support.process import BotProcess, bot_environment

pytestmark = pytest.mark.slow

ZONE = "Pacific/Kiritimati"  # UTC+14: far from every TZ below


@pytest.mark.parametrize("tz", ["IST-5:30", "garbage"])
async def test_bot_runs_under_a_posix_or_unknown_tz_and_logs_in_timezone(tmp_path, tz) -> None:
    url = databases.database_url(tmp_path)
    async with BotApiStandin(token=TOKEN, bot_username=BOT_USERNAME) as standin:
        env = bot_environment(
            standin,
            url,
            TZ=tz,
            TIMEZONE=ZONE,
            DIGEST_SCHEDULE="0 9 * * MON",  # cron triggers are built at start
            ADMIN_DIGEST_SCHEDULE="0 8 * * *",
        )
        bot = BotProcess(standin, env, tmp_path / "bot.log")
        before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
        await bot.start()
        try:
            alice = standin.user(1001, first_name="Alice")
            await alice.send("/start")
            await alice.receive_text("full name", timeout=10)
        finally:
            status = await bot.stop()
        after = datetime.now(UTC)
    assert status == 0, bot.log()[-3000:]
    assert "Traceback" not in bot.log()
    started = next(line for line in bot.log().splitlines() if "Application started" in line)
    stamp = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", started)[1]
    logged = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZoneInfo(ZONE))
    assert before <= logged <= after, (started, before, after)
