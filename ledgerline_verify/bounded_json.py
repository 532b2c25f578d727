"""JSON from outside, parsed only when it nests no deeper than a bound.

The C parser recurses once per level of nesting. py-evm and py_ecc raise Python's recursion
limit to 12,288 and 100,000 when they are imported, so a document of 100,000 brackets (200 KB)
no longer stops at a RecursionError: it runs the C stack out and kills the process. Every
document that comes from a request, a file or an IPFS node is read through ``loads``, which
counts the nesting first and refuses a deep one before the parser sees it.
"""

import json
import re
from typing import Any

# Far more than any document of ours needs (manifests nest about 6 levels), far less than a stack.
MAX_DEPTH = 64

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class TooDeep(ValueError):
    """A JSON document that nests deeper than allowed (a ValueError, as a syntax error is)."""


def depth_problem(document: str | bytes, max_depth: int = MAX_DEPTH) -> str | None:
    """Why ``document`` nests too deep to parse, or None. Linear, and free for flat documents."""
    data = document.encode("utf-8", "surrogatepass") if isinstance(document, str) else document
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return None  # fewer openings than the bound: no way to nest past it
    depth = 0
    for bracket in _BRACKET.finditer(_STRING.sub(b'""', data)):
        if bracket.group() in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                return f"it nests deeper than {max_depth} levels of arrays and objects"
        else:
            depth = max(depth - 1, 0)
    return None


def loads(document: str | bytes, max_depth: int = MAX_DEPTH, **options: Any) -> Any:
    """``json.loads``, refusing (TooDeep) a document nested deeper than ``max_depth``."""
    problem = depth_problem(document, max_depth)
    if problem:
        raise TooDeep(f"JSON not accepted: {problem}")
    return json.loads(document, **options)
