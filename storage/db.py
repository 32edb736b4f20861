"""The async engine and session factory."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.util import await_only

from storage.sqlite import BUSY_TIMEOUT_MS, begin_immediate

SessionFactory = async_sessionmaker[AsyncSession]
T = TypeVar("T")

# SQLITE_DRIVER: "inline" runs SQLite's calls on the event loop's thread (storage/sqlite_inline.py,
# which checks the aiosqlite internals it replaces), "aiosqlite" on stock aiosqlite's threads.
SQLITE_DRIVERS = ("inline", "aiosqlite")
DEFAULT_SQLITE_DRIVER = "inline"


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "ALTER", "DROP")
# A statement that starts with a CTE writes when its main part does (storage/claims.py:
# `WITH picked AS (...) UPDATE ... RETURNING`).
_CTE_WRITE = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def _is_write(statement: str) -> bool:
    head = statement.lstrip()[:7].upper()
    return head.startswith(_WRITES) or (
        head.startswith("WITH") and _CTE_WRITE.search(statement) is not None
    )


class _SqliteWriteQueue:
    """Writers of this process take turns on an asyncio lock instead of SQLite's busy handler.

    SQLite allows one writer at a time; a second one waits inside its busy handler, which
    sleeps 1, 2, 5, 10, ... 100 ms between tries. With updates of many chats handled at once,
    that sleeping cost more than all the work (80 ms per message). Here a transaction takes
    the lock at its first write and gives it back when it commits or rolls back, so writers
    queue without sleeping; readers never wait (WAL). Holding it, the transaction takes
    SQLite's own write lock with `begin_immediate`, which waits for other processes (a cron
    job, an import) on the event loop, not inside SQLite (storage/sqlite.py).
    """

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    def before_execute(self, conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if not conn.info.get("writing") and _is_write(statement):
            await_only(self._lock.acquire())
            conn.info["writing"] = True
            try:
                begin_immediate(conn.connection.driver_connection._conn)
            except BaseException:
                conn.info.pop("writing")
                self._lock.release()
                raise

    def end(self, conn) -> None:  # type: ignore[no-untyped-def]
        # Called just before COMMIT/ROLLBACK runs: the next writer starts after this
        # greenlet yields to the event loop, i.e. while the COMMIT is already under way.
        if conn.info.pop("writing", False):
            self._lock.release()


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, sqlite_driver: str | None = None, **kwargs: object) -> AsyncEngine:
    """An engine for the URL; SQLite gets WAL, foreign keys and its folder created, and runs
    on `sqlite_driver` (one of SQLITE_DRIVERS; None: DEFAULT_SQLITE_DRIVER).

    Bound parameters (message texts, addresses) stay out of error messages and logs.
    """
    kwargs.setdefault("hide_parameters", True)
    if is_sqlite(url):
        driver = sqlite_driver or DEFAULT_SQLITE_DRIVER
        if driver not in SQLITE_DRIVERS:
            raise ValueError(f"unknown SQLite driver {driver!r}; use one of {SQLITE_DRIVERS}")
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # A session always ends its transaction itself (commit, or rollback on close), so the
        # pool's own ROLLBACK on every return is a second round trip to the driver's thread.
        kwargs.setdefault("pool_reset_on_return", None)
        engine = create_async_engine(url, **kwargs)
        if driver == "inline":
            from storage.sqlite_inline import use_inline_connections  # checks aiosqlite

            use_inline_connections(engine.sync_engine)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        writes = _SqliteWriteQueue()
        event.listen(engine.sync_engine, "before_cursor_execute", writes.before_execute)
        event.listen(engine.sync_engine, "commit", writes.end)
        event.listen(engine.sync_engine, "rollback", writes.end)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def read_apart(
    url: str, work: Callable[[AsyncSession], Awaitable[T]], **engine_options: object
) -> T:
    """Run read-only `work` in this (worker) thread, on an event loop and a connection of its
    own: a long query there neither holds the write lock nor blocks the bot's event loop (the
    inline SQLite driver runs SQLite's calls on the thread of the loop that awaits them)."""

    async def main() -> T:
        engine = create_engine(url, poolclass=NullPool, **engine_options)
        try:
            async with create_session_factory(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    # Sessions of a class of this factory's own, so that `on_transaction_end` hooks are its only.
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=sessionmaker())


def on_transaction_end(factory: SessionFactory, hook: Callable[[Session, bool], None]) -> None:
    """Call `hook(session, committed)` after every commit (True) or rollback (False) of a
    session of `factory`; it runs inside the commit, so it should only schedule work."""
    maker = factory.kw["sync_session_class"]
    event.listen(maker, "after_commit", lambda session: hook(session, True))
    event.listen(maker, "after_rollback", lambda session: hook(session, False))
