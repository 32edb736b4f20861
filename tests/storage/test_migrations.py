from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from storage.db import create_engine
from storage.migrate import alembic_config, include_name, upgrade
from storage.models import Base
from storage.models.search import is_mapped_object
from tests.support import databases


def inspected(url: str, look: Any) -> Any:
    """What `look(connection)` returns on a synchronous view of the database."""

    async def run() -> Any:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(look)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_migrate_empty_database_creates_every_table(tmp_path) -> None:
    # On SQLite the file lies in a folder that does not exist yet: migrate creates it.
    url = databases.database_url(tmp_path, name="new/helpdesk", migrated=False)
    upgrade(url)
    tables = inspected(url, lambda connection: set(inspect(connection).get_table_names()))
    assert set(Base.metadata.tables) <= tables
    upgrade(url)  # a second run is a no-op


def test_migrations_match_the_models(tmp_path) -> None:
    url = databases.database_url(tmp_path, migrated=False)
    upgrade(url)

    def compare(connection: Connection) -> list[Any]:
        # The full-text indexes (FTS5 tables, tsvector columns) lie outside the models.
        context = MigrationContext.configure(
            connection, opts={"include_name": include_name, "include_object": is_mapped_object}
        )
        return compare_metadata(context, Base.metadata)

    assert inspected(url, compare) == []


def test_downgrade_to_base_and_back(tmp_path) -> None:
    url = databases.database_url(tmp_path, migrated=False)
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    assert inspected(url, lambda c: set(inspect(c).get_table_names())) <= {"alembic_version"}
    upgrade(url)


@pytest.mark.skipif(
    databases.is_postgresql(), reason="SQLite's own settings: checked in the SQLite pass"
)
def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:
    async def pragmas() -> tuple[str, int]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'helpdesk.db'}")
        async with engine.connect() as connection:
            mode = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
            keys = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar()
        await engine.dispose()
        return mode, keys

    assert asyncio.run(pragmas()) == ("wal", 1)
