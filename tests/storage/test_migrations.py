from __future__ import annotations

import asyncio
import sqlite3

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine as create_sync_engine

from storage.db import create_engine
from storage.migrate import alembic_config, upgrade
from storage.models import Base


def test_migrate_empty_database_creates_every_table(tmp_path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'new' / 'helpdesk.db'}"
    upgrade(url)
    tables = {
        row[0]
        for row in sqlite3.connect(tmp_path / "new" / "helpdesk.db").execute(
            "select name from sqlite_master where type = 'table'"
        )
    }
    assert set(Base.metadata.tables) <= tables
    upgrade(url)  # a second run is a no-op


def test_migrations_match_the_models(tmp_path) -> None:
    path = tmp_path / "helpdesk.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    engine = create_sync_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []


def test_downgrade_to_base_and_back(tmp_path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'helpdesk.db'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    upgrade(url)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:
    async def pragmas() -> tuple[str, int]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'helpdesk.db'}")
        async with engine.connect() as connection:
            mode = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
            keys = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar()
        await engine.dispose()
        return mode, keys

    assert asyncio.run(pragmas()) == ("wal", 1)
