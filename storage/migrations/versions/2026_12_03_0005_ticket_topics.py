"""forum topics of tickets (topic mode, team chat); albums of relayed messages

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ticket_topics",
        sa.Column("id", Id, nullable=False),
        sa.Column("ticket_id", Id, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_topics_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_topics")),
        sa.UniqueConstraint(
            "ticket_id", "chat_id", name=op.f("uq_ticket_topics_ticket_id_chat_id")
        ),
    )
    op.create_index("ix_ticket_topics_thread", "ticket_topics", ["chat_id", "thread_id"])
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("media_group_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("media_group_id")
    op.drop_index("ix_ticket_topics_thread", table_name="ticket_topics")
    op.drop_table("ticket_topics")
