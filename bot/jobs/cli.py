"""`python bot.py job [--list | NAME [--dry-run] [--queue-only] [--from-report FILE]]`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.config import ConfigError, Settings
from bot.jobs import DESCRIPTIONS, JOB_NAMES, run_job


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "job",
        help="list the scheduled jobs, or run one once now",
        description="Run one scheduled job once, now (for cron users).",
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="the job to run")
    parser.add_argument("--list", action="store_true", help="list the jobs and exit")
    parser.add_argument(
        "--dry-run", action="store_true", help="print what the job would do; change nothing"
    )
    parser.add_argument(
        "--queue-only",
        action="store_true",
        help="queue the job's mail and leave the sending to the running bot "
        "(by default it is sent before the command exits; exit status 1 if some fails)",
    )
    parser.add_argument(
        "--from-report",
        type=Path,
        metavar="FILE",
        help="weekly-digest only: read another ticket system's status report (.csv or .xlsx)",
    )
    parser.set_defaults(func=main)


def main(args: argparse.Namespace, settings: Settings) -> int:
    if args.list:
        width = max(len(name) for name in JOB_NAMES)
        for name in JOB_NAMES:
            print(f"{name:<{width}}  {DESCRIPTIONS[name]}")
        return 0
    if not args.name:
        print("job: name a job to run, or --list to see them", file=sys.stderr)
        return 2
    if args.name not in JOB_NAMES:
        print(f"job: unknown job {args.name!r} (known: {', '.join(JOB_NAMES)})", file=sys.stderr)
        return 2
    if args.from_report is not None and not args.from_report.is_file():
        print(f"job: {args.from_report}: no such file", file=sys.stderr)
        return 2
    return asyncio.run(_run(args, settings))


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.resources import Resources
    from bot.services import roles
    from storage.migrate import upgrade_async

    try:
        resources = Resources.open(settings)
    except ConfigError as exc:
        print(f"job: {exc}", file=sys.stderr)
        return 2
    try:
        await upgrade_async(settings.database_url)
        if not args.dry_run:  # jobs read roles (admin digest, SLA pings): ADMIN_IDS first
            await roles.at_start(resources.session_factory, settings.admin_ids)
        return await run_job(
            args.name,
            resources,
            dry_run=args.dry_run,
            from_report=args.from_report,
            send_mail=not args.queue_only,
        )
    finally:
        await resources.close()
