"""The report form as the server sees it when a phone sends it without JavaScript.

Every step lives in one HTML form; each "Next" sends all of it back, so what was typed
is kept whichever way the reporter goes. This module reads that form, checks one step at
a time, and turns the whole into a :class:`ReportCreate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from api.errors import FieldProblem, problems_from_validation
from api.i18n import N_
from api.reports.schemas import ReportCreate

STEPS: tuple[str, ...] = (
    "kind",
    "category",
    "where",
    "what",
    "photos",
    "identity",
    "exclusions",
    "review",
)
_SCALARS = (
    "kind",
    "category",
    "port",
    "zone",
    "location_detail",
    "occurred",
    "occurred_on",
    "occurred_approximate",
    "cargo_direction",
    "narrative",
    "identity_mode",
    "identity_name",
    "identity_contact",
    "identity_may_share",
    "draft_token",
    "submission_key",
)


@dataclass
class ReportForm:
    values: dict[str, str] = field(default_factory=dict)
    exclude_bodies: list[str] = field(default_factory=list)

    @classmethod
    def from_fields(cls, fields: list[tuple[str, str]]) -> ReportForm:
        form = cls()
        for name, value in fields:
            if name == "exclude_bodies":
                if value and value not in form.exclude_bodies:
                    form.exclude_bodies.append(value)
            elif name in _SCALARS:
                form.values[name] = value.strip() if name != "narrative" else value
        return form

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def occurred_on(self, today: date) -> str:
        choice = self.get("occurred")
        if choice == "today":
            return today.isoformat()
        if choice == "yesterday":
            return (today - timedelta(days=1)).isoformat()
        return self.get("occurred_on")

    def payload(self, *, language: str, today: date) -> dict[str, object]:
        identity = None
        if self.get("identity_mode") == "confidential":
            identity = {
                "name": self.get("identity_name") or None,
                "contact": self.get("identity_contact") or None,
                "may_share": self.get("identity_may_share") == "1",
            }
        payload: dict[str, object] = {
            "kind": self.get("kind"),
            "category": self.get("category"),
            "port": self.get("port"),
            "zone": self.get("zone") or None,
            "location_detail": self.get("location_detail") or None,
            "occurred_on": self.occurred_on(today),
            "occurred_approximate": self.get("occurred_approximate") == "1",
            "cargo_direction": self.get("cargo_direction") or "not_applicable",
            "narrative": self.get("narrative"),
            "identity": identity,
            "exclude_bodies": self.exclude_bodies,
            "language": language,
        }
        if self.get("submission_key"):
            payload["submission_key"] = self.get("submission_key")
        return payload


# Which report fields each step answers for; a problem in one sends the reporter there.
STEP_FIELDS: dict[str, tuple[str, ...]] = {
    "kind": ("kind",),
    "category": ("category",),
    "where": (
        "port",
        "zone",
        "location_detail",
        "occurred_on",
        "occurred_approximate",
        "cargo_direction",
    ),
    "what": ("narrative",),
    "photos": ("files",),
    "identity": ("identity",),
    "exclusions": ("exclude_bodies",),
}

_REQUIRED_BY_STEP: dict[str, tuple[tuple[str, str], ...]] = {
    "kind": (("kind", N_("Choose what you saw.")),),
    "category": (("category", N_("Choose what it is about.")),),
    "where": (
        ("port", N_("Choose the port.")),
        ("occurred", N_("Say when it happened.")),
    ),
    "what": (("narrative", N_("Say in a few words what happened.")),),
    "identity": (("identity_mode", N_("Choose anonymous or confidential.")),),
}


def today_in(timezone: str) -> date:
    try:
        return datetime.now(ZoneInfo(timezone)).date()
    except (KeyError, ValueError):
        return datetime.now(ZoneInfo("UTC")).date()


def step_errors(
    form: ReportForm, step: str, *, language: str, today: date
) -> dict[str, FieldProblem]:
    """Problems in ``step``, by form-field name."""
    errors: dict[str, FieldProblem] = {}
    for name, message in _REQUIRED_BY_STEP.get(step, ()):
        if not form.get(name).strip():
            errors[name] = FieldProblem(name, message)
    if step == "where" and form.get("occurred") == "date" and not form.get("occurred_on"):
        errors["occurred_on"] = FieldProblem("occurred_on", N_("Give the date, even roughly."))
    confidential = step == "identity" and form.get("identity_mode") == "confidential"
    if confidential and not (form.get("identity_name") or form.get("identity_contact")):
        errors["identity_name"] = FieldProblem(
            "identity_name", N_("Give a name or a way to reach you, or report anonymously.")
        )
    if errors or step in ("photos", "review"):
        return errors
    problems = validate(form, language=language, today=today)
    return {name: message for name, message in problems.items() if _step_of(name) == step}


def validate(form: ReportForm, *, language: str, today: date) -> dict[str, FieldProblem]:
    """Every problem of the whole form, by form-field name."""
    try:
        ReportCreate.model_validate(form.payload(language=language, today=today))
    except ValidationError as error:
        return {
            form_name(problem.field): problem
            for problem in problems_from_validation(error.errors())
        }
    return {}


def form_name(field_path: str) -> str:
    """The form field where a problem of the report field ``field_path`` is shown."""
    root = field_path.removeprefix("report.").split(".")[0].split("[")[0]
    if root == "identity":
        return "identity_name"
    if root == "occurred_on":
        return "occurred_on"
    return root


def _step_of(name: str) -> str:
    root = "identity" if name.startswith("identity") else name
    for step, names in STEP_FIELDS.items():
        if root in names:
            return step
    return "review"


def step_for_field(field_path: str) -> str:
    """The step where the reporter can mend a problem the service found in ``field_path``."""
    return _step_of(form_name(field_path))
