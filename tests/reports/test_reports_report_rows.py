"""The report's cells, computed by its query from the summary rows, equal the Python rules'
(metrics.report_row of a full recomputation) for generated and odd tickets, at any as-of."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.reports import metrics
from bot.reports.generator import Generator, generate
from bot.reports.importer import import_file
from bot.reports.report import iter_row_batches, iter_rows
from bot.services import activities
from storage.models import TicketSummary
from storage.types import to_micros
from tests.reports.conftest import rec, write_export

T0 = datetime(2024, 2, 1, 9, 0, 0, tzinfo=UTC)


def _ts(seconds: int) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%d-%m-%Y %H:%M:%S +0000")


ODD = [
    # a status outside the six, and an unfinished interval in it
    rec(900_001, _ts(0), {"status": "Open", "requester": 5}, performer_id=5),
    rec(900_001, _ts(60), {"status": "On hold"}),
    # no status at all: a note only
    rec(900_002, _ts(0), {"note": {"id": 1, "type": 1}, "requester": 5}, performer_id=5),
    # its last status begins after the early as-of (adds nothing then), rated
    rec(900_003, _ts(0), {"status": "Open", "requester": 5, "priority": 4}, performer_id=5),
    rec(900_003, _ts(86_400 * 40), {"status": "Pending", "agent_id": 3}),
    rec(900_003, _ts(86_400 * 41), {"rating": 2}, performer_id=5),
    # Resolved -> Closed -> reopened into Waiting for Customer
    rec(900_004, _ts(0), {"status": "Open", "requester": 5}, performer_id=5),
    rec(900_004, _ts(10), {"status": "Resolved"}),
    rec(900_004, _ts(20), {"status": "Closed"}, None, "system"),
    rec(900_004, _ts(30), {"status": "Waiting for Customer"}, performer_id=5),
]


async def _expected(session, as_of: datetime | None) -> list[tuple]:
    keys = (
        await session.execute(
            select(TicketSummary.source, TicketSummary.ticket_id, TicketSummary.end_at).order_by(
                TicketSummary.source, TicketSummary.ticket_id
            )
        )
    ).all()
    rows = []
    for source, ticket_id, end_at in keys:
        state = await activities.compute(session, source=source, ticket_id=ticket_id)
        end = to_micros(as_of or end_at) if as_of or end_at else None  # None: finished
        rows.append((*metrics.report_row(state, end), None, state.rating))  # no tags here
    return rows


@pytest.mark.parametrize("as_of", ["end", "early", None])
async def test_report_cells_equal_the_python_rules(factory, tmp_path: Path, as_of) -> None:
    generate(tmp_path / "generated.json", tickets=300, seed=11)
    await import_file(factory, tmp_path / "generated.json")
    end_at = Generator(11, 1).end
    odd = write_export(tmp_path / "odd.json", ODD, {"end_at": _ts(86_400 * 60)})
    await import_file(factory, odd)
    async with factory() as session, session.begin():  # a Telegram ticket, finished
        for seconds, activity in (
            (0, {"status": "Open", "requester": 5}),
            (50, {"status": "Closed"}),
        ):
            await activities.record(
                session, ticket_id=1, activity=activity, performer_id=5,
                at=T0 + timedelta(seconds=seconds),
            )  # fmt: skip
    when = {"end": end_at, "early": T0 + timedelta(days=20), None: None}[as_of]
    async with factory() as session:
        expected = await _expected(session, when)
        got = [r async for r in iter_rows(session, as_of=when, with_rating=True)]
        plain = [r async for r in iter_rows(session, as_of=when)]
        batches = [len(b) async for b in iter_row_batches(session, as_of=when, batch=64)]
    assert len(expected) == 300 + len({r["ticket_id"] for r in ODD}) + 1
    assert got == expected
    assert plain == [row[:-1] for row in expected]
    assert sum(batches) == len(expected) and max(batches) == 64
    assert expected[0][0] == "freshdesk" and expected[-1][0] == "telegram"
