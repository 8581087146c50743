"""key rotation: the key-encryption keys still in use, next to the key check

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("key_check") as batch:
        batch.add_column(
            sa.Column("live_keys", sa.String(length=200), nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("key_check") as batch:
        batch.drop_column("live_keys")
