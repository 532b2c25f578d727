"""Royalty splits on chain: a LedgerlineSplit clone per set of recipients and parts, made by the
LedgerlineSplits factory, which shares whatever it is paid (ETH or any ERC-20) among them.

Recipients are {EIP-55 address: part}; each one's share is its part over the sum of the parts.
Payments are pulled: a distribution credits every recipient its part of what arrived since the
last one (anyone may send it), and a withdrawal pays one recipient its credit (anyone may send
it; the money always goes to the recipient). See contracts/src/LedgerlineSplit.sol.
"""

from typing import Any

from django.conf import settings
from eth_typing import HexStr
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from ledgerline.errors import LedgerlineError
from ledgerline.ledger.artifacts import artifact
from ledgerline.ledger.client import Ledger, with_retries
from ledgerline.ledger.models import ChainTransaction, ContractDeployment, TxStatus
from ledgerline.ledger.services import _call_tx, _execute, transactions_resume

FACTORY = "LedgerlineSplits"
SPLIT = "LedgerlineSplit"
MAX_RECIPIENTS = 500  # the factory's MAX_RECIPIENTS
MAX_PART = 2**96 - 1  # a part is a uint96 in the clone's arguments
ETH = "0x0000000000000000000000000000000000000000"


def split_factory_deploy(*, ledger: Ledger) -> ContractDeployment:
    """Deploy the split factory (and with it the one implementation) on this chain, once."""
    transactions_resume(ledger=ledger)  # a deployment sent before a crash counts
    existing = ContractDeployment.objects.filter(chain_id=ledger.chain_id, name=FACTORY).first()
    if existing is not None:
        return existing
    pending = ChainTransaction.objects.filter(chain_id=ledger.chain_id, kind="deploy", status=TxStatus.PENDING)
    if pending.filter(payload__name=FACTORY).exists():
        raise LedgerlineError("The split factory's deployment is still pending; try again once it is mined.")
    data = artifact(FACTORY)
    deploy_data = ledger.w3.eth.contract(abi=data["abi"], bytecode=data["bytecode"]).constructor().data_in_transaction
    _execute(ledger, kind="deploy", payload={"name": FACTORY}, tx={"data": deploy_data, "value": 0})
    return ContractDeployment.objects.get(chain_id=ledger.chain_id, name=FACTORY)


def split_address(*, ledger: Ledger, recipients: dict[str, int]) -> str:
    """The split's address for exactly these recipients and parts, whether it exists yet or not."""
    accounts, parts = _recipients_clean(recipients)
    call = _factory(ledger).functions.predictSplit(accounts, parts).call
    return Web3.to_checksum_address(with_retries(call, what="split address"))


def split_create(*, ledger: Ledger, recipients: dict[str, int]) -> str:
    """Make the split for these recipients unless the chain has it already; its address."""
    accounts, parts = _recipients_clean(recipients)
    transactions_resume(ledger=ledger)  # a creation sent before a crash counts
    factory = _factory(ledger)
    address = Web3.to_checksum_address(
        with_retries(factory.functions.predictSplit(accounts, parts).call, what="split address")
    )
    if not _has_code(ledger, address):
        _execute(
            ledger,
            kind="split_create",
            payload={"split": address, "recipients": dict(zip(accounts, parts, strict=True))},
            tx=_call_tx(factory, factory.functions.createSplit(accounts, parts)),
        )
    return address


def split_distribute(*, ledger: Ledger, split: str, token: str | None = None) -> int:
    """Credit every recipient its part of what arrived since the last distribution (ETH, or the
    ERC-20 ``token``); returns how much that was (0, and no transaction, when nothing arrived)."""
    contract = _split(ledger, split)
    asset = _token(token)
    if with_retries(contract.functions.undistributed(asset).call, what="split balance") == 0:
        return 0
    record = _execute(
        ledger,
        kind="split_distribute",
        payload={"split": contract.address, "token": asset},
        tx=_call_tx(contract, contract.functions.distribute(asset)),
    )
    return sum(int(e.args.amount) for e in _events(ledger, contract, "Distributed", record))


def split_withdrawable(*, ledger: Ledger, split: str, account: str, token: str | None = None) -> int:
    """What ``account`` may withdraw from the split now (ETH, or the ERC-20 ``token``)."""
    call = _split(ledger, split).functions.withdrawable(_address(account), _token(token)).call
    return int(with_retries(call, what="split credit"))


def split_withdraw(*, ledger: Ledger, split: str, account: str, token: str | None = None) -> int:
    """Pay ``account`` its whole credit from the split; returns the amount (0: nothing was owed)."""
    contract = _split(ledger, split)
    holder, asset = _address(account), _token(token)
    if with_retries(contract.functions.withdrawable(holder, asset).call, what="split credit") == 0:
        return 0
    record = _execute(
        ledger,
        kind="split_withdraw",
        payload={"split": contract.address, "account": holder, "token": asset},
        tx=_call_tx(contract, contract.functions.withdraw(holder, asset)),
    )
    return sum(int(e.args.amount) for e in _events(ledger, contract, "Withdrawn", record))


def split_recipients(*, ledger: Ledger, split: str) -> dict[str, int]:
    """The split's recipients and parts, as the chain holds them."""
    accounts, parts = with_retries(_split(ledger, split).functions.recipients().call, what="split recipients")
    return {Web3.to_checksum_address(a): int(p) for a, p in zip(accounts, parts, strict=True)}


def _recipients_clean(recipients: dict[str, int]) -> tuple[list[str], list[int]]:
    """The recipients in the order the factory takes them (ascending), each part checked."""
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise LedgerlineError(f"A split has 1 to {MAX_RECIPIENTS} recipients, not {len(recipients)}.")
    cleaned = {_address(a): p for a, p in recipients.items()}
    if len(cleaned) != len(recipients):
        raise LedgerlineError("A split names each recipient once.")
    for account, part in cleaned.items():
        if isinstance(part, bool) or not isinstance(part, int) or not 0 < part <= MAX_PART:
            raise LedgerlineError(f"The part of {account} must be a whole number from 1 to 2**96 - 1, not {part!r}.")
    accounts = sorted(cleaned, key=lambda a: int(a, 16))
    return accounts, [cleaned[a] for a in accounts]


def _address(value: str) -> str:
    if not Web3.is_address(value) or int(value, 16) == 0:
        raise LedgerlineError(f"{value!r} is not an Ethereum address.")
    return Web3.to_checksum_address(value)


def _token(token: str | None) -> str:
    return ETH if token is None else _address(token)


def _factory(ledger: Ledger) -> Contract:
    """The split factory; the embedded chain deploys it on first use, a real node by `chain deploy`."""
    deployment = ContractDeployment.objects.filter(chain_id=ledger.chain_id, name=FACTORY).first()
    if deployment is None:
        if settings.CHAIN_RPC_URL:
            raise LedgerlineError("No split factory on this chain: run `python manage.py chain deploy`.")
        deployment = split_factory_deploy(ledger=ledger)
    if not _has_code(ledger, deployment.address):
        raise LedgerlineError(
            f"There is no split factory at {deployment.address} on chain {ledger.chain_id}: the chain was reset."
        )
    return ledger.contract(deployment.address, FACTORY)


def _split(ledger: Ledger, split: str) -> Contract:
    address = _address(split)
    if not _has_code(ledger, address):
        raise LedgerlineError(f"There is no split at {address} on chain {ledger.chain_id}.")
    return ledger.contract(address, SPLIT)


def _has_code(ledger: Ledger, address: str) -> bool:
    return bool(with_retries(lambda: ledger.w3.eth.get_code(Web3.to_checksum_address(address)), what="code"))


def _events(ledger: Ledger, contract: Contract, name: str, record: ChainTransaction) -> list[Any]:
    """The ``name`` events ``contract`` emitted in a settled transaction."""
    receipt = with_retries(lambda: ledger.w3.eth.get_transaction_receipt(HexStr(record.tx_hash)), what="receipt")
    return list(getattr(contract.events, name)().process_receipt(receipt, errors=DISCARD))
