"""queue indexes: (status, due_at, id) and (due_at, id)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_index("ix_case_open_queue")
        batch_op.create_index("ix_case_open_queue", ["status", "due_at", "id"], unique=False)
        batch_op.create_index("ix_case_due_queue", ["due_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_index("ix_case_due_queue")
        batch_op.drop_index("ix_case_open_queue")
        batch_op.create_index("ix_case_open_queue", ["status", "due_at"], unique=False)
