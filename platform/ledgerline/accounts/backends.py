"""Sign-in through django-axes' lockout."""

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


class LockoutBackend(AxesStandaloneBackend):
    """Refuses a locked-out account or address before the password is checked. A sign-in made
    without a request (a shell, a management command, the test client's login) reaches no
    HTTP client to lock out, so it passes on to the password check."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def lockout_response(request: HttpRequest, response: HttpResponse | None, credentials: Any) -> HttpResponse:
    """The page a locked-out sign-in gets: a 429 that says why and for how long."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    page = render(
        request,
        "portal/locked_out.html",
        {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": max(seconds // 60, 1)},
        status=429,
    )
    page["Retry-After"] = str(seconds)
    return page
