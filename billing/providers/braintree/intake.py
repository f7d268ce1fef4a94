"""Braintree webhook intake: the form fields, read from the raw body the view has capped.

Braintree POSTs `application/x-www-form-urlencoded` with `bt_signature` and `bt_payload`. The
view reads the body itself (so the 1 MiB cap applies before Django's form parser buffers
anything) and parses it here with urllib. The stored event body is that raw form text, and
the worker takes `bt_payload` back out of it with `payload_from_body`.

`is_base64_text` repeats the SDK's own first check (the payload alphabet). Verification
(`parse.verify_and_read`) runs it before the signature, so that any decoding error afterwards
can only come from a payload whose signature matched: only then is a malformed delivery kept
as `rejected`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs

from .errors import BraintreeEventError

SIGNATURE_FIELD = "bt_signature"
PAYLOAD_FIELD = "bt_payload"
_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/=\n]+")


@dataclass(frozen=True)
class WebhookForm:
    signature: str
    payload: str


def read_form(body: bytes | str) -> WebhookForm:
    """The two fields of a delivery ("" when absent; the first value when repeated)."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    fields = parse_qs(text, keep_blank_values=True)
    return WebhookForm(signature=_first(fields, SIGNATURE_FIELD),
                       payload=_first(fields, PAYLOAD_FIELD))


def _first(fields: dict[str, list[str]], name: str) -> str:
    values = fields.get(name)
    return values[0] if values else ""


def is_base64_text(payload: str) -> bool:
    """True when `payload` only holds what Braintree's base64 payloads can (as the SDK checks)."""
    return bool(_BASE64_TEXT.fullmatch(payload))


def payload_from_body(body: str) -> str:
    """`bt_payload` of a stored delivery; BraintreeEventError when it has none."""
    payload = read_form(body).payload
    if not payload:
        raise BraintreeEventError("stored Braintree delivery has no bt_payload")
    return payload
