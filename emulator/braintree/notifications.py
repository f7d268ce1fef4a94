"""Signed Braintree webhook notifications for tests, signed for real.

Braintree POSTs `bt_signature` and `bt_payload`: the payload is the base64 (MIME, 76-column
lines) of a `<notification>` XML document, the signature `public_key|hex(HMAC-SHA1(key=
SHA1(private_key), payload))`. Both builders below sign with the SDK's own HMAC helper, so a
gateway configured with the same keys verifies them exactly as it would in production.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import braintree
from braintree.util.crypto import Crypto

from wireformats.braintree_xml import element, to_xml

from .subscriptions import Keys, subscription_fields

# Every kind the SDK can build a sample for (WebhookNotification.Kind).
ALL_KINDS = tuple(sorted(
    value for name, value in vars(braintree.WebhookNotification.Kind).items()
    if not name.startswith("_") and isinstance(value, str)
))


def sign(payload: str | bytes, *, keys: Keys) -> str:
    """The bt_signature Braintree would send for `payload`."""
    return f"{keys.public_key}|{Crypto.sha1_hmac_hash(keys.private_key, payload)}"


def signed_payload(xml: bytes, *, keys: Keys) -> dict[str, str]:
    """Form fields for an XML notification document: base64 it, then sign it."""
    payload = base64.encodebytes(xml).decode("ascii")
    return {"bt_signature": sign(payload, keys=keys), "bt_payload": payload}


def notification_xml(kind: str, *, subject: dict, timestamp: datetime,
                     source_merchant_id: str | None = None) -> bytes:
    """A `<notification>` document; `subject` maps one root tag to its fields."""
    fields: dict = {"timestamp": timestamp, "kind": kind}
    if source_merchant_id:
        fields["source_merchant_id"] = source_merchant_id
    fields["subject"] = subject
    return to_xml("notification", fields)


def signed_notification(kind: str, *, keys: Keys, subject: dict, timestamp: datetime
                        ) -> dict[str, str]:
    return signed_payload(notification_xml(kind, subject=subject, timestamp=timestamp),
                          keys=keys)


def signed_subscription_notification(
    kind: str,
    *,
    keys: Keys,
    subscription_id: str,
    status: str,
    plan_id: str,
    price: str,
    timestamp: datetime,
    **fields,
) -> dict[str, str]:
    """A signed notification of `kind` carrying a full subscription.

    Extra keyword arguments are those of `subscriptions.subscription_fields` (add_ons,
    discounts, transactions, status_history, dates, trial, merchant_account_id, ...).
    """
    subscription = subscription_fields(subscription_id=subscription_id, status=status,
                                       plan_id=plan_id, price=price, timestamp=timestamp,
                                       **fields)
    return signed_notification(kind, keys=keys, subject={"subscription": subscription},
                               timestamp=timestamp)


def sample_notification(kind: str, *, keys: Keys, subject_id: str = "sample_id"
                        ) -> dict[str, str]:
    """The SDK's own sample notification (`webhook_testing.sample_notification`).

    Its subscription has only an id: use it for "every kind" coverage, not for content.
    """
    # Signing needs only the keys: the environment is never contacted.
    gateway = braintree.BraintreeGateway(braintree.Configuration(
        braintree.Environment.Sandbox, merchant_id=keys.merchant_id,
        public_key=keys.public_key, private_key=keys.private_key))
    sample = gateway.webhook_testing.sample_notification(kind, subject_id)
    payload = sample["bt_payload"]
    return {"bt_signature": sample["bt_signature"],
            "bt_payload": payload.decode("ascii") if isinstance(payload, bytes) else payload}


def raw_signed(document: bytes | str, *, keys: Keys) -> dict[str, str]:
    """Sign any bytes as a payload (for malformed-but-authentic notifications)."""
    data = document.encode() if isinstance(document, str) else document
    return signed_payload(data, keys=keys)


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


__all__ = [
    "ALL_KINDS",
    "Keys",
    "element",
    "notification_xml",
    "now_utc",
    "raw_signed",
    "sample_notification",
    "sign",
    "signed_notification",
    "signed_payload",
    "signed_subscription_notification",
]
