"""Admin digest, SLA reminders, auto-close, scheduling and the `job` command."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, datetime, timedelta

import time_machine
from telegram.ext import Application

from bot.jobs import JOB_NAMES, run_job, schedule_jobs
from bot.jobs.cli import add_parser
from storage.models import Activity, Role, Status, Ticket
from tests.jobs.factories import (
    add_message,
    deliveries,
    job_runs,
    make_settings,
    make_ticket,
    make_user,
    outbox,
)

NOW = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


async def run(name, resources, **kwargs) -> str:
    out = io.StringIO()
    assert await run_job(name, resources, out=out, **kwargs) == 0
    return out.getvalue()


async def test_admin_digest_once_per_day_to_chats_and_mails(resources, db_url):
    resources.settings = make_settings(db_url, admin_ids="111,222", admin_emails="boss@example.org")
    factory = resources.session_factory
    with time_machine.travel(NOW - timedelta(hours=6), tick=False):
        async with factory() as session, session.begin():
            agent = await make_user(session, name="Agent <Smith>", role=Role.AGENT)
            customer = await make_user(session)
            await make_ticket(session, customer=customer, subject="Unassigned one")
            await make_ticket(session, customer=customer, agent=agent, subject="Late one")
    with time_machine.travel(NOW, tick=False):
        await run("admin-digest", resources)
        printed = await run("admin-digest", resources)
    assert "already sent today" in printed
    sent = await deliveries(factory)
    assert sorted(d.chat_id for d in sent) == [111, 222]
    text = sent[0].payload["text"]
    assert "Open: 2" in text and "Unassigned (1)" in text and "Agent &lt;Smith&gt;: 1" in text
    assert "Waiting on an agent over 4 h (2)" in text
    [mail] = await outbox(factory, "admin-digest")
    assert mail.recipient == "boss@example.org" and "Late one" in mail.text


async def test_admin_digest_too_long_for_one_message_is_split(resources, db_url):
    from bot.formatting import utf16_len

    resources.settings = make_settings(db_url, admin_ids="111")
    factory = resources.session_factory
    with time_machine.travel(NOW - timedelta(hours=6), tick=False):
        async with factory() as session, session.begin():
            customer = await make_user(session)
            for n in range(60):
                await make_ticket(session, customer=customer, subject=f"<{n}> " + "ü&" * 70)
    with time_machine.travel(NOW, tick=False):
        await run("admin-digest", resources)
    sent = await deliveries(factory)
    assert len(sent) > 1 and all(utf16_len(d.payload["text"]) <= 4096 for d in sent)
    assert "Open tickets per agent" in sent[-1].payload["text"]  # nothing cut off the end
    assert all(d.payload["text"].count("<b>") == d.payload["text"].count("</b>") for d in sent)


async def test_sla_reminders_ping_once_per_breach(resources):
    factory = resources.session_factory
    start = NOW - timedelta(hours=10)
    with time_machine.travel(start, tick=False):
        async with factory() as session, session.begin():
            agent = await make_user(session, name="Agent", role=Role.AGENT)
            customer = await make_user(session)
            ticket = await make_ticket(session, customer=customer, agent=agent)
            quiet = await make_ticket(session, customer=customer, agent=agent, subject="Answered")
            await add_message(session, quiet, kind="customer", at=start)
            await add_message(session, quiet, kind="agent", at=start + timedelta(hours=1))
    with time_machine.travel(NOW, tick=False):
        await run("sla-reminders", resources)
        await run("sla-reminders", resources)
    pings = await deliveries(factory)
    assert [(d.chat_id, d.ticket_id) for d in pings] == [(agent.telegram_id, ticket.id)]
    # The agent answers, the customer writes again and waits past the limit: a new breach.
    async with factory() as session, session.begin():
        await add_message(session, ticket, kind="agent", at=NOW + timedelta(minutes=5))
        await add_message(session, ticket, kind="customer", at=NOW + timedelta(hours=1))
    with time_machine.travel(NOW + timedelta(hours=3), tick=False):
        await run("sla-reminders", resources)
    assert len(await deliveries(factory)) == 1  # not yet past 4 h
    with time_machine.travel(NOW + timedelta(hours=5, minutes=1), tick=False):
        await run("sla-reminders", resources)
        await run("sla-reminders", resources)
    assert [d.ticket_id for d in await deliveries(factory)] == [ticket.id, ticket.id]


async def test_auto_close_closes_waiting_tickets_with_notice(resources, db_url):
    resources.settings = make_settings(db_url, auto_close_days=3)
    factory = resources.session_factory
    with time_machine.travel(NOW - timedelta(days=4), tick=False):
        async with factory() as session, session.begin():
            customer = await make_user(session)
            old = await make_ticket(
                session, customer=customer, status=Status.WAITING_CUSTOMER, subject="Stale"
            )
    with time_machine.travel(NOW - timedelta(days=1), tick=False):
        async with factory() as session, session.begin():
            recent = await make_ticket(
                session, customer=customer, status=Status.WAITING_CUSTOMER, subject="Fresh"
            )
    with time_machine.travel(NOW, tick=False):
        assert "would close" in await run("auto-close", resources, dry_run=True)
        assert await deliveries(factory) == []
        printed = await run("auto-close", resources)
        await run("auto-close", resources)
    assert printed.splitlines() == [f"closed #{old.id}", "auto-close: sent 1 mail(s), 0 failed"]
    async with factory() as session:
        closed = await session.get(Ticket, old.id)
        assert closed.status == "Closed" and closed.closed_at == NOW
        assert (await session.get(Ticket, recent.id)).status == "Waiting for Customer"
        history = (
            await session.scalars(Activity.__table__.select().where(Activity.ticket_id == old.id))
        ).all()
    assert len(history) == 2
    status, rating, notice = await deliveries(factory)
    assert {d.chat_id for d in (status, rating, notice)} == {customer.telegram_id}
    assert "Stale" in status.payload["text"] and "Closed" in status.payload["text"]
    assert [label for label, _ in rating.payload["buttons"][0]] == ["1", "2", "3", "4", "5"]
    assert "waiting 3 days" in notice.payload["text"]
    [mail] = await outbox(factory, "status:closed")
    assert "buttons" in mail.text


async def test_auto_close_off_when_zero_closes_nothing(resources):
    with time_machine.travel(NOW - timedelta(days=40), tick=False):
        async with resources.session_factory() as session, session.begin():
            customer = await make_user(session)
            await make_ticket(session, customer=customer, status=Status.WAITING_CUSTOMER)
    assert "off" in await run("auto-close", resources)
    assert await deliveries(resources.session_factory) == []


async def test_run_job_unknown_name_exits_2(resources, capsys):
    assert await run_job("nope", resources) == 2
    assert "unknown job 'nope'" in capsys.readouterr().err


async def test_email_outbox_job_sends_due_mails(resources):
    async with resources.session_factory() as session, session.begin():
        customer = await make_user(session)
        ticket = await make_ticket(session, customer=customer)
        from bot.email.mails import queue_status_mail

        await queue_status_mail(session, ticket=ticket, customer=customer, event="assigned")
    assert "sent 1 mail(s)" in await run("email-outbox", resources)
    assert await job_runs(resources.session_factory, "email-outbox") == []


async def test_schedule_jobs_registers_every_job(resources, db_url):
    resources.settings = make_settings(db_url, auto_close_days=2, admin_digest_schedule="off")
    application = Application.builder().token("1:test").build()

    async def sweep(_resources) -> None:
        return None

    schedule_jobs(application.job_queue, resources, delivery_sweep=sweep)
    names = sorted(job.name for job in application.job_queue.jobs())
    assert names == sorted(set(JOB_NAMES) - {"admin-digest"})
    [weekly] = application.job_queue.get_jobs_by_name("weekly-digest")
    trigger = weekly.job.trigger
    assert str(trigger.timezone) == "Europe/Berlin" and "mon" in str(trigger).lower()


def test_job_cli_list_prints_every_job(capsys, settings):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["job", "--list"])
    assert args.func(args, settings) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == list(JOB_NAMES)


def test_job_cli_applies_admin_ids_before_the_job(db_url):
    """A job run from cron reads roles (digest load, SLA pings): ADMIN_IDS applies first."""
    import asyncio

    from sqlalchemy import select

    from storage.db import create_engine, create_session_factory
    from storage.models import User

    async def arrange() -> tuple[int, int]:
        engine = create_engine(db_url)
        async with create_session_factory(engine)() as session, session.begin():
            former = await make_user(session, name="Former Admin", role=Role.ADMIN)
            customer = await make_user(session)
            ticket = await make_ticket(session, customer=customer, agent=former)
            ids = former.telegram_id, ticket.id
        await engine.dispose()
        return ids

    async def look(former_id: int, ticket_id: int) -> tuple[str, int | None]:
        engine = create_engine(db_url)
        async with create_session_factory(engine)() as session:
            role = await session.scalar(select(User.role).where(User.telegram_id == former_id))
            agent = (await session.get(Ticket, ticket_id)).agent_id
        await engine.dispose()
        return role, agent

    former_id, ticket_id = asyncio.run(arrange())
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["job", "sla-reminders", "--dry-run"])
    settings = make_settings(db_url, admin_ids="111")
    assert args.func(args, settings) == 0
    assert asyncio.run(look(former_id, ticket_id))[0] == Role.ADMIN  # a dry run changes nothing
    args = parser.parse_args(["job", "sla-reminders"])
    assert args.func(args, settings) == 0
    assert asyncio.run(look(former_id, ticket_id)) == (Role.CUSTOMER, None)
