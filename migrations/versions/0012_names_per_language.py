"""names per language: ports, zones, emergency numbers (and when to call them),
categories and bodies; the languages a port offers; emergency numbers can be retired

The names written so far are English, so each row's names start as its English name.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table: (the column of its English text, the column of that text per language)
_NAMED = {
    'port': (('name', 'names'),),
    'zone': (('name', 'names'),),
    'emergency_number': (('label', 'labels'),),
    'category': (('name', 'names'), ('hint', 'hints')),
    'body': (('name', 'names'),),
}


def upgrade() -> None:
    # Plain ALTER TABLE (no batch copy): on SQLite a copy of a table others refer to, such
    # as port, would be refused while their rows point at it.
    for table, columns in _NAMED.items():
        for _text, named in columns:
            op.add_column(table, sa.Column(named, sa.JSON(), server_default='{}', nullable=False))
        if table == 'port':
            op.add_column(table, sa.Column('languages', sa.JSON(), server_default='["en"]', nullable=False))
        if table == 'emergency_number':
            op.add_column(table, sa.Column('when', sa.JSON(), server_default='{}', nullable=False))
            op.add_column(table, sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False))
    connection = op.get_bind()
    for table, columns in _NAMED.items():
        rows = sa.table(
            table,
            sa.column('id'),
            *(sa.column(text) for text, _named in columns),
            *(sa.column(named, sa.JSON) for _text, named in columns),
        )
        for row in connection.execute(sa.select(rows)).mappings().all():
            values = {named: {'en': row[text]} if row[text] else {} for text, named in columns}
            connection.execute(rows.update().where(rows.c.id == row['id']).values(values))


def downgrade() -> None:
    for table, columns in _NAMED.items():
        if table == 'emergency_number':
            op.drop_column(table, 'active')
            op.drop_column(table, 'when')
        if table == 'port':
            op.drop_column(table, 'languages')
        for _text, named in reversed(columns):
            op.drop_column(table, named)
