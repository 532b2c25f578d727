"""Who is asking, by address: the one rule the rate limits and the sign-in lockout share."""

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The client's address. X-Forwarded-For is anyone's to write, so it counts only behind
    NUM_PROXIES proxies of ours, and then only the entry the nearest of them appended: the
    same rule as DRF's throttles (REST_FRAMEWORK["NUM_PROXIES"])."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if settings.NUM_PROXIES == 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in str(forwarded).split(",")]
    return hops[-min(settings.NUM_PROXIES, len(hops))]
