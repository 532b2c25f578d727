"""The one canonical-JSON function: RFC 8785 (JSON Canonicalization Scheme).

Everything Ledgerline hashes or signs as JSON goes through `canonical_json`, so two
parties that hold the same data always get the same bytes.
"""

import json
from typing import Any

import rfc8785

from ledgerline.errors import LedgerlineError


class NotCanonicalisable(ValueError):
    pass


def json_problem(value: Any) -> str | None:
    """Why ``value`` cannot be stored and signed as JSON everywhere, or None if it can.

    Beyond RFC 8785's own limits, NUL characters are refused: PostgreSQL's jsonb rejects them.
    """
    try:
        canonical_json(value)
    except NotCanonicalisable as exc:
        return f"not plain JSON ({exc})"
    if "\\u0000" in json.dumps(value):
        return "contains a NUL character"
    return None


def json_field_check(name: str, value: object) -> None:
    """Refuse, as a 400 naming the field, a JSON value that cannot be stored and signed."""
    problem = json_problem(value)
    if problem:
        raise LedgerlineError(f"{name}: {problem}.", fields={name: [problem]})


def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes of ``value``. NaN, infinities and integers beyond 2**53 are refused."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError) as exc:
        raise NotCanonicalisable(str(exc)) from exc
