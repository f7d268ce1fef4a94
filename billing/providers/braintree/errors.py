"""Typed errors of the Braintree provider, so callers never catch the SDK's own exceptions.

The webhook view needs two answers (403 for a bad signature, 400 for a malformed payload) and
the tasks need one more (retry or park an API failure), so each gets its own class.
"""

from __future__ import annotations

import requests
from braintree.exceptions import (
    AuthenticationError,
    AuthorizationError,
    ConfigurationError,
    GatewayTimeoutError,
    NotFoundError,
    RequestTimeoutError,
    ServerError,
    ServiceUnavailableError,
    TooManyRequestsError,
    UnexpectedError,
    UpgradeRequiredError,
)
from braintree.exceptions.http import ConnectionError as BtConnectionError
from braintree.exceptions.http import InvalidResponseError
from braintree.exceptions.http import TimeoutError as BtTimeoutError


class BraintreeSignatureError(Exception):
    """The notification is not signed with our keys (answer 403, never process it)."""


class BraintreeEventError(ValueError):
    """The notification is signed but cannot be understood (answer 400 / record the error)."""


class BraintreeApiError(Exception):
    """A call to the Braintree API failed.

    `permanent` tells the caller whether retrying can help: bad credentials, missing objects
    and an outdated client will fail the same way every time; rate limits, timeouts and
    Braintree's own outages will not.
    """

    def __init__(self, message: str, *, permanent: bool, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status

    @property
    def transient(self) -> bool:
        return not self.permanent

    def __repr__(self) -> str:
        kind = "permanent" if self.permanent else "transient"
        return f"BraintreeApiError({self.message!r}, {kind}, status={self.status})"


# SDK exception -> (HTTP status it stands for, permanent?). Order matters: subclasses first,
# because the SDK's transport errors all inherit from UnexpectedError.
_SDK_ERRORS: tuple[tuple[type[BaseException], int | None, bool], ...] = (
    (AuthenticationError, 401, True),
    (AuthorizationError, 403, True),
    (NotFoundError, 404, True),
    (UpgradeRequiredError, 426, True),
    (ConfigurationError, None, True),
    (RequestTimeoutError, 408, False),
    (TooManyRequestsError, 429, False),
    (ServerError, 500, False),
    (ServiceUnavailableError, 503, False),
    (GatewayTimeoutError, 504, False),
    (BtTimeoutError, None, False),
    (BtConnectionError, None, False),
    (InvalidResponseError, None, False),
    # A gateway built without wrap_http_exceptions lets requests' own errors through.
    (requests.Timeout, None, False),
    (requests.ConnectionError, None, False),
)


def api_error_from(exc: BaseException) -> BraintreeApiError:
    """Classify an exception raised by the SDK as a permanent or transient API error."""
    if isinstance(exc, BraintreeApiError):
        return exc
    for sdk_class, status, permanent in _SDK_ERRORS:
        if isinstance(exc, sdk_class):
            detail = str(exc) or sdk_class.__name__
            return BraintreeApiError(
                f"Braintree API: {detail}", permanent=permanent, status=status
            )
    if isinstance(exc, UnexpectedError):
        # The SDK raises UnexpectedError("Unexpected HTTP_RESPONSE 502") for statuses it has
        # no class for: a 5xx is Braintree's side and worth retrying, anything else is not.
        status = _status_in_message(str(exc))
        transient = status is not None and status >= 500
        return BraintreeApiError(
            f"Braintree API: {exc}", permanent=not transient, status=status
        )
    return BraintreeApiError(
        f"Braintree API: unexpected {type(exc).__name__}: {exc}", permanent=True
    )


def _status_in_message(message: str) -> int | None:
    marker = "HTTP_RESPONSE"
    if marker not in message:
        return None
    tail = message.split(marker, 1)[1].strip()
    digits = tail[:3]
    return int(digits) if digits.isdigit() else None
