"""How the OpenAPI schema describes our authentication and errors (drf-spectacular)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse

from api.errors import ErrorSerializer


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey", "in": "header", "name": "Authorization",
            "description": "`Token <key>` or `Bearer <key>`; create a key with "
                           "`python manage.py create_api_token USERNAME` or in the admin.",
        }


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorSerializer, description=description)


# The errors any endpoint may answer, in the one error shape.
READ_ERRORS = {
    400: error("A parameter could not be read (`fields` says which and why)."),
    401: error("No credentials, or an unknown or revoked token."),
    403: error("Not a staff account."),
    429: error("Too many requests; `Retry-After` says when to try again."),
}
ITEM_ERRORS = {**READ_ERRORS, 404: error("No such object.")}
ACTION_ERRORS = {
    **ITEM_ERRORS,
    403: error("Not a staff account, or without the permission this action needs."),
}
