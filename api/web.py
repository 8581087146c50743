"""What the two front ends (mobile/, admin/) and the API docs share: templates, translated
text and versioned static assets. Their Content-Security-Policy is set for every answer in
one place, api/middleware.py."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from api.i18n import RTL_LANGUAGES, format_day, translate

PAGE_HEADERS = {"cache-control": "no-store"}
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class StaticAsset:
    path: Path
    url: str
    media_type: str
    content: bytes
    gzipped: bytes


_MEDIA_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".webmanifest": "application/manifest+json",
    ".ico": "image/x-icon",
}


class Assets:
    """Static files under versioned names (``app.3f2a9c1e.css``), cached for a year."""

    def __init__(self, directory: Path, prefix: str) -> None:
        self.prefix = prefix
        self.by_name: dict[str, StaticAsset] = {}
        self.by_url_name: dict[str, StaticAsset] = {}
        for path in sorted(directory.rglob("*")):
            if not path.is_file() or path.suffix not in _MEDIA_TYPES:
                continue
            content = path.read_bytes()
            name = path.relative_to(directory).as_posix()
            digest = hashlib.sha256(content).hexdigest()[:10]
            stem, dot, suffix = name.rpartition(".")
            versioned = f"{stem}.{digest}{dot}{suffix}"
            asset = StaticAsset(
                path,
                f"{prefix}/{versioned}",
                _MEDIA_TYPES[path.suffix],
                content,
                gzip.compress(content, compresslevel=9, mtime=0),
            )
            self.by_name[name] = asset
            self.by_url_name[versioned] = asset

    def url(self, name: str) -> str:
        return self.by_name[name].url

    def router(self) -> APIRouter:
        router = APIRouter(include_in_schema=False)

        @router.get(self.prefix + "/{versioned:path}", name=f"assets:{self.prefix}")
        def asset(versioned: str, request: Request) -> Response:
            found = self.by_url_name.get(versioned)
            if found is None:
                return Response(status_code=404)
            headers = {"cache-control": IMMUTABLE, "vary": "accept-encoding"}
            if accepts_gzip(request) and len(found.gzipped) < len(found.content):
                headers["content-encoding"] = "gzip"
                return Response(found.gzipped, media_type=found.media_type, headers=headers)
            return Response(found.content, media_type=found.media_type, headers=headers)

        return router


def accepts_gzip(request: Request) -> bool:
    return "gzip" in request.headers.get("accept-encoding", "").lower()


Gettext = Callable[..., str]


def gettext_for(language: str, locale_dir: Path) -> Gettext:
    """``_("Text {name}", name=...)`` for templates: this face's catalog, then the API's."""

    def gettext(message: str, **params: object) -> str:
        translated = translate(message, language, locale_dir=locale_dir)
        if translated == message:
            translated = translate(message, language)
        return translated.format(**params) if params else translated

    return gettext


class Pages:
    """Renders a face's templates, autoescaped, with its catalog and assets."""

    def __init__(self, template_dir: Path, locale_dir: Path, assets: Assets) -> None:
        self.locale_dir = locale_dir
        self.assets = assets
        self.environment = Environment(
            loader=FileSystemLoader(template_dir),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.environment.globals["asset"] = assets.url

    def render(
        self,
        template: str,
        language: str,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        compress_for: Request | None = None,
    ) -> HTMLResponse:
        """A page; ``compress_for`` gzips it for that request, only for pages that hold
        no secret and echo nothing a visitor typed (compression would leak their size)."""
        page = self.environment.get_template(template).render(
            {
                "_": gettext_for(language, self.locale_dir),
                "day": partial(format_day, language=language),
                "lang": language,
                "direction": "rtl" if language in RTL_LANGUAGES else "ltr",
                **(context or {}),
            }
        )
        all_headers = {**PAGE_HEADERS, **(headers or {})}
        if compress_for is not None and accepts_gzip(compress_for):
            all_headers["content-encoding"] = "gzip"
            all_headers["vary"] = "accept-encoding"
            return HTMLResponse(
                gzip.compress(page.encode(), compresslevel=6, mtime=0),
                status_code=status_code,
                headers=all_headers,
            )
        return HTMLResponse(page, status_code=status_code, headers=all_headers)
