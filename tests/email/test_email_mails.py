"""Queueing status and verification mails: one row per event, escaped HTML."""

from __future__ import annotations

from bot.clock import utcnow
from bot.email import mails, templates
from storage.models import EmailCode
from tests.jobs.factories import make_ticket, make_user, outbox


async def test_queue_status_mail_twice_queues_once(session_factory):
    async with session_factory() as session, session.begin():
        customer = await make_user(session)
        ticket = await make_ticket(session, customer=customer, subject="VPN down")
        first = await mails.queue_status_mail(
            session, ticket=ticket, customer=customer, event="resolved"
        )
        second = await mails.queue_status_mail(
            session, ticket=ticket, customer=customer, event="resolved"
        )
    async with session_factory() as session, session.begin():
        third = await mails.queue_status_mail(
            session, ticket=ticket, customer=customer, event="resolved"
        )
    assert (first, second, third) == (True, False, False)
    rows = await outbox(session_factory)
    assert [(r.recipient, r.kind, r.status) for r in rows] == [
        ("anna@example.org", "status:resolved", "pending")
    ]
    assert f"#{ticket.id}" in rows[0].subject and "VPN down" in rows[0].text


async def test_queue_status_mail_each_event_queues_its_own_mail(session_factory):
    async with session_factory() as session, session.begin():
        customer = await make_user(session)
        ticket = await make_ticket(session, customer=customer)
        for event in ("assigned", "waiting_customer", "resolved", "closed"):
            assert await mails.queue_status_mail(
                session, ticket=ticket, customer=customer, event=event
            )
    kinds = [row.kind for row in await outbox(session_factory)]
    assert kinds == [
        "status:assigned",
        "status:waiting_customer",
        "status:resolved",
        "status:closed",
    ]


async def test_queue_status_mail_without_email_or_deleted_queues_nothing(session_factory):
    async with session_factory() as session, session.begin():
        no_email = await make_user(session, email=None)
        deleted = await make_user(session, email="gone@example.org", deleted_at=utcnow())
        for customer in (no_email, deleted):
            ticket = await make_ticket(session, customer=customer)
            assert not await mails.queue_status_mail(
                session, ticket=ticket, customer=customer, event="closed"
            )
    assert await outbox(session_factory) == []


async def test_queue_status_mail_rollback_queues_nothing(session_factory):
    async with session_factory() as session:
        customer = await make_user(session)
        ticket = await make_ticket(session, customer=customer)
        await mails.queue_status_mail(session, ticket=ticket, customer=customer, event="closed")
        await session.rollback()
    assert await outbox(session_factory) == []


async def test_queue_verification_code_new_code_row_queues_again(session_factory):
    async with session_factory() as session, session.begin():
        user = await make_user(session)
        for _ in range(2):
            code = EmailCode(
                user_id=user.id, email="anna@example.org", code_hash="x", expires_at=utcnow()
            )
            session.add(code)
            await session.flush()
            assert await mails.queue_verification_code(
                session, user=user, email="anna@example.org", code="123456"
            )
            assert not await mails.queue_verification_code(
                session, user=user, email="anna@example.org", code="123456"
            )
    rows = await outbox(session_factory)
    assert len(rows) == 2 and all("123456" in r.text and "123456" in r.html for r in rows)


def test_status_mail_html_escapes_user_values():
    rendered = templates.status_mail(
        event="closed", name="<b>Eve</b> & co", number=7, subject="<script>alert(1)</script>"
    )
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert "&lt;b&gt;Eve&lt;/b&gt; &amp; co" in rendered.html
    assert "#7" in rendered.subject and "#7" in rendered.text
    assert "<script>alert(1)</script>" in rendered.text  # plain text stays as typed
    assert "buttons" in rendered.text and "Telegram" in rendered.text


def test_weekly_digest_html_escapes_every_line():
    rendered = templates.weekly_digest(
        name="Bob", lines=[templates.DigestLine("12", "a < b & c", "Closed")]
    )
    assert "a &lt; b &amp; c" in rendered.html and "#12" in rendered.html
    assert "#12 a < b & c — Closed" in rendered.text
