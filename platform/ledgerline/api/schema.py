"""The OpenAPI schema as the API behaves: Bearer tokens, paginated lists, and the error body on
every status an operation can answer with (drf-spectacular documents only the success)."""

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from ledgerline.api.pagination import Pagination


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "ledgerline.accounts.authentication.ApiTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An API token: `Authorization: Bearer ll_...`."}


class Error(serializers.Serializer[Any]):
    error = inline_serializer(
        "ErrorDetail",
        {  # inline: a field named "fields" would hide Serializer.fields
            "code": serializers.CharField(),
            "message": serializers.CharField(help_text="What went wrong, for a person to read."),
            "fields": serializers.DictField(help_text="Each field at fault and its problems."),
        },
    )


WRITES = ("POST", "PUT", "PATCH")


class AutoSchema(openapi.AutoSchema):
    def error_statuses(self) -> list[int]:
        """Every status the API's error handler can answer this operation with."""
        # Bad input, a bad token (even on public views), a role or an organisation that may not, no such
        # object or page.
        statuses = [400, 401, 403, 404]
        if self.method in WRITES:
            statuses += [409, 413, 415]  # a state that forbids it, a body too big, a body of another type
        if self.view.get_throttles():
            statuses.append(429)
        statuses += getattr(self.view, "protocol_statuses", {}).get(self.method, [])
        return sorted(set(statuses))

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for status in self.error_statuses():
            responses.setdefault(str(status), self._get_response_for_code(Error, str(status), direction=direction))
        return responses

    def _get_request_for_media_type(self, serializer: Any, direction: Any = "request") -> tuple[Any, bool]:
        schema, required = super()._get_request_for_media_type(serializer, direction)
        # A body given as a raw schema or a type (a file, a usage report, one of several subjects)
        # is what the operation works on: without it there is nothing to do (a 400 or a 415).
        if not hasattr(serializer, "fields"):
            required = True
        return schema, required

    def _get_paginator(self) -> Pagination | None:
        # Every list the API reads is paginated (ApiView.paginated); what it creates is not.
        return Pagination() if self.method == "GET" else None

    def _get_serializer_name(self, serializer: Any, direction: Any, bypass_extensions: bool = False) -> str:
        # Views nest their own InputSerializer/OutputSerializer: name them by their view.
        name: str = super()._get_serializer_name(serializer, direction, bypass_extensions)
        target = getattr(serializer, "child", serializer)
        owner = type(target).__qualname__.split(".")
        if len(owner) > 1:
            return owner[0].removesuffix("Api") + name
        return name
