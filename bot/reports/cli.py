"""The reports' subcommands: import-activities, export-activities, report, generate.

`add_parser(subparsers)` adds them; each sets `func(args, settings) -> int` (the exit status).
The main command line runs the migrations first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from bot.config import Settings
from bot.reports import spreadsheet
from bot.resources import Resources

BAD_INPUT = 2


class UsageError(Exception):
    """Bad input, in one line."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the four subcommands with interface.md's options."""
    p = subparsers.add_parser(
        "import-activities", help="load a Freshdesk activities export (re-importing is harmless)"
    )
    p.add_argument("file", metavar="FILE.json")
    p.add_argument(
        "--skip-invalid",
        action="store_true",
        help="import the good records and list the skipped positions on stderr",
    )
    p.set_defaults(func=run_import)

    p = subparsers.add_parser(
        "export-activities", help="write the activity history in Freshdesk's export format"
    )
    p.add_argument("file", metavar="FILE.json")
    p.add_argument("--since", metavar="DATE", help="activities from this date or time")
    p.add_argument("--until", metavar="DATE", help="activities up to this date or time (inclusive)")
    p.add_argument("--source", help="only tickets of this source (telegram or freshdesk)")
    p.set_defaults(func=run_export)

    p = subparsers.add_parser("report", help="time in status and response times per ticket")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--summary", action="store_true", help="print only the summary")
    p.add_argument(
        "--by",
        action="append",
        choices=("priority", "agent", "tag"),
        help="the summary's groups (repeatable; default: priority and agent)",
    )
    p.add_argument("--as-of", metavar="TIME", help="end unfinished intervals at this time")
    p.add_argument("--since", metavar="DATE", help="tickets created from this date (inclusive)")
    p.add_argument("--until", metavar="DATE", help="tickets created up to this date (inclusive)")
    p.add_argument("--output", metavar="FILE", help="write to FILE instead of standard output")
    p.add_argument("--chart", metavar="FILE.png", help="also draw a 1200×800 PNG chart")
    p.set_defaults(func=run_report)

    p = subparsers.add_parser("generate", help="write a realistic random activities export")
    p.add_argument("--tickets", type=int, required=True, metavar="N")
    p.add_argument("--seed", type=int, default=0, metavar="S")
    p.add_argument("--output", required=True, metavar="FILE.json")
    p.set_defaults(func=run_generate)


def _fail(message: str) -> int:
    sys.stderr.write(message.replace("\n", " ") + "\n")
    return BAD_INPUT


def _with_resources(settings: Settings, work: Callable[[Resources], Any]) -> Any:
    async def main() -> Any:
        resources = Resources.open(settings)
        try:
            return await work(resources)
        finally:
            await resources.close()

    return asyncio.run(main())


def _when(value: str | None, option: str, *, end_of_day: bool = False) -> datetime | None:
    from bot.reports.report import parse_when

    if value is None:
        return None
    try:
        return parse_when(value, end_of_day=end_of_day)
    except ValueError:
        raise UsageError(
            f"{option}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, got {value!r}"
        ) from None


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reports.importer import ImportFailed, import_file, print_skipped

    async def work(resources: Resources):
        return await import_file(
            resources.session_factory,
            args.file,
            skip_invalid=args.skip_invalid,
            progress=sys.stderr,
        )

    try:
        result = _with_resources(settings, work)
    except ImportFailed as exc:
        return _fail(str(exc))
    print_skipped(result)
    print(
        f"imported {args.file}: {result.records} records, {result.added} new activities, "
        f"{result.tickets} tickets, {len(result.skipped)} skipped"
    )
    return 0


def run_export(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reports.exporter import export_file

    try:
        since = _when(args.since, "--since")
        until = _when(args.until, "--until", end_of_day=True)
        folder = Path(args.file).resolve().parent
        if not folder.is_dir():
            raise UsageError(f"{args.file}: no such folder {folder}")
    except UsageError as exc:
        return _fail(str(exc))

    async def work(resources: Resources) -> int:
        async with resources.session_factory() as session:
            return await export_file(
                session, args.file, since=since, until=until, source=args.source
            )

    count = _with_resources(settings, work)
    print(f"exported {count} activities to {args.file}")
    return 0


def run_report(args: argparse.Namespace, settings: Settings) -> int:
    try:
        as_of = _when(args.as_of, "--as-of")
        since = _when(args.since, "--since")
        until = _when(args.until, "--until", end_of_day=True)
        for option, value in (("--output", args.output), ("--chart", args.chart)):
            if value and not Path(value).resolve().parent.is_dir():
                raise UsageError(f"{option}: no such folder for {value}")
    except UsageError as exc:
        return _fail(str(exc))

    async def work(resources: Resources) -> int:
        async with resources.session_factory() as session:
            if args.output:
                partial = Path(args.output).with_name(f".{Path(args.output).name}.partial")
                try:
                    with partial.open("w", encoding="utf-8", newline="") as out:
                        await _report(session, args, out, as_of, since, until)
                    os.replace(partial, args.output)
                finally:
                    partial.unlink(missing_ok=True)
            else:
                await _report(session, args, sys.stdout, as_of, since, until)
        return 0

    return _with_resources(settings, work)


async def _report(session, args, out: IO[str], as_of, since, until) -> None:
    from bot.reports.chart import draw_chart
    from bot.reports.report import Writer, iter_row_batches
    from bot.reports.summary import GROUPINGS, summary_of

    if args.summary:
        by = args.by or GROUPINGS
        summary = await summary_of(session, as_of=as_of, since=since, until=until, by=by)
        write_summary(summary, args.format, out)
        rows = summary.rows
    else:
        writer = Writer(out, args.format)
        rows = []
        async for batch in iter_row_batches(session, as_of=as_of, since=since, until=until):
            for row in batch:
                writer.write(row)
            if args.chart:
                rows.extend(batch)
        writer.close()
    if args.chart:
        draw_chart(rows, args.chart)


def write_summary(summary, fmt: str, out: IO[str]) -> None:
    if fmt == "json":
        json.dump(summary.as_dict(), out, indent=2)
        out.write("\n")
    elif fmt == "csv":
        writer = spreadsheet.Writer(out)
        writer.writerow(("group", "tickets", "metric", "count", "median", "p90", "mean"))
        for group in summary.groups():
            for name, stats in group.metrics.items():
                cells = (stats.median, stats.p90, stats.mean)
                writer.writerow(
                    (group.label, group.tickets, name, stats.count, *(_round(v) for v in cells))
                )
        writer.writerow(("reopen_rate", summary.tickets, "", "", "", "", _num(summary.reopen_rate)))
        writer.writerow(("csat", summary.rated, "", "", "", "", _num(summary.csat)))
        figures = summary.knowledge_base
        rate = _num(figures.deflection_rate)
        writer.writerow(("kb_deflection_rate", figures.offered, "", "", "", "", rate))
    else:
        out.write(summary.text() + "\n")


def _round(value: float | None) -> str | float:
    return "" if value is None else round(value, 1)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def run_generate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reports.generator import generate

    if args.tickets < 0:
        return _fail(f"--tickets: expected a number ≥ 0, got {args.tickets}")
    if not Path(args.output).resolve().parent.is_dir():
        return _fail(f"--output: no such folder for {args.output}")
    count = generate(args.output, tickets=args.tickets, seed=args.seed)
    print(f"generated {args.tickets} tickets, {count} activities in {args.output}")
    return 0
