"""Moving one item of an ordered list (routing rules, zones, emergency numbers,
categories) one place up or down: the request that asks it, and the renumbering."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict


class Direction(StrEnum):
    up = "up"
    down = "down"


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    direction: Direction


class Placed(Protocol):
    position: int


def move_among(rows: Sequence[Placed], row: Placed, up: bool) -> bool:
    """Move ``row`` one place up or down among ``rows`` (in their order), numbering them all
    afresh from 1; whether anything moved (the first cannot go up, the last down)."""
    order = list(rows)
    index = order.index(row)
    other = index - 1 if up else index + 1
    if not 0 <= other < len(order):
        return False
    order[index], order[other] = order[other], order[index]
    for position, each in enumerate(order, start=1):
        each.position = position
    return True
