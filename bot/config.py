"""Settings read from the environment and `.env` (the process environment wins)."""

from __future__ import annotations

from datetime import UTC
from functools import cached_property
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

OFF = "off"


def _split(value: object) -> object:
    """Read `a,b,c` (or a JSON-less list) from one environment variable."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every variable of the outside interface; names match the environment upper-cased."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", env_ignore_empty=True, extra="ignore"
    )

    telegram_bot_token: str | None = None
    telegram_api_url: str = "https://api.telegram.org"
    database_url: str = "sqlite+aiosqlite:///data/helpdesk.db"
    # SQLite's calls on the event loop's thread (inline, fast; checks aiosqlite's internals at
    # start) or on stock aiosqlite's threads (aiosqlite: the fallback if those changed).
    sqlite_driver: Literal["inline", "aiosqlite"] = "inline"
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    admin_emails: Annotated[list[str], NoDecode] = Field(default_factory=list)

    email_backend: Literal["console", "sendgrid", "smtp", "webhook"] = "console"
    email_from: str = "helpdesk@localhost"
    sendgrid_api_key: str | None = None
    sendgrid_api_host: str = "https://api.sendgrid.com"
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    email_webhook_url: str | None = None
    require_email_verification: bool = True

    timezone: str = "UTC"
    digest_schedule: str = "0 9 * * MON"
    admin_digest_schedule: str = "0 8 * * *"
    assignment: Literal["manual", "auto"] = "manual"
    sla_first_response_hours: float = Field(default=4, gt=0)
    auto_close_days: int = Field(default=0, ge=0)
    dialogue_timeout_minutes: float = Field(default=30, gt=0)
    # A benchmarking knob: off measures the bot without AIORateLimiter's pacing.
    rate_limiter: bool = True
    # Messages one person may send in 10 seconds before the bot paces relaying them; 0 is off.
    flood_limit: int = Field(default=20, ge=0)
    # How many knowledge-base articles /new offers before a ticket is opened; 0 is off.
    kb_suggestions: int = Field(default=3, ge=0, le=8)

    # A forum topic per ticket in private chats when the bot has topic mode on (auto), or not.
    topics: Literal["auto", "off"] = "auto"
    # A forum supergroup of the team: every ticket also gets a topic there.
    team_chat_id: int | None = None

    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(default=8443, ge=1, le=65535)

    @field_validator("admin_ids", "admin_emails", mode="before")
    @classmethod
    def _split_lists(cls, value: object) -> object:
        return _split(value)

    @field_validator("telegram_api_url", "sendgrid_api_host")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("digest_schedule", "admin_digest_schedule")
    @classmethod
    def _cron_or_off(cls, value: str) -> str:
        value = value.strip()
        if value.lower() == OFF:
            return OFF
        try:  # syntax only; an explicit zone, as tzlocal refuses POSIX TZ values like IST-5:30
            CronTrigger.from_crontab(value, timezone=UTC)
        except ValueError as exc:
            raise ValueError(f"not a cron expression: {exc}") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///path.db or postgresql+asyncpg://...")
        return value

    @field_validator("sqlite_driver")
    @classmethod
    def _driver_fits_aiosqlite(cls, value: str, info: ValidationInfo) -> str:
        url = info.data.get("database_url", "")
        if value == "inline" and url.startswith("sqlite"):
            from storage.sqlite import UnsupportedAiosqlite

            try:
                import storage.sqlite_inline  # noqa: F401  (importing it checks aiosqlite)
            except UnsupportedAiosqlite as error:
                raise ValueError(str(error)) from None
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("WEBHOOK_SECRET is required when WEBHOOK_URL is set")
        return self

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_admin(self, telegram_id: int) -> bool:
        return telegram_id in self.admin_ids


class ConfigError(Exception):
    """A setting that cannot be used, explained in one line."""


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning a validation error into one line naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = "_".join(str(part) for part in error["loc"] if isinstance(part, str)).upper()
        message = error["msg"].removeprefix("Value error, ")
        where = f"{name}: " if name else ""
        raise ConfigError(f"{where}{message}") from None
