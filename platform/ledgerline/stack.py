"""A recursion limit the process's stacks can hold.

py-evm raises Python's recursion limit to 12,288 on import and py_ecc to 100,000. A limit that
high lets a deep enough recursion in C (the JSON parser, repr, a pickle) run the C stack out
before Python stops it, and the process dies with a segmentation fault instead of raising
RecursionError. Every document the site parses is bounded already (ledgerline_verify.bounded_json);
this is the second wall: web and worker processes run with a limit sized to their stack, put
back after any import or request that raised it.
"""

import resource
import sys
import threading
from collections.abc import Callable
from importlib import import_module

from django.conf import settings
from django.http import HttpRequest, HttpResponse

# Threads the servers start (runserver's, gunicorn's gthread pool, Celery's) get this much stack.
THREAD_STACK_BYTES = 16 * 2**20
# What one level of recursion may cost on the C stack, with room to spare: a Python call made
# from C (map, repr, a sort key) measured about 500 bytes here.
BYTES_PER_LEVEL = 2048


def safe_recursion_limit() -> int:
    """The deepest recursion the smaller of the main thread's and the other threads' stacks holds."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_STACK)
    main = THREAD_STACK_BYTES if soft == resource.RLIM_INFINITY else soft
    return max(1000, min(main, THREAD_STACK_BYTES) // BYTES_PER_LEVEL)


def recursion_clamp() -> None:
    """Bring the limit back within the stack, whoever raised it."""
    limit = safe_recursion_limit()
    if sys.getrecursionlimit() > limit:
        sys.setrecursionlimit(limit)


def process_harden() -> None:
    """For a web or worker process once it has loaded: stacks for new threads, and the limit."""
    threading.stack_size(THREAD_STACK_BYTES)
    recursion_clamp()


class RecursionLimitMiddleware:
    """Loads the URLconf (and with it every view's imports, py-evm's among them) when the site
    starts, then keeps the limit within the stack before and after every request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        import_module(settings.ROOT_URLCONF)
        process_harden()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        recursion_clamp()
        try:
            return self.get_response(request)
        finally:
            recursion_clamp()
