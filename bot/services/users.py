"""People: who is writing, their role, their profile."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.services import access
from bot.services.errors import NotFound
from storage.models import Role, User
from storage.models.core import display_name


@dataclass(frozen=True)
class Actor:
    """The person behind an update, as the rules see them."""

    user_id: int
    telegram_id: int
    role: Role
    name: str
    registered: bool

    @property
    def is_staff(self) -> bool:
        return self.role in access.STAFF

    def mine(self) -> Actor:
        """The same person seen as an agent: an admin's own queue is what is assigned to them."""
        return replace(self, role=Role.AGENT) if self.role is Role.ADMIN else self


def actor_of(user: User, *, is_admin: bool) -> Actor:
    return _actor(
        user.id,
        user.telegram_id,
        user.role,
        user.name,
        user.username,
        user.registered_at,
        is_admin=is_admin,
    )


def _actor(
    user_id: int,
    telegram_id: int,
    stored_role: str,
    name: str | None,
    username: str | None,
    registered_at: object,
    *,
    is_admin: bool,
) -> Actor:
    role = access.effective_role(stored_role, is_admin=is_admin)
    return Actor(
        user_id=user_id,
        telegram_id=telegram_id,
        role=role,
        name=display_name(name, username, telegram_id),
        registered=role is not Role.CUSTOMER or registered_at is not None,
    )


async def by_telegram_id(session: AsyncSession, telegram_id: int) -> User | None:
    return await session.scalar(select(User).where(User.telegram_id == telegram_id))


async def get(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


_USERS = User.__table__
# Every update comes through here: one prepared statement updates and reads who is writing.
_TOUCH = (
    update(_USERS)
    .where(_USERS.c.telegram_id == bindparam("b_telegram_id"))
    .values(
        username=bindparam("b_username"),
        language=bindparam("b_language"),
        last_active_at=bindparam("b_now"),
        blocked_at=None,
    )
    .returning(_USERS.c.id, _USERS.c.role, _USERS.c.name, _USERS.c.username, _USERS.c.registered_at)
)
_SET_ROLE = update(_USERS).where(_USERS.c.id == bindparam("b_id")).values(role=bindparam("b_role"))


async def touch(
    session: AsyncSession,
    *,
    telegram_id: int,
    username: str | None,
    language: str | None,
    is_admin: bool,
) -> tuple[Actor, bool]:
    """The person writing now, created on first contact; username and activity kept fresh.

    Returns them as the rules see them, and whether they are new or their role changed (their
    menu must be set). Writing to the bot also means the person can receive messages again,
    so a mark that they had blocked the bot is lifted.
    """
    now = utcnow()
    row = (
        await session.execute(
            _TOUCH,
            {
                "b_telegram_id": telegram_id,
                "b_username": username,
                "b_language": language,
                "b_now": now,
            },
        )
    ).one_or_none()
    if row is None:
        user = User(
            telegram_id=telegram_id,
            role=Role.ADMIN if is_admin else Role.CUSTOMER,
            created_at=now,
            username=username,
            language=language,
            last_active_at=now,
        )
        session.add(user)
        await session.flush()
        return actor_of(user, is_admin=is_admin), True
    stored = Role(row.role)
    if is_admin and stored != Role.ADMIN:
        role = Role.ADMIN
    elif not is_admin and stored == Role.ADMIN:
        role = Role.CUSTOMER  # removed from ADMIN_IDS
    else:
        role = stored
    if role != stored:
        await session.execute(_SET_ROLE, {"b_id": row.id, "b_role": role})
    actor = _actor(
        row.id, telegram_id, role, row.name, row.username, row.registered_at, is_admin=is_admin
    )
    return actor, role != stored


@dataclass(frozen=True)
class Profile:
    role: Role
    telegram_id: int
    username: str | None
    name: str | None
    email: str | None
    email_verified: bool
    phone: str | None


async def profile(session: AsyncSession, actor: Actor) -> Profile:
    user = await get(session, actor.user_id)
    return Profile(
        role=actor.role,
        telegram_id=user.telegram_id,
        username=user.username,
        name=user.name,
        email=user.email,
        email_verified=user.email_verified_at is not None,
        phone=user.phone,
    )


async def find_staff(session: AsyncSession, ref: str) -> User:
    """An agent or admin by Telegram id or @username."""
    ref = ref.strip()
    query = select(User).where(User.role.in_([Role.AGENT, Role.ADMIN]), User.deleted_at.is_(None))
    digits = ref.removeprefix("-")
    if digits.isdecimal() and len(digits) <= 18:  # fits BIGINT; "²", "--5" are no ids
        query = query.where(User.telegram_id == int(ref))
    else:
        query = query.where(User.username == ref.removeprefix("@"))
    user = await session.scalar(query)
    if user is None:
        raise NotFound(f"No agent {ref}.")
    return user


async def admins(session: AsyncSession) -> list[User]:
    return list(await session.scalars(select(User).where(User.role == Role.ADMIN)))


async def erase(session: AsyncSession, actor: Actor) -> None:
    """/deleteme: personal data and message texts go; tickets and history stay, anonymised."""
    from storage.models import EmailCode, KbOffer, Message

    user = await get(session, actor.user_id)
    user.name = user.email = user.phone = user.username = None
    user.email_verified_at = None
    user.registered_at = None
    user.deleted_at = utcnow()
    await session.execute(
        update(Message).where(Message.author_id == user.id).values(text=None, file_id=None)
    )
    await session.execute(delete(EmailCode).where(EmailCode.user_id == user.id))
    await session.execute(update(KbOffer).where(KbOffer.user_id == user.id).values(question=""))
    await session.flush()
