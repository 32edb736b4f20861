"""One place that gives every test its own migrated database, on SQLite or on PostgreSQL.

Without TEST_DATABASE_URL each database is a SQLite file in the test's tmp_path, copied from a
file migrated once per session.

With TEST_DATABASE_URL (a PostgreSQL server's maintenance database, say
`postgresql+asyncpg://postgres@127.0.0.1:5433/postgres`) a template database is migrated once per
session and tests get databases made with `CREATE DATABASE ... TEMPLATE` of it. CREATE DATABASE
costs about 0.3 s, so after a test its migrated databases are emptied (connections terminated,
rows deleted, sequences restarted; well under 10 ms) and handed to a later test; a database that
is no longer at the newest revision, or was made empty (`migrated=False`), is dropped instead.
Everything is dropped at the end of the session (the fixtures in tests/conftest.py).

`database_url(tmp_path)` is a plain function so that helpers without fixtures (the end-to-end
harness) can call it; the same tmp_path and name give the same database within a test, so a
restarted bot finds what the crashed one wrote.

`python -m tests.support.databases reachable` exits 0 when TEST_DATABASE_URL names a reachable
PostgreSQL server and otherwise prints why the PostgreSQL pass is skipped (see the Makefile).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import URL, make_url
from sqlalchemy.sql import Executable

from storage import migrate
from storage.db import create_engine

ENV = "TEST_DATABASE_URL"
T = TypeVar("T")

_lock = threading.Lock()
_known: dict[tuple[str, str], str] = {}  # (tmp_path, name) -> URL, in this test
_handed_out: list[tuple[str, bool]] = []  # PostgreSQL (database, migrated), in this test
_free: list[str] = []  # emptied migrated PostgreSQL databases, ready for the next test
_template: str | None = None  # the migrated SQLite file or PostgreSQL database
_numbers = itertools.count(1)
_prefix = f"helpdesk_test_{os.getpid()}"


def server_url() -> URL | None:
    """The PostgreSQL server the suite runs on, or None for SQLite."""
    value = os.environ.get(ENV, "").strip()
    return make_url(value) if value else None


def is_postgresql() -> bool:
    return server_url() is not None


def database_url(tmp_path: Path, *, name: str = "helpdesk", migrated: bool = True) -> str:
    """A database of this test's own: migrated to head, or empty with `migrated=False`."""
    key = (str(tmp_path), name)
    with _lock:
        if key not in _known:
            server = server_url()
            if server is None:
                _known[key] = _sqlite_database(tmp_path, name, migrated=migrated)
            else:
                _known[key] = _postgresql_database(server, migrated=migrated)
        return _known[key]


def fetch(url: str, statement: Executable) -> list[Any]:
    """The rows of one statement, from synchronous test code, on either backend."""

    async def run() -> list[Any]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return list(await connection.execute(statement))
        finally:
            await engine.dispose()

    return _run(run())


def release_test_databases() -> None:
    """After a test: forget its databases; on PostgreSQL empty them for reuse, or drop them."""
    with _lock:
        _known.clear()
        handed_out = list(_handed_out)
        _handed_out.clear()
    server = server_url()
    if server is None:
        return
    for database, migrated in handed_out:
        if migrated and _run(_emptied(server, database)):
            _free.append(database)
        else:
            _run(_execute(server, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


def drop_all() -> None:
    """At the end of the session: the template and every database kept for reuse."""
    global _template
    server = server_url()
    with _lock:
        template, _template = _template, None
        names = list(_free)
        _free.clear()
    if server is None:
        if template is not None:
            shutil.rmtree(Path(template).parent, ignore_errors=True)
        return
    names += [template] if template else []
    _run(_execute(server, *(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in names)))


# SQLite


def _sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _sqlite_database(tmp_path: Path, name: str, *, migrated: bool) -> str:
    global _template
    path = tmp_path / f"{name}.db"
    if migrated and not path.exists():
        if _template is None:
            folder = Path(tempfile.mkdtemp(prefix="helpdesk-template-"))
            _off_loop(lambda: migrate.upgrade(_sqlite_url(folder / "template.db")))
            _template = str(folder / "template.db")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(_template, path)
    return _sqlite_url(path)


# PostgreSQL


def _render(server: URL, database: str) -> str:
    return server.set(database=database).render_as_string(hide_password=False)


def _postgresql_database(server: URL, *, migrated: bool) -> str:
    global _template
    if migrated and _free:
        database = _free.pop()
    else:
        if migrated and _template is None:
            template = f"{_prefix}_template"
            _run(
                _execute(
                    server, f'DROP DATABASE IF EXISTS "{template}"', f'CREATE DATABASE "{template}"'
                )
            )
            _off_loop(lambda: migrate.upgrade(_render(server, template)))
            _template = template
        database = f"{_prefix}_{next(_numbers)}"
        source = _template if migrated else "template0"
        _run(_execute(server, f'CREATE DATABASE "{database}" TEMPLATE "{source}"'))
    _handed_out.append((database, migrated))
    return _render(server, database)


def _connect_args(server: URL, database: str | None = None) -> dict[str, Any]:
    return {
        "host": server.host or "127.0.0.1",
        "port": server.port or 5432,
        "user": server.username,
        "password": server.password,
        "database": database or server.database or "postgres",
        "timeout": 5,
    }


async def _execute(server: URL, *statements: str, database: str | None = None) -> None:
    """Statements one by one, outside any transaction (CREATE/DROP DATABASE need that)."""
    import asyncpg

    connection = await asyncpg.connect(**_connect_args(server, database))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def _emptied(server: URL, database: str) -> bool:
    """Empty a migrated database as if new; False when it cannot be reused."""
    import asyncpg

    from storage.models import Base

    deletes = [f'DELETE FROM "{table.name}"' for table in reversed(Base.metadata.sorted_tables)]
    try:
        await _execute(
            server,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE datname = '{database}' AND pid <> pg_backend_pid()",
        )
        connection = await asyncpg.connect(**_connect_args(server, database))
        try:
            version = await connection.fetchval("SELECT version_num FROM alembic_version")
            if version != _head():
                return False
            # DELETE, not TRUNCATE: on a few rows it is about a hundred times faster.
            await connection.execute(
                "; ".join(deletes) + "; SELECT setval(c.oid, 1, false) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind = 'S' AND n.nspname = current_schema()"
            )
        finally:
            await connection.close()
    except (OSError, asyncpg.PostgresError):
        return False
    return True


@functools.cache
def _head() -> str:
    """The newest migration's revision."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(migrate.alembic_config("")).get_current_head()


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return _off_loop(lambda: asyncio.run(coroutine))


def _off_loop(call: Callable[[], T]) -> T:
    """Run blocking setup in a worker thread: callers may be inside a running event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


# The Makefile's check


async def _probe(server: URL) -> None:
    await _execute(server, "SELECT 1")


def main(argv: list[str]) -> int:
    if argv != ["reachable"]:
        print("usage: python -m tests.support.databases reachable", file=sys.stderr)
        return 2
    server = server_url()
    if server is None:
        print(f"{ENV} is not set: skipping the PostgreSQL pass (.ci/run starts a server for it)")
        return 1
    shown = server.render_as_string(hide_password=True)
    if server.get_backend_name() != "postgresql":
        print(f"{ENV}={shown} is not a PostgreSQL URL: skipping the PostgreSQL pass")
        return 1
    try:
        asyncio.run(_probe(server))
    except Exception as exc:
        print(f"PostgreSQL not reachable at {shown} ({exc}): skipping the PostgreSQL pass")
        return 1
    print(f"PostgreSQL reachable at {shown}: the suite runs again on it")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
