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


def declared_length(meta: Mapping[str, str]) -> int:
    """The Content-Length the client declared, 0 when absent or not a number."""
    try:
        return max(0, int(meta.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


@dataclass(frozen=True)
class Delivery:
    """What a receiver needs of one POST: its headers and its body, not yet read."""

    headers: Mapping[str, str]  # case-insensitive, as Django's request.headers
    body: Readable  # yields at most content_length bytes
    content_length: int

    @classmethod
    def from_request(cls, request: HttpRequest) -> Delivery:
        return cls(headers=request.headers, body=request,
                   content_length=declared_length(request.META))

    @classmethod
    def from_environ(cls, environ: dict) -> Delivery:
        length = declared_length(environ)
        return cls(headers=HttpHeaders(environ),
                   body=LimitedStream(environ["wsgi.input"], length), content_length=length)


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
