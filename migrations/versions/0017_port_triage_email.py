"""each port's triage address: where deadline reminders go when a case has no assignee

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('port', sa.Column('triage_email', sa.String(length=254), server_default='', nullable=False))


def downgrade() -> None:
    op.drop_column('port', 'triage_email')
