"""Benchmark of the analytics: import, report from summary rows, and the baseline.

    .venv/bin/python bench/report.py [--tickets 100000] [--seed 42] [--runs 5] [--no-write]

Generates an export, imports it into a fresh SQLite database (timed), then times the report
(one summary row per ticket, unfinished intervals completed at the as-of time) against the
baseline (one streamed query of all activities ordered by ticket and time, with the per-ticket
rules computed in Python), checks that both agree on every cell, and records the medians in
BENCHMARKS.md's `## Report (bench/report.py)` section.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bench.common import machine, write_section  # noqa: E402
from bot.reports import metrics  # noqa: E402
from bot.reports.generator import Generator, generate  # noqa: E402
from bot.reports.importer import import_file  # noqa: E402
from bot.reports.report import iter_row_batches  # noqa: E402
from storage.db import create_engine, create_session_factory  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Activity  # noqa: E402
from storage.types import to_micros  # noqa: E402

SECTION = "## Report (bench/report.py)"
TARGET_IMPORT, TARGET_SPEEDUP, TARGET_RSS = 30.0, 20.0, 500.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def report(session_factory, as_of) -> list[tuple]:
    async with session_factory() as session:
        rows: list[tuple] = []
        async for batch in iter_row_batches(session, as_of=as_of):
            rows.extend(batch)
        return rows


async def baseline(session_factory, as_of) -> list[tuple]:
    """All activities in one streamed query, ordered by ticket and time; rules in Python."""
    end = to_micros(as_of)
    a = Activity.__table__.c
    query = (
        select(a.source, a.ticket_id, a.id, a.performed_at, a.performer_type, a.performer_id)
        .add_columns(a.activity)
        .order_by(a.source, a.ticket_id, a.performed_at, a.id)
        .execution_options(yield_per=20_000)
    )
    rows: list[tuple] = []
    current, acts = None, []
    async with session_factory() as session:
        result = await session.stream(query)
        async for part in result.partitions(20_000):
            for source, ticket_id, id_, at, ptype, pid, activity in part:
                key = (source, ticket_id)
                if key != current:
                    if current is not None:
                        rows.append(metrics.report_row(metrics.compute(*current, acts), end))
                    current, acts = key, []
                acts.append(metrics.Act(to_micros(at), id_, ptype, pid, activity))
    if current is not None:
        rows.append(metrics.report_row(metrics.compute(*current, acts), end))
    return rows


def timed(label: str, runs: int, work) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
        print(f"  {label}: {times[-1]:.3f} s", flush=True)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--runs", type=int, default=5, help="report runs (baseline: 3)")
    parser.add_argument("--import-runs", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()
    command = "python bench/report.py " + " ".join(sys.argv[1:])

    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        export = Path(tmp) / "export.json"
        start = time.perf_counter()
        activities = generate(export, tickets=args.tickets, seed=args.seed)
        generate_s = time.perf_counter() - start
        size_mb = export.stat().st_size / 1e6
        print(
            f"generated {args.tickets} tickets, {activities} activities, {size_mb:.0f} MB "
            f"in {generate_s:.1f} s",
            flush=True,
        )

        import_times = []
        for run in range(args.import_runs):
            url = f"sqlite+aiosqlite:///{tmp}/bench{run}.db"
            upgrade(url)
            engine = create_engine(url)
            factory = create_session_factory(engine)
            start = time.perf_counter()
            asyncio.run(import_file(factory, export))
            import_times.append(time.perf_counter() - start)
            print(f"  import: {import_times[-1]:.2f} s", flush=True)
            asyncio.run(engine.dispose())
        import_s = statistics.median(import_times)

        url = f"sqlite+aiosqlite:///{tmp}/bench0.db"
        engine = create_engine(url)
        factory = create_session_factory(engine)
        as_of = Generator(args.seed, 1).end
        loop = asyncio.new_event_loop()
        report_s, fast = timed(
            "report", args.runs, lambda: loop.run_until_complete(report(factory, as_of))
        )
        base_s, slow = timed(
            "baseline", 3, lambda: loop.run_until_complete(baseline(factory, as_of))
        )
        loop.run_until_complete(engine.dispose())
        loop.close()

    mismatches = sum(1 for x, y in zip(fast, slow, strict=False) if x != y)
    agree = len(fast) == len(slow) and mismatches == 0
    cells = len(fast) * len(metrics.COLUMNS)
    speedup = base_s / report_s
    rss = peak_rss_mb()
    verdict = lambda ok: "ok" if ok else "MISSED"  # noqa: E731
    lines = [
        f"Machine: {machine()}",
        f"Command: `{command.strip()}`",
        "",
        "| figure | value | target |",
        "|---|---|---|",
        f"| tickets / activities | {args.tickets:,} / {activities:,} ({size_mb:.0f} MB file) | |",
        f"| generate | {generate_s:.1f} s | |",
        f"| import (median of {args.import_runs}) | {import_s:.2f} s | < {TARGET_IMPORT:.0f} s "
        f"{verdict(import_s < TARGET_IMPORT)} |",
        f"| report, summary rows (median of {args.runs}) | {report_s:.3f} s | |",
        f"| baseline, all activities in Python (median of 3) | {base_s:.3f} s | |",
        f"| speed-up | {speedup:.1f}× | ≥ {TARGET_SPEEDUP:.0f}× "
        f"{verdict(speedup >= TARGET_SPEEDUP)} |",
        f"| peak RSS | {rss:.0f} MB | < {TARGET_RSS:.0f} MB {verdict(rss < TARGET_RSS)} |",
        f"| agreement | {len(fast):,} rows, {cells:,} cells, {mismatches} differ | all equal "
        f"{verdict(agree)} |",
        "",
        "The report reads one summary row per ticket (kept by `activities.record()` and computed "
        "in bulk with window functions on import) and completes the unfinished interval at the "
        "as-of time; the baseline replays every activity with the same rules "
        "(`bot/reports/metrics.py`).",
        "",
        "Since the 20.4× run (report 0.617 s, import 25.7 s): the report's query computes the "
        "cells itself (the unfinished interval added and every time divided to seconds in "
        "integer SQL, statuses as small codes), so that only 14 cheap cells a row cross the "
        "driver; rows come as plain driver tuples through a server-side cursor, 20,000 at a "
        "time with the next batch fetched while this one is turned into rows (no Row objects); "
        "Python names the status and formats created_at from cached hour prefixes. Fetching "
        "the 17 stored columns as Python objects was most of the old time. The import parses "
        "usual records without rework and encodes every document with one JSON encoder "
        "(parse, encode and hash: 35% less CPU, same import keys); the last-given requester, "
        "priority, agent and rating test the JSON text with LIKE before json_extract. The "
        "baseline is unchanged. The import barely moved (25.7 -> 24.4 s): parsing and the "
        "driver's inserts take turns on the GIL, so they add up rather than overlap, and the "
        "window-function recompute (about 7 s) is still whole; both are the next work.",
    ]
    text = "\n".join(lines)
    print()
    print(SECTION, text, sep="\n\n")
    if not args.no_write:
        write_section(SECTION, text)
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
