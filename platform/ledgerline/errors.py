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


class Gone(LedgerlineError):
    """Something that was there and is no more (an upload left to expire)."""

    status = 410
    code = "gone"


class Locked(LedgerlineError):
    """Another request is writing to the same thing right now."""

    status = 423
    code = "locked"


class ChecksumMismatch(LedgerlineError):
    """Bytes whose checksum is not the one sent with them (tus's 460)."""

    status = 460
    code = "checksum_mismatch"


class Unavailable(LedgerlineError):
    """An outside system (the chain node, the IPFS node) that does not answer: a 503, and a task
    retries it (queue.RETRYING)."""

    status = 503
    code = "unavailable"


class Busy(Unavailable):
    """Another worker holds the lease on what was asked (ledgerline.leases): a task retries in
    ``retry_after`` seconds, by when a dead holder's lease has expired (queue.busy_retry)."""

    code = "busy"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
