"""Salesforce-shaped errors.

Salesforce reports failures in two shapes, and clients branch on which one they get:
a whole request fails with an HTTP status and a JSON *list* of
``{"message", "errorCode", "fields"}``, while a record inside a collection or a bulk job
fails on its own with ``{"statusCode", "message", "fields"}``. One ``SfError`` value can
be rendered both ways, so the rules are written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SfError:
    """One Salesforce error: a code such as ``INVALID_FIELD``, a message, the fields involved."""

    code: str
    message: str
    fields: tuple[str, ...] = field(default=())

    def as_request_error(self) -> dict:
        """The shape used in a failed request's body (``errorCode``)."""
        return {"message": self.message, "errorCode": self.code, "fields": list(self.fields)}

    def as_record_error(self) -> dict:
        """The shape used for one record of a collection (``statusCode``)."""
        return {"statusCode": self.code, "message": self.message, "fields": list(self.fields)}

    def as_bulk_error(self) -> str:
        """The ``sf__Error`` column of a Bulk API 2.0 failed-results row."""
        return f"{self.code}:{self.message}:{','.join(self.fields)} --"


class RequestFailed(Exception):
    """Abort the current request with ``status`` and a list of Salesforce errors.

    Raised from deep inside the rules (a body that cannot be deserialised, an unknown
    object) where Salesforce fails the whole call rather than one record.
    """

    def __init__(self, status: int, errors: list[SfError] | SfError):
        self.status = status
        self.errors = [errors] if isinstance(errors, SfError) else list(errors)
        super().__init__("; ".join(f"{e.code}: {e.message}" for e in self.errors))

    def body(self) -> list[dict]:
        return [error.as_request_error() for error in self.errors]


def not_found(message: str = "The requested resource does not exist") -> RequestFailed:
    return RequestFailed(404, SfError("NOT_FOUND", message))


def json_parser_error(message: str) -> RequestFailed:
    return RequestFailed(400, SfError("JSON_PARSER_ERROR", message))


def invalid_field(name: str, sobject: str) -> SfError:
    return SfError("INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}")
