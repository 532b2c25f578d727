"""A verdict and what it is made of: each link's Check, and the rule that turns the checks into a verdict.

A link is checked inside `Link`: it passes unless its check raises Broken (fail) or Unchecked
(unknown: could not be checked now, like a node that does not answer or a block nobody has).
"""

import datetime
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Any

from ledgerline_verify.chain import ChainUnreachable
from ledgerline_verify.ipfs import BlockMissing, CorruptBlock, IpfsUnreachable

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
VERIFIED, FAILED, NOT_REGISTERED = "verified", "failed", "unknown"
# The links in chain-of-custody order: a verdict names the first one that is broken.
LINKS = (
    "content",
    "token",
    "metadata",
    "manifest",
    "signature",
    "model",
    "datasets",
    "consent",
    "licence",
    "credentials",
    "originality",
    "regeneration",
    "database",
)


class Broken(Exception):
    """A link that fails: its reason."""


class Unchecked(Exception):
    """A link that cannot be checked now: why."""


@dataclass(frozen=True)
class Check:
    link: str
    status: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Subject:
    """What an auditor hands in: a file, a token id, a content hash, or a signed manifest.
    Not frozen: the platform names the token of a score it knows before verifying it."""

    data: bytes | None = None
    token_id: int | None = None
    content_sha256: str | None = None
    manifest: bytes | None = None
    name: str = ""
    proof: dict[str, Any] | None = None  # a dataset version's inclusion proof of the file (training data)


@dataclass
class Verdict:
    """Not frozen: the platform adds how a copy was matched to a registered work, and says so in the summary."""

    verdict: str
    summary: str
    checks: list[Check]
    subject: dict[str, Any]
    manifest: dict[str, Any] | None = None  # the signed manifest as pinned
    match: dict[str, Any] | None = None  # how the subject was matched to a registered work

    @property
    def first_failure(self) -> Check | None:
        return next((c for c in self.checks if c.status == FAIL), None)

    def check(self, link: str) -> Check | None:
        return next((c for c in self.checks if c.link == link), None)

    def to_json(self) -> dict[str, Any]:
        failure = self.first_failure
        return {
            "verdict": self.verdict,
            "summary": self.summary,
            "broken_link": failure.link if failure else None,
            "subject": self.subject,
            "match": self.match,
            "checks": [asdict(c) for c in self.checks],
            "manifest": self.manifest,
        }


def decide(checks: list[Check], *, registered: bool, unregistered: str, token: str) -> tuple[str, str]:
    """The verdict and its summary: failed at the first broken link, unknown where the subject is
    not registered or a link could not be checked, else verified."""
    failure = next((c for c in checks if c.status == FAIL), None)
    if failure is not None:
        return FAILED, f"Broken at the {failure.link} link: {failure.reason}"
    if not registered:
        return NOT_REGISTERED, unregistered
    unchecked = next((c for c in checks if c.status == UNKNOWN), None)
    if unchecked is not None:
        return NOT_REGISTERED, f"Not every link could be checked: {unchecked.link}: {unchecked.reason}"
    return VERIFIED, f"Every link checks out: {token}."


class Link:
    """One link's check: `with link as details:` runs it, then `link.check` is its outcome. It
    passes (with `details["reason"]` as its reason) unless the block raises Broken (fail) or
    Unchecked, an unreachable node or a missing block (unknown). A corrupt block, a file not on
    IPFS where it should be, or a record of another shape is a failure; anything else propagates."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.details: dict[str, Any] = {}
        self._check: Check | None = None

    def __enter__(self) -> dict[str, Any]:
        return self.details

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> bool:
        if exc is None:
            reason = self.details.pop("reason", "")
            self._check = Check(self.name, PASS, reason, self.details)
            return False
        outcome = _outcome(exc)
        if outcome is None:
            return False
        status, reason = outcome
        self._check = Check(self.name, status, reason, self.details)
        return True

    @property
    def check(self) -> Check:
        assert self._check is not None, "a link's check is read after its with block"
        return self._check


def _outcome(exc: BaseException) -> tuple[str, str] | None:
    """The status and reason of a link whose check raised ``exc``; None to let it propagate."""
    if isinstance(exc, Broken):
        return FAIL, str(exc)
    if isinstance(exc, CorruptBlock):
        return FAIL, f"IPFS returned corrupt data: {exc}"
    if isinstance(exc, (Unchecked, ChainUnreachable, IpfsUnreachable, BlockMissing)):
        return UNKNOWN, str(exc)
    if isinstance(exc, FileNotFoundError):
        return FAIL, f"Not on IPFS where it should be: {exc}"
    if isinstance(exc, (KeyError, TypeError, ValueError)):  # a manifest or metadata of another shape
        return FAIL, f"Malformed record: {type(exc).__name__}: {exc}"
    return None


def iso(timestamp: int) -> str:
    """A chain timestamp as a verdict writes it."""
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).isoformat()
