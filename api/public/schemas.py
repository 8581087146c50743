from __future__ import annotations

from pydantic import BaseModel, Field


class ZonePublic(BaseModel):
    code: str
    name: str
    kind: str


class EmergencyNumberPublic(BaseModel):
    label: str
    number: str
    when: str = Field(description="When to call it; may be empty.")


class PortPublic(BaseModel):
    code: str
    name: str
    timezone: str
    zones: list[ZonePublic]
    emergency_numbers: list[EmergencyNumberPublic]


class Choice(BaseModel):
    code: str
    name: str


class CategoryPublic(BaseModel):
    code: str
    kind: str
    name: str
    hint: str
    cargo_relevant: bool


class BodyPublic(BaseModel):
    code: str
    name: str
    kind: str


class LanguagePublic(BaseModel):
    code: str
    name: str
    direction: str


class Limits(BaseModel):
    max_files: int
    max_file_bytes: int
    max_pixels: int
    allowed_types: list[str]


class PublicConfig(BaseModel):
    language: str
    languages: list[LanguagePublic]
    ports: list[PortPublic]
    kinds: list[Choice]
    categories: list[CategoryPublic]
    cargo_directions: list[Choice]
    excludable_bodies: list[BodyPublic]
    proof_of_work_difficulty: int
    limits: Limits
