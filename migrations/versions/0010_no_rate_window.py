"""the no-JavaScript rate guard counts in memory: its per-minute table goes

A row holding the minute of the last report sent without JavaScript timed a reporter
finer than the hour.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.db

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table('rate_window')


def downgrade() -> None:
    op.create_table('rate_window',
    sa.Column('bucket', sa.String(length=32), nullable=False),
    sa.Column('window_start', api.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('bucket', name=op.f('pk_rate_window'))
    )
