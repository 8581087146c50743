"""Message catalogs: gettext ``.po`` files read at run time with Babel.

Messages are written in English in the code and marked with ``N_`` (for text defined
before a language is known) or ``gettext``; each face (api, mobile, admin) keeps its
own catalogs under ``<package>/locale/<lang>/LC_MESSAGES/messages.po``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import cache
from pathlib import Path

from babel.dates import format_date
from babel.messages.pofile import read_po

LANGUAGES: tuple[str, ...] = ("en", "fr", "nl", "de", "es", "it", "pt", "ar")
DEFAULT_LANGUAGE = "en"
RTL_LANGUAGES = frozenset({"ar"})

API_LOCALE_DIR = Path(__file__).parent / "locale"


def format_day(day: date, language: str) -> str:
    """A day as ``language`` writes it in full ("4 December 2026", "4 décembre 2026")."""
    return format_date(day, format="long", locale=language)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translate later"
    """Mark a message for extraction without translating it yet."""
    return message


@cache
def load_catalog(locale_dir: Path, language: str) -> Mapping[str, str]:
    """The translations of one catalog, msgid to msgstr; empty strings are not translations."""
    po_path = locale_dir / language / "LC_MESSAGES" / "messages.po"
    if not po_path.exists():
        return {}
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=language)
    return {
        str(message.id): str(message.string)
        for message in catalog
        if message.id and isinstance(message.id, str) and message.string and not message.fuzzy
    }


def translate(
    message: str,
    language: str,
    params: Mapping[str, object] | None = None,
    *,
    locale_dir: Path = API_LOCALE_DIR,
) -> str:
    """Translate ``message`` into ``language`` (English when missing), then fill ``params``."""
    translated = load_catalog(locale_dir, language).get(message, message)
    return translated.format(**params) if params else translated


def negotiate(accept_language: str | None, requested: str | None = None) -> str:
    """Pick a supported language: an explicit choice first, then ``Accept-Language``."""
    if requested:
        base = requested.strip().lower().split("-")[0]
        if base in LANGUAGES:
            return base
    if not accept_language:
        return DEFAULT_LANGUAGE
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")[:20]):
        tag, _, quality = item.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            continue
        weighted.append((-weight, position, tag.strip().lower().split("-")[0]))
    for _weight, _position, base in sorted(weighted):
        if base in LANGUAGES:
            return base
    return DEFAULT_LANGUAGE


def in_language(names: Mapping[str, str], language: str, *fallbacks: str) -> str:
    """A name an administrator wrote in several languages, in ``language``; else in the
    first of ``fallbacks`` that has it (a port's own languages), else English, else any."""
    for each in (language, *fallbacks, DEFAULT_LANGUAGE):
        if names.get(each):
            return names[each]
    return next((text for text in names.values() if text), "")
