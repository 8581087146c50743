"""Settings, read from ``PORTLINE_*`` environment variables and validated once at start."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        return value

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            if self.database_url.startswith("postgresql://"):
                return "postgresql+psycopg://" + self.database_url.removeprefix("postgresql://")
            return self.database_url
        return f"sqlite:///{self.data_dir / 'portline.db'}"

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
