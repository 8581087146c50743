"""Loading the keys, proving they belong to this database, and choosing the key new data
keys are wrapped with.

The database keeps one check value (``key_check``), sealed with its *current*
key-encryption key: its key id names the key every process wraps with, and its
``live_keys`` the keys stored values may still name. ``portline key rotate``
(api/keystore/rotation.py) moves both; every process follows at the next data key it
makes, reading the row under a shared lock that the rotation's exclusive one waits for.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.config import Settings
from api.crypto import (
    DecryptionError,
    KeyFileError,
    KeyMaterial,
    KeyRing,
    create_key_file,
    open_sealed,
    parse_key_material,
    read_key_file,
    sealed_key_id,
)
from api.errors import Unavailable
from api.i18n import N_
from api.keystore.models import KeyCheck

_CHECK_LABEL = b"check"
_LEGACY_CHECK_PLAINTEXT = b"portline key check v1"


class KeyRetired(Unavailable):
    """This process holds only keys that a rotation has retired: it must be restarted
    with the new key file before it may seal anything."""


def check_plaintext(keyring: KeyRing) -> bytes:
    """What the check value holds: it also proves the lookup key (receipt hashes, the
    audit chain) is this database's."""
    return b"portline key check v2 " + keyring.lookup_hash("key-check", "v2").encode()


def live_keys(check: KeyCheck) -> frozenset[int]:
    return frozenset(int(part) for part in check.live_keys.split(",") if part.strip())


def load_material(settings: Settings, *, database_has_keys: bool) -> KeyMaterial:
    """The keys from PORTLINE_KEY or the key file, creating the file on the very first run."""
    if settings.key:
        return parse_key_material(settings.key, source="PORTLINE_KEY")
    path = settings.effective_key_file
    if path.exists():
        return read_key_file(path)
    if database_has_keys:
        raise KeyFileError(
            f"the key file {path} is missing, but this database holds reports "
            "sealed with a key; restore the key file or set PORTLINE_KEY_FILE"
        )
    return create_key_file(path)


def open_keyring(*, settings: Settings, engine: Engine) -> KeyRing:
    """The key ring for this database, creating the key on the very first run.

    Raises :class:`KeyFileError` with a message for the operator when the key is
    missing, malformed, readable by others, or not the one this database was sealed with.
    """
    with Session(engine) as session:
        check = session.get(KeyCheck, 1)
        material = load_material(settings, database_has_keys=check is not None)
        keyring = KeyRing(material, reload=lambda: load_material(settings, database_has_keys=True))
        if check is None:
            # Insert if absent, then read back: a process that won a race to the first run
            # stored its check first, and that check decides whether this key belongs here.
            try:
                with session.begin_nested():
                    session.add(
                        KeyCheck(
                            id=1,
                            sealed=keyring.seal_secret(
                                check_plaintext(keyring), label=_CHECK_LABEL
                            ),
                            live_keys=str(keyring.current),
                        )
                    )
            except IntegrityError:
                pass
            session.commit()
            check = session.get_one(KeyCheck, 1)
        if check.sealed[:1] == b"\x01":
            _upgrade_legacy_check(session, keyring, check)
        key_check(session, keyring)
    return keyring


def _upgrade_legacy_check(session: Session, keyring: KeyRing, check: KeyCheck) -> None:
    """A database from before key ids: its check, sealed with the old master key's check
    key, is sealed again under key 1, the same master key's key-encryption key."""
    legacy = keyring.material.legacy_check
    if legacy is None:
        raise KeyFileError(
            "this database's key check predates key rotation, but the key file is in the "
            "newer format; use the key file this database was created with"
        )
    try:
        open_sealed(legacy, check.sealed, label=_CHECK_LABEL)
    except DecryptionError:
        raise _mismatch() from None
    check.sealed = keyring.seal_secret(check_plaintext(keyring), label=_CHECK_LABEL)
    session.add(check)
    session.commit()


def _mismatch() -> KeyFileError:
    return KeyFileError(
        "the key does not match this database: its reports were sealed with "
        "another key; use the key file that belongs to this database"
    )


def key_check(session: Session, keyring: KeyRing) -> None:
    """Raise :class:`KeyFileError` unless ``keyring`` opens this database's check value
    (what start-up and ``/readyz`` ask of a process); it then wraps with the key the
    check names."""
    check = session.get(KeyCheck, 1)
    if check is None:
        raise KeyFileError("this database has no key check yet")
    session.refresh(check)
    current = sealed_key_id(check.sealed)
    if check.sealed[:1] != b"\x01" and not keyring.knows(current):
        held = ", ".join(str(kek_id) for kek_id in sorted(keyring.kek_ids))
        raise KeyFileError(
            f"this database's current key is key {current}, but the key file holds key "
            f"{held}: use the key file the last `portline key rotate` wrote"
        )
    try:
        opened = keyring.open_secret(check.sealed, label=_CHECK_LABEL)
    except DecryptionError:
        raise _mismatch() from None
    if opened != check_plaintext(keyring):
        raise _mismatch()
    keyring.current = current


def locked_check(session: Session, *, share: bool) -> KeyCheck | None:
    """The check row, read again from the database and locked until the transaction ends:
    shared by the processes wrapping data keys, exclusive for the rotation that moves it
    (PostgreSQL; SQLite's transactions hold its one writer's lock already)."""
    return session.exec(
        select(KeyCheck)
        .where(col(KeyCheck.id) == 1)
        .with_for_update(read=share)
        .execution_options(populate_existing=True)
    ).one_or_none()


def wrapping_key(session: Session, keyring: KeyRing) -> int:
    """The id of the key to wrap a new data key with, in this transaction: the
    database's current one. The check row is read under a shared lock (PostgreSQL; on
    SQLite the transaction already holds the writer's lock) until the transaction ends, so
    a rotation retiring keys waits for the data keys being wrapped now, and sees them.

    A process started before a rotation reads its key file again for the new key; if it
    still does not have it (a copy made at its start, as systemd credentials are), it
    wraps with its newest key while that key is live (the rotation wraps it again), and
    refuses once it is retired."""
    check = locked_check(session, share=True)
    if check is None:  # a database no process has opened with its key (tests seed so)
        return keyring.current
    current = sealed_key_id(check.sealed)
    if keyring.knows(current):
        return current
    newest = max(keyring.kek_ids)
    if newest in live_keys(check):
        return newest
    raise KeyRetired(N_("Portline is being updated. Please try again in a few minutes."))


def new_data_key(session: Session, keyring: KeyRing) -> tuple[bytes, bytes]:
    """A fresh data key and its form wrapped with the database's current key."""
    return keyring.new_data_key(kek_id=wrapping_key(session, keyring))
