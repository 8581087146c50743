"""Data files people write by hand (the taxonomy, port profiles): TOML read into a pydantic
model, whose every mistake is told with the file, the line and the field, and written back
in the same shape, so that an exported file reads like one written by hand.

Names in several languages are dotted keys, one language per line::

    [[zone]]
    code = "gate-main"
    name.en = "Main truck gate"
    name.nl = "Hoofdpoort vrachtverkeer"
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Annotated, Any, Literal, TypeVar, get_args

from pydantic import BaseModel, Field, StringConstraints, ValidationError

from api.i18n import LANGUAGES

Language = Literal["en", "fr", "nl", "de", "es", "it", "pt", "ar"]
assert set(get_args(Language)) == set(LANGUAGES)  # one list, checked at import


def names_field(max_length: int, *, required: bool = True) -> Any:
    """A text in one or more languages: ``{"en": "...", "nl": "..."}``."""
    text = Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)
    ]
    return Annotated[dict[Language, text], Field(min_length=1 if required else 0)]


class DataFileError(ValueError):
    """A data file that cannot be used; the message names the file, the line and the field."""


Model = TypeVar("Model", bound=BaseModel)


def read_model(path: Path, model: type[Model], *, text: str | None = None) -> Model:
    """``path`` read as TOML and checked by ``model``; every problem is in the error."""
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise DataFileError(f"{path}: cannot be read ({error})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise DataFileError(f"{path}: {error}") from None
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        lines = _key_lines(text)
        problems = [
            f"{path}, line {_line_of(lines, problem['loc'])}, {_where(problem['loc'])}: "
            f"{problem['msg'].removeprefix('Value error, ')}"
            for problem in error.errors()
        ]
        raise DataFileError("\n".join(problems)) from None


def problem_at(path: Path, text: str, location: Sequence[int | str], message: str) -> str:
    """One problem found after validation (a code used twice, a zone no one declared), told
    the way :func:`read_model` tells its own."""
    return (
        f"{path}, line {_line_of(_key_lines(text), tuple(location))}, {_where(location)}: {message}"
    )


_Key = tuple[str | None, int, tuple[str, ...]]


def _key_lines(text: str) -> dict[_Key, int]:
    """Where each key is: (array of tables or None, its index, dotted key) -> line."""
    lines: dict[_Key, int] = {}
    table: str | None = None
    counts: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("[["):
            table = stripped.strip("[] ")
            counts[table] = counts.get(table, -1) + 1
            lines.setdefault((table, counts[table], ()), number)
        elif stripped and not stripped.startswith("#") and "=" in stripped:
            key = tuple(part.strip().strip('"') for part in stripped.partition("=")[0].split("."))
            index = counts.get(table, 0) if table else 0
            lines.setdefault((table, index, key), number)
    return lines


def _line_of(lines: Mapping[_Key, int], location: Sequence[int | str]) -> int:
    parts = list(location)
    table: str | None = None
    index = 0
    if len(parts) >= 2 and isinstance(parts[1], int) and (str(parts[0]), parts[1], ()) in lines:
        table, index, parts = str(parts[0]), parts[1], parts[2:]
    key = tuple(str(part) for part in parts if not isinstance(part, int))
    # The key itself, else the nearest key it is part of, else the first key that is part of
    # it (name.nl for a name missing in English), else the table's header.
    longer = sorted(
        line
        for (at, number, dotted), line in lines.items()
        if (at, number) == (table, index) and key and dotted[: len(key)] == key
    )
    while key:
        if (table, index, key) in lines:
            return lines[(table, index, key)]
        key = key[:-1]
    return longer[0] if longer else lines.get((table, index, ()), 1)


def _where(location: Sequence[int | str]) -> str:
    """``("zone", 2, "name", "fr")`` as "zone 3, name.fr" (people count from one)."""
    parts: list[str] = []
    for part in location:
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1]} {part + 1}"] if parts else [str(part + 1)]
        elif parts and not parts[-1].split(" ")[-1].isdigit():
            parts[-1] = f"{parts[-1]}.{part}"
        else:
            parts.append(part)
    return ", ".join(parts) or "the file"


# Writing ------------------------------------------------------------------------------------


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        # A JSON string is a TOML basic string: the same escapes, quotes and backslashes.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(each) for each in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")


def _pairs(values: Mapping[str, object]) -> list[str]:
    lines: list[str] = []
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            lines.extend(f"{key}.{language} = {_value(text)}" for language, text in value.items())
        else:
            lines.append(f"{key} = {_value(value)}")
    return lines


def dump_model(model: BaseModel, *, header: str = "") -> str:
    """The model as TOML: its plain values first, then each list of tables, one table per
    item. Empty values and defaults-that-say-nothing (``None``) are left out."""
    data = model.model_dump(mode="json", exclude_none=True)
    tables = {key: value for key, value in data.items() if _is_tables(value)}
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    pairs = _pairs({key: value for key, value in data.items() if key not in tables})
    if pairs:
        lines.extend(["", *pairs] if lines else pairs)
    for key, items in tables.items():
        for item in items:
            lines.extend(["", f"[[{key}]]", *_pairs(item)])
    return "\n".join(lines).lstrip("\n") + "\n"


def _is_tables(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(each, dict) for each in value)


def extract_messages(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Mapping[str, str]
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """Babel's extractor for data files (see babel.cfg): the values of the keys named in
    the ``keys`` option, which staff read in their own language through the catalogs."""
    keys = {key.strip() for key in options.get("keys", "").split(",") if key.strip()}
    for number, line in enumerate(fileobj.read().decode("utf-8").splitlines(), start=1):
        key, _equals, value = line.partition("=")
        if key.strip() in keys and value.strip():
            text = tomllib.loads(f"value = {value.strip()}")["value"]
            if isinstance(text, str) and text:
                yield number, None, text, []
