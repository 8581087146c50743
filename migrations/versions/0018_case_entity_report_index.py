"""an index on case_entity.report_id: purging a report looks its entity hashes up by it

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f('ix_case_entity_report_id'), 'case_entity', ['report_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_case_entity_report_id'), table_name='case_entity')
