"""Models of the knowledge base: articles, and the suggestions `/new` offered.

The full-text index of the articles is not a model: the migration creates it (an FTS5 table
kept by triggers on SQLite, a generated tsvector column with a GIN index on PostgreSQL), so it
is written in the same transaction as the article; `storage.migrate.include_name` keeps it out
of the comparison with the models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.clock import utcnow
from storage.models.core import Base
from storage.types import Id

__all__ = ["KbArticle", "KbOffer"]


class KbArticle(Base):
    """One article: its key (the file name it came from), title and Markdown body.

    `embedding` is the semantic model's vectors of title and body (float32 bytes), computed when
    `content_hash` changes or `embedding_model` is not the model in use; `shown` and `solved`
    count how often `/new` offered it and how often it was the answer.
    """

    __tablename__ = "kb_articles"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    embedding_model: Mapped[str | None] = mapped_column(String(64))
    shown: Mapped[int] = mapped_column(Integer, default=0)
    solved: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class KbOffer(Base):
    """Articles `/new` offered for one customer's question, and how it ended.

    `outcome` is `solved` (no ticket: a deflection, `article_id` the article that solved it),
    `ticket` (the customer still needed help: `ticket_id`), or None (cancelled, timed out, or
    still open). The question is kept for the team to read, and erased with its author.
    """

    __tablename__ = "kb_offers"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id"), index=True)
    question: Mapped[str] = mapped_column(Text)
    article_ids: Mapped[list[Any]] = mapped_column(JSON)
    outcome: Mapped[str | None] = mapped_column(String(16))
    article_id: Mapped[int | None] = mapped_column(Id, ForeignKey("kb_articles.id"))
    ticket_id: Mapped[int | None] = mapped_column(Id, ForeignKey("tickets.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
