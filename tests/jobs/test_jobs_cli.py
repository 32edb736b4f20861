"""`python bot.py job ...` as cron runs it: the mail it queued is sent before it exits.

Each test runs the real command in a child process, with the bot stopped, mailing through the
real sendgrid client to the local SendGrid stand-in; and under every form of `TZ`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.clock import utcnow
from bot.email.mails import queue_status_mail
from storage.models import EmailOutbox, Status
from tests.jobs.factories import make_ticket, make_user, outbox, set_status
from tests.support.sendgrid_server import SendGridStandIn

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sendgrid():
    with SendGridStandIn(hang_seconds=1.0) as server:
        yield server


def job_env(db_url: str, server: SendGridStandIn | None = None, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELEGRAM_", "DATABASE_", "EMAIL_", "SENDGRID_", "ADMIN_"))
    }
    env.update(
        PYTHONPATH=str(ROOT),
        DATABASE_URL=db_url,
        EMAIL_FROM="desk@example.org",
        EMAIL_BACKEND="console",
        TIMEZONE="Europe/Berlin",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    if server is not None:
        env.update(
            EMAIL_BACKEND="sendgrid", SENDGRID_API_KEY="SG.test", SENDGRID_API_HOST=server.url
        )
    env.update(extra)
    return env


async def bot_py(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(ROOT / "bot.py"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def two_solved_tickets(session_factory) -> None:
    """Two customers, each with a ticket solved yesterday: two digest mails."""
    yesterday = utcnow().replace(microsecond=0) - timedelta(days=1)
    async with session_factory() as session, session.begin():
        for name, email in (("Anna", "anna@example.org"), ("Ben", "ben@example.org")):
            customer = await make_user(session, name=name, email=email)
            ticket = await make_ticket(
                session, customer=customer, created_at=yesterday - timedelta(hours=2)
            )
            await set_status(session, ticket, Status.RESOLVED, at=yesterday)


async def test_job_sends_what_it_queued_before_it_exits(
    sendgrid, db_url, session_factory, tmp_path
) -> None:
    async with session_factory() as session, session.begin():  # queued earlier, not by the job
        customer = await make_user(session, name="Old", email="old@example.org")
        ticket = await make_ticket(session, customer=customer)
        await queue_status_mail(session, ticket=ticket, customer=customer, event="assigned")
    await two_solved_tickets(session_factory)

    result = await bot_py("job", "weekly-digest", env=job_env(db_url, sendgrid), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "weekly-digest: sent 2 mail(s), 0 failed"
    assert sorted(to for mail in sendgrid.accepted for to in mail.to) == [
        "anna@example.org",
        "ben@example.org",
    ]
    rows = {row.kind: row.status for row in await outbox(session_factory)}
    assert rows == {"digest": "sent", "status:assigned": "pending"}


async def test_job_exits_1_when_some_mail_fails_and_it_stays_queued(
    sendgrid, db_url, session_factory, tmp_path
) -> None:
    await two_solved_tickets(session_factory)
    sendgrid.fail_next(500)

    result = await bot_py("job", "weekly-digest", env=job_env(db_url, sendgrid), cwd=tmp_path)

    assert result.returncode == 1, result.stderr
    assert "weekly-digest: sent 1 mail(s), 1 failed" in result.stdout
    assert "Traceback" not in result.stderr
    assert len(sendgrid.requests) == 2 and len(sendgrid.accepted) == 1
    rows = sorted((row.status, row.attempts) for row in await outbox(session_factory, "digest"))
    assert rows == [("pending", 1), ("sent", 1)]
    [failed] = [row for row in await outbox(session_factory) if row.status == "pending"]
    assert "500" in failed.last_error and failed.next_try_at > utcnow()

    # The next run of the week queues nothing; `job email-outbox` sends the retry once due.
    async with session_factory() as session, session.begin():
        row = await session.get(EmailOutbox, failed.id)
        row.next_try_at = utcnow()
    again = await bot_py("job", "email-outbox", env=job_env(db_url, sendgrid), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "email-outbox: sent 1 mail(s), 0 failed"
    assert {row.status for row in await outbox(session_factory)} == {"sent"}


async def test_email_outbox_job_exits_1_when_a_mail_fails(
    sendgrid, db_url, session_factory, tmp_path
) -> None:
    async with session_factory() as session, session.begin():
        customer = await make_user(session)
        ticket = await make_ticket(session, customer=customer)
        await queue_status_mail(session, ticket=ticket, customer=customer, event="assigned")
    sendgrid.fail_next(503)

    result = await bot_py("job", "email-outbox", env=job_env(db_url, sendgrid), cwd=tmp_path)

    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("email-outbox: sent 0 mail(s), 1 failed")
    assert [row.status for row in await outbox(session_factory)] == ["pending"]


async def test_queue_only_leaves_the_mail_to_the_running_bot(
    sendgrid, db_url, session_factory, tmp_path
) -> None:
    await two_solved_tickets(session_factory)

    result = await bot_py(
        "job", "weekly-digest", "--queue-only", env=job_env(db_url, sendgrid), cwd=tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert "queued 2 mail(s)" in result.stdout and "sent" not in result.stdout
    assert sendgrid.requests == []
    assert [row.status for row in await outbox(session_factory)] == ["pending", "pending"]

    refused = await bot_py(
        "job", "email-outbox", "--queue-only", env=job_env(db_url, sendgrid), cwd=tmp_path
    )
    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) == 1 and "--queue-only" in refused.stderr


async def test_dry_run_sends_nothing(sendgrid, db_url, session_factory, tmp_path) -> None:
    await two_solved_tickets(session_factory)
    result = await bot_py(
        "job", "weekly-digest", "--dry-run", env=job_env(db_url, sendgrid), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "would mail 2 customer(s)" in result.stdout and "sent" not in result.stdout
    assert sendgrid.requests == [] and await outbox(session_factory) == []


# Forms of TZ: a POSIX rule (which tzlocal refuses), a path, an IANA name, garbage, empty.
TZ_FORMS = ["IST-5:30", "<+0530>-5:30", ":/etc/localtime", "Europe/Berlin", "garbage", ""]


@pytest.mark.parametrize("tz", TZ_FORMS, ids=[form or "empty" for form in TZ_FORMS])
async def test_any_tz_runs_and_times_follow_timezone(tz, db_url, session_factory, tmp_path) -> None:
    zone = "America/Los_Angeles"  # far from every TZ above, so a local-zone time would show
    env = job_env(db_url, TZ=tz, TIMEZONE=zone)

    migrated = await bot_py("migrate", env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert "Traceback" not in migrated.stderr

    await two_solved_tickets(session_factory)
    before = utcnow().replace(second=0, microsecond=0)
    result = await bot_py("job", "weekly-digest", env=env, cwd=tmp_path)
    after = utcnow()
    assert result.returncode == 0, result.stderr
    assert "weekly-digest: sent 2 mail(s), 0 failed" in result.stdout
    # "weekly-digest 2026-W49 (window 2026-11-26 00:21 – 2026-12-03 00:21): queued ..."
    window = result.stdout.split("(window ", 1)[1].split(")", 1)[0]
    end = datetime.strptime(window.split(" – ")[1], "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(zone))
    assert before <= end <= after, (window, before, after)
