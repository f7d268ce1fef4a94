"""A webhook delivery and its answer, independent of how the HTTP request arrived.

The webhook receivers (`billing.webhooks.chargebee.receive`, `...braintree.receive`) take a
`Delivery` and return an `Answer`. Two thin adapters feed them: the Django views, for the test
client and any deployment that mounts the URLconf itself, and the webhook fast path in front
of the WSGI application (billing.webhooks.fast_path), which builds the Delivery straight from
the WSGI environ. Webhooks are the one high-volume traffic and a provider waits for each
answer; building a full HttpRequest, resolving the URL and rendering a JsonResponse cost about
a third of a delivery's CPU time.
Both adapters use Django's own header and body classes, so the stored headers and the bytes
read are the same whichever way the delivery came.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse
from django.http.request import HttpHeaders


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def declared_length(meta: Mapping[str, str]) -> int | None:
    """The Content-Length the client declared; None when it declared none (a chunked body),
    0 when it is not a number."""
    value = meta.get("CONTENT_LENGTH")
    if value in (None, ""):
        return None
    try:
        return max(0, int(value))
    except ValueError:
        return 0


class _Nothing:
    def read(self, size: int = -1, /) -> bytes:
        return b""


@dataclass(frozen=True)
class Delivery:
    """What a receiver needs of one POST: its headers and its body, not yet read.

    Without a Content-Length (Transfer-Encoding: chunked), the body is the server's input
    stream read to its end, when the server says it ends there (`wsgi.input_terminated`, set
    by gunicorn and granian). Else a chunked body cannot be read: `content_length` is None
    and the receiver answers 411 rather than take the body for empty. A request with neither
    header has no body (HTTP/1.1).
    """

    headers: Mapping[str, str]  # case-insensitive, as Django's request.headers
    body: Readable  # yields at most content_length bytes (or up to its end, when chunked)
    content_length: int | None  # None: not declared
    chunked_readable: bool = False  # no length, but the stream ends with the body

    @classmethod
    def from_request(cls, request: HttpRequest) -> Delivery:
        # Django reads nothing of a body without Content-Length: take the server's stream.
        return cls._of(request.META, headers=request.headers, declared=request)

    @classmethod
    def from_environ(cls, environ: dict) -> Delivery:
        length = declared_length(environ)
        declared = LimitedStream(environ["wsgi.input"], length) if length is not None else None
        return cls._of(environ, headers=HttpHeaders(environ), declared=declared)

    @classmethod
    def _of(cls, meta: Mapping, *, headers: Mapping[str, str],
            declared: Readable | None) -> Delivery:
        length = declared_length(meta)
        if length is not None:
            return cls(headers=headers, body=declared, content_length=length)
        if meta.get("wsgi.input_terminated") and "wsgi.input" in meta:
            return cls(headers=headers, body=meta["wsgi.input"], content_length=None,
                       chunked_readable=True)
        if "HTTP_TRANSFER_ENCODING" not in meta:
            return cls(headers=headers, body=_Nothing(), content_length=0)  # no body at all
        return cls(headers=headers, body=_Nothing(), content_length=None)


@dataclass(frozen=True)
class Answer:
    """A JSON answer: status, the data, and any extra headers."""

    status: int
    data: dict
    headers: dict[str, str] = field(default_factory=dict)

    def content(self) -> bytes:
        return json.dumps(self.data).encode()

    def wsgi_headers(self, content: bytes) -> list[tuple[str, str]]:
        """Content-Length always: without it a server must close the connection or chunk."""
        return [("Content-Type", "application/json"), ("Content-Length", str(len(content))),
                *self.headers.items()]

    def as_response(self) -> HttpResponse:
        content = self.content()
        response = HttpResponse(content, status=self.status)
        for name, value in self.wsgi_headers(content):
            response[name] = value
        return response
