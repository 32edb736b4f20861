"""`python bot.py kb import DIR | list | export DIR | search "question"`.

Each command creates or upgrades the database first. Bad input (a missing folder, a file that
is not an article) is one line on stderr and exit status 2, with nothing imported.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from bot.config import Settings

BAD_INPUT = 2


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    kb = subparsers.add_parser("kb", help="the knowledge base: import, list, export, search")
    commands = kb.add_subparsers(title="kb commands", metavar="KB_COMMAND", required=True)
    p = commands.add_parser("import", help="load a folder of Markdown articles (KEY.md)")
    p.add_argument("folder", metavar="DIR")
    p.set_defaults(func=run_import)
    p = commands.add_parser("list", help="the articles, times shown and times they solved it")
    p.set_defaults(func=run_list)
    p = commands.add_parser("export", help="write the articles back as Markdown files")
    p.add_argument("folder", metavar="DIR")
    p.set_defaults(func=run_export)
    p = commands.add_parser("search", help="the articles /new would suggest, with scores")
    p.add_argument("question")
    p.set_defaults(func=run_search)


def _fail(message: str) -> int:
    sys.stderr.write(message.replace("\n", " ") + "\n")
    return BAD_INPUT


def _in_session(settings: Settings, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Migrate, then run `work(session)` in one transaction, committed if it returns."""
    from storage.db import create_engine, create_session_factory
    from storage.migrate import upgrade

    upgrade(settings.database_url)

    async def main() -> Any:
        engine = create_engine(settings.database_url)
        try:
            async with create_session_factory(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(main())


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    from bot.kb.files import BadArticle, read_folder
    from bot.services import kb

    try:
        articles = read_folder(args.folder)
    except BadArticle as error:
        return _fail(str(error))

    async def work(session: Any) -> kb.ImportCounts:
        return await kb.import_articles(session, articles)

    counts = _in_session(settings, work)
    print(
        f"imported {args.folder}: {counts.added} new, {counts.updated} updated, "
        f"{counts.unchanged} unchanged"
    )
    return 0


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    from bot.services import kb

    rows = _in_session(settings, kb.counts)
    if not rows:
        print("no articles; load some with: python bot.py kb import DIR")
        return 0
    width = max(len(row.key) for row in rows)
    print(f"{'key':<{width}}  {'shown':>6}  {'solved':>6}  title")
    for row in rows:
        print(f"{row.key:<{width}}  {row.shown:>6}  {row.solved:>6}  {row.title}")
    return 0


def run_export(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from bot.kb.files import ArticleText, write_folder
    from bot.services import kb

    target = Path(args.folder)
    if target.exists() and not target.is_dir():
        return _fail(f"{args.folder}: not a folder")
    if not target.resolve().parent.is_dir():
        return _fail(f"{args.folder}: no such folder {target.resolve().parent}")

    async def work(session: Any) -> list[ArticleText]:
        return [ArticleText(a.key, a.title, a.body) for a in await kb.all_articles(session)]

    count = write_folder(target, _in_session(settings, work))
    print(f"exported {count} articles to {args.folder}")
    return 0


def run_search(args: argparse.Namespace, settings: Settings) -> int:
    from bot.services import kb

    limit = settings.kb_suggestions or 3

    async def work(session: Any) -> list[kb.Match]:
        return await kb.search(session, args.question, limit=limit)

    matches = _in_session(settings, work)
    if not matches:
        print("nothing matches well enough: /new would offer no article")
        return 0
    if not settings.kb_suggestions:
        print(f"KB_SUGGESTIONS is 0, so /new offers nothing; with it at {limit}, it would offer:")
    for match in matches:
        print(
            f"{match.score:.3f}  {match.key}  {match.title}  "
            f"(semantic {match.semantic:.3f}, lexical {match.lexical:.2f})"
        )
    return 0
