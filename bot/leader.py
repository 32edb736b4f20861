"""One active bot process per token: a PostgreSQL advisory lock on a connection of its own.

The active process holds a session-level `pg_try_advisory_lock(key)` on a dedicated connection
that stays open while it runs. A second process started with the same settings is a standby: it
tries the lock every second and takes over as soon as it gets it, which happens when the active
process stops or dies (on SIGKILL the server ends the dead session and its lock with it).

The key comes from the bot's id (the token's part before the colon), not from its secret, so a
token revoked and reissued at @BotFather keeps the same lock. On SQLite there is no standby: the
process runs alone, as before.

While active, the lock's connection is checked every few seconds; if it fails the lock may be
gone and a standby may already be taking over, so `Leadership.lost` is set and the runner stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

NAMESPACE = "telegram-helpdesk"
RETRY_SECONDS = 1.0  # a standby tries the lock this often
CHECK_SECONDS = 3.0  # the active process checks its lock connection this often
QUERY_TIMEOUT = 5.0
# The server notices a vanished client (power loss, network cut) after about 10 + 3 x 3 s of
# silence and ends its session, releasing the lock, instead of waiting for the OS default
# (often two hours).
KEEPALIVES = {
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "3",
    "tcp_keepalives_count": "3",
}


def lock_key(token: str) -> int:
    """The advisory lock key for this bot: a signed 64-bit number from the bot's id."""
    bot_id = token.split(":", 1)[0]
    digest = hashlib.sha256(f"{NAMESPACE}:{bot_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def supports_failover(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@dataclass
class Leadership:
    """This process is the active one; `lost` is set when the lock can no longer be vouched for."""

    key: int
    engine: AsyncEngine | None = None
    connection: AsyncConnection | None = None
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    _watch: asyncio.Task[None] | None = None

    def watch(self) -> None:
        """Check the lock's connection in the background until `release()`."""
        if self.connection is not None and self._watch is None:
            self._watch = asyncio.create_task(self._check_forever(), name="leader-lock-check")

    async def _check_forever(self) -> None:
        assert self.connection is not None
        while True:
            await asyncio.sleep(CHECK_SECONDS)
            try:
                await asyncio.wait_for(self.connection.scalar(text("SELECT 1")), QUERY_TIMEOUT)
            except Exception as exc:  # whatever it is, the lock can no longer be vouched for
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                log.error("lost the connection that holds the leader lock (%s): stopping", reason)
                self.lost.set()
                return

    async def release(self) -> None:
        """Give the lock up (closing its connection ends the session and the lock)."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        if self.connection is not None:
            # Closing the session would release the lock anyway; unlocking first is polite.
            # A connection that failed is only closed (the server has ended its session).
            with contextlib.suppress(Exception):
                if not self.lost.is_set():
                    await asyncio.wait_for(
                        self.connection.execute(
                            text("SELECT pg_advisory_unlock(:key)"), {"key": self.key}
                        ),
                        QUERY_TIMEOUT,
                    )
            with contextlib.suppress(Exception):
                await self.connection.close()
        if self.engine is not None:
            await self.engine.dispose()


async def acquire(database_url: str, token: str, *, stop: asyncio.Event) -> Leadership | None:
    """Wait until this process may run the bot; None if `stop` was set first.

    On SQLite at once (with a note in the log that failover needs PostgreSQL).
    """
    key = lock_key(token)
    if not supports_failover(database_url):
        log.info(
            "failover needs PostgreSQL: on SQLite there is no standby, "
            "so this process runs as the only bot"
        )
        return Leadership(key)
    engine = create_async_engine(
        database_url,
        poolclass=NullPool,
        hide_parameters=True,
        connect_args={
            "timeout": QUERY_TIMEOUT,
            "server_settings": {
                "application_name": "helpdesk-bot leader lock",
                **KEEPALIVES,
            },
        },
    )
    connection: AsyncConnection | None = None
    leadership: Leadership | None = None
    waiting = unreachable = False
    try:
        # The first connection must work, as migrating would need it: a wrong DATABASE_URL
        # fails here at once. Later failures (the server restarting) are waited out.
        connection = await _connect(engine)
        while not stop.is_set():
            try:
                if connection is None:
                    connection = await _connect(engine)
                got = await asyncio.wait_for(
                    connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}),
                    QUERY_TIMEOUT,
                )
            except Exception as exc:
                if not unreachable:
                    log.warning("cannot reach PostgreSQL for the leader lock (%s); retrying", exc)
                unreachable = True
                await _close(None, connection)
                connection, got = None, None
            else:
                unreachable = False
            if got:
                assert connection is not None
                leadership = Leadership(key, engine, connection)
                if waiting:
                    log.info("took over: the active bot process is gone, this one is active now")
                else:
                    log.info("holding the leader lock (PostgreSQL advisory lock %s): active", key)
                return leadership
            if got is False and not waiting:
                log.info(
                    "standby: another bot process holds the leader lock (PostgreSQL advisory "
                    "lock %s); taking over when it stops",
                    key,
                )
                waiting = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RETRY_SECONDS)
        log.info("standby stopped before taking over")
        return None
    finally:
        if leadership is None:
            await _close(engine, connection)


async def _connect(engine: AsyncEngine) -> AsyncConnection:
    connection = await engine.connect()
    # No transaction stays open on this connection: it only holds the lock.
    await connection.execution_options(isolation_level="AUTOCOMMIT")
    return connection


async def _close(engine: AsyncEngine | None, connection: AsyncConnection | None) -> None:
    if connection is not None:
        with contextlib.suppress(Exception):
            await connection.close()
    if engine is not None:
        await engine.dispose()
