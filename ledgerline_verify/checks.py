"""The verdict on a track: every link of its chain of custody checked from the chain and IPFS.

    file bytes -> content hash -> token on the Ledgerline contract -> token metadata -> signed
    manifest -> the organisation's key anchored on chain -> model weights, their model-signing
    signature and their anchor -> the dataset roots' anchors -> consent and licences -> the
    C2PA credentials in the file -> the originality report

Each link is a Check: pass, fail or unknown (could not be checked: a node that does not answer,
a block nobody has), with the reason. The verdict is `failed` at the first broken link,
`unknown` when the subject is not registered or a link could not be checked, else `verified`.
Nothing here reads Ledgerline's database: the contract address is the only thing trusted.
"""

import base64
import datetime
import hashlib
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ledgerline_verify import bounded_json
from ledgerline_verify.chain import Chain, ChainUnreachable, KeyRecord
from ledgerline_verify.credentials import NoCredentials, credentials_read, public_key_der, signing_certificates
from ledgerline_verify.ipfs import BlockMissing, CorruptBlock, Ipfs, IpfsUnreachable
from ledgerline_verify.licences import Conditions, exceeded
from ledgerline_verify.weights import SIGNATURE, folder_verify

T = TypeVar("T")
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
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
TRAINING_USES = ("cawg.ai_generative_training", "cawg.ai_training")
MEDIA = {"audio/wav": "WAV", "audio/flac": "FLAC", "audio/mpeg": "MP3", "audio/midi": "MIDI"}


class Broken(Exception):
    """A link that fails: its reason."""


class Unchecked(Exception):
    """A link that cannot be checked now: why."""


@dataclass
class Check:
    link: str
    status: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Subject:
    """What an auditor hands in: a file, a token id, a content hash, or a signed manifest."""

    data: bytes | None = None
    token_id: int | None = None
    content_sha256: str | None = None
    manifest: bytes | None = None
    name: str = ""


@dataclass
class Verdict:
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


def sniff(data: bytes) -> str | None:
    """The media type of the audio and MIDI files Ledgerline knows, from their first bytes."""
    if data[:4] == b"MThd":
        return "audio/midi"
    if data[:4] in (b"RIFF", b"RF64") and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[:4] == b"fLaC":
        return "audio/flac"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    return None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def datasets_commitment(roots: list[str]) -> str:
    """The commitment a model is anchored with: SHA-256 of its dataset roots' sorted JCS list."""
    return sha256_hex(rfc8785.dumps(sorted(roots)))


@contextmanager
def _link(checks: list[Check], link: str) -> Iterator[dict[str, Any]]:
    """Run one link's check: passes unless it raises Broken (fail) or Unchecked / an
    unreachable node / a missing block (unknown). A corrupt block is a failure."""
    details: dict[str, Any] = {}
    try:
        yield details
    except Broken as exc:
        checks.append(Check(link, FAIL, str(exc), details))
    except CorruptBlock as exc:
        checks.append(Check(link, FAIL, f"IPFS returned corrupt data: {exc}", details))
    except (Unchecked, ChainUnreachable, IpfsUnreachable, BlockMissing) as exc:
        checks.append(Check(link, UNKNOWN, str(exc), details))
    except FileNotFoundError as exc:
        checks.append(Check(link, FAIL, f"Not on IPFS where it should be: {exc}", details))
    except (KeyError, TypeError, ValueError) as exc:  # a manifest or metadata of another shape
        checks.append(Check(link, FAIL, f"Malformed record: {type(exc).__name__}: {exc}", details))
    else:
        reason = details.pop("reason", "")
        checks.append(Check(link, PASS, reason, details))


class Verifier:
    """Verifies subjects against one contract and one IPFS source. What does not change between
    works (a model folder's signature, a dataset's anchors) is checked once per Verifier."""

    def __init__(self, *, chain: Chain, ipfs: Ipfs) -> None:
        self.chain = chain
        self.ipfs = ipfs
        self._models: dict[str, tuple[str, str, dict[str, Any]]] = {}
        self._facts: dict[tuple[str, str], Any] = {}

    def fact(self, what: str, key: str, read: Callable[[str], T]) -> T:
        """A chain fact that does not change once it is set (an anchor's time, a model's datasets
        commitment), read once per Verifier. Not for what can change: withdrawals, retirements."""
        if (what, key) not in self._facts:
            value = read(key)
            if not value:
                return value  # not anchored (yet): asked again next time
            self._facts[(what, key)] = value
        result: T = self._facts[(what, key)]
        return result

    # --- the subject ---

    def verify(self, subject: Subject, *, extra: Callable[["Run"], None] | None = None) -> Verdict:
        run = Run(self, subject)
        run.execute()
        if extra is not None:
            extra(run)
        return run.verdict()


class Run:
    """One verification: the facts found so far and the checks made."""

    def __init__(self, verifier: Verifier, subject: Subject) -> None:
        self.verifier, self.chain, self.ipfs = verifier, verifier.chain, verifier.ipfs
        self.subject = subject
        self.checks: list[Check] = []
        self.media: str | None = sniff(subject.data) if subject.data is not None else None
        self.file_sha256 = sha256_hex(subject.data) if subject.data is not None else None
        self.content: str | None = None
        self.token_id: int | None = None
        self.metadata: dict[str, Any] | None = None
        self.signed: dict[str, Any] | None = None
        self.audio: bytes | None = subject.data if self.media and self.media != "audio/midi" else None
        self.audio_type = self.media
        self.key: KeyRecord | None = None
        self.model_folder: dict[str, Any] | None = None
        self.registered = True
        self.not_registered_reason = ""
        self.match: dict[str, Any] | None = None

    @property
    def manifest(self) -> dict[str, Any]:
        assert self.signed is not None
        manifest: dict[str, Any] = self.signed["manifest"]
        return manifest

    def link(self, name: str) -> Any:
        return _link(self.checks, name)

    def execute(self) -> None:
        if not self._identify():
            return
        self._metadata()
        if self.metadata is None:
            return
        self._content()
        self._manifest()
        if self.signed is None:
            return
        self._signature()
        self._model()
        self._datasets()
        self._consent()
        self._licence()
        self._credentials()
        self._originality()

    # --- content and token ---

    def _identify(self) -> bool:
        """The content hash and its token on the Ledgerline contract; False when there is none."""
        subject = self.subject
        with self.link("token") as details:
            if not self.chain.has_code():
                raise Broken(f"There is no contract at {self.chain.address}: this is not Ledgerline's chain.")
            details["contract"], details["chain_id"] = self.chain.address, self.chain.chain_id
            if subject.manifest is not None:
                self.signed = _signed_manifest(subject.manifest)
                self.content = str(self.manifest.get("content_sha256", ""))
            elif subject.data is not None and self.media != "audio/midi":
                self.content = self.file_sha256
            elif subject.content_sha256:
                self.content = subject.content_sha256.lower().removeprefix("0x")
            if subject.token_id is not None:
                self.token_id = subject.token_id
                if self.chain.token_uri(subject.token_id) is None:
                    raise Broken(f"Token {subject.token_id} does not exist on the Ledgerline contract "
                                 f"{self.chain.address}.")
            elif self.content:
                self.token_id = self.chain.token_of_content(self.content) or None
            details["token_id"] = self.token_id
            details["reason"] = f"Token {self.token_id} on {self.chain.address}"
        token = self.checks[-1]
        if token.status == PASS and self.token_id is None:
            self.checks.remove(token)
            self._not_registered()
        return token.status == PASS and self.token_id is not None

    def _not_registered(self) -> None:
        """Nothing on chain holds the subject. A file that carries Ledgerline's credentials all
        the same was changed after it was signed: that is a broken link, not an unknown file."""
        self.registered = False
        if self.media == "audio/midi":
            self.not_registered_reason = ("A MIDI file is not minted on its own: name the token of the work it "
                                          "belongs to to check it against that work's signed manifest.")
            return
        described = "this content" if not self.content else f"the content {self.content}"
        self.not_registered_reason = f"No token on the Ledgerline contract {self.chain.address} holds {described}."
        if self.audio is None or self.media is None:
            return
        try:
            credentials = credentials_read(self.audio, self.media)
        except NoCredentials:
            return
        generator = (credentials["manifest"] or {}).get("claim_generator_info") or [{}]
        if generator[0].get("name") == "Ledgerline":
            self.checks.append(Check(
                "content", FAIL,
                "The file carries Ledgerline's content credentials (C2PA state "
                f"{credentials['state']}: {', '.join(_failure_codes(credentials)) or 'no failure'}) but its bytes are "
                "not those of any minted work: it was changed after it was signed.",
                {"sha256": self.content},
            ))

    # --- metadata and manifest ---

    def _metadata(self) -> None:
        assert self.token_id is not None
        with self.link("metadata") as details:
            uri = self.chain.token_uri(self.token_id)
            details["token_uri"] = uri
            if not uri:
                raise Broken(f"Token {self.token_id} has no metadata address.")
            try:
                metadata = bounded_json.loads(self.ipfs.uri(uri))
            except CorruptBlock:
                raise
            except (ValueError, FileNotFoundError) as exc:
                raise Broken(f"The metadata at {uri} cannot be read as JSON: {exc}") from None
            if not isinstance(metadata, dict):
                raise Broken(f"The metadata at {uri} is not a JSON object.")
            self.metadata = metadata
            if self.content is None:  # a token id handed in: its content is what the chain confirms
                self.content = str(metadata.get("content_sha256", ""))
            if metadata.get("content_sha256") != self.content:
                raise Broken(f"Token {self.token_id}'s metadata names the content {metadata.get('content_sha256')}, "
                             f"not {self.content}.")
            if not self.chain.is_content_of(self.token_id, self.content):
                raise Broken(f"The contract does not hold {self.content} as the content of token {self.token_id}.")
            manifest_uri = str(metadata.get("manifest", ""))
            if not (manifest_uri.startswith("ipfs://") and manifest_uri.endswith("/manifest.json")):
                raise Broken(f"Token {self.token_id}'s metadata names no manifest (ipfs://<folder>/manifest.json).")
            details["manifest"] = manifest_uri
            details["reason"] = f"{uri} names this content and the manifest {manifest_uri}"

    def _content(self) -> None:
        """The bytes handed in (or the audio pinned with the work) are the content minted."""
        assert self.metadata is not None and self.content is not None
        folder = str(self.metadata["manifest"]).removeprefix("ipfs://").removesuffix("/manifest.json")
        with self.link("content") as details:
            details["sha256"] = self.content
            if self.audio is None:  # a token, a hash, a manifest or a score: the audio pinned with the work
                self.audio, self.audio_type = self.ipfs.cat(folder, "work.wav"), "audio/wav"
                if sha256_hex(self.audio) != self.content:
                    raise Broken(f"The audio pinned at ipfs://{folder}/work.wav is not the content {self.content}.")
                details["reason"] = f"the audio at ipfs://{folder}/work.wav hashes to the minted content"
            else:
                details["reason"] = f"the file's SHA-256 is the content minted as token {self.token_id}"

    def _manifest(self) -> None:
        assert self.metadata is not None
        uri = str(self.metadata["manifest"])
        with self.link("manifest") as details:
            details["uri"] = uri
            pinned_bytes = self.ipfs.uri(uri)
            try:
                pinned = _signed_manifest(pinned_bytes)
            except Broken as exc:
                raise Broken(f"The manifest pinned at {uri}: {exc}") from None
            if self.signed is not None and rfc8785.dumps(self.signed) != pinned_bytes:
                differs = sorted(k for k in set(self.manifest) | set(pinned["manifest"])
                                 if self.manifest.get(k) != pinned["manifest"].get(k))
                raise Broken(f"The manifest handed in is not the one pinned for token {self.token_id} at {uri}"
                             + (f": it differs in {', '.join(differs)}." if differs else ": its signature differs."))
            self.signed = pinned
            if self.manifest.get("content_sha256") != self.content:
                raise Broken(f"The manifest is for the content {self.manifest.get('content_sha256')}, "
                             f"not {self.content}.")
            if self.media == "audio/midi":
                midi = self.file_sha256
                outputs = {o.get("sha256") for o in self.manifest.get("outputs", []) if o.get("kind") == "midi"}
                if midi not in outputs:
                    raise Broken(f"The MIDI file (SHA-256 {midi}) is not the score the manifest of token "
                                 f"{self.token_id} lists.")
            details["reason"] = f"pinned at {uri}, for this content"

    # --- signature and key ---

    def _signature(self) -> None:
        assert self.signed is not None
        with self.link("signature") as details:
            signature = self.signed["signature"]
            key_id = str(signature.get("key_id", ""))
            details["key_id"] = key_id
            self.key = self.chain.signing_key(key_id)
            if self.key is None:
                raise Broken(f"The manifest is signed with the key {key_id}, which is not anchored on the Ledgerline "
                             "contract: it was not signed by a key Ledgerline published.")
            if "sha256:" + sha256_hex(self.key.public_key_der) != key_id:
                raise Broken(f"The key anchored as {key_id} does not hash to its id.")
            details.update(_key_details(self.key))
            if not _signature_valid(self.key.public_key_der, rfc8785.dumps(self.manifest), signature.get("value")):
                raise Broken(f"The signature does not match the manifest's bytes under the key {key_id}: the manifest "
                             "or its signature was changed after signing.")
            organisation = str((self.manifest.get("organisation") or {}).get("id", ""))
            if organisation != self.key.organisation:
                raise Broken(f"The key {key_id} was anchored for the organisation {self.key.organisation}, but the "
                             f"manifest names {organisation or 'none'}.")
            signed_at = _timestamp(self.manifest.get("signed_at"))
            if self.key.retired_at and signed_at and signed_at > self.key.retired_at:
                raise Broken(f"The manifest says it was signed at {_iso(signed_at)}, after the key was retired at "
                             f"{_iso(self.key.retired_at)}.")
            details["reason"] = f"signed by {key_id}, anchored for organisation {self.key.organisation}"

    # --- model, datasets, consent, licence ---

    def _model(self) -> None:
        model = self.manifest.get("model") or {}
        weights = str(model.get("weights_sha256", ""))
        with self.link("model") as details:
            details.update({"weights_sha256": weights, "cid": model.get("cid")})
            anchored = self.verifier.fact("model", weights, self.chain.model_anchored_at)
            if not anchored:
                raise Broken(f"The model weights {weights} are not anchored on the Ledgerline contract.")
            details["anchored_at"] = _iso(anchored)
            status, reason, self.model_folder = self._model_verified(model, weights)
            if status == FAIL:
                raise Broken(reason)
            bases = model.get("bases") or []
            self._bases(self.model_folder, bases)
            if bases:
                details["bases"] = [str(base.get("weights_sha256")) for base in bases]
                reason += f"; it continues {len(bases)} pretrained model(s), each anchored and signed"
            details["reason"] = reason

    def _model_verified(self, model: dict[str, Any], weights: str) -> tuple[str, str, dict[str, Any]]:
        cached = self.verifier._models.get(weights)
        if cached is None:
            cached = self._model_folder(model, weights)
            self.verifier._models[weights] = cached
        return cached

    def _bases(self, config: dict[str, Any], bases: list[dict[str, Any]]) -> None:
        """The pretrained models a model continues, nearest first: each must be the one the signed
        checkpoint before it says it continued, anchored, and its own folder must verify. A
        manifest cannot leave one out (and with it the data it was trained on)."""
        for base in [*bases, None]:
            continued = (config.get("pretrained") or {}).get("weights_sha256")
            named = str(base.get("weights_sha256", "")) if base is not None else None
            if continued != named:
                if named is None:
                    raise Broken(f"The signed checkpoint continues the model {continued}, which the manifest does "
                                 "not name: the data it was trained on is missing from the lineage.")
                raise Broken(f"The manifest names {named} as the pretrained model, but the signed checkpoint "
                             f"continues {continued or 'no model'}.")
            if base is None or named is None:
                return
            if not self.verifier.fact("model", named, self.chain.model_anchored_at):
                raise Broken(f"The pretrained model {named} is not anchored on the Ledgerline contract.")
            status, reason, config = self._model_verified(base, named)
            if status == FAIL:
                raise Broken(f"The pretrained model {named}: {reason}")

    def _model_folder(self, model: dict[str, Any], weights: str) -> tuple[str, str, dict[str, Any]]:
        """Fetch the signed checkpoint folder and verify it: (status, reason, its config.json)."""
        files = self.ipfs.folder(str(model.get("cid", "")))
        if sha256_hex(files.get("model.safetensors", b"")) != weights:
            return FAIL, f"The weights in ipfs://{model.get('cid')} are not {weights}.", {}
        bundle = files.get(SIGNATURE)
        if bundle is None:
            return FAIL, f"ipfs://{model.get('cid')} holds no {SIGNATURE}.", {}
        signature = model.get("signature") or {}
        try:
            pinned_signature = bounded_json.loads(bundle)
        except ValueError as exc:
            return FAIL, f"The {SIGNATURE} pinned with the model is not JSON: {exc}", {}
        if sha256_hex(rfc8785.dumps(pinned_signature)) != signature.get("sha256"):
            return FAIL, f"The {SIGNATURE} pinned with the model is not the signature the manifest names.", {}
        key = self.chain.signing_key(str(signature.get("key_id", "")))
        if key is None:
            return FAIL, f"The model is signed with the key {signature.get('key_id')}, which is not anchored.", {}
        pem = serialization.load_der_public_key(key.public_key_der).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "model"
            for name, data in files.items():
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                (root / name).write_bytes(data)
            problem = folder_verify(root, public_key_pem=pem)
        if problem:
            return FAIL, f"The model folder does not verify against its model-signing signature: {problem}", {}
        try:
            config = bounded_json.loads(files.get("config.json", b"{}"))
        except ValueError:
            config = {}
        return PASS, f"model-signing signature by {signature.get('key_id')} verifies; anchored on chain", config

    def _datasets(self) -> None:
        datasets = self.manifest.get("datasets") or []
        roots = [str(d.get("merkle_root", "")) for d in datasets]
        with self.link("datasets") as details:
            details["roots"] = roots
            unanchored = [r for r in roots if not self.verifier.fact("dataset", r, self.chain.dataset_anchored_at)]
            if unanchored:
                raise Broken(f"The dataset root {unanchored[0]} is not anchored on the Ledgerline contract.")
            weights = str((self.manifest.get("model") or {}).get("weights_sha256", ""))
            commitment = self.verifier.fact("commitment", weights, self.chain.model_commitment)
            if commitment is None:
                raise Unchecked("The model's anchoring event was not found, so its datasets cannot be compared.")
            if commitment != datasets_commitment(roots):
                raise Broken("The model was anchored with other datasets than the manifest names.")
            for base in (self.manifest.get("model") or {}).get("bases") or []:
                named = str(base.get("weights_sha256", ""))
                inherited = [str(r) for r in base.get("merkle_roots") or []]
                anchored_with = self.verifier.fact("commitment", named, self.chain.model_commitment)
                if anchored_with is None:
                    raise Unchecked(f"The pretrained model {named}'s anchoring event was not found.")
                if anchored_with != datasets_commitment(inherited):
                    raise Broken(f"The pretrained model {named} was anchored with other datasets than the manifest "
                                 "names for it.")
                missing = sorted(set(inherited) - set(roots))
                if missing:
                    raise Broken(f"The manifest leaves out the dataset root {missing[0]}, which the pretrained model "
                                 f"{named} was trained on.")
            details["reason"] = f"{len(roots)} dataset root(s) anchored: the ones the model was anchored with"

    def _consent(self) -> None:
        with self.link("consent") as details:
            details["training_mining"] = self.manifest.get("training_mining")
            trained = _trained_files(self.model_folder or {})
            weights = str(self.manifest["model"]["weights_sha256"])
            model_anchored = self.verifier.fact("model", weights, self.chain.model_anchored_at)
            for dataset in self.manifest.get("datasets") or []:
                root = str(dataset.get("merkle_root", ""))
                for file, at in self.chain.consent_withdrawals(root):
                    if trained is not None and file not in trained:
                        continue  # left out of training: nothing to answer for
                    when = "after" if at >= model_anchored else "before"
                    raise Broken(f"Consent to train on the file {file} of {dataset.get('dataset')} "
                                 f"v{dataset.get('number')} was withdrawn at {_iso(at)}, {when} the model was "
                                 f"anchored at {_iso(model_anchored)}.")
            for use in TRAINING_USES:
                entry = (self.manifest.get("training_mining") or {}).get(use)
                if entry:
                    details["reason"] = f"no withdrawal recorded on chain; {use}: {entry.get('use')} at signing"
                    break
            else:
                details["reason"] = "no withdrawal of consent recorded on chain for its datasets"

    def _licence(self) -> None:
        with self.link("licence") as details:
            licence = str(self.manifest.get("licence", ""))
            details["licence"] = licence
            try:
                work = Conditions.from_json(self.manifest["licence_conditions"])
                signed_on = datetime.date.fromisoformat(str(self.manifest["signed_at"])[:10])
            except (KeyError, TypeError, ValueError):
                raise Unchecked("The manifest does not record the work's licence conditions.") from None
            for dataset in self.manifest.get("datasets") or []:
                if "licence_conditions" not in dataset:
                    raise Unchecked("The manifest predates recorded dataset conditions; its licence cannot be "
                                    "checked again from it.")
                terms = dataset["licence_conditions"]
                found = exceeded(work, licence, str(dataset.get("licence", "")),
                                 Conditions.from_json(terms) if terms else None,
                                 Fraction(str(dataset.get("revenue_received", "0"))), signed_on)
                if found:
                    condition, reason = found[0]
                    raise Broken(f"The work's licence ({licence}) goes beyond {dataset.get('dataset')} "
                                 f"v{dataset.get('number')} ({dataset.get('licence')}) on {condition}: it {reason}.")
            details["reason"] = f"{licence} stays within every dataset's conditions on {signed_on}"

    # --- credentials and originality ---

    def _credentials(self) -> None:
        with self.link("credentials") as details:
            if self.audio is None or self.audio_type is None:
                raise Unchecked("No audio to read content credentials from.")
            try:
                credentials = credentials_read(self.audio, self.audio_type)
            except NoCredentials as exc:
                raise Broken(f"The audio has no content credentials: {exc}") from None
            details["state"] = credentials["state"]
            failures = [f for f in _failure_codes(credentials) if f != "signingCredential.untrusted"]
            if credentials["state"] not in ("Valid", "Trusted") or failures:
                raise Broken(f"The C2PA credentials do not validate: {', '.join(failures) or credentials['state']}.")
            active = credentials["manifest"] or {}
            serial = str((active.get("signature_info") or {}).get("cert_serial_number", ""))
            signer = next((c for c in signing_certificates(self.audio) if str(c.serial_number) == serial), None)
            if signer is None or self.key is None or public_key_der(signer) != self.key.public_key_der:
                raise Broken("The C2PA credentials were not signed with the organisation's anchored key.")
            actions = _assertion(active, "c2pa.actions.v2").get("actions") or [{}]
            if actions[0].get("digitalSourceType") != TRAINED_ALGORITHMIC_MEDIA:
                raise Broken("The C2PA credentials do not say the audio was made by a trained model.")
            model = self.manifest["model"]
            expected = {f"sha256:{model['weights_sha256']}",
                        *(f"sha256:{base.get('weights_sha256')}" for base in model.get("bases") or []),
                        *(f"merkle:{d['merkle_root']}" for d in self.manifest.get("datasets") or [])}
            found = {i.get("instance_id") for i in active.get("ingredients") or []}
            if found != expected:
                raise Broken("The C2PA ingredients are not the models and datasets the manifest names.")
            details["reason"] = (f"C2PA {credentials['state']} (signer not in a public trust list), signed with the "
                                 "anchored key; trainedAlgorithmicMedia from the manifest's model and datasets")

    def _originality(self) -> None:
        with self.link("originality") as details:
            report = self.manifest.get("originality") or {}
            details.update(report)
            if "longest_melody_run" not in report:
                details["reason"] = "no melody to compare (a sound work)"
                return
            run, limit = int(report["longest_melody_run"]), report.get("limit") or 16
            if run > int(limit):
                raise Broken(f"Its melody repeats {run} intervals of a training piece verbatim (the limit is {limit}).")
            details["reason"] = f"its longest run of a training melody is {run} intervals (the limit is {limit})"

    # --- the verdict ---

    def verdict(self) -> Verdict:
        checks = sorted(self.checks, key=lambda c: LINKS.index(c.link))
        subject = {"name": self.subject.name, "media_type": self.media, "content_sha256": self.content,
                   "token_id": self.token_id, "contract": self.chain.address}
        if self.file_sha256 is not None:
            subject["sha256"] = self.file_sha256
        verdict, summary = decide(checks, registered=self.registered, unregistered=self.not_registered_reason,
                                  token=f"token {self.token_id} on {self.chain.address}")
        return Verdict(verdict, summary, checks, subject, self.signed, self.match)


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


# --- helpers ---


def _signed_manifest(data: bytes) -> dict[str, Any]:
    try:
        signed = bounded_json.loads(data)
    except ValueError as exc:
        raise Broken(f"it is not JSON ({exc}).") from None
    if not (isinstance(signed, dict) and isinstance(signed.get("manifest"), dict)
            and isinstance(signed.get("signature"), dict)):
        raise Broken("it is not a signed manifest ({manifest, signature}).")
    return signed


def _signature_valid(public_key_der_bytes: bytes, payload: bytes, value: Any) -> bool:
    try:
        key = serialization.load_der_public_key(public_key_der_bytes)
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return False
        key.verify(base64.b64decode(str(value), validate=True), payload, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def _key_details(key: KeyRecord) -> dict[str, Any]:
    return {"organisation": key.organisation, "anchored_at": _iso(key.anchored_at),
            "retired_at": _iso(key.retired_at) if key.retired_at else None}


def _trained_files(config: dict[str, Any]) -> set[str] | None:
    """The SHA-256 of each file a symbolic checkpoint says it trained on; None if it does not say."""
    pieces = (config.get("data") or {}).get("pieces")
    if not isinstance(pieces, list):
        return None
    return {str(p.get("sha256")) for p in pieces if isinstance(p, dict)}


def _assertion(manifest: dict[str, Any], label: str) -> dict[str, Any]:
    for assertion in manifest.get("assertions") or []:
        if assertion.get("label") == label:
            return dict(assertion.get("data") or {})
    return {}


def _failure_codes(credentials: dict[str, Any]) -> list[str]:
    return [str(f.get("code")) for f in credentials.get("failures") or []]


def _timestamp(value: Any) -> int | None:
    try:
        return int(datetime.datetime.fromisoformat(str(value)).timestamp())
    except ValueError:
        return None


def _iso(timestamp: int) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).isoformat()
