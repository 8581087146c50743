"""The console's home and the work areas still to come."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from admin.shell import PREFIX, ConsoleRoute, Liaison, SignedIn, Triager, render
from api.i18n import N_

router = APIRouter(route_class=ConsoleRoute)

# What each area of the navigation is for, said on the home page.
PURPOSES = {
    f"{PREFIX}/triage": N_(
        "Read new reports, classify them, and route each case to the bodies that can act."
    ),
    f"{PREFIX}/referrals": N_("Work the cases routed to your body and report what came of them."),
    f"{PREFIX}/staff": N_("Create staff accounts, disable them and reset second factors."),
    f"{PREFIX}/audit": N_("Read the tamper-evident log of who saw or changed what, and when."),
    f"{PREFIX}/account": N_("Change your password and sign out on your other devices."),
}


@router.get(PREFIX)
def home(request: Request, staff: SignedIn) -> Response:
    return render(request, "home.html", {"purposes": PURPOSES}, staff=staff)


@router.get(PREFIX + "/triage")
def triage(request: Request, staff: Triager) -> Response:
    return render(
        request,
        "empty.html",
        {
            "title": N_("Triage"),
            "message": N_(
                "No reports to triage yet. New reports will be listed here, the most urgent "
                "first, once the triage queue is built."
            ),
        },
        staff=staff,
    )


@router.get(PREFIX + "/referrals")
def referrals(request: Request, staff: Liaison) -> Response:
    return render(
        request,
        "empty.html",
        {
            "title": N_("Referrals"),
            "message": N_(
                "No referrals yet. Cases routed to your body will be listed here once "
                "referrals are built."
            ),
        },
        staff=staff,
    )
