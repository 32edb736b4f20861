"""The real bot, in-process, against the Bot API stand-in: what end-to-end tests drive."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from telegram.ext import Application

from bot.app import build_application, running
from bot.config import Settings, load_settings
from bot.resources import Resources
from bot.services import validation
from bot.standin import BotApiStandin, StandinUser
from storage.migrate import upgrade
from storage.models import EmailOutbox
from tests.support import databases

TOKEN = "123456:TEST-token"
BOT_USERNAME = "helpdesk_test_bot"
ADMIN_ID = 900


def make_settings(tmp_path: Path, api_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "_env_file": None,
        "telegram_bot_token": TOKEN,
        "telegram_api_url": api_url,
        "database_url": databases.database_url(tmp_path),
        "admin_ids": [ADMIN_ID],
        "email_backend": "console",
        "digest_schedule": "off",
        "admin_digest_schedule": "off",
        "flood_limit": 0,  # scripted people type faster than anyone; test_flood.py turns it on
    }
    values.update(overrides)
    return load_settings(**values)


@dataclass
class Harness:
    standin: BotApiStandin
    resources: Resources
    settings: Settings
    application: Application

    def user(self, telegram_id: int, name: str, username: str | None = None) -> StandinUser:
        return self.standin.user(telegram_id, first_name=name, username=username)

    @property
    def admin(self) -> StandinUser:
        return self.standin.user(ADMIN_ID, first_name="Ada", username="ada_admin")

    async def mails_to(self, address: str) -> list[EmailOutbox]:
        async with self.resources.session_factory() as session:
            rows = await session.scalars(
                select(EmailOutbox).where(EmailOutbox.recipient == address).order_by(EmailOutbox.id)
            )
            return list(rows)

    async def latest_code(self, address: str) -> str:
        for _ in range(50):
            mails = [m for m in await self.mails_to(address) if m.kind == "verification"]
            if mails:
                return re.search(r"\b(\d{6})\b", mails[-1].text).group(1)
            await asyncio.sleep(0.05)
        raise AssertionError(f"no verification mail to {address}")

    async def register(
        self, user: StandinUser, *, name: str, email: str, phone: str | None = None
    ) -> None:
        """Play the whole registration dialogue as the customer would."""
        await user.send("/start")
        await user.receive_text("full name")
        await user.send(name)
        await user.receive_text("email")
        await user.send(email)
        if self.settings.require_email_verification:
            await user.receive_text("6-digit code")
            await user.send(await self.latest_code(validation.email(email)))
            await user.receive_text("verified")
        await user.send(phone or "/skip")
        await user.receive_text("all set")

    async def open_ticket(
        self, user: StandinUser, *, subject: str, description: str, priority: str = "Medium"
    ) -> int:
        await user.send("/new")
        await user.receive_text("subject")
        await user.send(subject)
        await user.receive_text("Describe")
        await user.send(description)
        buttons = await user.receive_text("How urgent")
        await user.press(buttons, priority)
        opened = await user.receive_text("is open")
        return int(re.search(r"#(\d+)", opened["text"]).group(1))

    async def add_agent(self, user: StandinUser, name: str) -> None:
        await self.admin.send(f"/addagent {name}")
        invite = await self.admin.receive_text("Invite for")
        token = re.search(r"start=([A-Za-z0-9_-]+)", invite["text"]).group(1)
        await user.send(f"/start {token}")
        await user.receive_text("You are now an agent")


def migrate(settings: Settings) -> None:
    upgrade(settings.database_url)


@contextlib.asynccontextmanager
async def started_bot(
    tmp_path: Path,
    *,
    rate_limiter: bool = False,
    standin: BotApiStandin | None = None,
    topic_mode: bool = False,
    team_chat: int | None = None,
    **overrides: Any,
) -> AsyncIterator[Harness]:
    """A migrated database, the stand-in, and the real Application polling it.

    With `standin`, that one (still running afterwards): a restart of the bot, same database.
    `topic_mode`: the bot's topic mode is on; `team_chat`: a forum supergroup made the bot's
    team chat.
    """
    async with contextlib.AsyncExitStack() as stack:
        if standin is None:
            standin = await stack.enter_async_context(
                BotApiStandin(token=TOKEN, bot_username=BOT_USERNAME, topics_enabled=topic_mode)
            )
        if team_chat is not None:
            standin.forum_group(team_chat, "Support team")
            overrides["team_chat_id"] = team_chat
        settings = make_settings(tmp_path, standin.url, **overrides)
        await asyncio.to_thread(migrate, settings)
        resources = Resources.open(settings)
        application = build_application(resources, rate_limiter=rate_limiter)
        async with running(application):
            yield Harness(
                standin=standin, resources=resources, settings=settings, application=application
            )


AGENT_ID = 2001
CUSTOMER_ID = 1001


async def customer_with_ticket(
    harness: Harness, *, telegram_id: int = CUSTOMER_ID, name: str = "Alice", subject: str = "Help"
) -> tuple[StandinUser, int]:
    customer = harness.user(telegram_id, name.split()[0], name.split()[0].lower())
    await harness.register(customer, name=name, email=f"{name.split()[0].lower()}@example.com")
    number = await harness.open_ticket(customer, subject=subject, description="Details here")
    return customer, number


async def assigned_ticket(harness: Harness) -> tuple[StandinUser, StandinUser, int]:
    """A registered customer with a ticket assigned to a fresh agent (notices consumed)."""
    customer, number = await customer_with_ticket(harness)
    agent = harness.user(AGENT_ID, "Sam", "sam")
    await harness.add_agent(agent, "Sam Support")
    await harness.admin.send(f"/assign {number} {AGENT_ID}")
    await harness.admin.receive_text("is assigned")
    await agent.receive_text(f"#{number} · Alice is assigned to you")
    await customer.receive_text("is now handling your ticket")
    return customer, agent, number
