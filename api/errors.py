"""One error body for every 4xx and 5xx the API answers:

    {"error": {"status": 400, "code": "invalid_parameters", "message": "...",
               "fields": {"window": "must be one of this_quarter, next_quarter, range"}}}

`code` is stable and meant for programs; `message` is for people; `fields` (present, maybe
empty) names each parameter or body field that was refused and why. A query string the
selectors cannot read (billing.selectors.params.InvalidParameters) is a 400 like any other
validation error, never a 500.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import set_rollback

from billing.selectors.params import InvalidParameters

log = logging.getLogger(__name__)


class ErrorDetailSerializer(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.CharField())


class ErrorSerializer(serializers.Serializer):
    """The body of every error response."""

    error = ErrorDetailSerializer()


def error_body(*, status: int, code: str, message: str,
               fields: dict[str, str] | None = None) -> dict:
    return {"error": {"status": status, "code": code, "message": message,
                      "fields": dict(fields or {})}}


def _flatten(detail, prefix: str = "") -> dict[str, str]:
    """DRF's nested error details as {"field": "first message"}; non-field errors as "_"."""
    if isinstance(detail, dict):
        out: dict[str, str] = {}
        for name, value in detail.items():
            key = "_" if name == "non_field_errors" else str(name)
            out.update(_flatten(value, f"{prefix}{key}" if not prefix else f"{prefix}.{key}"))
        return out
    if isinstance(detail, list):
        if detail and all(not isinstance(item, dict | list) for item in detail):
            return {prefix or "_": " ".join(str(item) for item in detail)}
        out = {}
        for index, item in enumerate(detail):
            out.update(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
        return out
    return {prefix or "_": str(detail)}


def _code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    return exc.default_code


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every exception a view raises becomes the error body."""
    if isinstance(exc, InvalidParameters):
        set_rollback()
        return Response(error_body(status=400, code="invalid_parameters",
                                   message="Some parameters could not be read.",
                                   fields=exc.errors), status=400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if not isinstance(exc, exceptions.APIException):
        # A bug, not the caller's fault: logged with its traceback, answered in the same shape.
        request = context.get("request")
        log.error("API request failed: %s", getattr(request, "path", ""), exc_info=exc)
        set_rollback()
        return Response(error_body(status=500, code="server_error",
                                   message="The server failed to answer this request."),
                        status=500)
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if isinstance(exc, exceptions.ValidationError):
        body = error_body(status=exc.status_code, code="invalid_parameters",
                          message="Some parameters could not be read.",
                          fields=_flatten(exc.detail))
    else:
        body = error_body(status=exc.status_code, code=_code(exc), message=str(exc.detail))
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Any path under /api/ that names no endpoint: the error body, not an HTML page."""
    return JsonResponse(error_body(status=404, code="not_found",
                                   message="No API endpoint at this path."), status=404)
