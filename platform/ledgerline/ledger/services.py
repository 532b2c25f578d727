"""Chain writes: deploy the contract, mint works, anchor datasets and models, and finish
whatever a crash left pending. Every write is safe to run twice."""

import hashlib
import re
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledgerline.accounts.models import Organisation
from ledgerline.errors import LedgerlineError
from ledgerline.faults import fault_point
from ledgerline.ledger.artifacts import artifact
from ledgerline.ledger.client import Ledger, with_retries
from ledgerline.ledger.models import ChainTransaction, ContractDeployment, Token, TxStatus
from ledgerline.provenance import keys
from ledgerline.provenance.certificates import certificates_der
from ledgerline.provenance.models import SigningKey

CONTRACT = "LedgerlineWorks"


CONTENT_HASH = re.compile(r"^[0-9a-f]{64}$")
MINT_BATCH = 500  # works per transaction; the contract takes up to 1,000


def _execute(
    ledger: Ledger, *, kind: str, payload: dict[str, Any], tx: dict[str, Any], may_fail: bool = False
) -> ChainTransaction:
    """Prepare, send and settle one transaction. A failure raises, unless the caller
    (a mint that lost a race) checks the chain again itself."""
    record = ledger.prepare(kind=kind, payload=payload, tx=tx)
    ledger.broadcast(record)
    fault_point("after_broadcast")
    if record.status == TxStatus.PENDING and _settle(ledger, record) is None:
        raise LedgerlineError(f"The {kind} transaction {record.tx_hash} is not confirmed yet; it will be resumed.")
    if record.status == TxStatus.FAILED and not may_fail:
        raise LedgerlineError(f"The {kind} transaction {record.tx_hash} failed: {record.error}")
    return record


def _settle(ledger: Ledger, record: ChainTransaction) -> TxReceipt | None:
    """Wait for the outcome, then record it together with its effects, in one transaction."""
    receipt = ledger.settle(record)
    if receipt is None:
        return None
    with transaction.atomic():
        record.block_number, record.gas_used = receipt["blockNumber"], receipt["gasUsed"]
        record.status = TxStatus.CONFIRMED if receipt["status"] == 1 else TxStatus.FAILED
        record.error = "" if receipt["status"] == 1 else "the transaction reverted"
        record.save(update_fields=["block_number", "gas_used", "status", "error", "updated_at"])
        _apply(ledger, record, receipt)
    return receipt


def content_hash_clean(value: str) -> str:
    cleaned = value.strip().lower().removeprefix("0x")
    if not CONTENT_HASH.match(cleaned):
        raise LedgerlineError(f"{value!r} is not a SHA-256 content hash (64 hex digits).")
    return cleaned


def contract_deploy(*, ledger: Ledger) -> ContractDeployment:
    """Deploy LedgerlineWorks on this chain, once; the platform's account is its admin and minter."""
    transactions_resume(ledger=ledger)  # a deployment sent before a crash counts
    existing = ContractDeployment.objects.filter(chain_id=ledger.chain_id, name=CONTRACT).first()
    if existing is not None:
        return existing
    if ChainTransaction.objects.filter(chain_id=ledger.chain_id, kind="deploy", status=TxStatus.PENDING).exists():
        raise LedgerlineError("A deployment is still pending on this chain; try again once it is mined.")
    data = artifact(CONTRACT)
    factory = ledger.w3.eth.contract(abi=data["abi"], bytecode=data["bytecode"])
    deploy_data = factory.constructor("Ledgerline Works", "LLW", ledger.account.address).data_in_transaction
    _execute(ledger, kind="deploy", payload={"name": CONTRACT}, tx={"data": deploy_data, "value": 0})
    return ContractDeployment.objects.get(chain_id=ledger.chain_id, name=CONTRACT)


def contract_address(*, ledger: Ledger) -> str:
    if settings.CHAIN_CONTRACT_ADDRESS:
        address = Web3.to_checksum_address(settings.CHAIN_CONTRACT_ADDRESS)
    else:
        deployment = ContractDeployment.objects.filter(chain_id=ledger.chain_id, name=CONTRACT).first()
        if deployment is None:
            if settings.CHAIN_RPC_URL:
                raise LedgerlineError(
                    "No Ledgerline contract on this chain: run `python manage.py chain deploy` "
                    "or set CHAIN_CONTRACT_ADDRESS."
                )
            deployment = contract_deploy(ledger=ledger)  # the embedded chain deploys on first use
        address = Web3.to_checksum_address(deployment.address)
    if not with_retries(lambda: ledger.w3.eth.get_code(Web3.to_checksum_address(address)), what="contract code"):
        raise LedgerlineError(
            f"There is no contract at {address} on chain {ledger.chain_id}: the chain was reset "
            "or the address is wrong."
        )
    return address


def works_contract(*, ledger: Ledger) -> Contract:
    return ledger.contract(contract_address(ledger=ledger))


def contents_mint(
    *,
    ledger: Ledger,
    content_hashes: list[str],
    metadata_cid: str,
    to: str,
    royalty_receiver: str,
    royalty_bps: int,
    watermarks: dict[str, str] | None = None,
) -> list[Token]:
    """A token for each content hash (hex SHA-256), minting in one transaction only those
    the chain does not already hold: run twice, or after a crash, it mints nothing twice.
    ``watermarks`` (content hash -> the 8-byte mark in its audio, in hex) are announced with them."""
    hashes = [content_hash_clean(h) for h in content_hashes]
    marks = {content_hash_clean(h): bytes.fromhex(m) for h, m in (watermarks or {}).items()}
    if any(len(m) != 8 for m in marks.values()):
        raise LedgerlineError("A watermark announced on chain is 8 bytes (16 hex digits).")
    transactions_resume(ledger=ledger)
    contract = works_contract(ledger=ledger)
    for attempt in range(2):  # a second pass after losing a race to another minter
        missing = list(dict.fromkeys(h for h in hashes if _token_record(ledger, contract, h) is None))
        for start in range(0, len(missing), MINT_BATCH):
            batch = missing[start : start + MINT_BATCH]
            packed = b"".join(marks.get(h, bytes(8)) for h in batch) if marks else b""
            call = contract.functions.mintBatch(
                Web3.to_checksum_address(to),
                [bytes.fromhex(h) for h in batch],
                packed,
                metadata_cid,
                Web3.to_checksum_address(royalty_receiver),
                royalty_bps,
            )
            record = _execute(
                ledger,
                kind="mint",
                payload={"contract": contract.address, "content_hashes": batch, "metadata_cid": metadata_cid},
                tx=_call_tx(contract, call),
                may_fail=attempt == 0,
            )
            if record.status == TxStatus.FAILED and attempt == 1:
                raise LedgerlineError(f"The mint transaction {record.tx_hash} failed: {record.error}")
    return [Token.objects.get(chain_id=ledger.chain_id, contract=contract.address, content_sha256=h) for h in hashes]


def _token_record(ledger: Ledger, contract: Contract, content: str) -> Token | None:
    """The Token row for a content hash, made from the chain's answer if only the chain knows it."""
    token = Token.objects.filter(chain_id=ledger.chain_id, contract=contract.address, content_sha256=content).first()
    if token is not None:
        return token
    token_id = with_retries(
        lambda: contract.functions.tokenOfContent(bytes.fromhex(content)).call(), what="token lookup"
    )
    if token_id == 0:
        return None
    token, _ = Token.objects.get_or_create(
        chain_id=ledger.chain_id, contract=contract.address, content_sha256=content, defaults={"token_id": token_id}
    )
    return token


def dataset_anchor(*, ledger: Ledger, merkle_root: str, manifest_uri: str) -> int:
    """Anchor a dataset version's root; returns the anchoring time (the chain's, if earlier)."""
    contract = works_contract(ledger=ledger)
    root = bytes.fromhex(content_hash_clean(merkle_root))
    return _anchor(
        ledger,
        contract,
        kind="anchor_dataset",
        payload={"merkle_root": merkle_root},
        anchored_at=contract.functions.datasetAnchoredAt(root).call,
        call=contract.functions.anchorDataset(root, manifest_uri),
    )


def dataset_anchored_at(*, ledger: Ledger, merkle_root: str) -> int:
    """When a dataset version's root was anchored; 0 if it never was."""
    root = bytes.fromhex(content_hash_clean(merkle_root))
    return int(with_retries(works_contract(ledger=ledger).functions.datasetAnchoredAt(root).call, what="anchor lookup"))


def model_anchor(*, ledger: Ledger, weights_sha256: str, datasets_commitment: str, manifest_uri: str) -> int:
    """Anchor a model's weights hash with the datasets it was trained on; returns the time."""
    contract = works_contract(ledger=ledger)
    weights = bytes.fromhex(content_hash_clean(weights_sha256))
    commitment = bytes.fromhex(content_hash_clean(datasets_commitment))
    return _anchor(
        ledger,
        contract,
        kind="anchor_model",
        payload={"weights_sha256": weights_sha256},
        anchored_at=contract.functions.modelAnchoredAt(weights).call,
        call=contract.functions.anchorModel(weights, commitment, manifest_uri),
    )


def key_anchor(*, ledger: Ledger, public_key_der: bytes, organisation_id: uuid.UUID) -> int:
    """Publish a signing key (its id is the SHA-256 of its DER); returns when the chain took it."""
    contract = works_contract(ledger=ledger)
    key_hash = hashlib.sha256(public_key_der).digest()
    return _anchor(
        ledger,
        contract,
        kind="anchor_key",
        payload={"key_id": "sha256:" + key_hash.hex()},
        anchored_at=lambda: int(contract.functions.signingKey(key_hash).call()[1]),
        call=contract.functions.anchorKey(public_key_der, organisation_id.bytes),
    )


def key_retire(*, ledger: Ledger, key_id: str) -> int:
    """Record on chain that a key was retired; returns when."""
    contract = works_contract(ledger=ledger)
    key_hash = bytes.fromhex(content_hash_clean(key_id.removeprefix("sha256:")))
    return _anchor(
        ledger,
        contract,
        kind="retire_key",
        payload={"key_id": key_id},
        anchored_at=lambda: int(contract.functions.signingKey(key_hash).call()[2]),
        call=contract.functions.retireKey(key_hash),
    )


def certificate_anchor(*, ledger: Ledger, certificate_der: bytes, key_id: str | None) -> int:
    """Vouch for a C2PA certificate on chain: a trust anchor (the CA) when ``key_id`` is None,
    else the certificate of that anchored key. Returns when the chain took it."""
    contract = works_contract(ledger=ledger)
    certificate_hash = hashlib.sha256(certificate_der).digest()
    key_hash = bytes.fromhex(content_hash_clean(key_id.removeprefix("sha256:"))) if key_id else bytes(32)
    return _anchor(
        ledger,
        contract,
        kind="anchor_certificate",
        payload={"certificate": "sha256:" + certificate_hash.hex(), "key_id": key_id},
        anchored_at=lambda: int(contract.functions.certificates(certificate_hash).call()[1]),
        call=contract.functions.anchorCertificate(certificate_der, key_hash),
    )


def certificate_revoke(*, ledger: Ledger, certificate_sha256: str) -> int:
    """Stop vouching for a C2PA certificate on chain (a compromised key's, or the CA's); returns
    when the chain recorded it. Verifiers then read what it signed as untrusted."""
    contract = works_contract(ledger=ledger)
    certificate_hash = bytes.fromhex(content_hash_clean(certificate_sha256.removeprefix("sha256:")))
    return _anchor(
        ledger,
        contract,
        kind="revoke_certificate",
        payload={"certificate": "sha256:" + certificate_hash.hex()},
        anchored_at=lambda: int(contract.functions.certificates(certificate_hash).call()[2]),
        call=contract.functions.revokeCertificate(certificate_hash),
    )


def signing_keys_publish(*, organisation: Organisation) -> int:
    """Anchor each of the organisation's keys on chain with its C2PA certificate (and the CA that
    issued it, as a trust anchor), and mark the retired ones retired there: what lets anyone
    check its signatures, and trust its credentials, from the chain alone. Safe to run twice;
    returns how many keys it looked at."""
    ledger = Ledger.connect()
    published = list(SigningKey.objects.filter(organisation=organisation).order_by("created_at"))
    for signing_key in published:
        der = keys.public_der(keys.load_public_pem(signing_key.public_key_pem))
        key_anchor(ledger=ledger, public_key_der=der, organisation_id=organisation.pk)
        certificate, ca = certificates_der(signing_key)
        certificate_anchor(ledger=ledger, certificate_der=ca, key_id=None)
        certificate_anchor(ledger=ledger, certificate_der=certificate, key_id=signing_key.key_id)
        if signing_key.retired_at is not None:
            key_retire(ledger=ledger, key_id=signing_key.key_id)
    return len(published)


def consent_withdrawal_anchor(*, ledger: Ledger, merkle_root: str, file_sha256: str) -> int:
    """Record on chain that consent to train on a file of an anchored dataset version was withdrawn."""
    contract = works_contract(ledger=ledger)
    root, file = bytes.fromhex(content_hash_clean(merkle_root)), bytes.fromhex(content_hash_clean(file_sha256))
    return _anchor(
        ledger,
        contract,
        kind="withdraw_consent",
        payload={"merkle_root": merkle_root, "file": file_sha256},
        anchored_at=contract.functions.consentWithdrawnAt(root, file).call,
        call=contract.functions.withdrawConsent(root, file),
    )


def _anchor(
    ledger: Ledger, contract: Contract, *, kind: str, payload: dict[str, Any], anchored_at: Callable[[], int], call: Any
) -> int:
    """Send ``call`` unless the chain already holds the anchor; the time the chain records."""
    anchored = with_retries(anchored_at, what="anchor lookup")
    if anchored == 0:
        _execute(ledger, kind=kind, payload=payload, tx=_call_tx(contract, call))
        anchored = with_retries(anchored_at, what="anchor lookup")
    return int(anchored)


def _call_tx(contract: Contract, call: Any) -> dict[str, Any]:
    return {"to": contract.address, "data": call._encode_transaction_data(), "value": 0}


def transactions_resume(*, ledger: Ledger) -> list[ChainTransaction]:
    """Send every pending transaction again, byte for byte, and record how each ended."""
    settled = []
    pending = ChainTransaction.objects.filter(
        chain_id=ledger.chain_id, sender=ledger.account.address, status=TxStatus.PENDING
    ).order_by("nonce")
    for record in pending:
        ledger.broadcast(record)
        if record.status != TxStatus.PENDING or _settle(ledger, record) is not None:
            settled.append(record)
    return settled


def _apply(ledger: Ledger, record: ChainTransaction, receipt: TxReceipt) -> None:
    """Record what a confirmed transaction did: the deployment, or the minted tokens."""
    if record.status != TxStatus.CONFIRMED:
        return
    if record.kind == "deploy":
        ContractDeployment.objects.get_or_create(
            chain_id=ledger.chain_id,
            name=record.payload["name"],
            defaults={
                "address": receipt["contractAddress"],
                "transaction": record,
                "sources_sha256": artifact(record.payload["name"])["sourcesSha256"],
            },
        )
    elif record.kind == "mint":
        contract = ledger.contract(record.payload["contract"])
        for event in contract.events.BatchMinted().process_receipt(receipt, errors=DISCARD):
            for i, content in enumerate(event.args.contentHashes):
                Token.objects.get_or_create(
                    chain_id=ledger.chain_id,
                    contract=contract.address,
                    content_sha256=content.hex(),
                    defaults={"token_id": event.args.firstTokenId + i, "transaction": record},
                )


def batch_metadata_set(*, ledger: Ledger, token_id: int, metadata_cid: str) -> None:
    """Point the batch holding ``token_id`` at a new metadata folder, unless it already is."""
    contract = works_contract(ledger=ledger)
    batch_id, batch = with_retries(contract.functions.batchOf(token_id).call, what="batch lookup")
    if batch[5] == metadata_cid:
        return
    _execute(
        ledger,
        kind="set_metadata",
        payload={"batch": batch_id, "metadata_cid": metadata_cid},
        tx=_call_tx(contract, contract.functions.setBatchMetadata(batch_id, metadata_cid)),
    )


def value_send(*, ledger: Ledger, to: str, value: int) -> ChainTransaction:
    """Send ``value`` wei from the platform's account to ``to`` (the demo's test royalty, say).
    Not idempotent: each call pays again."""
    address = Web3.to_checksum_address(to)
    return _execute(
        ledger, kind="payment", payload={"to": address, "value": str(value)}, tx={"to": address, "value": value}
    )
