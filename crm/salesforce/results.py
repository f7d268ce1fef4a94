"""What Salesforce answered for each record of a write: the one result type of both the
REST collections (crm.salesforce.client) and the Bulk API result files (crm.salesforce.bulk).

Its own module so that the client and the bulk helpers both depend on it, and not on each
other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm.salesforce.errors import SalesforceError


@dataclass(frozen=True)
class RecordResult:
    """The outcome of one record of a collection call, in the order the records were sent.

    `ref` is what identified the record in the request (its external id value, or its Id).
    """

    ref: str
    success: bool
    id: str | None = None
    created: bool | None = None
    error: SalesforceError | None = None

    def as_dict(self) -> dict:
        out: dict[str, Any] = {"ref": self.ref, "success": self.success}
        if self.id:
            out["id"] = self.id
        if self.created is not None:
            out["created"] = self.created
        if self.error is not None:
            out["error_code"] = self.error.code
            out["message"] = self.error.message
        return out
