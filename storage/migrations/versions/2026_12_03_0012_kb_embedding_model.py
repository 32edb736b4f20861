"""knowledge base: which model computed each article's stored embedding

An embedding from another model (the rows written before this revision hold WordLlama's) is
recomputed by the next search or import instead of being compared with the new model's.
Plain ALTER TABLE (no batch copy), so the full-text triggers of kb_articles stay.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("kb_articles", sa.Column("embedding_model", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("kb_articles", "embedding_model")
