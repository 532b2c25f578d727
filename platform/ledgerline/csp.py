"""The Content-Security-Policy header, on every response.

The policy (settings.CONTENT_SECURITY_POLICY) lets pages run scripts and load styles only from the
site's own files: a <script> or an on* attribute that reaches a page through a template mistake
does not run. The portal's scripts are static files for that reason (portal/static/portal/).
A page that needs more, a third-party UI, says so with `csp_relaxed`, for its responses only.
Our own middleware rather than django-csp: it is this file, and Django 6 brings one built in.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

HEADER = "Content-Security-Policy"

Policy = dict[str, list[str]]


def policy_header(policy: Policy) -> str:
    """{"script-src": ["'self'"], ...} as the header's value: "script-src 'self'; ..."."""
    return "; ".join(" ".join([directive, *sources]) for directive, sources in policy.items())


class ContentSecurityPolicyMiddleware:
    """Sends the site's policy with every response that has none of its own (see csp_relaxed)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.setdefault(HEADER, policy_header(settings.CONTENT_SECURITY_POLICY))
        return response


def csp_relaxed(**directives: list[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A view whose responses get the site's policy with these directives replaced (style_src for
    style-src): `csp_relaxed(style_src=["'self'", "'unsafe-inline'"])(view)`."""
    replaced = {name.replace("_", "-"): sources for name, sources in directives.items()}

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def relaxed(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            response: HttpResponseBase = view(request, *args, **kwargs)
            response[HEADER] = policy_header({**settings.CONTENT_SECURITY_POLICY, **replaced})
            return response

        return relaxed

    return decorate
