"""People: who is writing, their role, their profile."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import ColumnElement, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.services import access, outbound
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
    banned: bool = False  # /ban: nothing they write is relayed (handlers/guard.py)

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
        banned=user.banned_at is not None,
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
    banned: bool = False,
) -> Actor:
    role = access.effective_role(stored_role, is_admin=is_admin)
    return Actor(
        user_id=user_id,
        telegram_id=telegram_id,
        role=role,
        name=display_name(name, username, telegram_id),
        registered=role is not Role.CUSTOMER or registered_at is not None,
        banned=banned,
    )


async def by_telegram_id(session: AsyncSession, telegram_id: int) -> User | None:
    return await session.scalar(select(User).where(User.telegram_id == telegram_id))


async def get(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


_USERS = User.__table__
# Every update comes through here: who is writing is read, and written only when something
# changed (see `touch`), so most updates take no write lock.
_WHO = select(
    _USERS.c.id,
    _USERS.c.role,
    _USERS.c.name,
    _USERS.c.username,
    _USERS.c.language,
    _USERS.c.registered_at,
    _USERS.c.blocked_at,
    _USERS.c.banned_at,
    _USERS.c.last_active_at,
).where(_USERS.c.telegram_id == bindparam("b_telegram_id"))
_FRESHEN = (
    update(_USERS)
    .where(_USERS.c.id == bindparam("b_id"))
    .values(
        username=bindparam("b_username"),
        language=bindparam("b_language"),
        last_active_at=bindparam("b_now"),
    )
)
_SET_ROLE = update(_USERS).where(_USERS.c.id == bindparam("b_id")).values(role=bindparam("b_role"))
# How old `last_active_at` may get before an update writes it again (it orders agents for
# automatic assignment and shows in /agents: a minute is fresh enough).
ACTIVE_STALE_AFTER = timedelta(minutes=1)


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
    menu must be set). It only reads, unless something is to be written: a new person, a role
    that changed, a new username or language, a `last_active_at` older than
    ACTIVE_STALE_AFTER, or a mark that they had blocked the bot (writing to it means they can
    receive messages again: the mark is lifted and what was held for them goes out).
    """
    now = utcnow()
    row = (await session.execute(_WHO, {"b_telegram_id": telegram_id})).one_or_none()
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
    if (
        row.username != username
        or row.language != language
        or row.last_active_at is None
        or now - row.last_active_at >= ACTIVE_STALE_AFTER
    ):
        values = {"b_id": row.id, "b_username": username, "b_language": language, "b_now": now}
        await session.execute(_FRESHEN, values)
    if row.blocked_at is not None:
        await unblocked(session, telegram_id=telegram_id)
    stored = Role(row.role)
    if is_admin and stored != Role.ADMIN:
        role = Role.ADMIN
        await session.execute(_SET_ROLE, {"b_id": row.id, "b_role": role})
    elif not is_admin and stored == Role.ADMIN:
        # Start-up reconciles roles with ADMIN_IDS (bot/services/roles.py); this is another
        # process's doing (started with other settings): the same demotion.
        from bot.services import lifecycle  # lifecycle builds on users

        role = Role.CUSTOMER
        await lifecycle.demote(session, person=await get(session, row.id), performer_id=None)
    else:
        role = stored
    actor = _actor(
        row.id,
        telegram_id,
        role,
        row.name,
        username,
        row.registered_at,
        is_admin=is_admin,
        banned=row.banned_at is not None,
    )
    return actor, role != stored


async def unblocked(session: AsyncSession, *, telegram_id: int) -> None:
    """They can receive messages again (they wrote, or unblocked the bot): the mark is lifted
    and what was held for their chat is released, to go out in order after the commit."""
    await session.execute(
        update(User)
        .where(User.telegram_id == telegram_id, User.blocked_at.is_not(None))
        .values(blocked_at=None)
        .execution_options(synchronize_session=False)
    )
    await outbound.release_held(session, chat_id=telegram_id)


async def blocked(session: AsyncSession, *, telegram_id: int) -> None:
    """They blocked the bot (Telegram said so): sends to them wait until they come back."""
    await session.execute(
        update(User)
        .where(User.telegram_id == telegram_id, User.blocked_at.is_(None))
        .values(blocked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


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
    user = await session.scalar(query.where(_named_by(ref)))
    if user is None:
        raise NotFound(f"No agent {ref}.")
    return user


async def find(session: AsyncSession, ref: str) -> User:
    """Anyone who has written to the bot, by Telegram id or @username."""
    ref = ref.strip()
    user = await session.scalar(select(User).where(_named_by(ref)))
    if user is None:
        raise NotFound(f"No user {ref} has written to the bot.")
    return user


def _named_by(ref: str) -> ColumnElement[bool]:
    digits = ref.removeprefix("-")
    if digits.isdecimal() and len(digits) <= 18:  # fits BIGINT; "²", "--5" are no ids
        return User.telegram_id == int(ref)
    return User.username == ref.removeprefix("@")


async def admins(session: AsyncSession) -> list[User]:
    return list(await session.scalars(select(User).where(User.role == Role.ADMIN)))
