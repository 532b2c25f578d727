"""The one chain client: web3.py over the embedded chain or any JSON-RPC node.

Nothing else in Ledgerline talks to a chain. Transactions are signed here with the
platform's account (an Ethereum keystore file) and recorded before they are sent; see
ChainTransaction.
"""

import functools
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar, cast

import requests
from django.conf import settings
from django.db import transaction
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from eth_utils.exceptions import ValidationError as EthValidationError
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.exceptions import TimeExhausted, TransactionNotFound, Web3RPCError
from web3.types import TxParams, TxReceipt

from ledgerline.errors import LedgerlineError, Unavailable
from ledgerline.ledger.artifacts import artifact
from ledgerline.ledger.embedded import EmbeddedChainProvider
from ledgerline.ledger.models import ChainAccount, ChainTransaction, TxStatus
from ledgerline.ledger.reverts import revert_error
from ledgerline.provenance.keys import KeyStore

logger = logging.getLogger(__name__)
T = TypeVar("T")
# A node that does not answer, or answers 429/5xx after web3's own retries.
TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.HTTPError, ConnectionError, TimeoutError)
# How nodes refuse a transaction they already hold or have mined: a JSON-RPC error from a
# real node, py-evm's ValidationError from the embedded chain.
REFUSED = (Web3RPCError, ValueError, EthValidationError)


class ChainUnavailable(Unavailable):
    code = "chain_unavailable"


def with_retries(call: Callable[[], T], *, what: str, attempts: int = 5, delay: float = 0.5) -> T:
    """``call``, retried with exponential backoff while the node does not answer."""
    for attempt in range(attempts):
        try:
            return call()
        except TRANSIENT as exc:
            if attempt == attempts - 1:
                raise ChainUnavailable(f"The chain node does not answer ({what}): {exc}. Try again shortly.") from exc
            logger.warning("chain node did not answer (%s), retrying: %s", what, exc)
            time.sleep(delay * 2**attempt)
    raise AssertionError("unreachable")


def _passphrase() -> str:
    return settings.CHAIN_ACCOUNT_PASSPHRASE or KeyStore.default().passphrase().decode()


def account_load() -> LocalAccount:
    """The sending account from its keystore file; the embedded default makes one."""
    path = Path(settings.CHAIN_ACCOUNT_KEYFILE)
    if not path.exists():
        if settings.CHAIN_RPC_URL:
            raise LedgerlineError(f"No chain account: CHAIN_ACCOUNT_KEYFILE {path} does not exist.")
        _keyfile_create(path)
    return _account_decrypt(path.read_text(), _passphrase(), str(path))


@functools.lru_cache(maxsize=4)
def _account_decrypt(keystore: str, passphrase: str, where: str) -> LocalAccount:
    """Decrypted once per process and keystore: scrypt takes most of a second by design."""
    try:
        key = Account.decrypt(json.loads(keystore), passphrase)
    except ValueError:
        raise LedgerlineError(f"The chain account {where} cannot be decrypted with this passphrase.") from None
    account: LocalAccount = Account.from_key(key)
    return account


def _keyfile_create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    keystore = Account.encrypt(Account.create().key, _passphrase())
    fd, temp = tempfile.mkstemp(dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(keystore, f)
    try:
        os.link(temp, path)  # the first process to get here wins; the others read its file
    except FileExistsError:
        pass
    finally:
        os.unlink(temp)


def web3_connect(account: LocalAccount) -> Web3:
    if settings.CHAIN_RPC_URL:
        return Web3(HTTPProvider(settings.CHAIN_RPC_URL, request_kwargs={"timeout": 30}))
    state = Path(settings.CHAIN_STATE_DIR) / "chain.sqlite3"
    return Web3(EmbeddedChainProvider(state, funded=[account.address]))


@dataclass
class Ledger:
    w3: Web3
    account: LocalAccount

    @classmethod
    def connect(cls) -> "Ledger":
        account = account_load()
        return cls(web3_connect(account), account)

    @cached_property
    def chain_id(self) -> int:
        return with_retries(lambda: self.w3.eth.chain_id, what="chain id")

    def contract(self, address: str, name: str = "LedgerlineWorks") -> Contract:
        contract: Contract = self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact(name)["abi"])
        return contract

    # --- sending ---

    def _fees(self) -> dict[str, int]:
        block = with_retries(lambda: self.w3.eth.get_block("latest"), what="latest block")
        base = int(block.get("baseFeePerGas", 0))
        try:
            tip = int(with_retries(lambda: self.w3.eth.max_priority_fee, what="priority fee"))
        except (Web3RPCError, ValueError, NotImplementedError):
            tip = Web3.to_wei(1, "gwei")
        return {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}

    def prepare(self, *, kind: str, payload: dict[str, Any], tx: dict[str, Any]) -> ChainTransaction:
        """Sign ``tx`` with the next nonce and record it, pending, before anything is sent."""
        tx = {**tx, "from": self.account.address, "chainId": self.chain_id, **self._fees()}
        try:
            estimate = with_retries(lambda: self.w3.eth.estimate_gas(cast(TxParams, tx)), what="gas estimate")
        except ChainUnavailable:
            raise
        except Exception as exc:  # each backend raises its own type; the revert data is what counts
            reason = revert_error(artifact("LedgerlineWorks")["abi"], exc) or str(exc)
            raise LedgerlineError(f"The chain refuses this {kind} transaction: {reason}.") from exc
        tx["gas"] = int(estimate * 1.2) + 10_000
        # Asked before taking the lock: no network wait while other writers queue behind it.
        on_chain = with_retries(
            lambda: self.w3.eth.get_transaction_count(self.account.address, "pending"), what="nonce"
        )
        with transaction.atomic():
            row, _ = ChainAccount.objects.select_for_update().get_or_create(
                chain_id=self.chain_id, address=self.account.address
            )
            in_flight = ChainTransaction.objects.filter(
                chain_id=self.chain_id, sender=self.account.address, status=TxStatus.PENDING, nonce__gte=on_chain
            ).exists()
            # Nonces we signed but the node has not seen are ours to skip; otherwise (a chain
            # that was reset, say) the node's count is the truth.
            tx["nonce"] = max(row.next_nonce, on_chain) if in_flight else on_chain
            tx.pop("from")
            signed = self.account.sign_transaction(tx)
            record = ChainTransaction.objects.create(
                chain_id=self.chain_id,
                sender=self.account.address,
                nonce=tx["nonce"],
                kind=kind,
                payload=payload,
                tx_hash="0x" + signed.hash.hex().removeprefix("0x"),
                raw="0x" + signed.raw_transaction.hex().removeprefix("0x"),
            )
            row.next_nonce = tx["nonce"] + 1
            row.save(update_fields=["next_nonce", "updated_at"])
        return record

    def broadcast(self, record: ChainTransaction) -> None:
        """Send the recorded bytes, unless the chain already has them mined. Sending them
        again is harmless: same hash, same nonce; at most one can ever be mined."""
        if self._receipt(record) is not None:
            return
        try:
            with_retries(lambda: self.w3.eth.send_raw_transaction(HexStr(record.raw)), what="send")
        except REFUSED as exc:
            # Already pending, or mined meanwhile (a resend after a crash): the receipt tells.
            # Refused with its nonce already used by another transaction, it never can be mined.
            logger.info("node refused %s: %s", record.tx_hash, exc)
            mined = with_retries(
                lambda: self.w3.eth.get_transaction_count(self.account.address, "latest"), what="nonce"
            )
            if self._receipt(record) is None and mined > record.nonce:
                record.status, record.error = TxStatus.FAILED, f"its nonce was used by another transaction: {exc}"
                record.save(update_fields=["status", "error", "updated_at"])

    def _receipt(self, record: ChainTransaction) -> TxReceipt | None:
        try:
            return with_retries(lambda: self.w3.eth.get_transaction_receipt(HexStr(record.tx_hash)), what="receipt")
        except TransactionNotFound:
            return None

    def settle(self, record: ChainTransaction) -> TxReceipt | None:
        """Wait for the receipt and the confirmations (None if they do not come in time)."""
        try:
            receipt = with_retries(
                lambda: self.w3.eth.wait_for_transaction_receipt(
                    HexStr(record.tx_hash), timeout=settings.CHAIN_TX_TIMEOUT
                ),
                what="receipt",
            )
        except (TimeExhausted, TransactionNotFound):
            return None  # still pending: a later resume sends it again
        deadline = time.monotonic() + settings.CHAIN_TX_TIMEOUT
        while self._confirmations(receipt) < settings.CHAIN_CONFIRMATIONS:
            if time.monotonic() > deadline:
                return None
            time.sleep(1)
        return receipt

    def _confirmations(self, receipt: TxReceipt) -> int:
        head = with_retries(lambda: self.w3.eth.block_number, what="block number")
        return int(head) - int(receipt["blockNumber"]) + 1
