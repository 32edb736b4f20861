"""Benchmark: the weekly digest over 100,000 customers and 500,000 tickets in SQLite.

    .venv/bin/python bench/digest.py [--customers N] [--tickets N] [--runs K]

Builds a migrated SQLite file, bulk-inserts customers, tickets and their status activities (every
customer has tickets solved in the past week, so every customer gets a mail), then times
`bot.jobs.digest.run` (claim the ISO week, read the window, render and queue every mail) on a
fresh copy for each run. Prints the machine, the command and the median.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine
from bot.jobs import digest
from storage import migrate
from storage.db import create_engine, create_session_factory
from storage.types import to_micros

LIMIT_SECONDS = 10.0
STATUSES = ["Open", "Pending", "Waiting for Customer", "Resolved", "Closed"]


def populate(path: Path, customers: int, tickets: int, now: datetime) -> int:
    """Bulk insert with the sqlite3 module (executemany); returns the solved-in-window count."""
    rng = random.Random(7)
    now_us = to_micros(now)
    week_us = 7 * 86_400 * 1_000_000
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA journal_mode=WAL")
    with connection:
        connection.executemany(
            "INSERT INTO users (id, telegram_id, role, name, email, created_at) "
            "VALUES (?, ?, 'customer', ?, ?, ?)",
            (
                (i, 1_000_000 + i, f"Customer {i}", f"customer{i}@example.org", now_us - week_us)
                for i in range(1, customers + 1)
            ),
        )
    solved = 0
    ticket_rows = []
    activity_rows = []
    for ticket_id in range(1, tickets + 1):
        # The first ticket of each customer is solved this week; the rest are random.
        customer = ticket_id if ticket_id <= customers else rng.randint(1, customers)
        status = "Closed" if ticket_id <= customers else rng.choice(STATUSES)
        created = now_us - rng.randint(8, 60) * 86_400 * 1_000_000
        changed = now_us - rng.randint(1, week_us - 1)
        if status in ("Resolved", "Closed") and rng.random() < 0.3 and ticket_id > customers:
            changed = now_us - rng.randint(week_us + 1, 30 * 86_400 * 1_000_000)  # earlier weeks
        solved_in_window = status in ("Resolved", "Closed") and changed > now_us - week_us
        solved += solved_in_window
        ticket_rows.append(
            (
                ticket_id,
                customer,
                f"Subject of ticket {ticket_id}",
                "description",
                2,
                status,
                created,
                changed,
                changed if status == "Resolved" else None,
                changed if status == "Closed" else None,
            )
        )
        activity_rows.append((ticket_id, created, '{"status": "Open"}'))
        if status != "Open":
            activity_rows.append((ticket_id, changed, f'{{"status": "{status}"}}'))
    with connection:
        connection.executemany(
            "INSERT INTO tickets (id, customer_id, subject, description, priority, status, "
            "created_at, updated_at, resolved_at, closed_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            ticket_rows,
        )
        connection.executemany(
            "INSERT INTO activities (source, ticket_id, performed_at, performer_type, activity) "
            "VALUES ('telegram', ?, ?, 'user', ?)",
            activity_rows,
        )
    connection.close()
    return solved


async def one_run(path: Path, now: datetime) -> tuple[float, digest.DigestResult]:
    import time_machine

    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        with time_machine.travel(now, tick=True):
            started = time.perf_counter()
            result = await digest.run(create_session_factory(engine), tz=UTC)
            elapsed = time.perf_counter() - started
    finally:
        await engine.dispose()
    return elapsed, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--tickets", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder) / "base.db"
        migrate.upgrade(f"sqlite+aiosqlite:///{base}")
        started = time.perf_counter()
        solved = populate(base, args.customers, args.tickets, now)
        populated = time.perf_counter() - started
        timings = []
        for index in range(args.runs):
            copy = Path(folder) / f"run{index}.db"
            shutil.copy(base, copy)
            elapsed, result = asyncio.run(one_run(copy, now))
            if result.queued != args.customers or result.tickets != solved:
                print(
                    f"wrong result: {result.queued} mails, {result.tickets} tickets",
                    file=sys.stderr,
                )
                return 1
            timings.append(elapsed)
            copy.unlink()
    median = statistics.median(timings)
    print(f"machine: {machine()}")
    print(f"command: .venv/bin/python bench/digest.py {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"data: {args.customers:,} customers, {args.tickets:,} tickets "
        f"(bulk insert {populated:.1f} s)"
    )
    print(f"digest: {result.queued:,} mails queued listing {solved:,} tickets")
    print(
        f"time to queue every mail: median {median:.2f} s over {args.runs} runs "
        f"({', '.join(f'{t:.2f}' for t in timings)}); limit {LIMIT_SECONDS:.0f} s: "
        f"{'PASS' if median < LIMIT_SECONDS else 'FAIL'}"
    )
    return 0 if median < LIMIT_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
