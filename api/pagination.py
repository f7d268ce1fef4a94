"""Paging the API's lists.

Cursor (keyset) pages for the long lists backed by a queryset (customers, subscriptions,
webhook events): the cursor holds the ordering values of the last row sent, and the next page
is the rows strictly after it in the queryset's own ordering (`order_by`, read from the
queryset, e.g. billing.selectors.subscriptions.ORDERINGS). One query per page whatever its
size or depth, no COUNT, and rows arriving meanwhile neither repeat nor get skipped. Pages go
forward only (`next`), which is what scripts and BI exports walk.

The ordering must end with the primary key (so every position is unique), and a nullable field
in it must say where NULLs go (nulls_last or nulls_first), which the selectors' orderings do.

Lists the selectors already page by number (the renewals report, which pages by customer so
that a customer's rows are never split; sync failures; churned subscriptions) keep their
`page`/`page_size` scheme: see PAGE_PARAMETERS.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json

from django.db.models import F, OrderBy, Q
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from billing.selectors.params import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Reader


class _Key:
    """One field of the ordering: its name, direction and where NULLs go."""

    def __init__(self, name: str, *, descending: bool, nulls_last: bool):
        self.name, self.descending, self.nulls_last = name, descending, nulls_last

    def equal(self, value) -> Q:
        return Q(**{f"{self.name}__isnull": True}) if value is None else Q(**{self.name: value})

    def after(self, value) -> Q:
        """Rows strictly after `value` in this field's order."""
        if value is None:
            # Among NULLs nothing is strictly after; before them, everything that is not NULL.
            return Q(pk__in=[]) if self.nulls_last else Q(**{f"{self.name}__isnull": False})
        query = Q(**{f"{self.name}__{'lt' if self.descending else 'gt'}": value})
        if self.nulls_last:
            query |= Q(**{f"{self.name}__isnull": True})
        return query


def ordering_keys(queryset) -> list[_Key]:
    keys = []
    for item in queryset.query.order_by:
        if isinstance(item, str):
            keys.append(_Key(item.lstrip("-"), descending=item.startswith("-"),
                             nulls_last=False))
        elif isinstance(item, OrderBy) and isinstance(item.expression, F):
            keys.append(_Key(item.expression.name, descending=item.descending,
                             nulls_last=bool(item.nulls_last)))
        else:
            raise TypeError(f"cannot page by cursor over the ordering {item!r}")
    if not keys or keys[-1].name not in ("id", "pk"):
        raise TypeError("a cursor-paged queryset must be ordered by fields ending with the id")
    return keys


def _encode(values: list, signature: str) -> str:
    plain = [["t", v.isoformat()] if isinstance(v, dt.datetime) else
             ["d", v.isoformat()] if isinstance(v, dt.date) else ["v", v] for v in values]
    raw = json.dumps({"o": signature, "p": plain}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, signature: str) -> list:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if data["o"] != signature:
            raise ValueError("ordering changed")
        out = []
        for kind, value in data["p"]:
            if kind == "t":
                out.append(dt.datetime.fromisoformat(value))
            elif kind == "d":
                out.append(dt.date.fromisoformat(value))
            elif kind == "v" and (value is None or isinstance(value, int | str)):
                out.append(value)
            else:
                raise ValueError(kind)
        return out
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError):
        raise ValidationError({"cursor": "not a cursor from this list with this ordering; "
                                         "start again without it"}) from None


class KeysetPagination(BasePagination):
    """`?cursor=` (from a previous page's `next`) and `?page_size=` (1-500, default 50)."""

    cursor_query_param = "cursor"
    page_size_query_param = "page_size"

    def paginate_queryset(self, queryset, request, view=None):
        reader = Reader(request.query_params)
        self.page_size = reader.integer(self.page_size_query_param, minimum=1,
                                        maximum=MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE
        cursor = reader.text(self.cursor_query_param, max_length=2000)
        reader.done()
        keys = ordering_keys(queryset)
        signature = ",".join(f"{'-' if k.descending else ''}{k.name}" for k in keys)
        if cursor:
            values = _decode(cursor, signature)
            if len(values) != len(keys):
                raise ValidationError({"cursor": "not a cursor from this list"})
            after = Q(pk__in=[])
            for index, key in enumerate(keys):
                same = Q()
                for earlier, value in zip(keys[:index], values[:index], strict=True):
                    same &= earlier.equal(value)
                after |= same & key.after(values[index])
            queryset = queryset.filter(after)
        rows = list(queryset[:self.page_size + 1])
        self.request = request
        self.next_cursor = None
        if len(rows) > self.page_size:
            rows = rows[:self.page_size]
            last = rows[-1]
            read = (last.get if isinstance(last, dict) else lambda name: getattr(last, name))
            self.next_cursor = _encode([read(k.name) for k in keys], signature)
        return rows

    def get_next_link(self) -> str | None:
        if self.next_cursor is None:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, self.next_cursor)

    def get_paginated_response(self, data):
        return Response({"next": self.get_next_link(), "page_size": self.page_size,
                         "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["next", "page_size", "results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri",
                         "description": "The next page, or null on the last one."},
                "page_size": {"type": "integer"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {"name": self.cursor_query_param, "in": "query", "required": False,
             "schema": {"type": "string", "maxLength": 2000},
             "description": "Where to continue: the `cursor` of the previous page's `next` "
                            "link. Omit it for the first page."},
            {"name": self.page_size_query_param, "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                        "default": DEFAULT_PAGE_SIZE},
             "description": "Rows per page."},
        ]


def page_parameters(*, max_size: int = MAX_PAGE_SIZE) -> list[OpenApiParameter]:
    return [
        OpenApiParameter("page", {"type": "integer", "minimum": 1, "maximum": 1_000_000},
                         description="Page number, from 1."),
        OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": max_size},
                         description=f"Items per page, 1 to {max_size}."),
    ]


PAGE_PARAMETERS = page_parameters()


def paged(request, page) -> dict:
    """A selector's page-number Page (billing.selectors.params) as the API's paged lists
    answer it: `page` (api.serializers.reports.PageInfoSerializer), the `next` and `previous`
    URLs, and the `results`."""
    url = request.build_absolute_uri()
    return {
        "page": {"number": page.number, "size": page.size, "total": page.total,
                 "pages": page.pages},
        "next": replace_query_param(url, "page", page.number + 1) if page.has_next else None,
        "previous": (replace_query_param(url, "page", page.number - 1)
                     if page.has_previous else None),
        "results": page.items,
    }
