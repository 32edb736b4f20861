"""Customer registration: name, verified email, optional phone."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.email import mails
from bot.services import secrets, users
from bot.services.errors import Invalid
from bot.services.users import Actor
from storage.models import CodeMail, EmailCode

CODE_VALID_FOR = timedelta(minutes=15)
CODE_ATTEMPTS = 3
# Verification mails: at most this many per person per hour and per address per day.
CODES_PER_PERSON, PERSON_WINDOW = 3, timedelta(hours=1)
CODES_PER_ADDRESS, ADDRESS_WINDOW = 5, timedelta(days=1)


class TooManyCodes(Invalid):
    """A verification mail refused by the limits; says when the next one may be asked for."""


def _wait_text(wait: timedelta) -> str:
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{math.ceil(minutes / 60)} hours"


async def _check_code_limits(
    session: AsyncSession, *, user_id: int, address_key: str, now: datetime
) -> None:
    """Refuse a verification mail past either limit; the counts are rows, so restarts keep them."""
    limits = (
        (
            CodeMail.user_id == user_id,
            CODES_PER_PERSON,
            PERSON_WINDOW,
            "you have asked for {} codes in the last hour",
        ),
        (
            CodeMail.address_key == address_key,
            CODES_PER_ADDRESS,
            ADDRESS_WINDOW,
            "this address got {} codes in the last day",
        ),
    )
    for counted, limit, window, wording in limits:
        recent = select(func.count(), func.min(CodeMail.sent_at)).where(
            counted, CodeMail.sent_at > now - window
        )
        count, oldest = (await session.execute(recent)).one()
        if count >= limit:
            raise TooManyCodes(
                f"No new code for now: {wording.format(count)}. "
                f"You can ask again in {_wait_text(oldest + window - now)}."
            )


async def send_code(session: AsyncSession, *, actor: Actor, email: str) -> None:
    """Mail a fresh 6-digit code to `email`; earlier codes of this user stop working.

    At most CODES_PER_PERSON an hour and CODES_PER_ADDRESS a day: past that TooManyCodes.
    """
    user = await users.get(session, actor.user_id)
    now = utcnow()
    address_key = mails.address_key(email)
    await _check_code_limits(session, user_id=user.id, address_key=address_key, now=now)
    await session.execute(delete(CodeMail).where(CodeMail.sent_at <= now - ADDRESS_WINDOW))
    session.add(CodeMail(user_id=user.id, address_key=address_key, sent_at=now))
    await session.execute(
        update(EmailCode)
        .where(EmailCode.user_id == user.id, EmailCode.used_at.is_(None))
        .values(used_at=now)
    )
    code = secrets.new_code()
    row = EmailCode(
        user_id=user.id,
        email=email,
        code_hash=secrets.digest(code, salt=str(user.id)),
        created_at=now,
        expires_at=now + CODE_VALID_FOR,
    )
    session.add(row)
    await session.flush()
    await mails.queue_verification_code(session, user=user, email=email, code=code, code_id=row.id)


class CodeCheck(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    EXHAUSTED = "exhausted"
    EXPIRED = "expired"


@dataclass(frozen=True)
class CodeResult:
    outcome: CodeCheck
    attempts_left: int = 0


async def check_code(session: AsyncSession, *, actor: Actor, email: str, code: str) -> CodeResult:
    """Compare a typed code with the newest one sent; wrong tries count even when refused."""
    row = await session.scalar(
        select(EmailCode)
        .where(EmailCode.user_id == actor.user_id, EmailCode.email == email)
        .where(EmailCode.used_at.is_(None))
        .order_by(EmailCode.id.desc())
        .limit(1)
    )
    if row is None or row.attempts >= CODE_ATTEMPTS:
        return CodeResult(CodeCheck.EXHAUSTED)
    if row.expires_at <= utcnow():
        return CodeResult(CodeCheck.EXPIRED)
    if secrets.matches(code.strip(), row.code_hash, salt=str(actor.user_id)):
        row.used_at = utcnow()
        await session.flush()
        return CodeResult(CodeCheck.OK)
    row.attempts += 1
    await session.flush()
    left = CODE_ATTEMPTS - row.attempts
    return CodeResult(CodeCheck.WRONG if left else CodeCheck.EXHAUSTED, left)


async def complete(
    session: AsyncSession,
    *,
    actor: Actor,
    name: str,
    email: str,
    email_verified: bool,
    phone: str | None,
) -> None:
    """Store the customer's profile: from now on they can open tickets."""
    user = await users.get(session, actor.user_id)
    now = utcnow()
    user.name = name
    user.email = email
    user.email_verified_at = now if email_verified else None
    user.phone = phone
    user.registered_at = now
    user.deleted_at = None
    await session.flush()
