"""Streaming ``multipart/form-data`` reader for uploads, with the size limit enforced live.

Why not ``request.form()``: Starlette spools every file part to disk without a size cap,
so a client could fill the disk with one request before we ever see the size. Here the
body is fed chunk by chunk to python-multipart's push parser; the file part goes to a
``SpooledTemporaryFile`` (memory up to 1 MiB, disk beyond) and the request fails with 413
the moment it passes the limit. The first bytes are kept aside for content sniffing.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from typing import IO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from infra.http.problems import Problem
from schemas.media_formats import SNIFF_BYTES

SPOOL_MAX_BYTES = 1024 * 1024
"""File parts up to this size stay in memory; larger ones roll over to a temp file."""
MAX_FIELD_BYTES = 16 * 1024
"""Text fields (caption, title, location) are small; the schema caps them further."""
MAX_FIELDS = 16
FORM_OVERHEAD_BYTES = 64 * 1024
"""Allowance for boundaries, part headers and text fields on top of the file limit."""


def too_large(limit: int) -> Problem:
    return Problem(413, "payload-too-large", f"the file exceeds the limit of {limit} bytes",
                   extra={"max_bytes": limit})


def form_flag(value: str | None, name: str) -> bool:
    """A boolean form field: true/1/on or false/0/off/empty; anything else is a 422."""
    text = (value or "").strip().lower()
    if text in ("true", "1", "on", "yes"):
        return True
    if text in ("", "false", "0", "off", "no"):
        return False
    raise Problem(422, "invalid-field", f"{name}: expected true or false",
                  extra={"field": name})


@dataclass
class UploadForm:
    """A parsed upload: the spooled file, its size and first bytes, and the text fields."""

    file: IO[bytes]
    size: int
    head: bytes
    filename: str | None
    fields: dict[str, str] = field(default_factory=dict)

    def close(self) -> None:
        """Delete the spool (memory or temp file); call when the request is done."""
        self.file.close()


class _Abort(Exception):
    """Raised inside parser callbacks to stop parsing with a given problem."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.problem = problem


class _FormCollector:
    """Parser callbacks: route part bytes to the spool (file) or a small buffer (fields)."""

    def __init__(self, file_field: str | tuple[str, ...], max_file_bytes: int,
                 max_files: int = 1) -> None:
        #: The file parts' names; with several names, each may come once.
        self.file_fields = (file_field,) if isinstance(file_field, str) else file_field
        self.seen_files: list[str] = []
        self.max_file_bytes = max_file_bytes
        self.max_files = max_files
        self.max_fields = MAX_FIELDS + 2 * max_files  # an album's alt texts, one per file
        # Closed by UploadForm.close() (or on error): it outlives this constructor.
        self.spool: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=SPOOL_MAX_BYTES
        )
        self.pending: list[bytes] = []
        self.file_seen = False
        self.file_size = 0
        self.head = b""
        self.filename: str | None = None
        self.done: list[UploadForm] = []
        """Files before the current one (several only when ``max_files`` > 1)."""
        self.fields: dict[str, str] = {}
        self.repeated: dict[str, list[str]] = {}
        self.field_count = 0
        self.finished = False
        self._headers: dict[bytes, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        self._target: str | None = None  # "file", a field name, or None (ignored part)
        self._buffer = bytearray()

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self._headers = {}
        self._header_field = self._header_value = b""
        self._target = None
        self._buffer = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_field.strip().lower()] = self._header_value.strip()
        self._header_field = self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("latin-1")
        if name in self.file_fields:
            if len(self.file_fields) > 1 and name in self.seen_files:
                raise _Abort(Problem(400, "bad-form", f"more than one '{name}' part"))
            self.seen_files.append(name)
            if self.file_seen and len(self.done) + 1 >= self.max_files:
                if self.max_files == 1:
                    raise _Abort(Problem(400, "bad-form", f"more than one '{name}' part"))
                raise _Abort(Problem(422, "too-many-files",
                                     f"at most {self.max_files} '{name}' parts",
                                     extra={"max_files": self.max_files}))
            if self.file_seen:
                self._next_file()
            self.file_seen = True
            self._target = "file"
            raw_name = options.get(b"filename")
            self.filename = raw_name.decode("utf-8", "replace") if raw_name is not None else None
        elif b"filename" in options or not name:
            self._target = None  # stray file parts and nameless parts are ignored
        else:
            self.field_count += 1
            if self.field_count > self.max_fields:
                raise _Abort(Problem(400, "bad-form", "too many form fields"))
            self._target = name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._target == "file":
            self.file_size += len(chunk)
            if self.file_size > self.max_file_bytes:
                raise _Abort(too_large(self.max_file_bytes))
            if len(self.head) < SNIFF_BYTES:
                self.head += chunk[: SNIFF_BYTES - len(self.head)]
            self.pending.append(chunk)
        elif self._target is not None:
            self._buffer += chunk
            if len(self._buffer) > MAX_FIELD_BYTES:
                detail = f"form field {self._target!r} exceeds {MAX_FIELD_BYTES} bytes"
                raise _Abort(Problem(413, "field-too-large", detail))

    def on_part_end(self) -> None:
        if self._target is not None and self._target != "file":
            try:
                value = self._buffer.decode("utf-8")
                self.fields[self._target] = value
                self.repeated.setdefault(self._target, []).append(value)
            except UnicodeDecodeError:
                raise _Abort(Problem(400, "bad-form",
                                     f"form field {self._target!r} is not UTF-8")) from None
        self._target = None

    def on_end(self) -> None:
        self.finished = True

    def _next_file(self) -> None:
        """Put the finished file aside and spool the next one (bytes flushed first)."""
        if self.pending:
            self.spool.write(b"".join(self.pending))
            self.pending = []
        self.spool.seek(0)
        self.done.append(UploadForm(file=self.spool, size=self.file_size, head=self.head,
                                    filename=self.filename))
        self.spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES)  # noqa: SIM115
        self.file_size = 0
        self.head = b""
        self.filename = None

    def close(self) -> None:
        self.spool.close()
        for form in self.done:
            form.close()

    async def flush(self) -> None:
        """Move parsed file bytes into the spool; disk writes leave the event loop."""
        if not self.pending:
            return
        chunks, self.pending = self.pending, []
        data = b"".join(chunks)
        if self.file_size <= SPOOL_MAX_BYTES:
            self.spool.write(data)
        else:
            await asyncio.to_thread(self.spool.write, data)


async def read_upload_form(
    request: Request, *, max_file_bytes: int, file_field: str = "file"
) -> UploadForm:
    """Parse the multipart body of ``request``; Problem (400/413/415/422) if unusable."""
    collector = await _collect(request, max_file_bytes=max_file_bytes, file_field=file_field,
                               max_files=1)
    collector.spool.seek(0)
    return UploadForm(
        file=collector.spool,
        size=collector.file_size,
        head=collector.head,
        filename=collector.filename,
        fields=collector.fields,
    )


@dataclass
class AlbumForm:
    """Several files in one body (a one-shot album), with the text fields; a field sent
    once per file (``alt_text``) is in ``repeated`` in the order sent."""

    files: list[UploadForm]
    fields: dict[str, str]
    repeated: dict[str, list[str]]

    def close(self) -> None:
        for form in self.files:
            form.close()


async def read_album_form(request: Request, *, max_file_bytes: int, max_files: int,
                          file_field: str = "file") -> AlbumForm:
    """Like :func:`read_upload_form`, for 1..``max_files`` file parts of the same name;
    each file is held to ``max_file_bytes``, the body to their sum."""
    collector = await _collect(request, max_file_bytes=max_file_bytes, file_field=file_field,
                               max_files=max_files)
    collector.spool.seek(0)
    last = UploadForm(file=collector.spool, size=collector.file_size, head=collector.head,
                      filename=collector.filename)
    return AlbumForm(files=[*collector.done, last], fields=collector.fields,
                     repeated=collector.repeated)


@dataclass
class ProfileForm:
    """A profile edit: text fields and, by part name, the files that came with them."""

    files: dict[str, UploadForm]
    fields: dict[str, str]

    def close(self) -> None:
        for form in self.files.values():
            form.close()


async def read_profile_form(request: Request, *, max_file_bytes: int,
                            file_fields: tuple[str, ...]) -> ProfileForm:
    """Like :func:`read_upload_form` for a form whose files are optional and named
    (a Mastodon profile edit: ``avatar``, ``header``), each at most once and each held
    to ``max_file_bytes`` while it streams."""
    collector = await _collect(request, max_file_bytes=max_file_bytes, file_field=file_fields,
                               max_files=len(file_fields), require_file=False)
    if not collector.file_seen:
        collector.spool.close()
        return ProfileForm(files={}, fields=collector.fields)
    collector.spool.seek(0)
    last = UploadForm(file=collector.spool, size=collector.file_size, head=collector.head,
                      filename=collector.filename)
    forms = [*collector.done, last]
    return ProfileForm(files=dict(zip(collector.seen_files, forms, strict=True)),
                       fields=collector.fields)


async def _collect(request: Request, *, max_file_bytes: int,
                   file_field: str | tuple[str, ...], max_files: int,
                   require_file: bool = True) -> _FormCollector:
    ctype, options = parse_options_header(request.headers.get("content-type"))
    if ctype != b"multipart/form-data":
        raise Problem(415, "unsupported-media-type",
                      "send the upload as multipart/form-data with a 'file' part")
    boundary = options.get(b"boundary")
    if not boundary:
        raise Problem(400, "bad-form", "multipart/form-data without a boundary")
    max_body = max_file_bytes * max_files + FORM_OVERHEAD_BYTES
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdecimal() and int(declared) > max_body:
        raise too_large(max_file_bytes)  # refuse before reading a single byte

    collector = _FormCollector(file_field, max_file_bytes, max_files)
    try:
        parser = MultipartParser(boundary, collector.callbacks())  # type: ignore[arg-type]
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_body:
                raise too_large(max_file_bytes)
            parser.write(chunk)
            await collector.flush()
        parser.finalize()
        await collector.flush()
    except _Abort as exc:
        collector.close()
        raise exc.problem from None
    except MultipartParseError as exc:
        collector.close()
        raise Problem(400, "bad-form", f"malformed multipart body: {exc}") from None
    except ClientDisconnect:
        collector.close()
        raise Problem(400, "bad-form", "client disconnected during upload") from None
    except BaseException:
        collector.close()
        raise
    if not collector.finished:
        collector.close()
        raise Problem(400, "bad-form", "multipart body ended before its closing boundary")
    if not collector.file_seen and require_file:
        collector.close()
        raise Problem(422, "missing-file", f"the form has no '{file_field}' part")
    return collector
