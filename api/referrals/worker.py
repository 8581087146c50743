"""Referral notices for ``portline worker`` (api/worker.py): take one due notice from the
outbox, deliver it, record how it went. Any number of workers may run side by side, on as
many machines as share the database."""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine
from sqlmodel import Session

from api.config import Settings
from api.crypto import KeyRing
from api.db import utcnow
from api.referrals import outbox

logger = logging.getLogger("portline.worker")


def new_worker_id() -> str:
    """Names the worker in a lease: host, process and a random tag (a restarted process
    may get the same number)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def work_one(
    *,
    engine: Engine,
    keyring: KeyRing,
    settings: Settings,
    worker_id: str,
    clock: Callable[[], datetime] = utcnow,
    client: httpx.Client | None = None,
) -> bool:
    """Take one due notice, deliver it and record the outcome; ``False`` when none is due.

    Each step has its own transaction: nothing holds the database while a mail server or a
    body's system takes its time."""
    with Session(engine, expire_on_commit=False) as session:
        job = outbox.take_job(
            session=session,
            worker_id=worker_id,
            now=clock(),
            lease=timedelta(seconds=settings.outbox_lease_seconds),
        )
    if job is None or job.id is None:
        return False
    error: str | None = None
    try:
        with Session(engine, expire_on_commit=False) as session:
            notice = outbox.prepare(
                session=session, keyring=keyring, settings=settings, job=job, now=clock()
            )
        outbox.deliver(notice, settings=settings, client=client)
    except outbox.DeliveryFailed as failure:
        error = str(failure)
    except Exception as unexpected:
        # A bug, not the body's fault: keep the notice for triage and the worker running.
        logger.exception("notice %s could not be prepared", job.id)
        error = f"internal error: {type(unexpected).__name__}"
    with Session(engine, expire_on_commit=False) as session:
        if error is None:
            outbox.record_delivered(session=session, job_id=job.id, now=clock())
            logger.info("notice %s delivered (%s)", job.id, job.channel)
        else:
            outbox.record_failure(
                session=session,
                job_id=job.id,
                worker_id=worker_id,
                error=error,
                now=clock(),
                settings=settings,
            )
            logger.warning("notice %s not delivered (%s): %s", job.id, job.channel, error)
        session.commit()
    return True
