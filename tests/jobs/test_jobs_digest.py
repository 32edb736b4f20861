"""The weekly digest from the bot's own tickets: windows, ISO-week claims, grouping, races."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta

import time_machine

from bot.clock import utcnow
from bot.jobs import digest, run_job
from storage.db import create_engine, create_session_factory
from storage.models import Status
from tests.jobs.factories import count, job_runs, make_ticket, make_user, outbox, set_status

# Monday 23 November 2026, 09:00 in Europe/Berlin (08:00 UTC): ISO week 2026-W48.
MONDAY = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
TZ = "Europe/Berlin"


async def solved(session_factory, *, name, email, subject, status, at):
    async with session_factory() as session, session.begin():
        customer = await make_user(session, name=name, email=email)
        ticket = await make_ticket(
            session, customer=customer, subject=subject, created_at=at - timedelta(days=1)
        )
        await set_status(session, ticket, status, at=at)
    return customer, ticket


async def run(resources, **kwargs) -> str:
    out = io.StringIO()
    assert await run_job("weekly-digest", resources, out=out, **kwargs) == 0
    return out.getvalue()


async def test_weekly_digest_one_mail_per_customer_grouped_by_customer(resources):
    factory = resources.session_factory
    with time_machine.travel(MONDAY - timedelta(days=3), tick=False):
        async with factory() as session, session.begin():
            anna = await make_user(session, name="Anna Smith", email="anna@example.org")
            other = await make_user(session, name="Anna Smith", email="anna.s@example.net")
            t1 = await make_ticket(session, customer=anna, subject="First")
            t2 = await make_ticket(session, customer=anna, subject="Second")
            t3 = await make_ticket(session, customer=other, subject="Someone else's")
            t4 = await make_ticket(session, customer=anna, subject="Still open")
            await set_status(session, t1, Status.RESOLVED)
            await set_status(session, t2, Status.CLOSED)
            await set_status(session, t3, Status.CLOSED)
            del t4
    with time_machine.travel(MONDAY, tick=False):
        printed = await run(resources)
    assert "queued 2 mail(s) about 3 ticket(s)" in printed
    mails = {row.recipient: row for row in await outbox(factory, "digest")}
    assert set(mails) == {"anna@example.org", "anna.s@example.net"}
    assert f"#{t1.id} First — Resolved" in mails["anna@example.org"].text
    assert f"#{t2.id} Second — Closed" in mails["anna@example.org"].text
    assert "Someone else" not in mails["anna@example.org"].text
    assert "Still open" not in mails["anna@example.org"].text
    assert f"#{t3.id} Someone else's" in mails["anna.s@example.net"].text
    assert "First" not in mails["anna.s@example.net"].text
    [claimed] = await job_runs(factory, "weekly-digest")
    assert (claimed.period, claimed.status) == ("2026-W48", "done")


async def test_weekly_digest_second_run_same_week_sends_nothing(resources):
    factory = resources.session_factory
    await solved(
        factory,
        name="A",
        email="a@example.org",
        subject="S1",
        status=Status.CLOSED,
        at=MONDAY - timedelta(days=1),
    )
    with time_machine.travel(MONDAY, tick=False):
        await run(resources)
    await solved(
        factory,
        name="B",
        email="b@example.org",
        subject="S2",
        status=Status.CLOSED,
        at=MONDAY + timedelta(hours=2),
    )
    with time_machine.travel(MONDAY + timedelta(days=3), tick=False):
        printed = await run(resources)
    assert "already done" in printed
    assert [r.recipient for r in await outbox(factory, "digest")] == ["a@example.org"]
    with time_machine.travel(MONDAY + timedelta(days=7), tick=False):
        await run(resources)  # next week picks up what the repeated run did not send
    assert [r.recipient for r in await outbox(factory, "digest")] == [
        "a@example.org",
        "b@example.org",
    ]


async def test_weekly_digest_after_missed_week_covers_everything_since_last_run(resources):
    factory = resources.session_factory
    with time_machine.travel(MONDAY, tick=False):
        await run(resources)
    # The bot was down the next Monday; tickets solved in both weeks since.
    await solved(
        factory,
        name="A",
        email="a@example.org",
        subject="Week one",
        status=Status.RESOLVED,
        at=MONDAY + timedelta(days=2),
    )
    await solved(
        factory,
        name="B",
        email="b@example.org",
        subject="Week two",
        status=Status.CLOSED,
        at=MONDAY + timedelta(days=9),
    )
    with time_machine.travel(MONDAY + timedelta(days=14), tick=False):
        await run(resources)
    texts = {r.recipient: r.text for r in await outbox(factory, "digest")}
    assert "Week one" in texts["a@example.org"] and "Week two" in texts["b@example.org"]
    runs = await job_runs(factory, "weekly-digest")
    assert [r.period for r in runs] == ["2026-W48", "2026-W50"]
    assert runs[1].window_start == runs[0].window_end


async def test_weekly_digest_includes_ticket_closed_later_on_day_of_last_run(resources):
    factory = resources.session_factory
    with time_machine.travel(MONDAY, tick=False):
        await run(resources)
    await solved(
        factory,
        name="A",
        email="a@example.org",
        subject="Same day",
        status=Status.CLOSED,
        at=MONDAY + timedelta(hours=6),
    )
    # A ticket solved in the very second the previous run read up to belongs to that run.
    await solved(
        factory,
        name="B",
        email="b@example.org",
        subject="On the edge",
        status=Status.CLOSED,
        at=MONDAY,
    )
    with time_machine.travel(MONDAY + timedelta(days=7), tick=False):
        await run(resources)
    assert [r.recipient for r in await outbox(factory, "digest")] == ["a@example.org"]


async def test_weekly_digest_first_run_covers_past_seven_days(resources):
    factory = resources.session_factory
    await solved(
        factory,
        name="Old",
        email="old@example.org",
        subject="Too old",
        status=Status.CLOSED,
        at=MONDAY - timedelta(days=7, seconds=1),
    )
    await solved(
        factory,
        name="New",
        email="new@example.org",
        subject="Recent",
        status=Status.CLOSED,
        at=MONDAY - timedelta(days=6, hours=23),
    )
    with time_machine.travel(MONDAY, tick=False):
        await run(resources)
    assert [r.recipient for r in await outbox(factory, "digest")] == ["new@example.org"]


async def test_weekly_digest_skips_deleted_and_emailless_customers(resources):
    factory = resources.session_factory
    at = MONDAY - timedelta(days=1)
    await solved(factory, name="No mail", email=None, subject="x", status=Status.CLOSED, at=at)
    customer, _ = await solved(
        factory, name="Gone", email="gone@example.org", subject="y", status=Status.CLOSED, at=at
    )
    async with factory() as session, session.begin():
        (await session.get(type(customer), customer.id)).deleted_at = utcnow()
    with time_machine.travel(MONDAY, tick=False):
        await run(resources)
    assert await outbox(factory, "digest") == []


async def test_weekly_digest_dry_run_changes_nothing(resources):
    factory = resources.session_factory
    await solved(
        factory,
        name="A <b>",
        email="a@example.org",
        subject="Dry",
        status=Status.CLOSED,
        at=MONDAY - timedelta(days=1),
    )
    with time_machine.travel(MONDAY, tick=False):
        printed = await run(resources, dry_run=True)
    assert "would mail 1 customer(s)" in printed and "Dry — Closed" in printed
    assert await outbox(factory) == [] and await job_runs(factory, "weekly-digest") == []
    with time_machine.travel(MONDAY, tick=False):
        await run(resources)
    assert len(await outbox(factory, "digest")) == 1


async def test_weekly_digest_racing_runs_claim_period_once(resources, db_url):
    factory = resources.session_factory
    for i in range(20):
        await solved(
            factory,
            name=f"C{i}",
            email=f"c{i}@example.org",
            subject=f"T{i}",
            status=Status.CLOSED,
            at=MONDAY - timedelta(days=1),
        )
    engines = [create_engine(db_url) for _ in range(2)]
    try:
        with time_machine.travel(MONDAY, tick=False):
            results = await asyncio.gather(
                *(
                    digest.run(create_session_factory(engine), tz=resources.settings.tz)
                    for engine in engines
                )
            )
    finally:
        for engine in engines:
            await engine.dispose()
    assert sorted(r.claimed for r in results) == [False, True]
    assert await count(factory, type((await outbox(factory))[0])) == 20
    assert len(await job_runs(factory, "weekly-digest")) == 1


async def test_weekly_digest_failed_run_is_retried_in_same_week(resources):
    factory = resources.session_factory
    await solved(
        factory,
        name="A",
        email="a@example.org",
        subject="S",
        status=Status.CLOSED,
        at=MONDAY - timedelta(days=1),
    )
    with time_machine.travel(MONDAY, tick=False):
        async with factory() as session, session.begin():
            from bot.jobs import runs

            claim = await runs.claim(session, job="weekly-digest", period="2026-W48")
            await runs.finish(session, claim, status=runs.FAILED)
        await run(resources)
    assert len(await outbox(factory, "digest")) == 1
    [claimed] = await job_runs(factory, "weekly-digest")
    assert claimed.status == "done"
