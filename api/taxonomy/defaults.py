"""Portline's default taxonomy, read from its data file (``data/taxonomy.toml``) and
installed where it is missing: what a new port's reporters can report from the first day,
named and explained in each of the reporters' languages.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, select

from api.datafile import DataFileError, names_field, problem_at, read_model
from api.i18n import in_language
from api.taxonomy.models import Category
from api.taxonomy.schemas import CategoryKind

TAXONOMY_FILE = Path(__file__).parent / "data" / "taxonomy.toml"


class CategorySeed(BaseModel):
    """One category of the data file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,47}$")
    kind: CategoryKind
    name: names_field(160)  # type: ignore[valid-type]
    hint: names_field(400, required=False) = Field(default_factory=dict)  # type: ignore[valid-type]
    cargo_relevant: bool = False

    @property
    def english_name(self) -> str:
        return in_language(self.name, "en")

    @property
    def english_hint(self) -> str:
        return in_language(self.hint, "en")


class TaxonomyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: list[CategorySeed] = Field(min_length=1)


# The taxonomy's errors are the data files' errors.
TaxonomyFileError = DataFileError


def read_taxonomy(path: Path) -> tuple[CategorySeed, ...]:
    """The categories of a taxonomy file, checked: unknown keys, a wrong kind, a code used
    twice are refused with the line, the category's position and the field."""
    text = path.read_text(encoding="utf-8") if path.exists() else None
    seeds = read_model(path, TaxonomyFile, text=text).category
    codes = [seed.code for seed in seeds]
    for position, seed in enumerate(seeds):
        if codes.index(seed.code) != position:
            raise DataFileError(
                problem_at(
                    path,
                    text or "",
                    ("category", position, "code"),
                    f"a code is used twice: {seed.code}",
                )
            )
    return tuple(seeds)


@cache
def default_taxonomy() -> tuple[CategorySeed, ...]:
    return read_taxonomy(TAXONOMY_FILE)


def install_taxonomy(session: Session, seeds: tuple[CategorySeed, ...] | None = None) -> int:
    """Insert the categories that are missing (looked up by code), numbered in the file's
    order within each kind; the ones already there are left as an administrator may have
    edited them (one that has only the English name the file gives gets the file's other
    languages). Returns how many were added. Nothing is committed."""
    existing = {category.code: category for category in session.exec(select(Category))}
    positions: dict[str, int] = {}
    added = 0
    for seed in seeds if seeds is not None else default_taxonomy():
        positions[seed.kind] = positions.get(seed.kind, 0) + 1
        found = existing.get(seed.code)
        if found is not None and found.names == {"en": seed.english_name}:
            # As migration 0012 left it (its English name, unchanged): the other languages.
            found.names, found.hints = dict(seed.name), dict(seed.hint)
            session.add(found)
        if found is None:
            session.add(
                Category(
                    code=seed.code,
                    kind=seed.kind,
                    name=seed.english_name,
                    hint=seed.english_hint,
                    names=dict(seed.name),
                    hints=dict(seed.hint),
                    cargo_relevant=seed.cargo_relevant,
                    position=positions[seed.kind],
                )
            )
            added += 1
    session.flush()
    return added
