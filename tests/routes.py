"""Every route of the app, as the policy and the bounds tests walk them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.policy import Permission


def _marks_of(call: Callable[..., Any] | None) -> set[str]:
    marks = {"public"} if getattr(call, "portline_public", False) else set()
    permission = getattr(call, "portline_permission", None)
    return marks | ({permission.value} if isinstance(permission, Permission) else set())


def _markers(dependant: Dependant) -> set[str]:
    found: set[str] = set()
    for dependency in dependant.dependencies:
        found |= _marks_of(dependency.call) | _markers(dependency)
    return found


@dataclass(frozen=True)
class Walked:
    route: APIRoute
    path: str  # as the client sends it, with every including router's prefix
    marks: set[str]  # "public" and the permissions its dependencies declare


def walk(routes: list[Any], prefix: str = "", inherited: tuple[Any, ...] = ()) -> list[Walked]:
    """Every APIRoute of the app with its full path and the marks of its own and its
    routers' dependencies.

    FastAPI keeps included routers as they are (their routes are combined lazily), so
    the walk follows them and carries each router's prefix and dependencies down."""
    found: list[Walked] = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context = route.include_context
            found += walk(
                included.routes, prefix + context.prefix, (*inherited, *context.dependencies)
            )
        elif isinstance(route, APIRoute):
            marks = _markers(route.dependant)
            for depends in inherited:
                marks |= _marks_of(depends.dependency)
            found.append(Walked(route, prefix + route.path_format, marks))
    return found
