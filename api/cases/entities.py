"""Shared entities in a report's free text: container numbers, IMO ship numbers, truck plates.

Two reports that name the same container, ship or truck may be about the same thing. The
text of a report stays encrypted; the caller keeps only keyed hashes of the normalised
values found here, so that related reports can be linked without reading them.

A false link between two reports is worse than a missed one, so every rule here prefers
precision to recall: container and IMO numbers must pass their check digit, IMO numbers
must carry the "IMO" prefix, and plates are recognised only in the capitalised, separated
forms that their countries print, never in lowercase or run together.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass


@dataclass(frozen=True)
class Entity:
    kind: str  # "container" | "imo" | "plate"
    value: str  # normalised: "MSCU1234566", "IMO9074729", "1ABC123"


# Container numbers (ISO 6346) --------------------------------------------------------

# Letters count from 10 upwards, skipping the multiples of 11: A10 B12 … K21 L23 … U32 V34 … Z38.
_LETTER_VALUES: dict[str, int] = dict(
    zip(string.ascii_uppercase, (v for v in range(10, 39) if v % 11), strict=True)
)

_OWNER_SERIAL = re.compile(r"[A-Z]{4}[0-9]{6}")

# Owner code (3 letters), equipment category (U freight, J detachable equipment, Z chassis),
# serial number (6 digits) and check digit, each part optionally set off by a space or dash.
_CONTAINER = re.compile(
    r"""
    (?<![A-Za-z0-9])
    (?P<owner>[A-Z]{3}[UJZ]) [ \u00a0-]?
    (?P<serial>[0-9]{6}) [ \u00a0-]?
    (?P<check>[0-9])
    (?![A-Za-z0-9])
    """,
    re.IGNORECASE | re.ASCII | re.VERBOSE,
)


def container_check_digit(owner_serial: str) -> int:
    """The ISO 6346 check digit of the first 10 characters (owner code, category, serial).

    Each character's value is weighted by 2 to the power of its position; the sum, modulo 11
    and then modulo 10, is the check digit. Raises ValueError if those characters are not
    four letters and six digits.
    """
    head = owner_serial[:10].upper()
    if not _OWNER_SERIAL.fullmatch(head):
        raise ValueError("A container number starts with four letters and six digits.")
    total = sum(
        (_LETTER_VALUES[char] if char.isalpha() else int(char)) << position
        for position, char in enumerate(head)
    )
    return total % 11 % 10


# IMO ship numbers ----------------------------------------------------------------------

_IMO_DIGITS = re.compile(r"(?:IMO)?\s*([0-9]{7})", re.IGNORECASE | re.ASCII)

# "IMO 9074729", "IMO9074729", "imo no. 9074729", "IMO-Nr. 9074729", "IMO n° 9074729".
# The prefix is required: a bare seven-digit number is too often something else.
_IMO = re.compile(
    r"""
    (?<![A-Za-z0-9])
    IMO [ \u00a0.:\#-]*
    (?: (?:number|nummer|numéro|num|nr|no|n°|nº) [ \u00a0.:\#-]* )?
    (?P<digits>[0-9]{7})
    (?![A-Za-z0-9])
    """,
    re.IGNORECASE | re.ASCII | re.VERBOSE,
)


def imo_is_valid(number: str) -> bool:
    """Whether a seven-digit IMO ship number (with or without "IMO") has a valid check digit.

    The first six digits, weighted 7, 6, 5, 4, 3 and 2, sum to a number whose last digit
    is the seventh.
    """
    match = _IMO_DIGITS.fullmatch(number.strip())
    if match is None:
        return False
    digits = [int(char) for char in match.group(1)]
    total = sum(digit * weight for digit, weight in zip(digits[:6], range(7, 1, -1), strict=True))
    return total % 10 == digits[6]


# Vehicle plates ------------------------------------------------------------------------

# Letters each country uses on its plates, where it leaves some out.
_NL = "[BDFGHJKLMNPRSTVWXZ]"  # no vowels, no C, Q or Y
_FR = "[A-HJ-NP-TV-Z]"  # no I, O or U
_IT = "[A-HJ-NPR-TV-Z]"  # no I, O, Q or U
_ES = "[BCDFGHJKLMNPRSTVWXYZ]"  # no vowels, no Ñ or Q
_PL_REGION = "[BCDEFGKLNOPRSTWZ]"  # the first letter names the voivodeship

_PLATE_BODIES: dict[str, str] = {
    # Dutch sidecodes 4 to 14, always with dashes.
    "netherlands": "|".join(
        (
            rf"{_NL}{{2}}-[0-9]{{2}}-{_NL}{{2}}",  # 4: XX-99-XX
            rf"{_NL}{{2}}-{_NL}{{2}}-[0-9]{{2}}",  # 5: XX-XX-99
            rf"[0-9]{{2}}-{_NL}{{2}}-{_NL}{{2}}",  # 6: 99-XX-XX
            rf"[0-9]{{2}}-{_NL}{{3}}-[0-9]",  # 7: 99-XXX-9
            rf"[0-9]-{_NL}{{3}}-[0-9]{{2}}",  # 8: 9-XXX-99
            rf"{_NL}{{2}}-[0-9]{{3}}-{_NL}",  # 9: XX-999-X
            rf"{_NL}-[0-9]{{3}}-{_NL}{{2}}",  # 10: X-999-XX
            rf"{_NL}{{3}}-[0-9]{{2}}-{_NL}",  # 11: XXX-99-X
            rf"{_NL}-[0-9]{{2}}-{_NL}{{3}}",  # 12: X-99-XXX
            rf"[0-9]-{_NL}{{2}}-[0-9]{{3}}",  # 13: 9-XX-999
            rf"[0-9]{{3}}-{_NL}{{2}}-[0-9]",  # 14: 999-XX-9
        )
    ),
    # Belgium: 1-ABC-123.
    "belgium": r"[1-9]-[A-Z]{3}-[0-9]{3}",
    # Germany: district, dash, one or two letters, space, a number without a leading zero,
    # and E (electric) or H (historic): HH-AB 1234, B-MW 123, M-AB 12E.
    "germany": r"[A-ZÄÖÜ]{1,3}-[A-Z]{1,2} [1-9][0-9]{0,3}[EH]?",
    # France: AB-123-CD.
    "france": rf"{_FR}{{2}}-[0-9]{{3}}-{_FR}{{2}}",
    # Spain: 1234 BCD, or 1234-BCD.
    "spain": rf"[0-9]{{4}}[ -]{_ES}{{3}}",
    # Italy: AB 123 CD.
    "italy": rf"{_IT}{{2}} [0-9]{{3}} {_IT}{{2}}",
    # Poland: WX 12345.
    "poland": rf"{_PL_REGION}[A-Z] [0-9]{{5}}",
}

# A plate stands alone: not glued to a word, a longer dashed or slashed code, or a number
# (as in a phone number, a price or a decimal).
_BEFORE = r"(?<![\w/+-])(?<![0-9][ .,])"
_AFTER = r"(?![\w/-])(?![ .,][0-9])"

_PLATES: dict[str, re.Pattern[str]] = {
    country: re.compile(rf"{_BEFORE}(?:{body}){_AFTER}") for country, body in _PLATE_BODIES.items()
}

# Letter groups that mark a plate-shaped string as something else: a standard, a regulation,
# a trade reference, a unit, a currency or a time ("UN-NR 1203", "EN 12195", "PO 12345",
# "1400 HRS", "AT 530 PM"). A few real plates are lost; no report is linked on a reference.
_NOT_PLATE_WORDS = frozenset(
    {
        *("DIN", "EN", "EU", "IMO", "ISO", "NO", "NR", "REF", "TEL", "FAX", "UN"),
        *("BK", "BL", "DO", "PO", "SO"),
        *("CBM", "HRS", "KG", "KGS", "PCS", "TEU"),
        *("EUR", "GBP", "PLN", "USD"),
        *("AM", "PM"),
    }
)
_LETTER_GROUP = re.compile(r"[A-ZÄÖÜ]+")
_SEPARATORS = re.compile(r"[\s-]+")


def _is_reference(plate: str) -> bool:
    return any(group in _NOT_PLATE_WORDS for group in _LETTER_GROUP.findall(plate))


# Extraction ----------------------------------------------------------------------------


def extract_entities(text: str) -> list[Entity]:
    """Container numbers, IMO numbers and plates in the text: unique, in order of first appearance."""
    found: list[tuple[int, Entity]] = []
    # Spans taken by container- or IMO-shaped strings, valid or not: no plate is read in them.
    taken: list[tuple[int, int]] = []

    for match in _CONTAINER.finditer(text):
        taken.append(match.span())
        owner = match["owner"]
        if not (owner.isupper() or owner.islower()):
            continue  # "Menu 1234567" is a word and a number, not a container
        head = f"{owner}{match['serial']}".upper()
        if container_check_digit(head) == int(match["check"]):
            found.append((match.start(), Entity("container", f"{head}{match['check']}")))

    for match in _IMO.finditer(text):
        taken.append(match.span())
        if imo_is_valid(match["digits"]):
            found.append((match.start(), Entity("imo", f"IMO{match['digits']}")))

    for pattern in _PLATES.values():
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < other_end and other_start < end for other_start, other_end in taken):
                continue
            if _is_reference(match.group()):
                continue
            taken.append((start, end))
            found.append((start, Entity("plate", _SEPARATORS.sub("", match.group()).upper())))

    unique: dict[Entity, None] = {}
    for _, entity in sorted(found, key=lambda item: item[0]):
        unique.setdefault(entity, None)
    return list(unique)
