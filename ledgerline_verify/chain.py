"""What the Ledgerline contract says, read through any JSON-RPC node (or a Web3 the caller has).

Only views and event logs: the verifier never sends a transaction, and trusts nothing but the
contract at the address it is given.
"""

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import requests
from web3 import HTTPProvider, Web3
from web3.exceptions import BadFunctionCallOutput, ContractLogicError

ABI = json.loads((Path(__file__).parent / "abi.json").read_text())
T = TypeVar("T")


class ChainUnreachable(Exception):
    """The node does not answer: nothing can be said of what the chain holds."""


@dataclass(frozen=True)
class KeyRecord:
    """A signing key as anchored: its organisation, when it was anchored and retired (0: in use)."""

    organisation: str
    anchored_at: int
    retired_at: int
    public_key_der: bytes


def _bytes32(hex_digest: str) -> bytes:
    return bytes.fromhex(hex_digest.removeprefix("sha256:").removeprefix("0x"))


class Chain:
    def __init__(self, w3: Web3, address: str) -> None:
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        self.contract = w3.eth.contract(address=self.address, abi=ABI)

    @classmethod
    def connect(cls, rpc_url: str, address: str) -> "Chain":
        return cls(Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 30})), address)

    def _read(self, call: Callable[[], T], what: str) -> T:
        try:
            return call()
        except (requests.RequestException, ConnectionError, TimeoutError) as exc:
            raise ChainUnreachable(f"the chain node does not answer ({what}): {exc}") from None

    @property
    def chain_id(self) -> int:
        return int(self._read(lambda: self.w3.eth.chain_id, "chain id"))

    def has_code(self) -> bool:
        return bool(self._read(lambda: self.w3.eth.get_code(self.address), "contract code"))

    def token_of_content(self, content_sha256: str) -> int:
        call = self.contract.functions.tokenOfContent(_bytes32(content_sha256)).call
        return int(self._read(call, "token lookup"))

    def is_content_of(self, token_id: int, content_sha256: str) -> bool:
        return bool(
            self._read(self.contract.functions.isContentOf(token_id, _bytes32(content_sha256)).call, "content check")
        )

    def token_uri(self, token_id: int) -> str | None:
        """The token's metadata address, or None if the contract has no such token."""
        if not 0 < token_id <= int(self._read(self.contract.functions.totalMinted().call, "token count")):
            return None  # asked first: each node reports a reverted call in its own way
        return str(self._read(self.contract.functions.tokenURI(token_id).call, "token URI"))

    def model_anchored_at(self, weights_sha256: str) -> int:
        return int(self._read(self.contract.functions.modelAnchoredAt(_bytes32(weights_sha256)).call, "model anchor"))

    def model_commitment(self, weights_sha256: str) -> str | None:
        """The datasets commitment the model was anchored with (its ModelAnchored event)."""
        event = self.contract.events.ModelAnchored()
        logs: list[Any] = self._read(
            lambda: event.get_logs(argument_filters={"weightsHash": _bytes32(weights_sha256)}, from_block=0),
            "model anchor event",
        )
        return logs[0].args.datasetsCommitment.hex() if logs else None

    def watermarks(self) -> dict[bytes, int]:
        """Every audio watermark (8 bytes) the contract announced, with its token: the first one,
        should two tokens ever share a mark. Watermarked is anonymous (its one topic is the mark),
        so it is told from the contract's other events by its shape: one topic, one word of data."""
        logs = self._read(lambda: self.w3.eth.get_logs({"address": self.address, "fromBlock": 0}), "watermarks")
        marks: dict[bytes, int] = {}
        for log in logs:
            topics = log["topics"]
            if len(topics) == 1 and len(log["data"]) == 32 and bytes(topics[0])[8:] == bytes(24):
                marks.setdefault(bytes(topics[0])[:8], int.from_bytes(log["data"], "big"))
        return marks

    def tokens_of_watermark(self, mark: bytes) -> list[int]:
        """The tokens announced with this watermark (one, unless two marks collide)."""
        topic = "0x" + (mark + bytes(32 - len(mark))).hex()
        logs = self._read(
            lambda: self.w3.eth.get_logs({"address": self.address, "fromBlock": 0, "topics": [topic]}),
            "watermark",
        )
        return [int.from_bytes(log["data"], "big") for log in logs if len(log["data"]) == 32]

    def dataset_anchored_at(self, merkle_root: str) -> int:
        return int(self._read(self.contract.functions.datasetAnchoredAt(_bytes32(merkle_root)).call, "dataset anchor"))

    def signing_key(self, key_id: str) -> KeyRecord | None:
        """The key anchored under ``key_id`` (sha256:<hex of the DER public key>), or None."""
        organisation, anchored, retired, der = self._read(
            self.contract.functions.signingKey(_bytes32(key_id)).call, "signing key"
        )
        if anchored == 0:
            return None
        return KeyRecord(str(uuid.UUID(bytes=bytes(organisation))), int(anchored), int(retired), bytes(der))

    def trust_anchors(self) -> list[bytes]:
        """The CA certificates (DER) the contract vouches for as C2PA trust anchors (none on a
        contract from before certificates were anchored)."""
        try:
            found = self._read(self.contract.functions.trustAnchors().call, "trust anchors")
        except (ContractLogicError, BadFunctionCallOutput):
            return []
        return [bytes(der) for der in found]

    def certificate(self, certificate_der: bytes) -> tuple[str, int, int] | None:
        """(the key id it certifies, "" for a trust anchor; when it was anchored; when it was
        revoked, 0 while it is not) if the contract ever vouched for this certificate, else None."""
        try:
            key_hash, anchored, revoked = self._read(
                self.contract.functions.certificates(hashlib.sha256(certificate_der).digest()).call, "certificate"
            )
        except (ContractLogicError, BadFunctionCallOutput):
            return None  # a contract from before certificates were anchored
        if anchored == 0:
            return None
        return ("sha256:" + bytes(key_hash).hex() if any(key_hash) else "", int(anchored), int(revoked))

    def consent_withdrawals(self, merkle_root: str) -> list[tuple[str, int]]:
        """(file SHA-256, when) for every withdrawal of consent recorded against a dataset root."""
        rows = self._read(self.contract.functions.consentWithdrawals(_bytes32(merkle_root)).call, "withdrawals")
        return [(bytes(file).hex(), int(at)) for file, at in rows]


class Anchors:
    """What the contract says of anchors, which does not change once set (an anchor's time, a
    model's datasets commitment): read once per verifier, however many works name it. Not for
    what can change: withdrawals of consent, retired keys."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self._known: dict[tuple[str, str], Any] = {}

    def model_anchored_at(self, weights_sha256: str) -> int:
        return self._once("model", weights_sha256, self.chain.model_anchored_at)

    def dataset_anchored_at(self, merkle_root: str) -> int:
        return self._once("dataset", merkle_root, self.chain.dataset_anchored_at)

    def model_commitment(self, weights_sha256: str) -> str | None:
        return self._once("commitment", weights_sha256, self.chain.model_commitment)

    def _once(self, what: str, key: str, read: Callable[[str], T]) -> T:
        if (what, key) not in self._known:
            value = read(key)
            if not value:
                return value  # not anchored (yet): asked again next time
            self._known[(what, key)] = value
        result: T = self._known[(what, key)]
        return result
