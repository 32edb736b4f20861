"""What lives as long as the process: settings, database engine, session factory, email.

Opened and closed in one pair of calls, by the bot's post_init/post_shutdown, by the command
line, by tests that drive the Application by hand, and by jobs run from cron.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.email.service import EmailService
from storage.db import SessionFactory, create_engine, create_session_factory


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    session_factory: SessionFactory
    email: EmailService

    @classmethod
    def open(cls, settings: Settings) -> Resources:
        email = EmailService.from_settings(settings)
        engine = create_engine(settings.database_url, sqlite_driver=settings.sqlite_driver)
        return cls(
            settings=settings,
            engine=engine,
            session_factory=create_session_factory(engine),
            email=email,
        )

    async def close(self) -> None:
        try:
            await self.email.close()
        finally:
            await self.engine.dispose()
