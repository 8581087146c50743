"""one jobs module: jobs (kind, payload, run-at, attempts, lease, last error, once-key)
and the recurring schedules that queue some of them

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.db

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=48), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('once_key', sa.String(length=160), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('run_at', api.db.UTCDateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', api.db.UTCDateTime(), nullable=True),
    sa.Column('locked_by', sa.String(length=64), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=False),
    sa.Column('created_at', api.db.UTCDateTime(), nullable=False),
    sa.Column('finished_at', api.db.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job')),
    sa.UniqueConstraint('once_key', name=op.f('uq_job_once_key'))
    )
    op.create_index('ix_job_due', 'job', ['status', 'run_at'], unique=False)
    op.create_index(op.f('ix_job_subject'), 'job', ['subject'], unique=False)
    op.create_table('job_schedule',
    sa.Column('kind', sa.String(length=48), nullable=False),
    sa.Column('every_seconds', sa.Integer(), nullable=False),
    sa.Column('next_run_at', api.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('kind', name=op.f('pk_job_schedule'))
    )


def downgrade() -> None:
    op.drop_table('job_schedule')
    op.drop_index(op.f('ix_job_subject'), table_name='job')
    op.drop_index('ix_job_due', table_name='job')
    op.drop_table('job')
