"""SQLite for asyncio: writers wait for another process's write lock on the event loop.

SQLite's calls run on the event loop's thread with the inline driver (storage/sqlite_inline.py,
the default) or on aiosqlite's thread of each connection (SQLITE_DRIVER=aiosqlite). The one
thing that can make SQLite wait is another connection's write lock. Waiting inside SQLite's
busy handler would stall the event loop (inline driver), so writers take the lock with `BEGIN
IMMEDIATE` that never waits inside SQLite, and retry with `asyncio.sleep` while another
process (a cron job, an import) holds it: the loop keeps serving everyone else meanwhile.
Readers never wait (WAL).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time

from sqlalchemy.util import await_only


class UnsupportedAiosqlite(RuntimeError):
    """The installed aiosqlite is not one the inline driver was checked against."""


# How long a writer waits for another process's write lock before "database is locked".
LOCK_WAIT_SECONDS = 10.0
# What SQLite's own busy handler may still wait (rare: a reader during WAL recovery).
BUSY_TIMEOUT_MS = 200


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
