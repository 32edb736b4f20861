"""SQLITE_DRIVER: the inline driver refuses an aiosqlite it was not checked against; stock
aiosqlite runs instead when asked.

A changed aiosqlite is simulated by taking away what the inline driver replaces.
"""

from __future__ import annotations

import importlib
import sys

import aiosqlite
import pytest
from sqlalchemy import func, insert, select

from bot.config import ConfigError, load_settings
from storage import sqlite_inline
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import JobRun
from storage.sqlite import UnsupportedAiosqlite


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'helpdesk.db'}"
    upgrade(url)
    return url


def test_the_installed_aiosqlite_is_one_the_inline_driver_supports() -> None:
    assert sqlite_inline.incompatibilities() == []
    assert aiosqlite.__version__ in sqlite_inline.CHECKED_VERSIONS


def test_a_changed_aiosqlite_is_refused_naming_its_version_and_the_fallback(monkeypatch) -> None:
    monkeypatch.delattr(aiosqlite.Connection, "_execute")
    with pytest.raises(UnsupportedAiosqlite) as refused:
        sqlite_inline.check_aiosqlite()
    message = str(refused.value)
    assert f"aiosqlite {aiosqlite.__version__}" in message
    assert "Connection._execute is missing" in message
    assert "SQLITE_DRIVER=aiosqlite" in message


def test_importing_the_inline_driver_checks(monkeypatch) -> None:
    monkeypatch.setattr(aiosqlite, "__version__", "0.99.0")
    monkeypatch.delitem(sys.modules, "storage.sqlite_inline")  # put back after the test
    with pytest.raises(UnsupportedAiosqlite, match=r"aiosqlite 0\.99\.0 .*version 0\.99\.0"):
        importlib.import_module("storage.sqlite_inline")


def test_a_changed_instance_attribute_is_noticed(monkeypatch) -> None:
    original = aiosqlite.Connection.__init__

    def without_queue(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        del self._tx

    monkeypatch.setattr(aiosqlite.Connection, "__init__", without_queue)
    assert "Connection instances lack _tx" in sqlite_inline.incompatibilities()


def test_settings_refuse_inline_on_a_changed_aiosqlite_and_accept_the_fallback(
    monkeypatch, sqlite_url
) -> None:
    monkeypatch.setattr(aiosqlite, "__version__", "0.99.0")
    monkeypatch.delitem(sys.modules, "storage.sqlite_inline")
    with pytest.raises(ConfigError, match=r"SQLITE_DRIVER: .*aiosqlite 0\.99\.0.*SQLITE_DRIVER"):
        load_settings(_env_file=None, database_url=sqlite_url, sqlite_driver="inline")
    settings = load_settings(_env_file=None, database_url=sqlite_url, sqlite_driver="aiosqlite")
    assert settings.sqlite_driver == "aiosqlite"
    # PostgreSQL does not use aiosqlite at all.
    load_settings(_env_file=None, database_url="postgresql+asyncpg://h/db", sqlite_driver="inline")


async def test_the_fallback_runs_on_stock_aiosqlite_threads(sqlite_url) -> None:
    engine = create_engine(sqlite_url, sqlite_driver="aiosqlite")
    try:
        sessions = create_session_factory(engine)
        async with sessions() as session:
            await session.execute(insert(JobRun).values(job="test", period="p1"))
            await session.commit()
        async with sessions() as session:
            assert await session.scalar(select(func.count()).select_from(JobRun)) == 1
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            assert type(raw.driver_connection) is aiosqlite.Connection
            assert raw.driver_connection._thread.is_alive()  # its thread per connection
    finally:
        await engine.dispose()
