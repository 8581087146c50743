"""Loading the key-encryption key and proving it belongs to this database."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.config import Settings
from api.crypto import (
    DecryptionError,
    KeyFileError,
    KeyRing,
    create_key_file,
    derive_key,
    open_sealed,
    parse_key_text,
    read_key_file,
    seal,
)
from api.keystore.models import KeyCheck

_CHECK_PLAINTEXT = b"portline key check v1"


def _check_key(master_key: bytes) -> bytes:
    # The check value is sealed under a key of its own so it reveals nothing else.
    return derive_key(master_key, "portline/key-check/v1")


def open_keyring(*, settings: Settings, engine: Engine) -> KeyRing:
    """The key ring for this database, creating the key on the very first run.

    Raises :class:`KeyFileError` with a message for the operator when the key is
    missing, malformed, readable by others, or not the one this database was sealed with.
    """
    with Session(engine) as session:
        check = session.get(KeyCheck, 1)
        if settings.key:
            master_key = parse_key_text(settings.key, source="PORTLINE_KEY")
        else:
            path = settings.effective_key_file
            if path.exists():
                master_key = read_key_file(path)
            elif check is not None:
                raise KeyFileError(
                    f"the key file {path} is missing, but this database holds reports "
                    "sealed with a key; restore the key file or set PORTLINE_KEY_FILE"
                )
            else:
                master_key = create_key_file(path)
        check_key = _check_key(master_key)
        if check is None:
            # Insert if absent, then read back: a process that won a race to the first run
            # stored its check first, and that check decides whether this key belongs here.
            try:
                with session.begin_nested():
                    session.add(
                        KeyCheck(id=1, sealed=seal(check_key, _CHECK_PLAINTEXT, label=b"check"))
                    )
            except IntegrityError:
                pass
            session.commit()
            check = session.get_one(KeyCheck, 1)
        try:
            open_sealed(check_key, check.sealed, label=b"check")
        except DecryptionError:
            raise KeyFileError(
                "the key does not match this database: its reports were sealed with "
                "another key; use the key file that belongs to this database"
            ) from None
    return KeyRing(master_key)
