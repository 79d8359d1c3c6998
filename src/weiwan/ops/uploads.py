"""File uploads with a size cap enforced while the body is read.

A route declared with :class:`CappedBodyRoute` (``route_class_override``) refuses a body above
the setting ``upload_max_bytes`` with 413: at once when ``Content-Length`` says so, and
otherwise (chunked uploads) as soon as the bytes received pass the cap, before any more is
read. The wrapping happens before the route's dependencies run, so the CSRF check's form
parsing is capped too. See docs/decisions/0008-lookup-rate-limit-and-uploads.md.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response, status
from fastapi.routing import APIRoute
from starlette.datastructures import UploadFile
from starlette.types import Message, Receive

#: the OpenAPI request body of a route that takes one file in the multipart field ``file``
FILE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


class BodyTooLargeError(HTTPException):
    """The request body is larger than the upload cap (413)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"the upload is larger than {limit:,} bytes (setting upload_max_bytes); "
            "split the file and upload the parts",
        )


def capped_receive(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises :class:`BodyTooLargeError` once more than ``limit`` body bytes
    have arrived (the chunk that passes the cap is dropped, nothing after it is read)."""
    received = 0

    async def wrapped() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLargeError(limit)
        return message

    return wrapped


def check_declared_length(request: Request, limit: int) -> None:
    """413 at once when the declared ``Content-Length`` is above ``limit``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(limit)


class CappedBodyRoute(APIRoute):
    """A route whose request body is capped at the setting ``upload_max_bytes``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def capped(request: Request) -> Response:
            limit: int = request.app.state.settings.upload_max_bytes
            check_declared_length(request, limit)
            return await handler(Request(request.scope, capped_receive(request.receive, limit)))

        return capped


async def uploaded_file(request: Request, field: str = "file") -> UploadFile:
    """The file of the multipart field ``field`` (spooled to disk past 1 MB by Starlette);
    422 naming the field when the request has none."""
    form = await request.form(max_files=1, max_fields=16)
    upload = form.get(field)
    if not isinstance(upload, UploadFile):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"send the file as the multipart/form-data field {field!r}",
        )
    return upload
