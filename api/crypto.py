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
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_LEGACY = b"\x01"  # version, nonce, ciphertext: no key id (before key rotation)
_VERSION = b"\x02"  # version, key id (4 bytes, big-endian), nonce, ciphertext
_NONCE_BYTES = 12
_ID_BYTES = 4
KEY_BYTES = 32
# The key id of a value sealed under the data key of its own row (or a key derived from a
# client's secret): it does not depend on the key-encryption key, so rotation leaves it.
OWN_KEY = 0
# The key-encryption key of a key file written before rotation existed: key 1.
FIRST_KEY = 1


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


def seal(key: bytes, plaintext: bytes, *, label: bytes, key_id: int = OWN_KEY) -> bytes:
    """Encrypt and authenticate ``plaintext``; ``label`` says what it is (bound as AAD) and
    ``key_id`` which key sealed it (bound too, and readable by :func:`sealed_key_id`)."""
    nonce = os.urandom(_NONCE_BYTES)
    header = _VERSION + key_id.to_bytes(_ID_BYTES, "big")
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header + label)


def sealed_key_id(sealed: bytes) -> int:
    """The id of the key a value was sealed with (a value sealed before key ids existed
    names none: it is under the first key, or its row's own data key)."""
    if sealed[:1] == _VERSION and len(sealed) > 1 + _ID_BYTES:
        return int.from_bytes(sealed[1 : 1 + _ID_BYTES], "big")
    return FIRST_KEY


def open_sealed(key: bytes, sealed: bytes, *, label: bytes) -> bytes:
    if sealed[:1] == _VERSION:
        header, rest = sealed[: 1 + _ID_BYTES], sealed[1 + _ID_BYTES :]
        aad = header + label
    elif sealed[:1] == _LEGACY:
        rest, aad = sealed[1:], label
    else:
        raise DecryptionError("not a sealed value")
    if len(rest) < _NONCE_BYTES + 16:
        raise DecryptionError("not a sealed value")
    try:
        return AESGCM(key).decrypt(rest[:_NONCE_BYTES], rest[_NONCE_BYTES:], aad)
    except InvalidTag:
        raise DecryptionError("the value does not open with this key") from None


def seal_text(key: bytes, text: str, *, label: bytes) -> bytes:
    return seal(key, text.encode("utf-8"), label=label)


def open_text(key: bytes, sealed: bytes, *, label: bytes) -> str:
    return open_sealed(key, sealed, label=label).decode("utf-8")


@dataclass(frozen=True)
class KeyMaterial:
    """What a key file holds: the key-encryption keys by id (the highest is the newest),
    and the installation's lookup and signing keys, which never rotate (see
    docs/operations.md, "Rotate the keys")."""

    keks: Mapping[int, bytes]
    lookup: bytes
    signing: bytes
    # A key file from before rotation is one master key, from which all of these are
    # derived, and which also sealed the database's first key check.
    legacy_check: bytes | None = None

    @classmethod
    def from_master(cls, master_key: bytes) -> KeyMaterial:
        if len(master_key) != KEY_BYTES:
            raise KeyFileError(f"the key must be {KEY_BYTES} bytes, not {len(master_key)}")
        return cls(
            keks={FIRST_KEY: derive_key(master_key, "portline/wrap-data-keys/v1")},
            lookup=derive_key(master_key, "portline/lookup-hashes/v1"),
            signing=derive_key(master_key, "portline/signed-tokens/v1"),
            legacy_check=derive_key(master_key, "portline/key-check/v1"),
        )

    @property
    def newest(self) -> int:
        return max(self.keks)

    def with_new_kek(self) -> KeyMaterial:
        keks = dict(self.keks)
        keks[self.newest + 1] = secrets.token_bytes(KEY_BYTES)
        return KeyMaterial(keks=keks, lookup=self.lookup, signing=self.signing)

    def keeping_only(self, kek_id: int) -> KeyMaterial:
        return KeyMaterial(
            keks={kek_id: self.keks[kek_id]}, lookup=self.lookup, signing=self.signing
        )


class KeyRing:
    """Holds the key-encryption keys and the lookup and signing keys.

    Data keys are wrapped with the *current* key-encryption key, the one the database
    names (api/keystore/service.py follows it while a rotation runs); a wrapped key names
    the key that wrapped it, so every older one still opens until it is retired.
    ``reload`` (set by the key store) reads the key file again when a value names a key
    this process has not seen: a rotation adds it while the server runs."""

    def __init__(
        self,
        master_key: bytes | KeyMaterial,
        *,
        current: int | None = None,
        reload: Callable[[], KeyMaterial] | None = None,
    ) -> None:
        material = (
            master_key
            if isinstance(master_key, KeyMaterial)
            else KeyMaterial.from_master(master_key)
        )
        self._material = material
        self._lock = threading.Lock()
        self.current = current if current is not None else material.newest
        self._reload = reload

    @property
    def material(self) -> KeyMaterial:
        return self._material

    @property
    def kek_ids(self) -> frozenset[int]:
        return frozenset(self._material.keks)

    def knows(self, kek_id: int) -> bool:
        """Whether this ring holds key ``kek_id``, reading the key file again if not."""
        if kek_id in self._material.keks:
            return True
        if self._reload is not None:
            with self._lock:
                if kek_id not in self._material.keks:
                    fresh = self._reload()
                    if fresh.lookup == self._material.lookup:
                        self._material = fresh
        return kek_id in self._material.keks

    def _kek(self, kek_id: int) -> bytes:
        if not self.knows(kek_id):
            raise DecryptionError(f"sealed with key {kek_id}, which the key file does not hold")
        return self._material.keks[kek_id]

    # Data keys and the server's own secrets -------------------------------------------

    def new_data_key(self, *, kek_id: int | None = None) -> tuple[bytes, bytes]:
        """A fresh data key and its wrapped form (the only form that is stored). Services
        ask api.keystore.service.new_data_key, which names the database's current key."""
        data_key = AESGCM.generate_key(bit_length=256)
        return data_key, self.wrap(data_key, kek_id=kek_id)

    def wrap(self, data_key: bytes, *, kek_id: int | None = None) -> bytes:
        return self.seal_secret(data_key, label=b"data-key", kek_id=kek_id)

    def unwrap(self, wrapped: bytes) -> bytes:
        return self.open_secret(wrapped, label=b"data-key")

    def seal_secret(self, plaintext: bytes, *, label: bytes, kek_id: int | None = None) -> bytes:
        """Seal a small secret (a data key, a second-factor secret) with the current
        key-encryption key, or with ``kek_id``."""
        kek_id = self.current if kek_id is None else kek_id
        return seal(self._kek(kek_id), plaintext, label=label, key_id=kek_id)

    def open_secret(self, sealed: bytes, *, label: bytes) -> bytes:
        return open_sealed(self._kek(sealed_key_id(sealed)), sealed, label=label)

    # Keyed hashes and signatures -----------------------------------------------------

    def lookup_hash(self, purpose: str, value: str) -> str:
        """A keyed hash to find a row by a secret (receipt, token) without storing it."""
        message = f"{purpose}\x00{value}".encode()
        return hmac.new(self._material.lookup, message, hashlib.sha256).hexdigest()

    def sign(self, purpose: str, payload: bytes) -> str:
        """``payload`` and a MAC over it, as one URL-safe string."""
        tag = hmac.new(self._material.signing, purpose.encode() + b"\x00" + payload, hashlib.sha256)
        return f"{_b64encode(payload)}.{_b64encode(tag.digest()[:20])}"

    def unsign(self, purpose: str, token: str) -> bytes | None:
        """The payload of a token made by :meth:`sign`, or ``None`` when it is not genuine."""
        encoded_payload, _, encoded_tag = token.partition(".")
        try:
            payload, tag = _b64decode(encoded_payload), _b64decode(encoded_tag)
        except (ValueError, UnicodeEncodeError):
            return None
        expected = hmac.new(
            self._material.signing, purpose.encode() + b"\x00" + payload, hashlib.sha256
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


_KEY_FILE_HEADER = """\
# Portline key file. Keep it secret (mode 0600) and back it up apart from the database:
# without it no report, message or attachment can ever be opened again.
# kek N: the key-encryption keys (the highest is the newest; `portline key rotate` adds
# one and retires the older ones); lookup and signing: the installation's keys for
# receipt and audit hashes and for signed tokens, which never change.
"""


def parse_key_material(text: str, *, source: str) -> KeyMaterial:
    """A key file's (or PORTLINE_KEY's) keys: one base64 master key, as written before key
    rotation existed, or the lines ``kek N <base64>``, ``lookup <base64>`` and
    ``signing <base64>``."""
    lines = [
        line.split()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if len(lines) == 1 and len(lines[0]) == 1:
        return KeyMaterial.from_master(parse_key_text(lines[0][0], source=source))
    keks: dict[int, bytes] = {}
    named: dict[str, bytes] = {}
    for number, words in enumerate(lines, start=1):
        if len(words) == 3 and words[0] == "kek" and words[1].isdigit() and int(words[1]) >= 1:
            if int(words[1]) in keks:
                raise KeyFileError(f"{source}: key {words[1]} is there twice")
            keks[int(words[1])] = parse_key_text(words[2], source=f"{source}, kek {words[1]}")
        elif len(words) == 2 and words[0] in ("lookup", "signing"):
            named[words[0]] = parse_key_text(words[1], source=f"{source}, {words[0]}")
        else:
            raise KeyFileError(
                f"{source} is not a Portline key file: line {number} is not "
                "`kek N <key>`, `lookup <key>` or `signing <key>`"
            )
    missing = [name for name in ("lookup", "signing") if name not in named]
    if not keks:
        missing.insert(0, "kek")
    if missing:
        raise KeyFileError(f"{source} is not a Portline key file: no {', '.join(missing)} line")
    return KeyMaterial(keks=keks, lookup=named["lookup"], signing=named["signing"])


def format_key_material(material: KeyMaterial) -> str:
    def text(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    lines = [f"kek {kek_id} {text(material.keks[kek_id])}" for kek_id in sorted(material.keks)]
    lines += [f"lookup {text(material.lookup)}", f"signing {text(material.signing)}"]
    return _KEY_FILE_HEADER + "\n".join(lines) + "\n"


def _is_credential(path: Path) -> bool:
    """Whether ``path`` is a systemd credential (``LoadCredential=``): systemd keeps those
    in a directory only the service may enter, and may grant the service its file through
    an ACL, which ``stat`` shows as group-readable (0440)."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return False
    return path.resolve().is_relative_to(Path(directory).resolve())


def read_key_file(path: Path) -> KeyMaterial:
    mode = path.stat().st_mode
    exposed = stat.S_IRWXO if _is_credential(path) else stat.S_IRWXG | stat.S_IRWXO
    if mode & exposed:
        raise KeyFileError(f"the key file {path} can be read by other users; run: chmod 600 {path}")
    return parse_key_material(path.read_text(encoding="ascii", errors="replace"), source=str(path))


def write_key_file(path: Path, material: KeyMaterial) -> None:
    """Replace the key file in one step: a new file beside it (mode 0600) is written,
    flushed to disk and renamed over it, so a crash leaves the old file or the new one."""
    partial = path.with_name(f".{path.name}.new")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as key_file:
        key_file.write(format_key_material(material))
        key_file.flush()
        os.fsync(key_file.fileno())
    os.replace(partial, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def create_key_file(path: Path) -> KeyMaterial:
    """Write a new installation's keys, readable by their owner only; never overwrite."""
    path.parent.mkdir(parents=True, exist_ok=True)
    material = KeyMaterial(
        keks={FIRST_KEY: secrets.token_bytes(KEY_BYTES)},
        lookup=secrets.token_bytes(KEY_BYTES),
        signing=secrets.token_bytes(KEY_BYTES),
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as key_file:
        key_file.write(format_key_material(material))
    return material
