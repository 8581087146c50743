"""Ids as clients send them, bounded to the id columns' range.

Every id column is a PostgreSQL ``integer``, which ends at 2**31 - 1; a larger number in
a path, a query, a form or a JSON body would reach the driver (SQLite cannot bind past
2**63 at all) and turn a typing mistake or a probe into a server error. With this type
the request is refused first, naming the field."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

ID_MAX = 2**31 - 1

Id = Annotated[int, Field(ge=1, le=ID_MAX)]
# How many rows of a list to pass over: never more than there can be rows.
Offset = Annotated[int, Field(ge=0, le=ID_MAX)]


def is_id(value: int) -> bool:
    """Whether ``value`` can be an id at all: for ids that arrive as text (console forms)."""
    return 1 <= value <= ID_MAX
