"""Fixtures and factories for the email and jobs tests: a migrated database per test."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow_seconds
from bot.config import Settings
from bot.email.backends import ConsoleBackend
from bot.email.service import EmailService
from bot.resources import Resources
from bot.services import activities
from storage.db import SessionFactory, create_engine, create_session_factory
from storage.models import Delivery, EmailOutbox, JobRun, Message, Role, Status, Ticket, User
from tests.support import databases

_telegram_ids = itertools.count(10_000)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A database migrated by the real migrations, this test's own (tests/support/databases.py)."""
    return databases.database_url(tmp_path)


def make_settings(db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "email_backend": "console",
        "email_from": "desk@example.org",
        "timezone": "Europe/Berlin",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url)


@pytest.fixture
async def session_factory(db_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(db_url)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def resources(settings: Settings) -> AsyncIterator[Resources]:
    engine = create_engine(settings.database_url)
    email = EmailService(ConsoleBackend(), sender=settings.email_from)
    yield Resources(settings, engine, create_session_factory(engine), email)
    await engine.dispose()


async def make_user(
    session: AsyncSession,
    *,
    name: str | None = "Anna Customer",
    email: str | None = "anna@example.org",
    role: Role = Role.CUSTOMER,
    **fields: Any,
) -> User:
    user = User(telegram_id=next(_telegram_ids), name=name, email=email, role=role.value, **fields)
    session.add(user)
    await session.flush()
    return user


async def make_ticket(
    session: AsyncSession,
    *,
    customer: User,
    subject: str = "Printer is on fire",
    agent: User | None = None,
    status: Status = Status.OPEN,
    created_at: datetime | None = None,
    **fields: Any,
) -> Ticket:
    created = created_at or utcnow_seconds()
    ticket = Ticket(
        customer_id=customer.id,
        agent_id=agent.id if agent else None,
        subject=subject,
        description="…",
        status=status.value,
        created_at=created,
        updated_at=created,
        assigned_at=created if agent else None,
        **fields,
    )
    session.add(ticket)
    await session.flush()
    await activities.record(
        session,
        ticket_id=ticket.id,
        activity={"status": status.value, "requester": customer.telegram_id},
        performer_id=customer.telegram_id,
        at=created,
    )
    return ticket


async def set_status(
    session: AsyncSession, ticket: Ticket, status: Status, *, at: datetime | None = None
) -> None:
    """What the ticket lifecycle does on a status change: columns and one activity."""
    moment = (at or utcnow_seconds()).replace(microsecond=0)
    ticket.status = status.value
    ticket.updated_at = moment
    if status is Status.RESOLVED:
        ticket.resolved_at = moment
    if status is Status.CLOSED:
        ticket.closed_at = moment
    await activities.record(
        session, ticket_id=ticket.id, activity={"status": status.value}, performer_id=1, at=moment
    )


async def add_message(
    session: AsyncSession, ticket: Ticket, *, kind: str, at: datetime | None = None
) -> Message:
    message = Message(
        ticket_id=ticket.id, kind=kind, text=f"{kind} says hi", created_at=at or utcnow_seconds()
    )
    session.add(message)
    await session.flush()
    return message


async def outbox(session_factory: SessionFactory, kind: str | None = None) -> list[EmailOutbox]:
    async with session_factory() as session:
        query = select(EmailOutbox).order_by(EmailOutbox.id)
        if kind is not None:
            query = query.where(EmailOutbox.kind == kind)
        return list((await session.scalars(query)).all())


async def deliveries(session_factory: SessionFactory) -> list[Delivery]:
    async with session_factory() as session:
        return list((await session.scalars(select(Delivery).order_by(Delivery.id))).all())


async def job_runs(session_factory: SessionFactory, job: str) -> list[JobRun]:
    async with session_factory() as session:
        query = select(JobRun).where(JobRun.job == job).order_by(JobRun.id)
        return list((await session.scalars(query)).all())


async def count(session_factory: SessionFactory, model: Any) -> int:
    async with session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)
