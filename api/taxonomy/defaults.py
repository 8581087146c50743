"""Portline's default taxonomy, read from its data file (``data/taxonomy.toml``) and
installed where it is missing: what a new port's reporters can report from the first day.

The names and hints in the file are catalog message ids (see
:class:`api.taxonomy.models.Category`): ``bash scripts/catalogs`` extracts them with
:func:`extract_messages` and every language translates them like any other text.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session, select

from api.taxonomy.models import Category

TAXONOMY_FILE = Path(__file__).parent / "data" / "taxonomy.toml"

CategoryKind = Literal["integrity", "incident"]


class CategorySeed(BaseModel):
    """One category of the data file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,47}$")
    kind: CategoryKind
    name: str = Field(min_length=1, max_length=160)
    hint: str = Field(default="", max_length=400)
    cargo_relevant: bool = False


class _TaxonomyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: list[CategorySeed] = Field(min_length=1)


class TaxonomyFileError(ValueError):
    """The data file cannot be used; the message names the file and the field."""


def read_taxonomy(path: Path) -> tuple[CategorySeed, ...]:
    """The categories of a taxonomy file, checked: unknown keys, a wrong kind, a code used
    twice are refused with the category's position and the field."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        seeds = _TaxonomyFile.model_validate(raw).category
    except tomllib.TOMLDecodeError as error:
        raise TaxonomyFileError(f"{path}: {error}") from None
    except ValidationError as error:
        problems = "; ".join(
            f"{_where(problem['loc'])}: {problem['msg']}" for problem in error.errors()
        )
        raise TaxonomyFileError(f"{path}: {problems}") from None
    codes = [seed.code for seed in seeds]
    twice = sorted({code for code in codes if codes.count(code) > 1})
    if twice:
        raise TaxonomyFileError(f"{path}: a code is used twice: {', '.join(twice)}")
    return tuple(seeds)


def _where(location: tuple[int | str, ...]) -> str:
    """``("category", 3, "kind")`` as "category 4, kind" (people count from one)."""
    parts = [str(part + 1) if isinstance(part, int) else part for part in location]
    return ", ".join(" ".join(parts[index : index + 2]) for index in range(0, len(parts), 2))


@cache
def default_taxonomy() -> tuple[CategorySeed, ...]:
    return read_taxonomy(TAXONOMY_FILE)


def install_taxonomy(session: Session, seeds: tuple[CategorySeed, ...] | None = None) -> int:
    """Insert the categories that are missing (looked up by code), numbered in the file's
    order within each kind; the ones already there are left as an administrator may have
    edited them. Returns how many were added. Nothing is committed."""
    existing = set(session.exec(select(Category.code)).all())
    positions: dict[str, int] = {}
    added = 0
    for seed in seeds if seeds is not None else default_taxonomy():
        positions[seed.kind] = positions.get(seed.kind, 0) + 1
        if seed.code not in existing:
            session.add(
                Category(
                    code=seed.code,
                    kind=seed.kind,
                    name=seed.name,
                    hint=seed.hint,
                    cargo_relevant=seed.cargo_relevant,
                    position=positions[seed.kind],
                )
            )
            added += 1
    session.flush()
    return added


def extract_messages(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """Babel's extractor for taxonomy files (see babel.cfg): each name and hint, with the
    line it is on."""
    for number, line in enumerate(fileobj.read().decode("utf-8").splitlines(), start=1):
        key, _equals, value = line.partition("=")
        if key.strip() in {"name", "hint"} and value.strip():
            text = tomllib.loads(f"value = {value.strip()}")["value"]
            if text:
                yield number, None, text, []
