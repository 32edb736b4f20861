"""full-text search: FTS5 tables with triggers (SQLite), tsvector columns with GIN (PostgreSQL);
saved search queries

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

The index follows every write to tickets and messages in the same transaction: on SQLite
through triggers (so the relay's Core inserts, edits and erasure are covered as well), on
PostgreSQL as generated columns. Existing rows are indexed here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Language-neutral: words are split and lower-cased, accents folded, nothing stemmed; the
# same on both databases.
SQLITE_TOKENIZER = "unicode61 remove_diacritics 2"
POSTGRESQL_CONFIG = "simple"

SQLITE_UP = [
    f"""CREATE VIRTUAL TABLE tickets_fts USING fts5(subject, description,
        content='tickets', content_rowid='id', tokenize='{SQLITE_TOKENIZER}')""",
    f"""CREATE VIRTUAL TABLE messages_fts USING fts5(text,
        content='messages', content_rowid='id', tokenize='{SQLITE_TOKENIZER}')""",
    """CREATE TRIGGER tickets_fts_insert AFTER INSERT ON tickets BEGIN
        INSERT INTO tickets_fts(rowid, subject, description)
        VALUES (new.id, new.subject, new.description);
    END""",
    """CREATE TRIGGER tickets_fts_delete AFTER DELETE ON tickets BEGIN
        INSERT INTO tickets_fts(tickets_fts, rowid, subject, description)
        VALUES ('delete', old.id, old.subject, old.description);
    END""",
    """CREATE TRIGGER tickets_fts_update AFTER UPDATE OF subject, description ON tickets BEGIN
        INSERT INTO tickets_fts(tickets_fts, rowid, subject, description)
        VALUES ('delete', old.id, old.subject, old.description);
        INSERT INTO tickets_fts(rowid, subject, description)
        VALUES (new.id, new.subject, new.description);
    END""",
    """CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
    END""",
    """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END""",
    """CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
    END""",
    "INSERT INTO tickets_fts(tickets_fts) VALUES ('rebuild')",
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    *(
        f"DROP TRIGGER IF EXISTS {table}_fts_{event}"
        for table in ("tickets", "messages")
        for event in ("insert", "delete", "update")
    ),
    "DROP TABLE IF EXISTS tickets_fts",
    "DROP TABLE IF EXISTS messages_fts",
]

# Subject weighs most, then the description, then what was said in the ticket.
POSTGRESQL_UP = [
    f"""ALTER TABLE tickets ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('{POSTGRESQL_CONFIG}', coalesce(subject, '')), 'A')
        || setweight(to_tsvector('{POSTGRESQL_CONFIG}', coalesce(description, '')), 'B')
    ) STORED""",
    "CREATE INDEX ix_tickets_search ON tickets USING gin (search_vector)",
    f"""ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('{POSTGRESQL_CONFIG}', coalesce(text, '')), 'C')
    ) STORED""",
    "CREATE INDEX ix_messages_search ON messages USING gin (search_vector)",
]
POSTGRESQL_DOWN = [
    "DROP INDEX IF EXISTS ix_messages_search",
    "ALTER TABLE messages DROP COLUMN IF EXISTS search_vector",
    "DROP INDEX IF EXISTS ix_tickets_search",
    "ALTER TABLE tickets DROP COLUMN IF EXISTS search_vector",
]


def upgrade() -> None:
    op.create_table(
        "saved_searches",
        sa.Column("id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("query", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_saved_searches_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_searches")),
    )
    op.create_index(op.f("ix_saved_searches_user_id"), "saved_searches", ["user_id"], unique=False)
    statements = SQLITE_UP if op.get_bind().dialect.name == "sqlite" else POSTGRESQL_UP
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    statements = SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else POSTGRESQL_DOWN
    for statement in statements:
        op.execute(statement)
    op.drop_index(op.f("ix_saved_searches_user_id"), table_name="saved_searches")
    op.drop_table("saved_searches")
