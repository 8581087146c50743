"""The staff console, served under /admin: one router for the application to mount."""

from __future__ import annotations

from fastapi import APIRouter

from admin import (
    account,
    audit,
    bodies,
    case,
    categories,
    dashboard,
    home,
    ports,
    queue,
    refer,
    referrals,
    retention,
    rules,
    setup,
    signin,
    staff,
)
from admin.shell import assets, error_page
from api.deps import Public

router = APIRouter(include_in_schema=False)
router.include_router(assets.router(), dependencies=[Public])
router.include_router(signin.router)
router.include_router(setup.router)
router.include_router(home.router)
router.include_router(staff.router)
router.include_router(bodies.router)
router.include_router(rules.router)
router.include_router(account.router)
router.include_router(audit.router)
router.include_router(ports.router)
router.include_router(categories.router)
router.include_router(queue.router)
router.include_router(case.router)
router.include_router(refer.router)
router.include_router(referrals.router)
router.include_router(dashboard.router)
router.include_router(retention.router)

__all__ = ["error_page", "router"]
