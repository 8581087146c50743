"""Texts administrators write in several languages (names of ports, zones, categories...):
one input per language, named ``<field>-<language>`` ("name-nl"), what those inputs hold,
and each problem shown next to the input it is about."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from admin.shell import Problems, clip
from api.errors import Conflict, DomainError, FieldProblem
from api.i18n import LANGUAGES, N_, RTL_LANGUAGES
from api.public.service import LANGUAGE_NAMES


@dataclass(frozen=True)
class Language:
    code: str
    label: str  # a catalog message: the language's name, read in the staff's language
    direction: str


LANGUAGE_LABELS: dict[str, str] = {
    "en": N_("English"),
    "fr": N_("French"),
    "nl": N_("Dutch"),
    "de": N_("German"),
    "es": N_("Spanish"),
    "it": N_("Italian"),
    "pt": N_("Portuguese"),
    "ar": N_("Arabic"),
}
assert set(LANGUAGE_LABELS) == set(LANGUAGES)  # one list, checked at import

ALL_LANGUAGES: tuple[Language, ...] = tuple(
    Language(code, LANGUAGE_LABELS[code], "rtl" if code in RTL_LANGUAGES else "ltr")
    for code in LANGUAGES
)
BY_CODE: dict[str, Language] = {language.code: language for language in ALL_LANGUAGES}


async def _posted_form(request: Request) -> FormData:
    return await request.form()


# A posted form as it is: its fields are not fixed, there being one per language written in.
Posted = Annotated[FormData, Depends(_posted_form)]


def languages_of(codes: Iterable[str]) -> list[Language]:
    """The languages of ``codes``, in that order, leaving out any that is not one."""
    return [BY_CODE[code] for code in codes if code in BY_CODE]


def text_of(form: FormData, name: str, limit: int) -> str:
    """A field of ``form``, cut just past ``limit``, the most it may hold: a longer text is
    refused as too long rather than silently shortened."""
    value = form.get(name)
    return clip(value.strip(), limit + 1) if isinstance(value, str) else ""


def typed(form: FormData, field: str, limit: int) -> dict[str, str]:
    """What the form's inputs of ``field`` hold, by language, for the languages it had an
    input for (an empty one included)."""
    return {
        code: text_of(form, f"{field}-{code}", limit)
        for code in LANGUAGES
        if f"{field}-{code}" in form
    }


def written(before: Mapping[str, str], typed_now: Mapping[str, str]) -> dict[str, str]:
    """The texts once a form is saved: what was typed replaces what was there, an input
    left empty removes that language, and languages the form had no input for keep theirs."""
    texts = {code: text for code, text in before.items() if code not in typed_now}
    texts.update({code: text for code, text in typed_now.items() if text})
    return texts


def as_values(field: str, texts: Mapping[str, str]) -> dict[str, str]:
    """Texts by language as the form's values: {"name-nl": "..."}."""
    return {f"{field}-{code}": text for code, text in texts.items()}


def problems_of(
    error: DomainError,
    *,
    per_language: Iterable[str],
    first_language: str,
    missing: str,
    conflict_at: str | None = None,
) -> Problems:
    """The problems of ``error``, each at its input: ``name.fr`` at "name-fr"; a whole
    ``name`` (given in no language, or not in the first one) at the first language's,
    saying ``missing`` (with the first ``language``); any problem with the languages
    offered at "languages"; a conflict (a code taken already) at ``conflict_at``."""
    if isinstance(error, Conflict) and conflict_at:
        return Problems.field(conflict_at, error.message)
    if not error.fields:
        return Problems.of(error)
    fields: dict[str, FieldProblem] = {}
    for problem in error.fields:
        head, _, language = problem.field.partition(".")
        message, params = problem.message, dict(problem.params)
        if head in per_language and not language:
            name = f"{head}-{first_language}"
            message, params = missing, {"language": first_language}
        elif head in per_language:
            name = f"{head}-{language}"
        elif head.startswith("languages"):
            name = "languages"
        else:
            name = head
        if isinstance(params.get("language"), str) and params["language"] in LANGUAGE_NAMES:
            # A language is named to a person by its name, not its code.
            params["language"] = LANGUAGE_NAMES[str(params["language"])]
        fields.setdefault(name, FieldProblem(name, message, params))
    return Problems(fields)
