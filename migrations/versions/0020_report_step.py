"""the reporter's timeline: each step of a report's handling its reporter may know, by day

Reports made before it get the steps their rows still tell: received, acknowledged (the
case's acknowledgement) and closed (a closed case's closing day).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("body_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["body_id"], ["body.id"]),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_report_step_report_id"), "report_step", ["report_id"], unique=False)
    postgres = op.get_bind().dialect.name == "postgresql"

    def day(column: str) -> str:
        return f"CAST({column} AT TIME ZONE 'UTC' AS DATE)" if postgres else f"date({column})"

    for step, moment, joined in (
        ("received", "report.received_hour", "1 = 1"),
        ("acknowledged", '"case".acknowledged_at', '"case".acknowledged_at IS NOT NULL'),
        ("closed", '"case".closed_at', "report.status = 'closed' AND \"case\".closed_at IS NOT NULL"),
    ):
        op.execute(
            f"INSERT INTO report_step (report_id, step, day) "  # noqa: S608 - constants only
            f"SELECT report.id, '{step}', {day(moment)} FROM report "
            f'LEFT JOIN "case" ON "case".id = report.case_id WHERE {joined} ORDER BY report.id'
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_report_step_report_id"), table_name="report_step")
    op.drop_table("report_step")
