"""Which work a subject is: its token on the Ledgerline contract, the metadata and signed manifest
pinned for it, and the bytes minted (the token, metadata, content and manifest links).

Each check takes what the links before it found and returns its Check with what it found in turn.
"""

from dataclasses import dataclass
from typing import Any

import rfc8785

from ledgerline_verify import bounded_json
from ledgerline_verify.chain import Chain
from ledgerline_verify.content import sha256_hex
from ledgerline_verify.credentials import NoCredentials, credentials_read, failure_codes
from ledgerline_verify.ipfs import CorruptBlock, Ipfs
from ledgerline_verify.verdict import FAIL, Broken, Check, Link, Subject


@dataclass(frozen=True)
class Token:
    """The token link: the content the subject names and the token that holds it."""

    check: Check
    content: str | None  # the content hash the subject names; None where it names none
    token_id: int | None  # None where no token holds the content (or the link broke first)
    signed: dict[str, Any] | None  # the signed manifest handed in, if one was


@dataclass(frozen=True)
class Metadata:
    """The metadata link: the token's metadata as pinned."""

    check: Check
    metadata: dict[str, Any] | None  # None where it could not be read as a JSON object
    content: str | None  # the content as before, or, for a token handed in alone, the one its metadata names


@dataclass(frozen=True)
class Content:
    """The content link: the audio its credentials are read from later."""

    check: Check
    audio: bytes | None  # the file's audio, or the work's as pinned; None where neither could be had
    audio_type: str | None


def token_check(chain: Chain, subject: Subject, *, media: str | None, file_sha256: str | None) -> Token:
    """The content hash the subject names and its token on the Ledgerline contract."""
    content: str | None = None
    token_id: int | None = None
    signed: dict[str, Any] | None = None
    link = Link("token")
    with link as details:
        if not chain.has_code():
            raise Broken(f"There is no contract at {chain.address}: this is not Ledgerline's chain.")
        details["contract"], details["chain_id"] = chain.address, chain.chain_id
        if subject.manifest is not None:
            signed = signed_manifest(subject.manifest)
            content = str(signed["manifest"].get("content_sha256", ""))
        elif subject.data is not None and media != "audio/midi":
            content = file_sha256
        elif subject.content_sha256:
            content = subject.content_sha256.lower().removeprefix("0x")
        if subject.token_id is not None:
            token_id = subject.token_id
            if chain.token_uri(subject.token_id) is None:
                raise Broken(f"Token {subject.token_id} does not exist on the Ledgerline contract {chain.address}.")
        elif content:
            token_id = chain.token_of_content(content) or None
        details["token_id"] = token_id
        details["reason"] = f"Token {token_id} on {chain.address}"
    return Token(link.check, content, token_id, signed)


def unregistered(
    chain: Chain, *, media: str | None, content: str | None, audio: bytes | None
) -> tuple[str, Check | None]:
    """Why nothing on chain holds the subject, and a failed content link where the file carries
    Ledgerline's credentials all the same: it was changed after it was signed, which is a broken
    link, not an unknown file."""
    if media == "audio/midi":
        return (
            "A MIDI file is not minted on its own: name the token of the work it belongs to to check it "
            "against that work's signed manifest."
        ), None
    described = "this content" if not content else f"the content {content}"
    reason = f"No token on the Ledgerline contract {chain.address} holds {described}."
    if audio is None or media is None:
        return reason, None
    try:
        credentials = credentials_read(audio, media)
    except NoCredentials:
        return reason, None
    generator = (credentials["manifest"] or {}).get("claim_generator_info") or [{}]
    if generator[0].get("name") != "Ledgerline":
        return reason, None
    return reason, Check(
        "content",
        FAIL,
        "The file carries Ledgerline's content credentials (C2PA state "
        f"{credentials['state']}: {', '.join(failure_codes(credentials)) or 'no failure'}) but its bytes are "
        "not those of any minted work: it was changed after it was signed.",
        {"sha256": content},
    )


def metadata_check(chain: Chain, ipfs: Ipfs, *, token_id: int, content: str | None) -> Metadata:
    """The token's metadata names the content and a manifest, and the contract holds the content."""
    metadata: dict[str, Any] | None = None
    link = Link("metadata")
    with link as details:
        uri = chain.token_uri(token_id)
        details["token_uri"] = uri
        if not uri:
            raise Broken(f"Token {token_id} has no metadata address.")
        try:
            read = bounded_json.loads(ipfs.uri(uri))
        except CorruptBlock:
            raise
        except (ValueError, FileNotFoundError) as exc:
            raise Broken(f"The metadata at {uri} cannot be read as JSON: {exc}") from None
        if not isinstance(read, dict):
            raise Broken(f"The metadata at {uri} is not a JSON object.")
        if content is None:  # a token id handed in: its content is what the chain confirms
            content = str(read.get("content_sha256", ""))
        if read.get("content_sha256") != content:
            raise Broken(f"Token {token_id}'s metadata names the content {read.get('content_sha256')}, not {content}.")
        if not chain.is_content_of(token_id, content):
            raise Broken(f"The contract does not hold {content} as the content of token {token_id}.")
        manifest_uri = str(read.get("manifest", ""))
        if not (manifest_uri.startswith("ipfs://") and manifest_uri.endswith("/manifest.json")):
            raise Broken(f"Token {token_id}'s metadata names no manifest (ipfs://<folder>/manifest.json).")
        metadata = read  # only metadata that names the content and a manifest goes on to the next links
        details["manifest"] = manifest_uri
        details["reason"] = f"{uri} names this content and the manifest {manifest_uri}"
    return Metadata(link.check, metadata, content)


def content_check(
    ipfs: Ipfs, *, metadata: dict[str, Any], content: str, token_id: int, audio: bytes | None, audio_type: str | None
) -> Content:
    """The bytes handed in (or the audio pinned with the work) are the content minted."""
    folder = str(metadata["manifest"]).removeprefix("ipfs://").removesuffix("/manifest.json")
    link = Link("content")
    with link as details:
        details["sha256"] = content
        if audio is None:  # a token, a hash, a manifest or a score: the audio pinned with the work
            audio, audio_type = ipfs.cat(folder, "work.wav"), "audio/wav"
            if sha256_hex(audio) != content:
                raise Broken(f"The audio pinned at ipfs://{folder}/work.wav is not the content {content}.")
            details["reason"] = f"the audio at ipfs://{folder}/work.wav hashes to the minted content"
        else:
            details["reason"] = f"the file's SHA-256 is the content minted as token {token_id}"
    return Content(link.check, audio, audio_type)


def manifest_check(
    ipfs: Ipfs,
    *,
    metadata: dict[str, Any],
    handed_in: dict[str, Any] | None,
    content: str,
    token_id: int,
    media: str | None,
    file_sha256: str | None,
) -> tuple[Check, dict[str, Any] | None]:
    """The signed manifest pinned for the token is for this content (and is the one handed in,
    if one was); it, or the one handed in where the pinned one was not reached."""
    signed = handed_in
    uri = str(metadata["manifest"])
    link = Link("manifest")
    with link as details:
        details["uri"] = uri
        pinned_bytes = ipfs.uri(uri)
        try:
            pinned = signed_manifest(pinned_bytes)
        except Broken as exc:
            raise Broken(f"The manifest pinned at {uri}: {exc}") from None
        if signed is not None and rfc8785.dumps(signed) != pinned_bytes:
            manifest = signed["manifest"]
            differs = sorted(
                k for k in set(manifest) | set(pinned["manifest"]) if manifest.get(k) != pinned["manifest"].get(k)
            )
            raise Broken(
                f"The manifest handed in is not the one pinned for token {token_id} at {uri}"
                + (f": it differs in {', '.join(differs)}." if differs else ": its signature differs.")
            )
        signed = pinned
        manifest = signed["manifest"]
        if manifest.get("content_sha256") != content:
            raise Broken(f"The manifest is for the content {manifest.get('content_sha256')}, not {content}.")
        if media == "audio/midi":
            outputs = {o.get("sha256") for o in manifest.get("outputs", []) if o.get("kind") == "midi"}
            if file_sha256 not in outputs:
                raise Broken(
                    f"The MIDI file (SHA-256 {file_sha256}) is not the score the manifest of token {token_id} lists."
                )
        details["reason"] = f"pinned at {uri}, for this content"
    return link.check, signed


def signed_manifest(data: bytes) -> dict[str, Any]:
    """``data`` as a signed manifest ({manifest, signature}), or Broken with why it is not one."""
    try:
        signed = bounded_json.loads(data)
    except ValueError as exc:
        raise Broken(f"it is not JSON ({exc}).") from None
    if not (
        isinstance(signed, dict)
        and isinstance(signed.get("manifest"), dict)
        and isinstance(signed.get("signature"), dict)
    ):
        raise Broken("it is not a signed manifest ({manifest, signature}).")
    return signed
