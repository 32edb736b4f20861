"""Run the Alembic migrations to the newest revision."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "storage" / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str) -> None:
    """Create or upgrade the schema (synchronous; call it off the event loop)."""
    command.upgrade(alembic_config(database_url), "head")


async def upgrade_async(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url)


# The knowledge base's full-text index (see the 0010 migration) is not in the models.
FULL_TEXT_NAMES = ("kb_articles_fts", "kb_articles_search", "search")


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's filter: what the comparison with the models leaves out."""
    if type_ == "table":
        return not (name or "").startswith("kb_articles_fts")
    if type_ == "column":
        return not (parent_names.get("table_name") == "kb_articles" and name == "search")
    if type_ == "index":
        return name != "kb_articles_search"
    return True
