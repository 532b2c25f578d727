"""Errors a user can cause. Services raise these; the API turns them into a 4xx."""


class LedgerlineError(Exception):
    """A request that cannot be done as asked, with a message a person understands."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class Conflict(LedgerlineError):
    status = 409
    code = "conflict"


class Missing(LedgerlineError):
    """Something the request names that the asker's organisations do not have."""

    status = 404
    code = "not_found"


class TooLarge(LedgerlineError):
    """A body or a file past a limit the site keeps."""

    status = 413
    code = "too_large"


class InvalidFile(LedgerlineError):
    code = "invalid_file"


def json_field_check(name: str, value: object) -> None:
    """Refuse, as a 400 naming the field, a JSON value that cannot be stored and signed."""
    from ledgerline.provenance.canonical import json_problem

    problem = json_problem(value)
    if problem:
        raise LedgerlineError(f"{name}: {problem}.", fields={name: [problem]})
