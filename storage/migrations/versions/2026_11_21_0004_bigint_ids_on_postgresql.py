"""bigint ids on PostgreSQL

Row ids and the columns that refer to them become BIGINT on PostgreSQL, with their sequences
(storage/types.py `Id`). SQLite's INTEGER is already 64-bit: nothing changes there.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> its id-valued columns (the primary key first)
COLUMNS = {
    "activities": ["id"],
    "activity_imports": ["id"],
    "agent_invites": ["id"],
    "chat_message_refs": ["id", "ticket_id"],
    "deliveries": ["id", "ticket_id", "message_id"],
    "dialogues": ["id"],
    "digest_notices": ["id"],
    "email_codes": ["id", "user_id"],
    "email_outbox": ["id"],
    "feedback": ["id", "user_id"],
    "job_runs": ["id"],
    "messages": ["id", "ticket_id", "author_id"],
    "sla_pings": ["id", "agent_id"],
    "tickets": ["id", "customer_id", "agent_id"],
    "users": ["id"],
}


def _change(new: sa.types.TypeEngine, old: sa.types.TypeEngine, sequence_type: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in COLUMNS.items():
        for column in columns:
            op.alter_column(table, column, type_=new, existing_type=old)
        op.execute(f"ALTER SEQUENCE {table}_id_seq AS {sequence_type}")


def upgrade() -> None:
    _change(sa.BigInteger(), sa.Integer(), "bigint")


def downgrade() -> None:
    _change(sa.Integer(), sa.BigInteger(), "integer")
