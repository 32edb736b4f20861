"""paced deliveries and bans

`deliveries.not_before`: a message relayed past the sender's flood limit is stored at once
and sent no earlier than this (bot/services/flood.py). `users.banned_*`: /ban and /unban.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("not_before", sa.BigInteger(), nullable=True))
        batch.create_index("ix_deliveries_paced", ["status", "not_before"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("banned_at", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("banned_by", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("ban_reason", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("ban_told_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("ban_told_at")
        batch.drop_column("ban_reason")
        batch.drop_column("banned_by")
        batch.drop_column("banned_at")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_index("ix_deliveries_paced")
        batch.drop_column("not_before")
