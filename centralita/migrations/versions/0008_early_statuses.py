"""Status callbacks that arrive before the message's sid is stored, kept until it is.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22

Self-contained on purpose: a migration must not import the models, which keep changing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "early_statuses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("provider_sid", sa.String(length=64), nullable=False),
        sa.Column(
            "raw",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_early_statuses")),
    )
    op.create_index(op.f("ix_early_statuses_provider_sid"), "early_statuses", ["provider_sid"])
    op.create_index(op.f("ix_early_statuses_created_at"), "early_statuses", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_early_statuses_created_at"), table_name="early_statuses")
    op.drop_index(op.f("ix_early_statuses_provider_sid"), table_name="early_statuses")
    op.drop_table("early_statuses")
