"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import db
from tests.support import databases

# Tests talk to servers on 127.0.0.1 only: never through a proxy from the environment.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
os.environ.setdefault("PTB_TIMEDELTA", "1")
# SQLITE_DRIVER=aiosqlite runs the suite on stock aiosqlite (the Makefile's fallback pass): the
# settings read it, and so do engines that tests create without settings.
db.DEFAULT_SQLITE_DRIVER = os.environ.get("SQLITE_DRIVER") or db.DEFAULT_SQLITE_DRIVER


# Tests that never touch the database under test (the Bot API stand-in, the command line's
# parsing, the demo on its own SQLite file): the SQLite pass runs them, the PostgreSQL pass skips
# them rather than spend its time running them again unchanged.
DATABASE_FREE = ("standin/", "test_cli.py", "test_demo.py", "test_env_example.py")
TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not databases.is_postgresql():
        return
    skip = pytest.mark.skip(reason="uses no database: run in the SQLite pass")
    for item in items:
        if item.path.resolve().relative_to(TESTS).as_posix().startswith(DATABASE_FREE):
            item.add_marker(skip)


def pytest_report_header() -> str:
    server = databases.server_url()
    if server is None:
        return "databases: SQLite, a migrated file per test"
    shown = server.render_as_string(hide_password=True)
    return f"databases: PostgreSQL at {shown}, a migrated database per test"


@pytest.fixture(scope="session", autouse=True)
def _database_template() -> Iterator[None]:
    yield
    databases.drop_all()


@pytest.fixture(autouse=True)
def _test_databases() -> Iterator[None]:
    """What `databases.database_url` handed out in a test is released after it."""
    yield
    databases.release_test_databases()


@pytest.fixture
def database_url(tmp_path) -> str:
    """A migrated database of this test's own (SQLite, or PostgreSQL with TEST_DATABASE_URL)."""
    return databases.database_url(tmp_path)
