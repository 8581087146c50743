"""Strict, bounded multipart parsing for uploads.

Starlette's parser falls back to Latin-1 on invalid UTF-8 and spools large files to
disk. Here text parts must be valid UTF-8 (a clear 4xx names the part otherwise) and
files stay in memory, bounded by the request-size limit, so no reporter photo with its
metadata ever touches the disk in clear.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from api.errors import BadRequest, FieldProblem, TooLarge, invalid_field
from api.i18n import N_


@dataclass(frozen=True)
class UploadedFile:
    field: str
    filename: str
    content: bytes


@dataclass(frozen=True)
class MultipartBody:
    fields: list[tuple[str, str]]  # every text part, in order (checkboxes repeat a name)
    files: list[UploadedFile]

    @property
    def texts(self) -> dict[str, str]:
        """Text parts by name; the last one wins where a name repeats."""
        return dict(self.fields)


_MAX_TEXT_PART = 256 * 1024


class _InvalidText(Exception):
    def __init__(self, field_name: str) -> None:
        super().__init__(field_name)
        self.field_name = field_name


class _TooManyFiles(Exception):
    pass


class _TextTooLarge(Exception):
    pass


class _StrictParser(MultiPartParser):
    spool_max_size = 200 * 1024 * 1024  # keep uploads in memory; the request is bounded

    def __init__(self, request: Request, *, max_files: int) -> None:
        super().__init__(
            request.headers,
            request.stream(),
            max_files=float("inf"),
            max_fields=200,
            max_part_size=_MAX_TEXT_PART + 1,
        )
        self.file_limit = max_files

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._current_part
        if part.file is None and len(part.data) + end - start > _MAX_TEXT_PART:
            raise _TextTooLarge
        super().on_part_data(data, start, end)

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        if self._current_files > self.file_limit:
            raise _TooManyFiles

    def on_part_end(self) -> None:
        part = self._current_part
        if part.file is None:
            try:
                text = bytes(part.data).decode("utf-8")
            except UnicodeDecodeError:
                raise _InvalidText(part.field_name) from None
            self.items.append((part.field_name, text))
        else:
            super().on_part_end()


async def read_multipart(
    request: Request, *, max_files: int, max_file_bytes: int, file_field: str = "files"
) -> MultipartBody:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise BadRequest(
            N_("Send this as multipart/form-data."),
            fields=[FieldProblem("content-type", N_("Send this as multipart/form-data."))],
        )
    try:
        form = await _StrictParser(request, max_files=max_files).parse()
    except _InvalidText as error:
        raise invalid_field(
            error.field_name or "body", N_("This text is not valid UTF-8.")
        ) from None
    except _TooManyFiles:
        raise _too_many_files(file_field, max_files) from None
    except _TextTooLarge:
        raise TooLarge(
            N_("The request is too large."),
            fields=[
                FieldProblem(
                    "body",
                    N_("A text part may be at most {limit} KB."),
                    {"limit": _MAX_TEXT_PART // 1024},
                )
            ],
        ) from None
    except MultiPartException:
        raise BadRequest(
            N_("The upload could not be read."),
            fields=[FieldProblem("body", N_("This is not valid multipart/form-data."))],
        ) from None
    fields: list[tuple[str, str]] = []
    files: list[UploadedFile] = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            content = await value.read()
            await value.close()
            if content or value.filename:  # a form's empty file input sends an empty part
                files.append(UploadedFile(name, value.filename or "", content))
        else:
            fields.append((name, value))
    for index, upload in enumerate(files):
        if upload.field != file_field:
            raise invalid_field(
                upload.field, N_("Files can only be sent as {name}."), name=file_field
            )
        if len(upload.content) > max_file_bytes:
            raise TooLarge(
                N_("A file is too large."),
                fields=[
                    FieldProblem(
                        f"{file_field}[{index}]",
                        N_("This file is larger than {limit} MB."),
                        {"limit": max_file_bytes // (1024 * 1024)},
                    )
                ],
            )
    return MultipartBody(fields, files)


def _too_many_files(file_field: str, max_files: int) -> TooLarge:
    return TooLarge(
        N_("Too many files."),
        fields=[
            FieldProblem(file_field, N_("At most {limit} files can be sent."), {"limit": max_files})
        ],
    )
