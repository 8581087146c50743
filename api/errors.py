"""Domain errors and the one JSON error shape every client sees.

Services raise these, never ``HTTPException``. Each carries an English message (a
catalog msgid) and, where a field is at fault, which field and what is wrong with it.
Nothing internal (stack traces, SQL, exception text) ever reaches a client.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.i18n import N_, negotiate, translate


@dataclass(frozen=True)
class FieldProblem:
    """What is wrong with one field: ``field`` is a dotted path such as ``report.zone``."""

    field: str
    message: str
    params: dict[str, object] = dataclass_field(default_factory=dict)


class DomainError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        fields: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
        **params: object,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.params = params
        self.fields = fields or []
        self.headers = headers


class Invalid(DomainError):
    status = 422
    code = "invalid"


class BadRequest(DomainError):
    status = 400
    code = "bad_request"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Gone(DomainError):
    """It was here and is deleted for good (a case purged under the retention rules)."""

    status = 410
    code = "gone"


class TooLarge(DomainError):
    status = 413
    code = "too_large"


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"


class Unavailable(DomainError):
    """The service cannot do this now, through no fault of the request: try again later."""

    status = 503
    code = "unavailable"


class HeadersTooLarge(DomainError):
    status = 431
    code = "headers_too_large"


# What each error status means, as the OpenAPI document says it (a route's or a router's
# ``responses=``). Every one has the body {"error": {"code", "message", "fields"?}}.
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "The request could not be read.",
    401: "Not signed in, or the session has ended.",
    403: "The role does not allow this, or the CSRF token is missing or wrong.",
    404: "There is no such thing here.",
    409: "Not possible in the state it is in now; `error.message` says why.",
    410: "It was deleted for good under the port's retention rules.",
    413: "Too many or too large files.",
    415: "A file of a type that cannot be attached.",
    422: "A field is missing or wrong; `error.fields` names it.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` that documents these error statuses."""
    return {status: {"description": ERROR_DESCRIPTIONS[status]} for status in statuses}


# Every staff route needs a signed-in session with a role that allows it (api.deps.require).
STAFF_ONLY = error_responses(401, 403)


def invalid_field(field_path: str, message: str, **params: object) -> Invalid:
    """The common case: one field is wrong."""
    return Invalid(
        N_("The request has a problem in {field}."),
        fields=[FieldProblem(field_path, message, dict(params))],
        field=field_path,
    )


def error_body(error: DomainError, language: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": error.code,
        "message": translate(error.message, language, error.params),
    }
    if error.fields:
        body["fields"] = [
            {
                "field": problem.field,
                "message": translate(problem.message, language, problem.params),
            }
            for problem in error.fields
        ]
    return {"error": body}


def error_response(error: DomainError, request: Request | None) -> JSONResponse:
    language = negotiate(request.headers.get("accept-language") if request else None)
    return JSONResponse(
        error_body(error, language), status_code=error.status, headers=error.headers
    )


_VALIDATION_MESSAGES: dict[str, str] = {
    "missing": N_("This field is required."),
    "string_too_long": N_("This text is too long (at most {max_length} characters)."),
    "string_too_short": N_("This text is too short (at least {min_length} characters)."),
    "too_long": N_("Too many items (at most {max_length})."),
    "too_short": N_("Too few items (at least {min_length})."),
    "string_pattern_mismatch": N_("This value does not have the expected form."),
    "literal_error": N_("This value is not one of those allowed: {expected}."),
    "enum": N_("This value is not one of those allowed: {expected}."),
    "int_parsing": N_("This must be a whole number."),
    "int_type": N_("This must be a whole number."),
    "string_type": N_("This must be text."),
    "bool_type": N_("This must be true or false."),
    "bool_parsing": N_("This must be true or false."),
    "date_from_datetime_parsing": N_("This must be a date (YYYY-MM-DD)."),
    "date_parsing": N_("This must be a date (YYYY-MM-DD)."),
    "date_type": N_("This must be a date (YYYY-MM-DD)."),
    "list_type": N_("This must be a list."),
    "dict_type": N_("This must be an object."),
    "model_type": N_("This must be an object."),
    "model_attributes_type": N_("This must be an object."),
    "extra_forbidden": N_("This field is not expected here."),
    "json_invalid": N_("This is not valid JSON."),
    "json_type": N_("This is not valid JSON."),
    "greater_than_equal": N_("This must be at least {ge}."),
    "less_than_equal": N_("This must be at most {le}."),
    "uuid_parsing": N_("This must be a UUID."),
    "value_error": N_("This value is not valid."),
}


def problems_from_validation(errors: list[Any], prefix: str = "") -> list[FieldProblem]:
    """Turn pydantic's error list into field problems with catalog messages."""
    problems: list[FieldProblem] = []
    for detail in errors:
        kind = str(detail.get("type", "value_error"))
        location = [
            f"[{part}]" if isinstance(part, int) else str(part)
            for part in detail.get("loc", ())
            if part != "body"
        ]
        if kind in ("json_invalid", "json_type"):
            location = []  # the position in the text is not a field
        path = ".".join(([prefix] if prefix else []) + location).replace(".[", "[") or "body"
        context = detail.get("ctx") or {}
        message = _VALIDATION_MESSAGES.get(kind, _VALIDATION_MESSAGES["value_error"])
        if kind == "value_error" and isinstance(context.get("error"), DomainMessage):
            message = context["error"].message
        params: dict[str, object] = {
            str(key): str(value) for key, value in context.items() if key != "error"
        }
        try:
            message.format(**params)
        except (KeyError, IndexError):
            params = {}
            message = _VALIDATION_MESSAGES["value_error"]
        problems.append(FieldProblem(path, message, params))
    return problems


class DomainMessage(ValueError):
    """Raised inside schema validators so the catalog message reaches the client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def validation_error(errors: list[Any], prefix: str = "") -> Invalid:
    problems = problems_from_validation(errors, prefix)
    first = problems[0].field if problems else prefix or "body"
    return Invalid(N_("The request has a problem in {field}."), fields=problems, field=first)


async def http_error_response(request: Request, error: Exception) -> JSONResponse:
    """Starlette's own errors (unknown address, wrong method, unreadable body) as JSON."""
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 404:
        return error_response(NotFound(N_("There is nothing at this address.")), request)
    if error.status_code == 405:
        response = error_response(BadRequest(N_("This method is not allowed here.")), request)
        response.status_code = 405
        return response
    # FastAPI answers 400 when it cannot read a request body at all.
    unreadable = BadRequest(
        N_("The request could not be handled."),
        fields=[FieldProblem("body", N_("The request body could not be read."))],
    )
    response = error_response(unreadable, request)
    response.status_code = error.status_code if 400 <= error.status_code < 500 else 400
    return response


def install_error_handlers(app: FastAPI) -> None:
    async def on_domain_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, DomainError)
        return error_response(error, request)

    async def on_validation_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return error_response(validation_error(list(error.errors())), request)

    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error_response)
    # An unexpected error is answered and logged by api/middleware.py, outside the app.
