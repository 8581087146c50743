"""What a reporter's client needs before anything is sent: all of it public."""

from __future__ import annotations

from sqlmodel import Session

from api.agencies import service as agencies_service
from api.config import Settings
from api.i18n import LANGUAGES, N_, RTL_LANGUAGES, in_language, translate
from api.ports import service as ports_service
from api.public.schemas import (
    BodyPublic,
    CategoryPublic,
    Choice,
    EmergencyNumberPublic,
    LanguagePublic,
    Limits,
    PortPublic,
    PublicConfig,
    ZonePublic,
)
from api.reports.files import ALLOWED_MEDIA_TYPES
from api.reports.schemas import CargoDirection, Kind
from api.taxonomy import service as taxonomy_service

# Each language is named in itself, so a reporter finds theirs whatever page they are on.
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "fr": "Français",
    "nl": "Nederlands",
    "de": "Deutsch",
    "es": "Español",
    "it": "Italiano",
    "pt": "Português",
    "ar": "العربية",
}
KIND_NAMES: dict[Kind, str] = {
    Kind.integrity: N_("Integrity concern (corruption, pressure, misuse of access)"),
    Kind.incident: N_("Security incident (breach, tampering, theft, cyber attack)"),
}
CARGO_DIRECTION_NAMES: dict[CargoDirection, str] = {
    CargoDirection.inbound: N_("Inbound cargo (arriving)"),
    CargoDirection.outbound: N_("Outbound cargo (leaving)"),
    CargoDirection.transhipment: N_("Transhipment (ship to ship)"),
    CargoDirection.not_applicable: N_("No cargo involved / not sure"),
}


def public_config(*, session: Session, settings: Settings, language: str) -> PublicConfig:
    def _(message: str) -> str:
        return translate(message, language)

    zones = ports_service.zones_by_port(session=session)
    numbers = ports_service.emergency_numbers_by_port(session=session)

    def named(names: dict[str, str], fallback: str, port_languages: list[str]) -> str:
        # What an administrator wrote, in the reporter's language or the port's first.
        return in_language(names, language, *port_languages) or fallback

    ports = [
        PortPublic(
            code=port.code,
            name=named(port.names, port.name, port.languages),
            timezone=port.timezone,
            zones=[
                ZonePublic(code=z.code, name=named(z.names, z.name, port.languages), kind=z.kind)
                for z in zones.get(port.id or 0, [])
            ],
            emergency_numbers=[
                EmergencyNumberPublic(
                    label=named(n.labels, n.label, port.languages),
                    number=n.number,
                    when=in_language(n.when, language, *port.languages),
                )
                for n in numbers.get(port.id or 0, [])
            ],
        )
        for port in ports_service.active_ports(session=session)
    ]
    return PublicConfig(
        language=language,
        languages=[
            LanguagePublic(
                code=code,
                name=LANGUAGE_NAMES[code],
                direction="rtl" if code in RTL_LANGUAGES else "ltr",
            )
            for code in LANGUAGES
        ],
        ports=ports,
        kinds=[Choice(code=kind.value, name=_(name)) for kind, name in KIND_NAMES.items()],
        categories=[
            CategoryPublic(
                code=category.code,
                kind=category.kind,
                name=named(category.names, category.name, []),
                hint=in_language(category.hints, language) or category.hint,
                cargo_relevant=category.cargo_relevant,
            )
            for category in taxonomy_service.active_categories(session=session)
        ],
        cargo_directions=[
            Choice(code=direction.value, name=_(name))
            for direction, name in CARGO_DIRECTION_NAMES.items()
        ],
        excludable_bodies=[
            BodyPublic(code=body.code, name=named(body.names, body.name, []), kind=body.kind)
            for body in agencies_service.excludable_bodies(session=session)
        ],
        proof_of_work_difficulty=settings.pow_difficulty,
        limits=Limits(
            max_files=settings.max_files,
            max_file_bytes=settings.max_file_bytes,
            max_pixels=settings.max_pixels,
            allowed_types=sorted(ALLOWED_MEDIA_TYPES),
        ),
    )
