"""Tickets handled in Telegram appear in the report with their real times (metrics.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from bot.reports.report import REPORT_COLUMNS, iter_rows
from tests.support.harness import Harness, assigned_ticket

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def test_telegram_ticket_reports_real_times(harness: Harness) -> None:
    with time_machine.travel(T0, tick=True) as traveller:
        customer, agent, number = await assigned_ticket(harness)
        traveller.move_to(T0 + timedelta(minutes=10))
        await agent.send(f"/note {number} checking logs")  # private: not a response
        await agent.receive_text("Internal note added")
        traveller.move_to(T0 + timedelta(minutes=20))
        await agent.send(f"/reply {number} Fixed, please check")
        await agent.receive_text("Sent to the customer")
        traveller.move_to(T0 + timedelta(minutes=30))
        await agent.send(f"/status {number} waiting-customer")
        await agent.receive_text("→ Waiting for Customer")
        traveller.move_to(T0 + timedelta(hours=2))
        await agent.send(f"/resolve {number}")
        await agent.receive_text("is resolved")
        traveller.move_to(T0 + timedelta(hours=3))
        await customer.send("Broken again")  # reopens
        await customer.receive_text("open again")
        traveller.move_to(T0 + timedelta(hours=4))
        await customer.send(f"/close {number}")
        await customer.receive_text("is closed")

    async with harness.resources.session_factory() as session:
        rows = [row async for row in iter_rows(session, as_of=T0 + timedelta(hours=5))]
    row = dict(zip(REPORT_COLUMNS, rows[0], strict=True))
    created = datetime.fromisoformat(str(row.pop("created_at")).replace("Z", "+00:00"))
    assert abs((created - T0).total_seconds()) < 5  # opened at T0, a few seconds of dialogue
    assert row["source"] == "telegram" and row["ticket_id"] == number
    assert row["status"] == "Closed" and row["agent_id"] == 2001 and row["reopens"] == 1
    # Open from creation to 00:30 and again from 03:00 to 04:00; waiting 00:30 → 02:00.
    assert abs(row["time_open"] - (30 * 60 + 3600)) <= 5
    assert row["time_waiting_on_customer"] == 90 * 60
    assert abs(row["first_response"] - 20 * 60) <= 5
    assert abs(row["first_resolution"] - 2 * 3600) <= 5
    assert abs(row["full_resolution"] - 4 * 3600) <= 5
    assert row["open_intervals"] in ("", None)


async def test_report_command_sends_summary_and_chart(harness: Harness) -> None:
    _customer, agent, number = await assigned_ticket(harness)
    await agent.send(f"/reply {number} hello")
    await agent.receive_text("Sent")
    await harness.admin.send("/report 30")
    summary = await harness.admin.receive_text("Report for the last 30 days", timeout=20)
    assert "Tickets: 1" in summary["text"]
    chart = await harness.admin.receive(timeout=20)
    assert chart["photo"]
    file = harness.standin.store.files[chart["photo"][-1]["file_id"]]
    assert file.content[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(file.content[16:20]), int.from_bytes(file.content[20:24])
    assert (width, height) == (1200, 800)
    await harness.admin.send("/report zero")
    await harness.admin.receive_text("Usage: /report [days]")
    await agent.send("/report")
    await agent.receive_text("not available to you")
