"""The site's address as a page hands it out: SITE_URL where a deployment sets it, else the host
the request was made to (which Django has checked against ALLOWED_HOSTS)."""

from django.conf import settings
from django.http import HttpRequest
from rest_framework.request import Request


def site_url(request: HttpRequest | Request) -> str:
    """http(s)://host, no trailing slash."""
    return str(settings.SITE_URL if settings.SITE_URL_SET else request.build_absolute_uri("/")).rstrip("/")
