"""The verdict on a track: every link of its chain of custody checked from the chain and IPFS.

    file bytes -> content hash -> token on the Ledgerline contract -> token metadata -> signed
    manifest -> the organisation's key anchored on chain -> model weights, their model-signing
    signature and their anchor -> the dataset roots' anchors -> consent and licences -> the
    C2PA credentials in the file -> the originality report

Each link is a Check: pass, fail or unknown (could not be checked: a node that does not answer,
a block nobody has), with the reason. The verdict is `failed` at the first broken link,
`unknown` when the subject is not registered or a link could not be checked, else `verified`.
Nothing here reads Ledgerline's database: the contract address is the only thing trusted.

The links are checked in the modules named for them (registration, signatures, model, datasets,
originality); this one runs them in order, handing each what the links before it found.
"""

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import soundfile

from ledgerline_verify import watermark
from ledgerline_verify.chain import Anchors, Chain, ChainUnreachable, KeyRecord
from ledgerline_verify.content import sha256_hex, sniff
from ledgerline_verify.datasets import consent_check, datasets_check, datasets_commitment, licence_check
from ledgerline_verify.ipfs import Ipfs
from ledgerline_verify.model import ModelFolders, model_check
from ledgerline_verify.originality import originality_check
from ledgerline_verify.registration import content_check, manifest_check, metadata_check, token_check, unregistered
from ledgerline_verify.signatures import credentials_check, signature_check
from ledgerline_verify.training_data import training_data, training_summary
from ledgerline_verify.verdict import (
    FAIL,
    FAILED,
    LINKS,
    NOT_REGISTERED,
    PASS,
    UNKNOWN,
    VERIFIED,
    Broken,
    Check,
    Link,
    Subject,
    Unchecked,
    Verdict,
    decide,
)

# Imported from here by the platform, the tests and the benchmarks.
__all__ = [
    "FAIL",
    "FAILED",
    "LINKS",
    "NOT_REGISTERED",
    "PASS",
    "UNKNOWN",
    "VERIFIED",
    "Broken",
    "Check",
    "Run",
    "Subject",
    "Unchecked",
    "Verdict",
    "Verifier",
    "datasets_commitment",
    "decide",
    "sha256_hex",
    "sniff",
]


@dataclass(frozen=True)
class Run:
    """What one verification found: the verdict is made from it, and a caller's further link
    (`Verifier.verify(extra=...)`: the platform's database link) reads it and adds its check. A
    field is None where the links before it broke, or the subject did not lead that far."""

    chain: Chain  # the contract checked against: a token is named by its address
    checks: list[Check]  # the checks made; a further link appends its own with `link`
    content: str | None  # the content hash the subject names, or (a token alone) its metadata names
    token_id: int | None  # the token the subject names, or that holds its content
    metadata: dict[str, Any] | None = None  # the token's metadata as pinned
    signed: dict[str, Any] | None = None  # the signed manifest as pinned, else as handed in
    key: KeyRecord | None = None  # the key the manifest's signature names, as anchored
    unregistered: str | None = None  # why nothing on chain holds the subject; None where a token does

    @contextmanager
    def link(self, name: str) -> Iterator[dict[str, Any]]:
        """Check one more link (see `Link`), its check added to this run's."""
        link = Link(name)
        with link as details:
            yield details
        self.checks.append(link.check)


class Verifier:
    """Verifies subjects against one contract and one IPFS source. What does not change between
    works (a model folder's signature, a dataset's anchors) is checked once per Verifier."""

    def __init__(self, *, chain: Chain, ipfs: Ipfs) -> None:
        self.chain = chain
        self.ipfs = ipfs
        self.anchors = Anchors(chain)
        self.models = ModelFolders(chain, ipfs)

    def verify(self, subject: Subject, *, extra: Callable[[Run], None] | None = None) -> Verdict:
        media = sniff(subject.data) if subject.data is not None else None
        file_sha256 = sha256_hex(subject.data) if subject.data is not None else None
        run = self._run(subject, media=media, file_sha256=file_sha256)
        if extra is not None:
            extra(run)
        verdict = _verdict(run, subject, media=media, file_sha256=file_sha256)
        if run.unregistered is not None and subject.data is not None and subject.proof is not None:
            self._training_data(subject.data, subject.proof, verdict)
        elif run.unregistered is not None and subject.data is not None and media not in (None, "audio/midi"):
            self._watermark_match(subject.data, verdict, extra)
        return verdict

    def _training_data(self, data: bytes, proof: dict[str, Any], verdict: Verdict) -> None:
        """A file handed in with an inclusion proof claims to be registered training data: the
        verdict is on that claim. Verified when the proof checks and the chain anchors its root;
        failed when the proof does not check; unknown when only the proof file vouches for the root."""
        found = training_data(data, proof, chain=self.chain)
        verdict.match = found
        verdict.summary = training_summary(found)
        if not found["proof_verified"]:
            verdict.verdict = FAILED
        elif found.get("anchored_at"):
            verdict.verdict = VERIFIED

    def _watermark_match(self, data: bytes, verdict: Verdict, extra: Callable[[Run], None] | None) -> None:
        """Audio whose bytes no token holds, but whose sound carries a watermark the contract
        announced: recorded as a match of kind "watermark", with that token's own verdict beside
        it. The file's own verdict stays what it is: its bytes were not minted."""
        try:
            samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
            marks = self.chain.watermarks()
        except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError, ChainUnreachable):
            return  # audio that cannot be decoded, or a chain that does not answer: no match to report
        found = watermark.detect(samples, rate, marks=list(marks))
        if found is None:
            return
        tokens = [marks[found.payload]] if found.payload in marks else self.chain.tokens_of_watermark(found.payload)
        link = {
            **asdict(found),
            "payload": found.payload.hex(),
            "code_bits": watermark.CODED_BITS,
            "confidence": 1.0 - found.false_alarm,
        }
        if not tokens:
            verdict.match = {"kind": "watermark", "token_id": None, **link}
            verdict.summary += f" Its sound carries a Ledgerline watermark ({found.payload.hex()}) that no token names."
            return
        original = self.verify(Subject(token_id=tokens[0]), extra=extra)
        verdict.match = {
            "kind": "watermark",
            "token_id": tokens[0],
            **link,
            "registered": {"verdict": original.verdict, "summary": original.summary},
        }
        note = (
            f"Not the registered bytes, but a copy of token {tokens[0]}: its sound carries that token's watermark "
            f"({found.bits_recovered} of {watermark.CODED_BITS} code bits read, {found.errors_corrected} of them "
            f"corrected; a false match has a chance below {max(found.false_alarm, 1e-300):.0e}). "
            f"The registered work: {original.verdict}."
        )
        verdict.summary = f"{verdict.summary} {note}" if verdict.verdict == FAILED else note

    def _run(self, subject: Subject, *, media: str | None, file_sha256: str | None) -> Run:
        """Each link in order, until one leaves the next nothing to check."""
        chain, ipfs = self.chain, self.ipfs
        audio = subject.data if media and media != "audio/midi" else None
        token = token_check(chain, subject, media=media, file_sha256=file_sha256)
        if token.check.status == PASS and token.token_id is None:
            reason, tampered = unregistered(chain, media=media, content=token.content, audio=audio)
            return Run(
                chain, [tampered] if tampered else [], token.content, None, signed=token.signed, unregistered=reason
            )
        if token.check.status != PASS or token.token_id is None:
            return Run(chain, [token.check], token.content, token.token_id, signed=token.signed)
        token_id, checks = token.token_id, [token.check]

        found = metadata_check(chain, ipfs, token_id=token_id, content=token.content)
        checks.append(found.check)
        if found.metadata is None:
            return Run(chain, checks, found.content, token_id, signed=token.signed)
        metadata, content_sha256 = found.metadata, found.content
        assert content_sha256 is not None  # the metadata, once read, names it
        content = content_check(
            ipfs, metadata=metadata, content=content_sha256, token_id=token_id, audio=audio, audio_type=media
        )
        check, signed = manifest_check(
            ipfs,
            metadata=metadata,
            handed_in=token.signed,
            content=content_sha256,
            token_id=token_id,
            media=media,
            file_sha256=file_sha256,
        )
        checks += [content.check, check]
        if signed is None:
            return Run(chain, checks, content_sha256, token_id, metadata)

        manifest = signed["manifest"]
        check, key = signature_check(chain, signed)
        checks.append(check)
        check, model_config = model_check(manifest, anchors=self.anchors, folders=self.models)
        checks += [
            check,
            datasets_check(manifest, anchors=self.anchors),
            consent_check(manifest, chain=chain, anchors=self.anchors, model_config=model_config),
            licence_check(manifest),
            credentials_check(
                manifest, audio=content.audio, audio_type=content.audio_type, key=key, chain=chain, token_id=token_id
            ),
            originality_check(manifest),
        ]
        return Run(chain, checks, content_sha256, token_id, metadata, signed, key)


def _verdict(run: Run, subject: Subject, *, media: str | None, file_sha256: str | None) -> Verdict:
    checks = sorted(run.checks, key=lambda c: LINKS.index(c.link))
    described = {
        "name": subject.name,
        "media_type": media,
        "content_sha256": run.content,
        "token_id": run.token_id,
        "contract": run.chain.address,
    }
    if file_sha256 is not None:
        described["sha256"] = file_sha256
    verdict, summary = decide(
        checks,
        registered=run.unregistered is None,
        unregistered=run.unregistered or "",
        token=f"token {run.token_id} on {run.chain.address}",
    )
    return Verdict(verdict, summary, checks, described, run.signed)
