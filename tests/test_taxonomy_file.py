"""The default taxonomy is a data file, checked when it is read: a mistake in it is named
by the category's position and the field, never half-installed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from api.taxonomy.defaults import (
    TAXONOMY_FILE,
    TaxonomyFileError,
    default_taxonomy,
    install_taxonomy,
    read_taxonomy,
)
from api.taxonomy.models import Category

GOOD = """
[[category]]
code = "seal-tampering"
kind = "incident"
name.en = "A seal or cargo was tampered with"
name.fr = "Un scellé ou une cargaison a été trafiqué"
"""


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "taxonomy.toml"
    path.write_text(text, encoding="utf-8")
    return path


class TestTheDataFile:
    def test_the_shipped_file_holds_twenty_categories_of_both_kinds(self) -> None:
        seeds = read_taxonomy(TAXONOMY_FILE)
        assert len(seeds) == 20
        assert {seed.kind for seed in seeds} == {"integrity", "incident"}

    @pytest.mark.parametrize(
        ("text", "named"),
        [
            (GOOD + 'cargo_relevant = "often"\n', "category 1, cargo_relevant"),
            (GOOD.replace('"incident"', '"weather"'), "category 1, kind"),
            (GOOD + GOOD.replace("seal-tampering", "Bad Code"), "category 2, code"),
            (GOOD + "colour = 'red'\n", "category 1, colour"),
            (GOOD + GOOD, "category 2, code: a code is used twice: seal-tampering"),
            (GOOD + 'name.xx = "?"\n', "category 1, name.xx"),
            (
                GOOD.replace('name.en = "A seal or cargo was tampered with"\n', 'name.en = ""\n'),
                "line 5, category 1, name.en",
            ),
            ("[[category]\n", "Expected"),
        ],
    )
    def test_a_mistake_is_named_with_its_place_and_field(
        self, tmp_path: Path, text: str, named: str
    ) -> None:
        with pytest.raises(TaxonomyFileError, match=r"taxonomy\.toml") as refused:
            read_taxonomy(_file(tmp_path, text))
        assert named in str(refused.value)


class TestInstalling:
    def test_installing_twice_adds_nothing_and_keeps_an_edited_name(self, session: Session) -> None:
        # The test database holds the demo, so the default taxonomy is already there.
        edited = session.exec(select(Category).where(Category.code == "seal-tampering")).one()
        edited.names = {**edited.names, "en": "Seals: tampered with"}
        session.add(edited)
        session.flush()
        assert install_taxonomy(session) == 0
        session.refresh(edited)
        assert edited.names["en"] == "Seals: tampered with"
        codes = set(session.exec(select(Category.code)).all())
        assert {seed.code for seed in default_taxonomy()} <= codes

    def test_a_category_from_before_names_per_language_gets_the_files_languages(
        self, session: Session
    ) -> None:
        # Migration 0012 leaves each category its English name only.
        migrated = session.exec(select(Category).where(Category.code == "theft")).one()
        migrated.names, migrated.hints = {"en": migrated.name}, {"en": migrated.hint}
        session.add(migrated)
        session.flush()
        install_taxonomy(session)
        session.refresh(migrated)
        assert set(migrated.names) == {"en", "fr", "nl", "de", "es", "it", "pt", "ar"}
        assert migrated.hints["nl"]
