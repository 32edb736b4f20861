"""ticket summary rows for reports (owned by the analytics work)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ticket_summaries",
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_at", sa.BigInteger(), nullable=False),
        sa.Column("activity_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=64), nullable=True),
        sa.Column("status_since", sa.BigInteger(), nullable=True),
        sa.Column("open_us", sa.BigInteger(), nullable=False),
        sa.Column("pending_us", sa.BigInteger(), nullable=False),
        sa.Column("waiting_customer_us", sa.BigInteger(), nullable=False),
        sa.Column("waiting_third_party_us", sa.BigInteger(), nullable=False),
        sa.Column("first_response_at", sa.BigInteger(), nullable=True),
        sa.Column("first_resolution_at", sa.BigInteger(), nullable=True),
        sa.Column("full_resolution_at", sa.BigInteger(), nullable=True),
        sa.Column("reopens", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.BigInteger(), nullable=True),
        sa.Column("requester", sa.BigInteger(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("end_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("source", "ticket_id", name=op.f("pk_ticket_summaries")),
    )
    op.create_table(
        "activity_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("start_at", sa.BigInteger(), nullable=True),
        sa.Column("end_at", sa.BigInteger(), nullable=True),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_imports")),
    )


def downgrade() -> None:
    op.drop_table("activity_imports")
    op.drop_table("ticket_summaries")
