"""code_mails: the verification mails counted by the limits per person and per address

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "code_mails",
        sa.Column("id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("address_key", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_code_mails_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_mails")),
    )
    op.create_index("ix_code_mails_user_sent", "code_mails", ["user_id", "sent_at"])
    op.create_index("ix_code_mails_address_sent", "code_mails", ["address_key", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_code_mails_address_sent", table_name="code_mails")
    op.drop_index("ix_code_mails_user_sent", table_name="code_mails")
    op.drop_table("code_mails")
