"""Pieces every provider's webhook view shares: body size cap, JSON errors, header capture."""

from __future__ import annotations

import hashlib

from django.http import HttpRequest, JsonResponse

MAX_BODY_BYTES = 1024 * 1024  # 1 MiB: far above any real event, far below a memory problem


class BodyTooLarge(Exception):
    pass


def read_body(request: HttpRequest, *, limit: int = MAX_BODY_BYTES) -> bytes:
    """Read at most `limit` bytes of the body, refusing larger ones before buffering them."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise BodyTooLarge
    data = request.read(limit + 1)
    if len(data) > limit:
        raise BodyTooLarge
    return data


def request_headers(request: HttpRequest) -> dict[str, str]:
    return dict(request.headers.items())


def answer(data: dict, *, status: int = 200) -> JsonResponse:
    """A JSON answer with its Content-Length: webhook paths skip the middleware that would add
    it, and without it a server must close the connection or chunk the body."""
    response = JsonResponse(data, status=status)
    response["Content-Length"] = str(len(response.content))
    return response


def error(status: int, message: str, **extra) -> JsonResponse:
    return answer({"error": message, **extra}, status=status)


def payload_digest(data: bytes | str) -> str:
    """Stable id for a delivery that carries none (Braintree) or is malformed."""
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def keep_rejected(request: HttpRequest, *, provider: str, key: str, body: str, message: str,
                  event_type: str = "") -> JsonResponse:
    """Store an authenticated but unusable delivery as `rejected` and answer 400.

    Nothing a provider sent is lost: the row keeps the body and the reason for an operator.
    """
    from billing.services.events import store_event

    store_event(provider=provider, event_id=f"rejected:{key}", event_type=event_type,
                body=body, headers=request_headers(request), rejected_error=message)
    return error(400, message)


def stored(result, *, event_id: str) -> JsonResponse:
    """The 200 answer for a stored delivery: new, a duplicate, or a failed one requeued."""
    outcome = "accepted" if result.created else ("requeued" if result.requeued else "duplicate")
    return answer({"status": outcome, "event": event_id})
