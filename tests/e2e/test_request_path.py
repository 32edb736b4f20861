"""The request path's cost: statements and commits per relayed message (BENCHMARKS.md)."""

from __future__ import annotations

import asyncio
import contextvars
from collections import Counter

from sqlalchemy import event

from bot import delivery
from tests.support.harness import Harness, assigned_ticket

MESSAGES = 20
# The update's transaction per relayed text message: the guard's read of who is writing, the
# customer's open ticket, the message (its insert is the duplicate check), the ticket held and
# touched (its agent read once the row is held), the activity and its ticket's summary row,
# the delivery row. One commit. (Before: eight statements, the first a write.)
UPDATE_STATEMENTS, UPDATE_COMMITS = 6, 1
# The delivery sender's, per message sent alone: the claim, the next paced time, the
# confirmation and the sent message's reference; two commits (claim, confirmation).
SENDER_STATEMENTS, SENDER_COMMITS = 4, 2

_in_update: contextvars.ContextVar[bool] = contextvars.ContextVar("in_update", default=False)


def _count(harness: Harness) -> tuple[Counter, list[str]]:
    """Count statements and commits on the bot's engine, split into those of an update's
    processing ("update") and the rest (the delivery sender's claims and confirmations)."""
    counts: Counter = Counter()
    seen: list[str] = []
    application = harness.application
    process = application.process_update

    async def tagged(update: object) -> None:
        token = _in_update.set(True)
        try:
            await process(update)
        finally:
            _in_update.reset(token)

    application.process_update = tagged  # type: ignore[method-assign]
    engine = harness.resources.engine.sync_engine

    def where() -> str | None:
        task = asyncio.current_task()
        if task is not None and task.get_name().startswith("delivery"):
            return "sender"  # its tasks are started from an update's: the name tells them apart
        return "update" if _in_update.get() else None  # None: this test's own reads

    def on_statement(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if (part := where()) is not None:
            counts[f"{part} statements"] += 1
            seen.append(f"{part}: {' '.join(statement.split()[:3])}")

    def on_commit(conn) -> None:  # type: ignore[no-untyped-def]
        if (part := where()) is not None:
            counts[f"{part} commits"] += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_commit)
    return counts, seen


async def test_statements_per_relayed_message(harness: Harness) -> None:
    customer, agent, _ = await assigned_ticket(harness)
    await customer.send("warm-up")
    await agent.receive_text("warm-up")
    await _drained(harness)
    counts, seen = _count(harness)
    for n in range(MESSAGES):
        await customer.send(f"message {n}")
        await agent.receive_text(f"message {n}")
        await _drained(harness)
    per = {key: value / MESSAGES for key, value in counts.items()}
    print(f"per relayed message: {per}; one message's: {seen[-len(seen) // MESSAGES :]}")
    assert per["update statements"] <= UPDATE_STATEMENTS, per
    assert per["update commits"] == UPDATE_COMMITS, per
    # now and then a pass finds nothing to send (woken twice): a little above, never a step more
    assert per["sender statements"] < SENDER_STATEMENTS + 0.5, per
    assert per["sender commits"] < SENDER_COMMITS + 0.5, per
    assert seen[0].startswith("update: SELECT users"), seen[:2]  # the guard takes no write lock


async def _drained(harness: Harness) -> None:
    for _ in range(200):
        if await delivery.pending_count(harness.resources.session_factory) == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("deliveries still pending")
