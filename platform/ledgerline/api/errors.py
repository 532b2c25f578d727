"""One error format for the whole API: {"error": {"code", "message", "fields"}}."""

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.response import Response

from ledgerline.errors import LedgerlineError

logger = logging.getLogger(__name__)


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, LedgerlineError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status)
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            error_body("too_large", f"A request body over {limit:,} bytes is not accepted here."), status=413
        )
    if isinstance(exc, SuspiciousOperation):
        # Django's request limits (too many files or fields, body too big) and the like.
        return Response(error_body("invalid_request", str(exc) or "This request is not acceptable."), status=400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's 500 handler logs it
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        fields = _flatten(detail)
        first = next(iter(fields.items()), None)
        message = "The request has invalid fields."
        if first is not None:
            name, problems = first
            text = problems[0] if isinstance(problems, list) and problems else problems
            message = f"{name}: {text}" if name != "non_field_errors" else str(text)
        response = Response(error_body("invalid", message, fields), status=exc.status_code)
    else:
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else "error"
        response = Response(error_body(str(code), str(exc.detail)), status=exc.status_code)
    if getattr(exc, "auth_header", None):
        response["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if getattr(exc, "wait", None):
        response["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
    return response


def api_server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(error_body("server_error", "Something went wrong on our side; it has been logged."), status=500)


@csrf_exempt  # a POST with a token to a wrong address is a 404, not a CSRF page
def api_not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    return JsonResponse(error_body("not_found", f"There is no API endpoint at {request.path}."), status=404)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: the error body under /api/ (an address no route matches), the page elsewhere."""
    if request.path.startswith("/api/"):
        return api_not_found(request)
    return defaults.page_not_found(request, exception or Http404())
