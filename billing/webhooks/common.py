"""Pieces every provider's webhook receiver shares: body size cap, JSON errors, header capture."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.services.intake import store_event
from billing.webhooks.delivery import Answer, Delivery
from billing.webhooks.transport import refuse_plain_http

MAX_BODY_BYTES = 1024 * 1024  # 1 MiB: far above any real event, far below a memory problem

Receiver = Callable[[Delivery], Answer]


class BodyRefused(Exception):
    """The body cannot be taken: the answer's status and message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message

    def answer(self) -> Answer:
        return error(self.status, self.message)


def _too_large() -> BodyRefused:
    return BodyRefused(413, "body over 1 MiB")


def read_body(delivery: Delivery, *, limit: int = MAX_BODY_BYTES) -> bytes:
    """Read at most `limit` bytes of the body, refusing larger ones before buffering them.

    A chunked body (no Content-Length) is read up to its end when the server marks where it
    ends, else refused with 411 (never taken for empty). An empty body is refused with 400:
    there is nothing to store.
    """
    if delivery.content_length is None:
        if not delivery.chunked_readable:
            raise BodyRefused(411, "Content-Length required (this server cannot read a "
                                   "chunked body)")
        data = _read_to_end(delivery.body, limit=limit)
    else:
        if delivery.content_length > limit:
            raise _too_large()
        data = delivery.body.read(limit + 1)
    if len(data) > limit:
        raise _too_large()
    if not data:
        raise BodyRefused(400, "empty body")
    return data


def _read_to_end(stream, *, limit: int) -> bytes:
    """Read until the stream ends or more than `limit` bytes came (a read may return less
    than asked before the end)."""
    parts, size = [], 0
    while size <= limit:
        part = stream.read(limit + 1 - size)
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def request_headers(delivery: Delivery) -> dict[str, str]:
    return dict(delivery.headers.items())


def error(status: int, message: str, **extra) -> Answer:
    return Answer(status, {"error": message, **extra})


def payload_digest(data: bytes | str) -> str:
    """Stable id for a delivery that carries none (Braintree) or is malformed."""
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def keep_rejected(delivery: Delivery, *, provider: str, event_id: str, body: str, message: str,
                  event_type: str = "") -> Answer:
    """Store an authenticated but unusable delivery as `rejected` and answer 400.

    Nothing a provider sent is lost: the row keeps the body and the reason for an operator.
    `event_id` is the provider's own when it could be read, else `rejected:<digest>`.
    """
    store_event(provider=provider, event_id=event_id, event_type=event_type,
                body=body, headers=request_headers(delivery), rejected_error=message)
    return error(400, message)


def stored(result, *, event_id: str) -> Answer:
    """The 200 answer for a stored delivery: new, a duplicate, or a failed one requeued."""
    outcome = "accepted" if result.created else ("requeued" if result.requeued else "duplicate")
    return Answer(200, {"status": outcome, "event": event_id})


def webhook_view(receive: Receiver) -> Callable[[HttpRequest], HttpResponse]:
    """The Django view of a receiver: POST only, no CSRF or login (the receiver authenticates
    the provider), and no request-wide transaction, so a stored row survives any later error."""

    @csrf_exempt
    @login_not_required
    @require_POST
    @transaction.non_atomic_requests
    @wraps(receive)
    def view(request: HttpRequest) -> HttpResponse:
        answer = refuse_plain_http(request) or receive(Delivery.from_request(request))
        return answer.as_response()

    view.receive = receive  # what the fast path calls (billing.webhooks.fast_path)
    return view
