"""Plain request and reply values passed between the HTTP server and the handlers.

Keeping handlers free of ``http.server`` details means each one is a function of the org
and a request, which is easy to read and to test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote

from .errors import json_parser_error

JSON_TYPE = "application/json;charset=UTF-8"
CSV_TYPE = "text/csv"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""

    @classmethod
    def build(cls, method: str, target: str, headers: dict[str, str], body: bytes) -> Request:
        path, _, query_string = target.partition("?")
        query = {k: v[0] for k, v in parse_qs(query_string, keep_blank_values=True).items()}
        return cls(method.upper(), path, query, {k.lower(): v for k, v in headers.items()}, body)

    @property
    def segments(self) -> list[str]:
        """Path segments, each URL-decoded on its own so an encoded ``/`` stays inside."""
        return [unquote(part) for part in self.path.strip("/").split("/") if part != ""]

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def json(self) -> object:
        """The body as JSON, or the JSON_PARSER_ERROR Salesforce answers malformed JSON with."""
        if not self.body.strip():
            raise json_parser_error("No content to map due to end-of-input at [line:1, column:0]")
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise json_parser_error(f"Unexpected character: {exc} at [line:1, column:1]") from None

    def text(self) -> str:
        return self.body.decode("utf-8-sig")


@dataclass
class Reply:
    status: int
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_TYPE

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")
