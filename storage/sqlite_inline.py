"""SQLite for asyncio without a thread hop per call: aiosqlite's API, run on the loop's thread.

aiosqlite gives every connection a thread and sends each call there and back (cursor,
execute, fetch, close: four hand-offs a statement, each a queue, a wake-up and a callback
into the loop). SQLite itself answers a statement on a local file in microseconds, so those
hand-offs cost far more than the work: the transaction of a relayed message (eight
statements) took 8.6 ms of CPU through aiosqlite's thread and takes 3.2 ms here, of which
SQLite's own share is about 0.1 ms. `InlineConnection` keeps aiosqlite's interface, which
SQLAlchemy's `sqlite+aiosqlite` dialect drives, and runs each call at once.

It does so by replacing private parts of `aiosqlite.Connection` (`_tx`, `_execute`,
`_connect`, `__await__`, `stop`, `close`), which aiosqlite may change in any release.
Importing this module checks them against what it was written for (`check_aiosqlite`) and
refuses, naming the installed version, when they differ; SQLITE_DRIVER=aiosqlite then runs
stock aiosqlite instead (storage/db.py), slower but independent of its internals.
"""

from __future__ import annotations

import asyncio
import inspect
import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import Engine

from storage.sqlite import UnsupportedAiosqlite

# The aiosqlite releases whose internals this module was checked against (requirements.txt).
CHECKED_VERSIONS = ("0.22.1",)
# What InlineConnection replaces or sets, and SQLAlchemy's aiosqlite dialect reads.
_METHODS = {
    "_execute": ["self", "fn", "args", "kwargs"],
    "_connect": ["self"],
    "__await__": ["self"],
    "stop": ["self"],
    "close": ["self"],
}
_INSTANCE_ATTRIBUTES = ("_tx", "_running", "_connection", "_connector", "_thread")
_CLASS_ATTRIBUTES = ("_conn",)  # the sqlite3 connection (storage/db.py begins with it)


def incompatibilities() -> list[str]:
    """What differs in the installed aiosqlite from what InlineConnection relies on."""
    problems = []
    version = getattr(aiosqlite, "__version__", "unknown")
    if version not in CHECKED_VERSIONS:
        problems.append(f"version {version} is not one of {', '.join(CHECKED_VERSIONS)}")
    connection = getattr(aiosqlite, "Connection", None)
    if connection is None:
        return [*problems, "aiosqlite.Connection is missing"]
    for name, parameters in _METHODS.items():
        method = getattr(connection, name, None)
        if method is None:
            problems.append(f"Connection.{name} is missing")
        elif list(inspect.signature(method).parameters) != parameters:
            problems.append(f"Connection.{name}{inspect.signature(method)} changed")
    problems += [
        f"Connection.{name} is missing"
        for name in _CLASS_ATTRIBUTES
        if not hasattr(connection, name)
    ]
    try:
        parameters = list(inspect.signature(connection.__init__).parameters)[1:3]
        if parameters != ["connector", "iter_chunk_size"]:
            problems.append(f"Connection.__init__{inspect.signature(connection.__init__)} changed")
        probe = connection(lambda: None, 64)  # not awaited: no thread, no database
    except Exception as error:
        return [*problems, f"Connection() failed: {error!r}"]
    missing = [name for name in _INSTANCE_ATTRIBUTES if not hasattr(probe, name)]
    if missing:
        problems.append(f"Connection instances lack {', '.join(missing)}")
    elif not hasattr(probe._tx, "put_nowait"):
        problems.append("Connection._tx has no put_nowait")
    return problems


def check_aiosqlite() -> None:
    """Raise UnsupportedAiosqlite, saying what to do, unless the installed aiosqlite fits."""
    problems = incompatibilities()
    if problems:
        version = getattr(aiosqlite, "__version__", "unknown")
        raise UnsupportedAiosqlite(
            f"the inline SQLite driver does not support the installed aiosqlite {version} "
            f"({'; '.join(problems)}). Set SQLITE_DRIVER=aiosqlite to run on stock aiosqlite, "
            f"or install aiosqlite=={CHECKED_VERSIONS[-1]} (requirements.txt)."
        )


check_aiosqlite()


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
