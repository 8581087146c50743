"""purged counts: what remains of a purged case, the counts the dashboard adds to its
figures

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('purged_count',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('port_id', sa.Integer(), nullable=False),
    sa.Column('week', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=True),
    sa.Column('cargo_direction', sa.String(length=16), nullable=False),
    sa.Column('reports', sa.Integer(), nullable=False),
    sa.Column('cases', sa.Integer(), nullable=False),
    sa.Column('cases_acknowledged_within_7_days', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_purged_count_category_id_category')),
    sa.ForeignKeyConstraint(['port_id'], ['port.id'], name=op.f('fk_purged_count_port_id_port')),
    sa.ForeignKeyConstraint(['zone_id'], ['zone.id'], name=op.f('fk_purged_count_zone_id_zone')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purged_count')),
    sa.UniqueConstraint('port_id', 'week', 'kind', 'category_id', 'zone_id', 'cargo_direction', name='uq_purged_count_dimensions')
    )
    op.create_index(op.f('ix_purged_count_category_id'), 'purged_count', ['category_id'], unique=False)
    op.create_index(op.f('ix_purged_count_zone_id'), 'purged_count', ['zone_id'], unique=False)
    op.create_index('uq_purged_count_dimensions_no_zone', 'purged_count', ['port_id', 'week', 'kind', 'category_id', 'cargo_direction'], unique=True, sqlite_where=sa.text('zone_id IS NULL'), postgresql_where=sa.text('zone_id IS NULL'))


def downgrade() -> None:
    op.drop_index('uq_purged_count_dimensions_no_zone', table_name='purged_count')
    op.drop_index(op.f('ix_purged_count_zone_id'), table_name='purged_count')
    op.drop_index(op.f('ix_purged_count_category_id'), table_name='purged_count')
    op.drop_table('purged_count')
