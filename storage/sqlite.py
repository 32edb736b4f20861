"""SQLite for asyncio without a thread hop per call: aiosqlite's API, run on the loop's thread.

aiosqlite gives every connection a thread and sends each call there and back (cursor,
execute, fetch, close: four hand-offs a statement, each a queue, a wake-up and a callback
into the loop). SQLite itself answers a statement on a local file in microseconds, so those
hand-offs cost far more than the work: the transaction of a relayed message (eight
statements) took 8.6 ms of CPU through aiosqlite's thread and takes 3.2 ms here, of which
SQLite's own share is about 0.1 ms. `InlineConnection` keeps aiosqlite's interface, which
SQLAlchemy's `sqlite+aiosqlite` dialect drives, and runs each call at once.

The one thing that can make SQLite wait is another connection's write lock. Waiting inside
SQLite's busy handler would stall the event loop, so writers take the lock with `BEGIN
IMMEDIATE` that never waits inside SQLite, and retry with `asyncio.sleep` while another
process (a cron job, an import) holds it: the loop keeps serving everyone else meanwhile.
Readers never wait (WAL).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.util import await_only

# How long a writer waits for another process's write lock before "database is locked".
LOCK_WAIT_SECONDS = 10.0
# What SQLite's own busy handler may still wait (rare: a reader during WAL recovery).
BUSY_TIMEOUT_MS = 200


class _RunNow:
    """Stands in for aiosqlite's queue to its thread (SQLAlchemy uses it directly)."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as error:  # handed to the waiting caller
            if future is not None and not future.done():
                future.set_exception(error)
        else:
            if future is not None and not future.done():
                future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run immediately instead of on a thread of its own."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _RunNow()  # type: ignore[assignment]

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self):  # type: ignore[no-untyped-def]
        return self._connect().__await__()

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()


def use_inline_connections(engine: Engine) -> None:
    """Make a `sqlite+aiosqlite` engine connect with `InlineConnection`."""

    @event.listens_for(engine, "do_connect")
    def connect(dialect, _record, cargs, cparams):  # type: ignore[no-untyped-def]
        def creator(*args: Any, **kwargs: Any) -> InlineConnection:
            return InlineConnection(partial(sqlite3.connect, *args, **kwargs))

        return dialect.dbapi.connect(*cargs, async_creator_fn=creator, **cparams)


def begin_immediate(connection: sqlite3.Connection) -> None:
    """Take SQLite's write lock, sleeping on the event loop while another process has it.

    Runs in SQLAlchemy's greenlet (a cursor-execute event), hence `await_only`.
    """
    if connection.in_transaction:
        return  # begun already: its statements wait in SQLite's busy handler, briefly
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    delay = 0.001
    connection.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
            await_only(asyncio.sleep(delay))
            delay = min(delay * 2, 0.05)
    finally:
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
