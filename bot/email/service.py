"""Delivery of the outbox: claim due rows, send them, mark them sent or schedule a retry."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot.clock import utcnow
from bot.config import Settings
from bot.email.backends import Backend, DeliveryError, Mail, make_backend
from storage import claims
from storage.db import SessionFactory
from storage.models import EmailOutbox

log = logging.getLogger(__name__)

PENDING = "pending"
SENT = "sent"
FAILED = "failed"

FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=1)
MAX_ATTEMPTS = 20  # about 13 hours of retries before a row is given up as failed
LEASE = timedelta(minutes=5)  # a claimed row is not claimed again before this, unless released
CONCURRENCY = 8


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off after `attempts` failed tries: 30 s, 1 min, 2 min, ... capped at 1 h."""
    exponent = min(max(attempts - 1, 0), 20)
    return min(FIRST_RETRY * (2**exponent), MAX_RETRY)


@dataclass(frozen=True)
class Delivered:
    """What one delivery pass did: mails sent, and mails that failed (queued for a retry)."""

    sent: int = 0
    failed: int = 0

    def __add__(self, other: Delivered) -> Delivered:
        return Delivered(self.sent + other.sent, self.failed + other.failed)


@dataclass(frozen=True)
class _Claimed:
    id: int
    attempts: int
    mail: Mail


class EmailService:
    """Sends outbox rows through one backend (console, sendgrid, smtp or webhook)."""

    def __init__(self, backend: Backend, *, sender: str) -> None:
        self.backend = backend
        self.sender = sender
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> EmailService:
        return cls(make_backend(settings), sender=settings.email_from)

    async def deliver_due(self, session_factory: SessionFactory, *, limit: int = 100) -> int:
        """Send due rows (at most `limit`); returns how many were sent."""
        return (await self.deliver(session_factory, limit=limit)).sent

    async def deliver(
        self, session_factory: SessionFactory, *, limit: int = 100, after_id: int | None = None
    ) -> Delivered:
        """Send due rows (at most `limit`; only rows with an id above `after_id` when given)."""
        async with self._lock:  # one delivery pass at a time per process
            claimed = await self._claim(session_factory, limit, after_id)
            if not claimed:
                return Delivered()
            semaphore = asyncio.Semaphore(CONCURRENCY)

            async def attempt(row: _Claimed) -> tuple[_Claimed, str | None]:
                async with semaphore:
                    try:
                        await self.backend.send(row.mail)
                    except DeliveryError as exc:
                        return row, str(exc)
                    except Exception as exc:  # a backend bug must not stop the other rows
                        log.exception("email backend failed on outbox row %s", row.id)
                        return row, f"{type(exc).__name__}"
                    return row, None

            results = await asyncio.gather(*(attempt(row) for row in claimed))
            return await self._settle(session_factory, results)

    async def _claim(
        self, session_factory: SessionFactory, limit: int, after_id: int | None = None
    ) -> list[_Claimed]:
        """Take due rows in one statement: count the attempt and lease them for LEASE.

        `storage.claims`: concurrent claimers (another process) never get the same row.
        """
        now = utcnow()
        async with session_factory() as session, session.begin():
            due = (
                select(EmailOutbox)
                .where(EmailOutbox.status == PENDING, EmailOutbox.next_try_at <= now)
                .order_by(EmailOutbox.next_try_at, EmailOutbox.id)
                .limit(limit)
            )
            if after_id is not None:
                due = due.where(EmailOutbox.id > after_id)
            rows = await claims.claim(
                session,
                EmailOutbox,
                due,
                values={"attempts": EmailOutbox.attempts + 1, "next_try_at": now + LEASE},
                returning=(
                    EmailOutbox.id,
                    EmailOutbox.attempts,
                    EmailOutbox.recipient,
                    EmailOutbox.subject,
                    EmailOutbox.text,
                    EmailOutbox.html,
                ),
            )
            claimed = [_Claimed(row.id, row.attempts, Mail(self.sender, *row[2:])) for row in rows]
        claimed.sort(key=lambda row: row.id)
        return claimed

    async def _settle(
        self, session_factory: SessionFactory, results: list[tuple[_Claimed, str | None]]
    ) -> Delivered:
        now = utcnow()
        sent = failed = 0
        async with session_factory() as session, session.begin():
            for row, error in results:
                guard = (EmailOutbox.id == row.id, EmailOutbox.attempts == row.attempts)
                if error is None:
                    values: dict[str, object] = {"status": SENT, "sent_at": now}
                    sent += 1
                else:
                    failed += 1
                    log.warning("mail %s failed (attempt %s): %s", row.id, row.attempts, error)
                    values = {"last_error": error[:2000]}
                    if row.attempts >= MAX_ATTEMPTS:
                        values["status"] = FAILED
                    else:
                        values["next_try_at"] = _next_try(now, row.attempts)
                await session.execute(
                    update(EmailOutbox)
                    .where(*guard)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
        if sent:
            log.info("sent %s mail(s)", sent)
        return Delivered(sent, failed)

    async def close(self) -> None:
        await self.backend.close()


def _next_try(now: datetime, attempts: int) -> datetime:
    return now + retry_delay(attempts)
