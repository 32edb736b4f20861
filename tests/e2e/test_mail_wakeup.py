"""Mail queued by the running bot goes out at once, not at the outbox's next periodic pass.

Every commit of the bot's sessions that queued mail wakes the mail sender (bot/app.py): a
command, a dialogue step, a button, or a job of the bot's own.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

import bot.jobs
from bot.email import mails, templates
from storage.models import EmailOutbox
from tests.support.harness import Harness, assigned_ticket, started_bot

# The periodic pass runs 1 s after start, then every OUTBOX_INTERVAL_SECONDS: made an hour
# here, so a mail sent within SOON came from the wake-up, not from the pass.
SOON = 2.0


@pytest.fixture
async def harness(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(bot.jobs, "OUTBOX_INTERVAL_SECONDS", 3600)
    async with started_bot(tmp_path) as running:
        await asyncio.sleep(1.5)  # the first periodic pass is behind us
        yield running


async def sent_within(harness: Harness, kind: str, seconds: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        async with harness.resources.session_factory() as session:
            status = await session.scalar(
                select(EmailOutbox.status).where(EmailOutbox.kind == kind)
            )
        if status == "sent":
            return True
        await asyncio.sleep(0.05)
    return False


async def test_status_mails_of_commands_go_out_at_once(harness: Harness) -> None:
    # Registration (dialogue steps) mails a code; /assign (a command) a status mail.
    _, agent, number = await assigned_ticket(harness)
    assert await sent_within(harness, "verification", SOON)
    assert await sent_within(harness, "status:assigned", SOON)
    await agent.send(f"/status {number} waiting-customer")
    await agent.receive_text("Waiting for Customer")
    assert await sent_within(harness, "status:waiting_customer", SOON)


async def test_mail_queued_outside_a_handler_goes_out_at_once(harness: Harness) -> None:
    """A job of the bot writes in a session of its own, as this does."""
    async with harness.resources.session_factory() as session:
        await mails.queue_mail(
            session,
            to="ops@example.com",
            rendered=templates.Rendered(subject="Digest", text="All quiet.", html="<p>Mail.</p>"),
            kind="digest",
            dedupe_key="test:digest",
        )
        await session.commit()
    assert await sent_within(harness, "digest", SOON)


async def test_mail_rolled_back_wakes_nothing(harness: Harness) -> None:
    async with harness.resources.session_factory() as session:
        await mails.queue_mail(
            session,
            to="ops@example.com",
            rendered=templates.Rendered(subject="Digest", text="Never.", html="<p>Mail.</p>"),
            kind="digest",
            dedupe_key="test:rolled-back",
        )
        await session.rollback()
        assert not mails.queued(session)
