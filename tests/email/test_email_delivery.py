"""Delivering the outbox through real protocols: SendGrid stand-in, SMTP, webhook, console."""

from __future__ import annotations

import asyncio
import email
import email.policy
import io
import json
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import time_machine
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import insert, update

from bot.email import mails, templates
from bot.email.backends import ConsoleBackend, SendGridBackend
from bot.email.service import MAX_RETRY, EmailService, retry_delay
from storage.db import create_engine, create_session_factory
from storage.models import EmailOutbox
from tests.jobs.factories import make_settings, make_ticket, make_user, outbox
from tests.support.sendgrid_server import TIMEOUT, SendGridStandIn

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ROOT = str(Path(__file__).resolve().parents[2])


@pytest.fixture
def sendgrid():
    with SendGridStandIn(hang_seconds=2.0) as server:
        yield server


def sendgrid_service(server: SendGridStandIn, db_url: str, timeout: float = 5.0) -> EmailService:
    settings = make_settings(
        db_url, email_backend="sendgrid", sendgrid_api_key="SG.test", sendgrid_api_host=server.url
    )
    service = EmailService.from_settings(settings)
    service.backend = SendGridBackend("SG.test", settings.sendgrid_api_host, timeout=timeout)
    return service


async def queue_some(session_factory, count: int = 1) -> None:
    async with session_factory() as session, session.begin():
        customer = await make_user(session, name="Zoë <Admin>")
        for _ in range(count):
            ticket = await make_ticket(session, customer=customer, subject="Dead & gone")
            await mails.queue_status_mail(session, ticket=ticket, customer=customer, event="closed")


async def test_deliver_due_sendgrid_sends_once(sendgrid, db_url, session_factory):
    service = sendgrid_service(sendgrid, db_url)
    await queue_some(session_factory)
    assert await service.deliver_due(session_factory) == 1
    assert await service.deliver_due(session_factory) == 0
    [request] = sendgrid.accepted
    assert request.headers["Authorization"] == "Bearer SG.test"
    assert request.to == ["anna@example.org"]
    assert request.body["from"] == {"email": "desk@example.org"}
    assert "Dead &amp; gone" in request.content("text/html")
    assert "Zoë &lt;Admin&gt;" in request.content("text/html")
    assert "Dead & gone" in request.content("text/plain")
    [row] = await outbox(session_factory)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
    assert row.sent_at is not None


async def test_deliver_due_after_500_retries_with_backoff_and_sends_once(
    sendgrid, db_url, session_factory
):
    service = sendgrid_service(sendgrid, db_url)
    sendgrid.fail_next(500, 500)
    with time_machine.travel(START, tick=False) as clock:
        await queue_some(session_factory)
        assert await service.deliver_due(session_factory) == 0
        [row] = await outbox(session_factory)
        assert (row.status, row.attempts, row.last_error) == ("pending", 1, "sendgrid answered 500")
        assert row.next_try_at == START + timedelta(seconds=30)
        assert await service.deliver_due(session_factory) == 0  # not due yet: nothing tried
        assert len(sendgrid.requests) == 1
        clock.shift(timedelta(seconds=30))
        assert await service.deliver_due(session_factory) == 0
        [row] = await outbox(session_factory)
        assert row.attempts == 2 and row.next_try_at == START + timedelta(seconds=90)
        clock.shift(timedelta(seconds=60))
        assert await service.deliver_due(session_factory) == 1
    assert [r.answered for r in sendgrid.requests] == [500, 500, 202]
    assert len(sendgrid.accepted) == 1
    [row] = await outbox(session_factory)
    assert (row.status, row.attempts) == ("sent", 3)


async def test_deliver_due_timeout_retries_without_duplicate(sendgrid, db_url, session_factory):
    service = sendgrid_service(sendgrid, db_url, timeout=0.3)
    sendgrid.fail_next(TIMEOUT)
    with time_machine.travel(START, tick=False) as clock:
        await queue_some(session_factory)
        assert await service.deliver_due(session_factory) == 0
        [row] = await outbox(session_factory)
        assert row.status == "pending" and "timed out" in row.last_error.lower()
        clock.shift(retry_delay(1))
        assert await service.deliver_due(session_factory) == 1
        assert await service.deliver_due(session_factory) == 0
    assert len(sendgrid.accepted) == 1


def test_retry_delay_doubles_up_to_cap():
    delays = [retry_delay(n) for n in range(1, 12)]
    assert delays[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert max(delays) == MAX_RETRY and delays[-1] == MAX_RETRY


async def test_deliver_due_failing_row_does_not_stop_others(sendgrid, db_url, session_factory):
    service = sendgrid_service(sendgrid, db_url)
    await queue_some(session_factory, count=3)
    sendgrid.fail_next(500)
    assert await service.deliver_due(session_factory) == 2
    statuses = sorted(row.status for row in await outbox(session_factory))
    assert statuses == ["pending", "sent", "sent"]


CRASH_SCRIPT = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    sys.path.insert(0, {root!r})
    from bot.email import mails
    from storage.db import create_engine, create_session_factory
    from storage.models import Ticket, User

    async def main():
        engine = create_engine({url!r})
        factory = create_session_factory(engine)
        async with factory() as session, session.begin():
            ticket = await session.get(Ticket, {ticket_id})
            customer = await session.get(User, ticket.customer_id)
            await mails.queue_status_mail(session, ticket=ticket, customer=customer, event="closed")
        os.kill(os.getpid(), signal.SIGKILL)  # dies between queueing and sending

    asyncio.run(main())
    """
)


async def test_deliver_due_after_sigkill_between_queue_and_send_sends_once(
    sendgrid, db_url, session_factory
):
    async with session_factory() as session, session.begin():
        customer = await make_user(session)
        ticket = await make_ticket(session, customer=customer)
    script = CRASH_SCRIPT.format(root=ROOT, url=db_url, ticket_id=ticket.id)
    process = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", script], capture_output=True, timeout=60
    )
    assert process.returncode == -signal.SIGKILL, process.stderr.decode()
    service = sendgrid_service(sendgrid, db_url)  # a fresh process's service
    assert await service.deliver_due(session_factory) == 1
    assert await service.deliver_due(session_factory) == 0
    assert len(sendgrid.accepted) == 1


async def test_deliver_due_claimed_row_of_dead_sender_is_sent_after_lease(
    sendgrid, db_url, session_factory
):
    service = sendgrid_service(sendgrid, db_url)
    with time_machine.travel(START, tick=False) as clock:
        await queue_some(session_factory)
        claimed = await service._claim(session_factory, 10)  # the sender dies after claiming
        assert len(claimed) == 1
        assert await service.deliver_due(session_factory) == 0  # leased: not sent twice
        clock.shift(timedelta(minutes=5))
        assert await service.deliver_due(session_factory) == 1
    assert len(sendgrid.accepted) == 1


async def test_deliver_due_two_senders_racing_send_each_mail_once(
    sendgrid, db_url, session_factory
):
    await queue_some(session_factory, count=30)
    engines = [create_engine(db_url) for _ in range(2)]
    try:
        services = [sendgrid_service(sendgrid, db_url) for _ in range(2)]
        factories = [create_session_factory(engine) for engine in engines]
        sent = await asyncio.gather(
            *(s.deliver_due(f, limit=10) for s, f in zip(services * 3, factories * 3, strict=True))
        )
    finally:
        for engine in engines:
            await engine.dispose()
    assert sum(sent) == 30
    subjects = [(r.to[0], r.subject) for r in sendgrid.accepted]
    assert len(sendgrid.accepted) == 30 and len(set(subjects)) == 30


class _Recorder:
    def __init__(self) -> None:
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server():
    recorder = _Recorder()
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"secret"
        logins.append((auth_data.login, ok))
        return AuthResult(success=ok)

    with socket.socket() as probe:  # Controller needs a concrete port to check it is up
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    recorder.port = port
    recorder.logins = logins
    yield recorder
    controller.stop()


async def test_deliver_due_smtp_sends_multipart_mail(smtp_server, db_url, session_factory):
    settings = make_settings(
        db_url,
        email_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_starttls=False,
    )
    service = EmailService.from_settings(settings)
    await queue_some(session_factory)
    assert await service.deliver_due(session_factory) == 1
    [envelope] = smtp_server.envelopes
    assert envelope.mail_from == "desk@example.org" and envelope.rcpt_tos == ["anna@example.org"]
    content = envelope.content.decode()
    assert "text/plain" in content and "text/html" in content
    assert smtp_server.logins == []


async def test_deliver_due_smtp_logs_in_when_username_set(smtp_server, db_url, session_factory):
    settings = make_settings(
        db_url,
        email_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_starttls=False,
        smtp_username="desk",
        smtp_password="secret",
    )
    await queue_some(session_factory)
    assert await EmailService.from_settings(settings).deliver_due(session_factory) == 1
    assert smtp_server.logins == [(b"desk", True)] and len(smtp_server.envelopes) == 1


@pytest.fixture
def webhook_receiver():
    received = []
    statuses = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = statuses.pop(0) if statuses else 200
            received.append((status, json.loads(body)))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    server.received = received
    server.statuses = statuses
    server.url = f"http://127.0.0.1:{server.server_address[1]}/mail"
    yield server
    server.shutdown()
    server.server_close()


async def test_deliver_due_webhook_posts_json_and_retries_5xx(
    webhook_receiver, db_url, session_factory
):
    settings = make_settings(
        db_url, email_backend="webhook", email_webhook_url=webhook_receiver.url
    )
    service = EmailService.from_settings(settings)
    webhook_receiver.statuses.append(503)
    try:
        with time_machine.travel(START, tick=False) as clock:
            await queue_some(session_factory)
            assert await service.deliver_due(session_factory) == 0
            clock.shift(retry_delay(1))
            assert await service.deliver_due(session_factory) == 1
    finally:
        await service.close()
    assert [status for status, _ in webhook_receiver.received] == [503, 200]
    payload = webhook_receiver.received[-1][1]
    assert set(payload) == {"to", "subject", "text", "html"}
    assert payload["to"] == "anna@example.org" and "Dead &amp; gone" in payload["html"]


async def test_deliver_due_console_prints_mail(db_url, session_factory):
    stream = io.StringIO()
    service = EmailService(ConsoleBackend(stream), sender="desk@example.org")
    await queue_some(session_factory)
    assert await service.deliver_due(session_factory) == 1
    printed = stream.getvalue()
    assert "To: anna@example.org" in printed and "Dead & gone" in printed


INJECTED = "Printer\r\nBcc: x@y"


async def queue_injected(session_factory) -> None:
    """A status mail about a ticket whose subject has a line break, and a row of the same kind
    queued by an earlier version that stored the subject as it came."""
    async with session_factory() as session, session.begin():
        customer = await make_user(session)
        ticket = await make_ticket(session, customer=customer, subject=INJECTED)
        await mails.queue_status_mail(session, ticket=ticket, customer=customer, event="closed")
        rendered = templates.Rendered(f"Old {INJECTED}", "text", "<p>text</p>")
        row = mails.outbox_row(to=customer.email, rendered=rendered, kind="x", dedupe_key="old")
        await session.execute(insert(EmailOutbox), {**row, "subject": rendered.subject})


async def test_deliver_due_smtp_subject_with_line_break_adds_no_header(
    smtp_server, db_url, session_factory
):
    settings = make_settings(
        db_url,
        email_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_starttls=False,
    )
    await queue_injected(session_factory)
    assert await EmailService.from_settings(settings).deliver_due(session_factory) == 2
    subjects = []
    for envelope in smtp_server.envelopes:
        assert envelope.rcpt_tos == ["anna@example.org"]
        head = envelope.content.split(b"\r\n\r\n", 1)[0].decode()
        assert not [line for line in head.splitlines() if line.lower().startswith("bcc")]
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert message["Bcc"] is None
        subjects.append(str(message["Subject"]))
    assert sorted(subjects) == ["#1 Printer Bcc: x@y: closed", "Old Printer Bcc: x@y"]


async def test_deliver_due_webhook_and_console_get_one_line_subjects(
    webhook_receiver, db_url, session_factory
):
    await queue_injected(session_factory)
    stream = io.StringIO()
    await EmailService(ConsoleBackend(stream), sender="desk@example.org").deliver_due(
        session_factory
    )
    heads = [mail.split("\n\n", 1)[0] for mail in stream.getvalue().split("--- mail ---\n")[1:]]
    assert sorted(head.splitlines()[-1] for head in heads) == [
        "Subject: #1 Printer Bcc: x@y: closed",
        "Subject: Old Printer Bcc: x@y",
    ]
    assert all(len(head.splitlines()) == 3 for head in heads)  # From, To, Subject
    async with session_factory() as session, session.begin():
        await session.execute(update(EmailOutbox).values(status="pending", next_try_at=START))
    settings = make_settings(
        db_url, email_backend="webhook", email_webhook_url=webhook_receiver.url
    )
    service = EmailService.from_settings(settings)
    try:
        assert await service.deliver_due(session_factory) == 2
    finally:
        await service.close()
    subjects = sorted(payload["subject"] for _, payload in webhook_receiver.received)
    assert subjects == ["#1 Printer Bcc: x@y: closed", "Old Printer Bcc: x@y"]


def test_from_settings_without_sendgrid_key_fails_with_setting_name(db_url):
    from bot.config import ConfigError

    with pytest.raises(ConfigError, match="SENDGRID_API_KEY"):
        EmailService.from_settings(make_settings(db_url, email_backend="sendgrid"))


def test_templates_closed_mail_mentions_rating_buttons():
    rendered = templates.status_mail(event="closed", name="A", number=3, subject="S")
    assert "rate" in rendered.text and "buttons" in rendered.html
