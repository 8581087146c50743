"""retention per port and legal holds: closed cases are purged a port's number of days
after closing, unless an administrator holds them

Every port keeps closed cases 365 days until an administrator says otherwise; no case
starts on hold.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.db

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE (no batch copy): on SQLite a copy of a table others refer to, such
    # as port or case, would be refused while their rows point at it.
    op.add_column('port', sa.Column('retention_days', sa.Integer(), server_default='365', nullable=False))
    op.add_column('case', sa.Column('legal_hold_reason', sa.String(length=300), server_default='', nullable=False))
    op.add_column('case', sa.Column('legal_hold_at', api.db.UTCDateTime(timezone=True), nullable=True))
    # The purge takes the longest closed first, a batch at a time.
    op.create_index('ix_case_closed', 'case', ['closed_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_case_closed', table_name='case')
    op.drop_column('case', 'legal_hold_at')
    op.drop_column('case', 'legal_hold_reason')
    op.drop_column('port', 'retention_days')
