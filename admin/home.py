"""The console's home: each area the signed-in person may open, and what it is for."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from admin.shell import PREFIX, ConsoleRoute, SignedIn, render
from api.i18n import N_

router = APIRouter(route_class=ConsoleRoute)

# What each area of the navigation is for, said on the home page.
PURPOSES = {
    f"{PREFIX}/triage": N_(
        "Read new reports, classify them, and route each case to the bodies that can act."
    ),
    f"{PREFIX}/dashboard": N_(
        "See what came in week by week and how fast it was acknowledged, with the figures as CSV."
    ),
    f"{PREFIX}/referrals": N_("Work the cases routed to your body and report what came of them."),
    f"{PREFIX}/staff": N_("Create staff accounts, disable them and reset second factors."),
    f"{PREFIX}/ports": N_(
        "Add ports, name them in each language, and set their zones, emergency numbers and "
        "days to acknowledge reports and to give feedback."
    ),
    f"{PREFIX}/categories": N_(
        "Name and explain what reporters can report, in each language and in what order."
    ),
    f"{PREFIX}/bodies": N_(
        "Set up the bodies cases are routed to: where each may act and how it is notified."
    ),
    f"{PREFIX}/rules": N_(
        "See which bodies each kind of case is recommended to, and in what order the rules apply."
    ),
    f"{PREFIX}/retention": N_(
        "See the closed cases to be purged within two weeks, and hold those a court or an "
        "inquiry still needs."
    ),
    f"{PREFIX}/audit": N_("Read the tamper-evident log of who saw or changed what, and when."),
    f"{PREFIX}/account": N_("Change your password and sign out on your other devices."),
}


@router.get(PREFIX)
def home(request: Request, staff: SignedIn) -> Response:
    return render(request, "home.html", {"purposes": PURPOSES}, staff=staff)
