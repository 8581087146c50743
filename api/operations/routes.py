"""``/healthz``, ``/readyz`` and ``/metrics``: for a load balancer, an orchestrator and
Prometheus, not for people, and absent from the API's documentation.

``/metrics`` says how busy the line is, route by route; it is not for anyone who asks.
With ``PORTLINE_METRICS_TOKEN`` set it asks for that token; without one it answers only a
client on this machine's loopback that no proxy forwarded (no forwarding header, a
loopback name in ``Host``). The peer's address is looked at, never kept or logged."""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from api.deps import KeyRingDep, Now, Public, SessionDep, SettingsDep
from api.errors import NotFound, Unauthorized
from api.i18n import N_
from api.operations import metrics, service

router = APIRouter(include_in_schema=False, dependencies=[Public])

NO_STORE = {"cache-control": "no-store"}
# What a proxy adds to the requests it passes on (``X-Forwarded-*`` by prefix).
FORWARDING_HEADERS = frozenset(
    {"forwarded", "x-real-ip", "via", "true-client-ip", "x-client-ip", "cf-connecting-ip"}
)
FORWARDING_PREFIX = "x-forwarded-"


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _from_this_machine(request: Request) -> bool:
    """Asked over loopback, for a loopback name, and passed on by no proxy."""
    if any(
        name in FORWARDING_HEADERS or name.startswith(FORWARDING_PREFIX) for name in request.headers
    ):
        return False
    peer = request.client.host if request.client is not None else None
    asked_for = urlsplit("//" + request.headers.get("host", "")).hostname
    return _is_loopback(peer) and _is_loopback(asked_for)


def allowed_scraper(request: Request, settings: SettingsDep) -> None:
    token = settings.metrics_token.get_secret_value()
    if token:
        scheme, _, sent = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            sent.strip().encode(), token.encode()
        ):
            raise Unauthorized(
                N_("The metrics token is missing or wrong."),
                headers={"WWW-Authenticate": "Bearer"},
            )
    elif not _from_this_machine(request):
        # As if there were nothing here: a proxy on this machine must not make it public.
        raise NotFound(N_("There is nothing at this address."))


Scraper = Annotated[None, Depends(allowed_scraper)]


@router.get("/healthz")
async def healthz() -> JSONResponse:
    """The process is up and answering; asks nothing of the database."""
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


@router.get("/readyz")
def readyz(session: SessionDep, keyring: KeyRingDep) -> JSONResponse:
    """200 when this process can serve; 503 naming the checks that failed."""
    failed = service.failed_checks(session=session, keyring=keyring)
    if failed:
        return JSONResponse(
            {"status": "unready", "failed": failed}, status_code=503, headers=NO_STORE
        )
    return JSONResponse({"status": "ready"}, headers=NO_STORE)


@router.get("/metrics")
def get_metrics(_scraper: Scraper, session: SessionDep, now: Now) -> Response:
    return Response(
        service.scrape(session=session, now=now),
        media_type=metrics.CONTENT_TYPE,
        headers=NO_STORE,
    )
