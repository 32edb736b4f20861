"""The summary row kept by activities.record() agrees with a full recomputation (Python) and with
the bulk window-function SQL after every kind of change; Telegram tickets report real times."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.reports import bulk
from bot.reports.report import iter_rows
from bot.services import activities
from storage.models import TicketSummary
from storage.types import to_micros

T0 = datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC)
AGENT, CUSTOMER, OTHER = 7_000_000_001, 8_000_000_002, 9_000_000_003

# (seconds after T0, performer, performer_type, activity): every kind of change, in order
STEPS = [
    (0, CUSTOMER, "user", {"status": "Open", "priority": 2, "requester": CUSTOMER}),
    (5, CUSTOMER, "user", {"note": {"id": 11, "type": 1}}),
    (30, None, "system", {"agent_id": AGENT}),
    (60, AGENT, "user", {"note": {"id": 12, "type": 2, "private": True}}),
    (60, AGENT, "user", {"status": "Open"}),
    (120, AGENT, "user", {"note": {"id": 13, "type": 1}}),
    (300, AGENT, "user", {"status": "Pending"}),
    (400, AGENT, "user", {"priority": 4}),
    (500, AGENT, "user", {"status": "Waiting for Customer"}),
    (900, CUSTOMER, "user", {"note": {"id": 14, "type": 1}}),
    (950, AGENT, "user", {"status": "Waiting for Third Party"}),
    (1000, AGENT, "user", {"status": "Resolved"}),
    (1100, CUSTOMER, "user", {"status": "Open"}),
    (1200, AGENT, "user", {"status": "Resolved"}),
    (1300, None, "system", {"status": "Closed"}),
    (1400, CUSTOMER, "user", {"rating": 5}),
    (1500, None, "system", {"agent_id": OTHER}),
]


async def _bulk_state(session, source: str, ticket_id: int) -> dict:
    await bulk.open_scope(session)
    await bulk.add_to_scope(session, [{"source": source, "ticket_id": ticket_id, "end_at": None}])
    row = (await session.execute(bulk.summary_select())).one()
    await bulk.open_scope(session)
    return dict(zip(bulk.SUMMARY_COLUMNS, row, strict=True))


async def _check(session, source: str, ticket_id: int) -> None:
    stored = activities.state_of(await session.get(TicketSummary, (source, ticket_id)))
    recomputed = await activities.compute(session, source=source, ticket_id=ticket_id)
    assert stored == recomputed
    assert await _bulk_state(session, source, ticket_id) == {
        name: getattr(stored, name) for name in bulk.SUMMARY_COLUMNS
    }


async def test_record_each_change_keeps_summary_equal_to_recomputation(factory) -> None:
    async with factory() as session, session.begin():
        for seconds, performer, kind, activity in STEPS:
            await activities.record(
                session,
                ticket_id=1,
                activity=activity,
                performer_id=performer,
                performer_type=kind,
                at=T0 + timedelta(seconds=seconds),
            )
            await _check(session, "telegram", 1)


async def test_record_out_of_order_and_new_requester_recomputes(factory) -> None:
    async with factory() as session, session.begin():
        for seconds, performer, kind, activity in STEPS[:8]:
            at = T0 + timedelta(seconds=seconds)
            await activities.record(
                session, ticket_id=2, activity=activity, performer_id=performer,
                performer_type=kind, at=at,
            )  # fmt: skip
        # an activity dated before the last one, then a change of requester
        await activities.record(
            session, ticket_id=2, activity={"status": "Pending"}, performer_id=AGENT,
            at=T0 + timedelta(seconds=100),
        )  # fmt: skip
        await _check(session, "telegram", 2)
        await activities.record(
            session, ticket_id=2, activity={"requester": AGENT}, performer_id=None,
            performer_type="system", at=T0 + timedelta(seconds=2000),
        )  # fmt: skip
        await _check(session, "telegram", 2)
        summary = await session.get(TicketSummary, ("telegram", 2))
        # the agent is now the requester: the first public note by someone else (the former
        # requester's, 5 s in) becomes the first response
        assert summary.requester == AGENT
        assert summary.first_response_at == T0 + timedelta(seconds=5)


async def test_telegram_ticket_reports_real_times(factory) -> None:
    async with factory() as session, session.begin():
        for seconds, performer, kind, activity in STEPS:
            await activities.record(
                session, ticket_id=3, activity=activity, performer_id=performer,
                performer_type=kind, at=T0 + timedelta(seconds=seconds),
            )  # fmt: skip
    async with factory() as session:
        rows = [r async for r in iter_rows(session, as_of=T0 + timedelta(days=1))]
    assert rows == [
        (
            "telegram", 3, "2026-11-02T09:00:00Z", "Closed", 4, OTHER,
            300 + 100, 200, 450, 50, 120, 1000, 1200, 1, None, None,
        )
    ]  # fmt: skip


async def test_record_without_time_uses_now_and_open_interval_runs_to_now(factory) -> None:
    async with factory() as session, session.begin():
        await activities.record(
            session, ticket_id=4, activity={"status": "Open", "requester": CUSTOMER},
            performer_id=CUSTOMER,
        )  # fmt: skip
    async with factory() as session:
        (row,) = [r async for r in iter_rows(session)]
        stored = (await session.execute(select(TicketSummary))).scalar_one()
    assert row[3] == "Open" and row[-2:] == ("time_open", None)  # open_intervals, tags
    assert 0 <= row[6] < 60
    assert abs(to_micros(stored.created_at) - to_micros(datetime.now(UTC))) < 60_000_000


@pytest.mark.parametrize("private", [True, False])
async def test_record_note_privacy_decides_first_response(factory, private: bool) -> None:
    note = {"id": 1, "type": 2, "private": True} if private else {"id": 1, "type": 2}
    async with factory() as session, session.begin():
        await activities.record(
            session, ticket_id=5, activity={"status": "Open", "requester": CUSTOMER},
            performer_id=CUSTOMER, at=T0,
        )  # fmt: skip
        await activities.record(
            session, ticket_id=5, activity={"note": note}, performer_id=AGENT,
            at=T0 + timedelta(seconds=42),
        )  # fmt: skip
        await _check(session, "telegram", 5)
        summary = await session.get(TicketSummary, ("telegram", 5))
    assert (summary.first_response_at is None) is private


@pytest.mark.parametrize("seed", range(6))
async def test_record_appends_in_one_update_keep_summary_exact(factory, seed: int) -> None:
    """Notes appended at the end take record()'s one-UPDATE path (the summary row is not loaded
    in the session); mixed with changes, ties and late activities it still equals the
    recomputation after every step."""
    rng = random.Random(seed)
    requester = rng.choice([CUSTOMER, None])
    first = {"status": "Open"} | ({"requester": requester} if requester else {})
    notes = [{"id": 1, "type": 1}, {"id": 2, "type": 2, "private": True}, {"id": 3, "type": 2}]
    async with factory() as session, session.begin():
        at = T0
        await activities.record(session, ticket_id=6, activity=first, performer_id=CUSTOMER, at=at)
        for _ in range(60):
            at += timedelta(seconds=rng.choice([0, 0, 1, 45]))
            when = at - timedelta(seconds=90) if rng.random() < 0.05 else at  # now and then late
            performer, kind = rng.choice(
                [(CUSTOMER, "user"), (AGENT, "user"), (None, "system"), (None, "user")]
            )
            roll = rng.random()
            if roll < 0.75:
                activity = {"note": rng.choice(notes)}
            elif roll < 0.9:
                activity = {"status": rng.choice(["Open", "Pending", "Resolved"])}
            else:
                activity = {"priority": rng.randint(1, 4)}
            await activities.record(
                session,
                ticket_id=6,
                activity=activity,
                performer_id=performer,
                performer_type=kind,
                at=when,
            )
            if rng.random() < 0.3:
                await _check(session, "telegram", 6)
                session.expunge_all()  # not loaded again: the next append takes the UPDATE
        await _check(session, "telegram", 6)
