"""Settings, read from ``PORTLINE_*`` environment variables and validated once at start."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# An age X25519 public key: "age1" and 58 characters of Bech32.
AGE_RECIPIENT = re.compile(r"^age1[02-9ac-hj-np-z]{58}$")


class SettingsError(Exception):
    """A setting has a value Portline cannot use; the message says which and why."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTLINE_", extra="ignore", frozen=True)

    data_dir: Path = Field(default=Path("var"), description="Where the SQLite file and key live.")
    database_url: str = Field(
        default="", description="SQLAlchemy URL; empty means SQLite in the data directory."
    )
    key_file: Path | None = Field(
        default=None, description="Key-encryption key file; default <data_dir>/portline.key."
    )
    key: str | None = Field(
        default=None, description="The key-encryption key itself (base64), instead of a file."
    )
    backup_recipients: str = Field(
        default="",
        max_length=10_000,
        description="The age public keys (age1…, separated by spaces or commas) that "
        "`portline backup` encrypts to when it is given none.",
    )
    pow_difficulty: int = Field(
        default=16, ge=0, le=28, description="Leading zero bits a proof of work needs; 0 is off."
    )
    pow_ttl_seconds: int = Field(default=600, ge=30, le=86_400)
    max_files: int = Field(default=6, ge=0, le=50)
    max_file_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    max_pixels: int = Field(default=40_000_000, ge=10_000, le=200_000_000)
    reporter_session_seconds: int = Field(default=1800, ge=60, le=86_400)
    submission_retry_hours: int = Field(default=72, ge=1, le=720)
    no_js_reports_per_minute: int = Field(default=30, ge=1, le=10_000)
    no_js_logins_per_minute: int = Field(default=60, ge=1, le=10_000)
    quick_exit_url: str = Field(
        default="https://www.wikipedia.org/", pattern=r"^https?://", max_length=300
    )
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        pattern=r"^https?://\S+$",
        max_length=300,
        description="Where staff reach Portline; links in notices to bodies start with it.",
    )
    # Notices to receiving bodies, delivered by `portline worker` (api/referrals/outbox.py).
    smtp_host: str = Field(
        default="", max_length=253, description="SMTP server; empty: e-mail notices fail until set."
    )
    smtp_port: int = Field(default=587, ge=1, le=65_535)
    smtp_user: str = Field(default="", max_length=254, description="Empty: no SMTP login.")
    smtp_password: SecretStr = Field(default=SecretStr(""))
    smtp_starttls: bool = Field(default=True, description="Upgrade to TLS before logging in.")
    mail_from: str = Field(
        default="portline@localhost", pattern=r"^[^@\s]+@[^@\s]+$", max_length=254
    )
    worker_poll_seconds: float = Field(
        default=5.0, gt=0, le=3600, description="How long an idle worker sleeps between looks."
    )
    outbox_max_attempts: int = Field(
        default=8, ge=1, le=100, description="Attempts before a notice is marked failed."
    )
    outbox_backoff_base_seconds: float = Field(default=30.0, gt=0, le=86_400)
    outbox_backoff_cap_seconds: float = Field(default=3600.0, gt=0, le=7 * 86_400)
    outbox_lease_seconds: float = Field(
        default=120.0,
        gt=0,
        le=86_400,
        description="How long a taken notice stays with its worker; keep it above the timeout.",
    )
    delivery_timeout_seconds: float = Field(default=15.0, gt=0, le=600)
    job_max_attempts: int = Field(
        default=5, ge=1, le=100, description="Attempts before a background job is marked failed."
    )
    job_lease_seconds: float = Field(
        default=600.0,
        gt=0,
        le=86_400,
        description="How long a taken job stays with its worker before another may take it.",
    )
    retention_sweep_seconds: int = Field(
        default=3600,
        ge=1,
        le=7 * 86_400,
        description="How often a worker looks for closed cases due to be purged.",
    )
    reminder_sweep_seconds: int = Field(
        default=900,
        ge=1,
        le=86_400,
        description="How often a worker looks for deadlines to remind people of.",
    )
    metrics_token: SecretStr = Field(
        default=SecretStr(""),
        description="Bearer token /metrics asks for; empty: /metrics answers only requests "
        "over this machine's loopback that no proxy forwarded.",
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        return value

    @field_validator("metrics_token")
    @classmethod
    def _token_hard_to_guess(cls, value: SecretStr) -> SecretStr:
        # It travels in an Authorization header: visible ASCII only, and long enough.
        token = value.get_secret_value()
        if token and (len(token) < 16 or not all("!" <= char <= "~" for char in token)):
            raise ValueError("must be empty, or 16 or more ASCII characters without spaces")
        return value

    @field_validator("backup_recipients")
    @classmethod
    def _age_public_keys(cls, value: str) -> str:
        keys = value.replace(",", " ").split()
        for key in keys:
            if not AGE_RECIPIENT.match(key):
                raise ValueError("must be age public keys (age1…, as age-keygen prints them)")
        return " ".join(keys)

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            if self.database_url.startswith("postgresql://"):
                return "postgresql+psycopg://" + self.database_url.removeprefix("postgresql://")
            return self.database_url
        return f"sqlite:///{self.data_dir / 'portline.db'}"

    @property
    def backup_recipient_keys(self) -> list[str]:
        return self.backup_recipients.split()

    @property
    def effective_key_file(self) -> Path:
        return self.key_file if self.key_file is not None else self.data_dir / "portline.key"

    @property
    def max_request_bytes(self) -> int:
        """The largest report request: every file at its limit, plus room for the text."""
        return self.max_files * self.max_file_bytes + 512 * 1024


def load_settings() -> Settings:
    """Read the environment; a bad value becomes one readable line per problem."""
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"PORTLINE_{'_'.join(str(part) for part in problem['loc']).upper()}: {problem['msg']}"
            for problem in error.errors()
        )
        raise SettingsError(f"Invalid setting: {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
