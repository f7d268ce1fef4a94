"""Typed errors of the Chargebee provider.

Callers (the webhook task, the backfill, event polling) must decide between "store the error on
the row and stop", "retry later" and "wait this long first" without parsing messages, so each
failure carries that decision as data.
"""

from __future__ import annotations


class ChargebeeEventError(ValueError):
    """A webhook body that is not a Chargebee v2 event we can understand.

    Retrying cannot fix it: the message says what is wrong so that a human reading the stored
    event row knows what to look at (the body, or the webhook's API version in Chargebee).
    """


class ChargebeeApiError(Exception):
    """A call to the Chargebee API failed.

    `permanent` is True when repeating the same request cannot succeed (bad credentials, unknown
    id, invalid parameters); `retry_after` is the number of seconds Chargebee asked us to wait
    (HTTP 429 `Retry-After`), or None when it gave none.
    """

    def __init__(
        self,
        message: str,
        permanent: bool,
        retry_after: float | None = None,
        *,
        status: int | None = None,
        api_error_code: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after
        self.status = status
        self.api_error_code = api_error_code

    def __repr__(self) -> str:
        return (
            f"ChargebeeApiError({self.message!r}, permanent={self.permanent}, "
            f"retry_after={self.retry_after}, status={self.status}, "
            f"api_error_code={self.api_error_code!r})"
        )
