"""Encryption at rest, keyed lookups and signed tokens.

Every report has its own 256-bit data key; what the reporter wrote is sealed with it
(AES-256-GCM). Data keys are stored wrapped by the key-encryption key (KEK), which lives
outside the database: a key file created with mode 0600 on first run, or
``PORTLINE_KEY``. :class:`KeyRing` is the one interface to that key, so per-recipient
wrapping can replace it later without touching callers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x01"
_NONCE_BYTES = 12
KEY_BYTES = 32


class KeyFileError(Exception):
    """The key-encryption key is missing, malformed, exposed or not this database's."""


class DecryptionError(Exception):
    """A sealed value does not open with this key: wrong key or tampered data."""


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A 256-bit key for one purpose, derived from ``secret`` with HKDF-SHA256."""
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose.encode()
    ).derive(secret)


def seal(key: bytes, plaintext: bytes, *, label: bytes) -> bytes:
    """Encrypt and authenticate ``plaintext``; ``label`` says what it is (bound as AAD)."""
    nonce = os.urandom(_NONCE_BYTES)
    return _VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, label)


def open_sealed(key: bytes, sealed: bytes, *, label: bytes) -> bytes:
    if len(sealed) < 1 + _NONCE_BYTES + 16 or sealed[:1] != _VERSION:
        raise DecryptionError("not a sealed value")
    nonce = sealed[1 : 1 + _NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, sealed[1 + _NONCE_BYTES :], label)
    except InvalidTag:
        raise DecryptionError("the value does not open with this key") from None


def seal_text(key: bytes, text: str, *, label: bytes) -> bytes:
    return seal(key, text.encode("utf-8"), label=label)


def open_text(key: bytes, sealed: bytes, *, label: bytes) -> str:
    return open_sealed(key, sealed, label=label).decode("utf-8")


class KeyRing:
    """Holds the key-encryption key and the purpose keys derived from it."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise KeyFileError(f"the key must be {KEY_BYTES} bytes, not {len(master_key)}")
        self._wrap_key = derive_key(master_key, "portline/wrap-data-keys/v1")
        self._lookup_key = derive_key(master_key, "portline/lookup-hashes/v1")
        self._signing_key = derive_key(master_key, "portline/signed-tokens/v1")

    # Data keys -----------------------------------------------------------------------

    def new_data_key(self) -> tuple[bytes, bytes]:
        """A fresh data key and its wrapped form (the only form that is stored)."""
        data_key = AESGCM.generate_key(bit_length=256)
        return data_key, self.wrap(data_key)

    def wrap(self, data_key: bytes) -> bytes:
        return seal(self._wrap_key, data_key, label=b"data-key")

    def unwrap(self, wrapped: bytes) -> bytes:
        return open_sealed(self._wrap_key, wrapped, label=b"data-key")

    # Keyed hashes and signatures -----------------------------------------------------

    def lookup_hash(self, purpose: str, value: str) -> str:
        """A keyed hash to find a row by a secret (receipt, token) without storing it."""
        message = f"{purpose}\x00{value}".encode()
        return hmac.new(self._lookup_key, message, hashlib.sha256).hexdigest()

    def sign(self, purpose: str, payload: bytes) -> str:
        """``payload`` and a MAC over it, as one URL-safe string."""
        tag = hmac.new(self._signing_key, purpose.encode() + b"\x00" + payload, hashlib.sha256)
        return f"{_b64encode(payload)}.{_b64encode(tag.digest()[:20])}"

    def unsign(self, purpose: str, token: str) -> bytes | None:
        """The payload of a token made by :meth:`sign`, or ``None`` when it is not genuine."""
        encoded_payload, _, encoded_tag = token.partition(".")
        try:
            payload, tag = _b64decode(encoded_payload), _b64decode(encoded_tag)
        except (ValueError, UnicodeEncodeError):
            return None
        expected = hmac.new(
            self._signing_key, purpose.encode() + b"\x00" + payload, hashlib.sha256
        ).digest()[:20]
        return payload if hmac.compare_digest(expected, tag) else None


# The key file ---------------------------------------------------------------------------


def generate_key_text() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def parse_key_text(text: str, *, source: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raise KeyFileError(f"{source} is not a Portline key (expected base64 text)") from None
    if len(raw) != KEY_BYTES:
        raise KeyFileError(f"{source} is not a Portline key (expected {KEY_BYTES} bytes)")
    return raw


def read_key_file(path: Path) -> bytes:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"the key file {path} can be read by other users; run: chmod 600 {path}")
    return parse_key_text(path.read_text(encoding="ascii", errors="replace"), source=str(path))


def create_key_file(path: Path) -> bytes:
    """Write a new random key readable by its owner only; never overwrite one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = generate_key_text()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as key_file:
        key_file.write(text + "\n")
    return parse_key_text(text, source=str(path))
