"""The command line: `python bot.py [run|migrate|demo|job|import-activities|...]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings

NO_TOKEN = """\
TELEGRAM_BOT_TOKEN is not set, so the bot cannot talk to Telegram.

  1. In Telegram, open @BotFather, send /newbot and follow its questions.
  2. Copy the token it gives you (it looks like 123456789:AA...) into .env:
         TELEGRAM_BOT_TOKEN=123456789:AA...
  3. Run `make run` (or `python bot.py run`) again.

To watch the bot work without a token: python bot.py demo"""

Command = Callable[[argparse.Namespace, Settings], int]


def configure_logging(level: int = logging.INFO, tz: tzinfo = UTC) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )

    # Log times in TIMEZONE, never the machine's local zone (the TZ variable may be anything).
    def in_zone(seconds: float | None) -> time.struct_time:
        return datetime.fromtimestamp(time.time() if seconds is None else seconds, tz).timetuple()

    for handler in logging.getLogger().handlers:
        if handler.formatter is not None:
            handler.formatter.converter = in_zone
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from storage.migrate import upgrade

    upgrade(settings.database_url)
    print("database is up to date")
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.telegram_bot_token:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    from bot.runner import run_bot

    return run_bot(settings)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from bot.demo import play

    logging.getLogger().setLevel(logging.WARNING)
    if args.kb is not None and not Path(args.kb).is_dir():
        print(f"--kb: no such folder {args.kb}", file=sys.stderr)
        return 2
    return asyncio.run(play(**({"kb_folder": Path(args.kb)} if args.kb else {})))


def build_parser() -> argparse.ArgumentParser:
    from bot import erase_cli
    from bot.jobs import cli as jobs_cli
    from bot.reports import cli as reports_cli

    parser = argparse.ArgumentParser(prog="python bot.py", description="Helpdesk bot for Telegram")
    parser.set_defaults(func=cmd_run)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    sub.add_parser("run", help="migrate the database, then run the bot").set_defaults(func=cmd_run)
    sub.add_parser("migrate", help="create or upgrade the database").set_defaults(func=cmd_migrate)
    demo = sub.add_parser("demo", help="a scripted session against a local stand-in")
    demo.add_argument(
        "--kb", metavar="DIR", help="knowledge-base articles for /new (default: examples/kb)"
    )
    demo.set_defaults(func=cmd_demo)
    jobs_cli.add_parser(sub)
    reports_cli.add_parser(sub)
    erase_cli.add_parser(sub)
    # The knowledge base: kb import|list|export|search.
    from bot.kb import cli as kb_cli

    kb_cli.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(tz=settings.tz)
    try:
        return int(args.func(args, settings) or 0)
    except KeyboardInterrupt:
        return 130
