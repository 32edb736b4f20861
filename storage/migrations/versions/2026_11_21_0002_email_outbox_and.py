"""email outbox and digests (owned by the email work)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "digest_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("ticket_ref", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("changed_at", sa.BigInteger(), nullable=False),
        sa.Column("notified_at", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_notices")),
        sa.UniqueConstraint(
            "source", "ticket_ref", name=op.f("uq_digest_notices_source_ticket_ref")
        ),
    )
    op.create_table(
        "sla_pings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("waiting_since", sa.BigInteger(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("pinged_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_pings")),
        sa.UniqueConstraint(
            "ticket_id", "waiting_since", name=op.f("uq_sla_pings_ticket_id_waiting_since")
        ),
    )
    # The digest reads status activities by time, across tickets.
    op.create_index("ix_activities_performed_at", "activities", ["performed_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_activities_performed_at", table_name="activities")
    op.drop_table("sla_pings")
    op.drop_table("digest_notices")
