"""Full-text search: the saved queries behind paging buttons, and the index objects kept
outside the models.

The index itself is not mapped: on SQLite two FTS5 tables (`tickets_fts`, `messages_fts`)
with triggers on `tickets` and `messages`; on PostgreSQL a generated `search_vector` column
with a GIN index on each. Migration 0011 creates them; `is_mapped_object` tells Alembic's
comparison to leave them alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.clock import utcnow
from storage.models.core import Base
from storage.types import Id

__all__ = ["SavedSearch"]

FTS_TABLES = ("tickets_fts", "messages_fts")
SEARCH_COLUMN = "search_vector"
SEARCH_INDEXES = ("ix_tickets_search", "ix_messages_search")


class SavedSearch(Base):
    """A /search query, so that its paging buttons carry only this row's id."""

    __tablename__ = "saved_searches"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id"), index=True)
    query: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def is_mapped_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's include_object: False for the search index objects the models do not map."""
    if type_ == "table" and name and name.startswith(FTS_TABLES):
        return False  # the FTS5 tables and their shadow tables (tickets_fts_data, ...)
    if type_ == "column" and name == SEARCH_COLUMN:
        return False
    return not (type_ == "index" and name in SEARCH_INDEXES)
