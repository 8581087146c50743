"""Every message is translated into every language, and the templates follow the code.

When a test here fails after ``_("...")`` or ``N_("...")`` was added or changed, run
``scripts/catalogs`` (re-extracts the templates and merges them into every catalog), then
translate the new entries.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from markupsafe import escape

from api.i18n import LANGUAGES

ROOT = Path(__file__).resolve().parents[1]
# The reporter's side speaks all eight languages; the staff console English, French and
# Dutch to begin with (issue 4).
TRANSLATED: dict[str, tuple[str, ...]] = {
    "api": tuple(language for language in LANGUAGES if language != "en"),
    "mobile": tuple(language for language in LANGUAGES if language != "en"),
    "admin": ("fr", "nl"),
}
FACES = tuple(TRANSLATED)

# The same as babel.cfg and the `-k N_` that scripts/catalogs passes to pybabel extract.
# What to extract from, and how: babel.cfg, as scripts/catalogs reads it.
with (ROOT / "babel.cfg").open() as _mapping:
    METHOD_MAP, OPTIONS_MAP = parse_mapping_cfg(_mapping, "babel.cfg")  # type: ignore[no-untyped-call]
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

Msgid = str | tuple[str, ...]

FACE_AND_LANGUAGE = [
    pytest.param(face, language, id=f"{face}-{language}")
    for face in FACES
    for language in TRANSLATED[face]
]


def template_path(face: str) -> Path:
    return ROOT / face / "locale" / "messages.pot"


def catalog_path(face: str, language: str) -> Path:
    return ROOT / face / "locale" / language / "LC_MESSAGES" / "messages.po"


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as po_file:
        return read_po(po_file)


def msgid_of(message: Message) -> Msgid:
    return message.id if isinstance(message.id, str) else tuple(message.id)


def entries(catalog: Catalog) -> list[Message]:
    """The messages of a catalog, without its header entry."""
    return [message for message in catalog if message.id]


def translations(message: Message) -> list[str]:
    """The msgstr of a message: one, or one per plural form."""
    if isinstance(message.string, str):
        return [message.string]
    return [string or "" for string in message.string or ()]


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def source_placeholders(message: Message) -> set[str]:
    texts = [message.id] if isinstance(message.id, str) else list(message.id)
    return {name for text in texts for name in placeholders(text)}


@cache
def extracted_msgids(face: str) -> frozenset[Msgid]:
    """The messages marked in the face's code and templates, as pybabel extract finds them."""
    found: set[Msgid] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT / face), METHOD_MAP, OPTIONS_MAP, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return frozenset(found)


def describe(messages: set[Msgid]) -> str:
    return "\n".join(f"  {message!r}" for message in sorted(messages, key=str))


class TestTemplates:
    @pytest.mark.parametrize("face", FACES)
    def test_the_template_lists_every_message_of_the_code(self, face: str) -> None:
        in_template = {msgid_of(message) for message in entries(read_catalog(template_path(face)))}
        in_code = set(extracted_msgids(face))
        assert in_code - in_template == set(), (
            f"{template_path(face).relative_to(ROOT)} lacks these messages of the code; "
            f"run scripts/catalogs, then translate them:\n{describe(in_code - in_template)}"
        )
        assert in_template - in_code == set(), (
            f"{template_path(face).relative_to(ROOT)} still lists messages the code no longer "
            f"has; run scripts/catalogs:\n{describe(in_template - in_code)}"
        )


class TestCatalogs:
    @pytest.mark.parametrize(("face", "language"), FACE_AND_LANGUAGE)
    def test_the_catalog_exists_with_a_proper_header(self, face: str, language: str) -> None:
        path = catalog_path(face, language)
        assert path.is_file(), f"{path.relative_to(ROOT)} is missing"
        catalog = read_catalog(path)
        header = path.read_text(encoding="utf-8")
        assert catalog.locale_identifier == language
        assert "charset=utf-8" in header.lower()
        assert '"Plural-Forms: nplurals=' in header
        assert not catalog.fuzzy

    @pytest.mark.parametrize(("face", "language"), FACE_AND_LANGUAGE)
    def test_every_message_of_the_template_is_translated(self, face: str, language: str) -> None:
        path = catalog_path(face, language)
        catalog = read_catalog(path)
        untranslated = {
            msgid_of(message)
            for message in entries(read_catalog(template_path(face)))
            if (found := catalog.get(message.id)) is None
            or found.fuzzy
            or not all(translations(found))
        }
        assert untranslated == set(), (
            f"{path.relative_to(ROOT)} has no translation (or a fuzzy one) for:\n"
            f"{describe(untranslated)}"
        )

    @pytest.mark.parametrize(("face", "language"), FACE_AND_LANGUAGE)
    def test_no_entry_is_left_empty(self, face: str, language: str) -> None:
        path = catalog_path(face, language)
        empty = {
            msgid_of(message)
            for message in entries(read_catalog(path))
            if any(string == "" for string in translations(message))
        }
        assert empty == set(), f"{path.relative_to(ROOT)} has empty msgstr for:\n{describe(empty)}"

    @pytest.mark.parametrize(("face", "language"), FACE_AND_LANGUAGE)
    def test_translations_keep_the_placeholders(self, face: str, language: str) -> None:
        path = catalog_path(face, language)
        wrong = {
            msgid_of(message): string
            for message in entries(read_catalog(path))
            for string in translations(message)
            if string and placeholders(string) != source_placeholders(message)
        }
        assert wrong == {}, (
            f"{path.relative_to(ROOT)}: these translations change the {{placeholders}}:\n"
            + "\n".join(f"  {msgid!r} -> {string!r}" for msgid, string in wrong.items())
        )


class TestPages:
    def test_an_arabic_page_is_written_right_to_left(self, client: TestClient) -> None:
        response = client.get("/?lang=ar")
        assert response.status_code == 200
        assert '<html lang="ar" dir="rtl">' in response.text

    def test_a_french_page_is_in_french(self, client: TestClient) -> None:
        catalog = read_catalog(catalog_path("mobile", "fr"))
        response = client.get("/?lang=fr")
        assert response.status_code == 200
        assert '<html lang="fr" dir="ltr">' in response.text
        for english in ("Port information", "Report what you saw in the port", "Make a report"):
            found = catalog.get(english)
            assert found is not None and isinstance(found.string, str)
            french = found.string
            assert french and french != english
            assert str(escape(french)) in response.text
            assert english not in response.text
