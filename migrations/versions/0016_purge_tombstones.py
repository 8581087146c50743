"""purge tombstones: the receipt lookups of purged reports, and the references of purged
referrals with their body, so the reporter and the body are told the truth

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('purged_receipt',
    sa.Column('receipt_lookup', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('receipt_lookup', name=op.f('pk_purged_receipt'))
    )
    op.create_table('purged_referral',
    sa.Column('reference', sa.String(length=16), nullable=False),
    sa.Column('body_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['body_id'], ['body.id'], name=op.f('fk_purged_referral_body_id_body')),
    sa.PrimaryKeyConstraint('reference', name=op.f('pk_purged_referral'))
    )
    op.create_index(op.f('ix_purged_referral_body_id'), 'purged_referral', ['body_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_purged_referral_body_id'), table_name='purged_referral')
    op.drop_table('purged_referral')
    op.drop_table('purged_receipt')
