"""queue search: pg_trgm trigram indexes on case.reference, case.title and case_tag.tag

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27

The queue's search is a substring match (ILIKE '%term%'), which no B-tree serves. On
PostgreSQL a GIN trigram index does, one per searched column. SQLite has no such index and
keeps scanning: nothing is done there. The models do not declare these indexes, and
migrations/env.py keeps autogenerate from reporting them (POSTGRES_ONLY_INDEXES).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (index, table, column); the names are listed in migrations/env.py too.
TRIGRAM_INDEXES = (
    ("ix_case_reference_trgm", "case", "reference"),
    ("ix_case_title_trgm", "case", "title"),
    ("ix_case_tag_tag_trgm", "case_tag", "tag"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in TRIGRAM_INDEXES:
        # On the plain column: pg_trgm folds case itself, so ILIKE uses the index as it is.
        op.create_index(
            name,
            table,
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, _column in TRIGRAM_INDEXES:
        op.drop_index(name, table_name=table)
    # The extension stays: it may have been there before, or be used by something else.
