"""Ways a mail leaves the process, chosen by EMAIL_BACKEND; each raises on failure."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import sys
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol, TextIO

import httpx

from bot.config import ConfigError, Settings

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 20.0


def one_line(value: str) -> str:
    """A header value on one line: every run of whitespace, line breaks included, is one space.

    A subject with a line break would otherwise add headers of its own (`Bcc: ...`) or make
    email.message refuse the mail.
    """
    return " ".join(value.split())


@dataclass(frozen=True)
class Mail:
    """One mail as every backend gets it; its header fields are always one line."""

    sender: str
    to: str
    subject: str
    text: str
    html: str | None

    def __post_init__(self) -> None:
        for name in ("sender", "to", "subject"):
            object.__setattr__(self, name, one_line(getattr(self, name)))


class DeliveryError(Exception):
    """A mail could not be handed over; the message is safe to store (no mail text)."""


class Backend(Protocol):
    async def send(self, mail: Mail) -> None: ...

    async def close(self) -> None: ...


class ConsoleBackend:
    """Writes each mail to standard output (for development and `demo`)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    async def send(self, mail: Mail) -> None:
        stream = self._stream or sys.stdout
        stream.write(
            f"--- mail ---\nFrom: {mail.sender}\nTo: {mail.to}\nSubject: {mail.subject}\n\n"
            f"{mail.text}\n--- end of mail ---\n"
        )
        stream.flush()

    async def close(self) -> None:
        return None


class SendGridBackend:
    """The official sendgrid client (synchronous urllib), run in a thread with a timeout."""

    def __init__(self, api_key: str, host: str, timeout: float = TIMEOUT_SECONDS) -> None:
        from sendgrid import SendGridAPIClient

        self._client = SendGridAPIClient(api_key, host=host)
        self._timeout = timeout

    def _post(self, body: dict[str, object]) -> int:
        from python_http_client.exceptions import HTTPError

        try:
            response = self._client.client.mail.send.post(request_body=body, timeout=self._timeout)
        except HTTPError as exc:
            raise DeliveryError(f"sendgrid answered {exc.status_code}") from None
        except OSError as exc:  # URLError, socket timeouts, refused connections
            raise DeliveryError(f"sendgrid unreachable: {type(exc).__name__}: {exc}") from None
        return response.status_code

    async def send(self, mail: Mail) -> None:
        content = [{"type": "text/plain", "value": mail.text}]
        if mail.html:
            content.append({"type": "text/html", "value": mail.html})
        body: dict[str, object] = {
            "personalizations": [{"to": [{"email": mail.to}]}],
            "from": {"email": mail.sender},
            "subject": mail.subject,
            "content": content,
        }
        try:
            status = await asyncio.wait_for(
                asyncio.to_thread(self._post, body), timeout=self._timeout + 5
            )
        except TimeoutError:
            raise DeliveryError("sendgrid timed out") from None
        if status not in (200, 201, 202):
            raise DeliveryError(f"sendgrid answered {status}")

    async def close(self) -> None:
        return None


class SmtpBackend:
    """smtplib in a thread: STARTTLS when SMTP_STARTTLS, login when a username is set."""

    def __init__(self, settings: Settings, timeout: float = TIMEOUT_SECONDS) -> None:
        if not settings.smtp_host:
            raise ConfigError("SMTP_HOST: required for EMAIL_BACKEND=smtp")
        self._host = settings.smtp_host
        self._port = settings.smtp_port
        self._username = settings.smtp_username
        self._password = settings.smtp_password or ""
        self._starttls = settings.smtp_starttls
        self._timeout = timeout

    def _send_sync(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
            smtp.ehlo()
            if self._starttls:
                smtp.starttls()
                smtp.ehlo()
            if self._username:
                smtp.login(self._username, self._password)
            smtp.send_message(message)

    async def send(self, mail: Mail) -> None:
        message = EmailMessage()
        message["From"] = mail.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.text)
        if mail.html:
            message.add_alternative(mail.html, subtype="html")
        try:
            await asyncio.wait_for(
                asyncio.to_thread(self._send_sync, message), timeout=self._timeout + 5
            )
        except TimeoutError:
            raise DeliveryError("smtp timed out") from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"smtp answered {exc.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"smtp failed: {type(exc).__name__}") from None

    async def close(self) -> None:
        return None


class WebhookBackend:
    """POSTs `{to, subject, text, html}` as JSON; any 2xx is success."""

    def __init__(self, url: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self._url = url
        self._client = httpx.AsyncClient(timeout=timeout)

    async def send(self, mail: Mail) -> None:
        payload = {"to": mail.to, "subject": mail.subject, "text": mail.text, "html": mail.html}
        try:
            response = await self._client.post(self._url, json=payload)
        except httpx.TimeoutException:
            raise DeliveryError("webhook timed out") from None
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook failed: {type(exc).__name__}") from None
        if not response.is_success:
            raise DeliveryError(f"webhook answered {response.status_code}")

    async def close(self) -> None:
        await self._client.aclose()


def make_backend(settings: Settings, *, timeout: float = TIMEOUT_SECONDS) -> Backend:
    match settings.email_backend:
        case "console":
            return ConsoleBackend()
        case "sendgrid":
            if not settings.sendgrid_api_key:
                raise ConfigError("SENDGRID_API_KEY: required for EMAIL_BACKEND=sendgrid")
            return SendGridBackend(settings.sendgrid_api_key, settings.sendgrid_api_host, timeout)
        case "smtp":
            return SmtpBackend(settings, timeout)
        case "webhook":
            if not settings.email_webhook_url:
                raise ConfigError("EMAIL_WEBHOOK_URL: required for EMAIL_BACKEND=webhook")
            return WebhookBackend(settings.email_webhook_url, timeout)
    raise ConfigError(f"EMAIL_BACKEND: unknown {settings.email_backend!r}")
