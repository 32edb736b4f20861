"""Fixtures of the reports tests: a real database, migrated by the real migrations."""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings, load_settings
from bot.reports import cli
from storage.db import SessionFactory, create_engine, create_session_factory
from tests.support import databases


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A migrated database of this test's own (tests/support/databases.py)."""
    return databases.database_url(tmp_path)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return load_settings(database_url=db_url, telegram_bot_token=None)


@pytest.fixture
async def factory(db_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(db_url)
    yield create_session_factory(engine)
    await engine.dispose()


def run_cli(settings: Settings, *argv: str) -> int:
    """Run one subcommand the way the main command line does (migrations already run)."""
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    return args.func(args, settings)


def write_export(path: Path, records: list[Any], metadata: dict | None = None) -> Path:
    document = {"metadata": metadata or {}, "activities_data": records}
    path.write_text(json.dumps(document, indent=1))
    return path


def rec(
    ticket_id: int,
    performed_at: str,
    activity: dict[str, Any],
    performer_id: Any = 149,
    performer_type: str = "user",
) -> dict[str, Any]:
    return {
        "performer_type": performer_type,
        "performer_id": performer_id,
        "ticket_id": ticket_id,
        "performed_at": performed_at,
        "activity": activity,
    }
