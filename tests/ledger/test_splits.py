"""Royalty splits through the ledger client (ledger.splits), on the embedded chain and on anvil:
a payment to a split reaches each recipient's wallet."""

from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from ledgerline.errors import LedgerlineError
from ledgerline.ledger import splits
from ledgerline.ledger.artifacts import artifact
from ledgerline.ledger.client import Ledger
from ledgerline.ledger.models import ChainTransaction, TxStatus

ROYALTY = Web3.to_wei(0.1, "ether") + 7  # not divisible by the parts' sum: 7 wei of rounding to place


@pytest.fixture
def ledger(db: Any, chain: dict[str, str]) -> Ledger:
    """A connected client; on a real node the factory is deployed explicitly first, as `chain deploy` does."""
    connected = Ledger.connect()
    if chain["backend"] == "anvil":
        splits.split_factory_deploy(ledger=connected)
    return connected


@pytest.fixture
def wallets() -> dict[str, int]:
    """Three new wallets and their parts, as the platform passes a manifest's shares (units of 10^-12)."""
    return {Account.create().address: part for part in (75 * 10**9, 875 * 10**9, 50 * 10**9)}


def payer(ledger: Ledger) -> str:
    """A funded account of the node's own (a marketplace paying a royalty)."""
    return str(ledger.w3.eth.accounts[0])


def pay(ledger: Ledger, split: str, amount: int) -> None:
    w3 = ledger.w3
    w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"from": payer(ledger), "to": split, "value": amount}))


def token_deploy(ledger: Ledger) -> Any:
    data = artifact("TestToken")
    w3 = ledger.w3
    tx = w3.eth.contract(abi=data["abi"], bytecode=data["bytecode"]).constructor().transact({"from": payer(ledger)})
    return w3.eth.contract(address=w3.eth.wait_for_transaction_receipt(tx)["contractAddress"], abi=data["abi"])


def test_a_split_is_made_once_at_its_predicted_address(ledger: Ledger, wallets: dict[str, int]) -> None:
    predicted = splits.split_address(ledger=ledger, recipients=wallets)
    assert ledger.w3.eth.get_code(predicted) == b""
    assert splits.split_create(ledger=ledger, recipients=wallets) == predicted
    assert splits.split_create(ledger=ledger, recipients=wallets) == predicted
    assert splits.split_recipients(ledger=ledger, split=predicted) == wallets
    made = ChainTransaction.objects.filter(kind="split_create", status=TxStatus.CONFIRMED)
    assert list(made.values_list("payload__split", flat=True)) == [predicted]


def test_a_royalty_paid_to_a_split_reaches_each_wallet(ledger: Ledger, wallets: dict[str, int]) -> None:
    split = splits.split_create(ledger=ledger, recipients=wallets)
    pay(ledger, split, ROYALTY)
    assert splits.split_distribute(ledger=ledger, split=split) == ROYALTY
    assert splits.split_distribute(ledger=ledger, split=split) == 0  # nothing new arrived
    owed = {address: ROYALTY * part // 10**12 for address, part in wallets.items()}
    largest = max(wallets, key=lambda a: wallets[a])
    owed[largest] += ROYALTY - sum(owed.values())
    for address, amount in owed.items():
        assert splits.split_withdrawable(ledger=ledger, split=split, account=address) == amount
        assert splits.split_withdraw(ledger=ledger, split=split, account=address) == amount
        assert ledger.w3.eth.get_balance(address) == amount
        assert splits.split_withdraw(ledger=ledger, split=split, account=address) == 0
    assert ledger.w3.eth.get_balance(split) == 0


def test_an_erc20_royalty_reaches_each_wallet(ledger: Ledger, wallets: dict[str, int]) -> None:
    token = token_deploy(ledger)
    split = splits.split_create(ledger=ledger, recipients=wallets)
    ledger.w3.eth.wait_for_transaction_receipt(token.functions.mint(split, 10**6 + 1).transact({"from": payer(ledger)}))
    assert splits.split_distribute(ledger=ledger, split=split, token=token.address) == 10**6 + 1
    for address in wallets:
        amount = splits.split_withdraw(ledger=ledger, split=split, account=address, token=token.address)
        assert token.functions.balanceOf(address).call() == amount > 0
    assert token.functions.balanceOf(split).call() == 0
    assert splits.split_distribute(ledger=ledger, split=split) == 0  # the ETH side saw nothing


@pytest.mark.parametrize(
    ("recipients", "message"),
    [
        ({}, "1 to 500 recipients"),
        ({"0x70997970C51812dc3A010C7d01b50e0d17dc79C8": 0}, "must be a whole number"),
        ({"0x70997970C51812dc3A010C7d01b50e0d17dc79C8": 2**96}, "must be a whole number"),
        ({"not an address": 1}, "is not an Ethereum address"),
        ({"0x0000000000000000000000000000000000000000": 1}, "is not an Ethereum address"),
        (
            {"0x70997970c51812dc3a010c7d01b50e0d17dc79c8": 1, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8": 1},
            "each recipient once",
        ),
    ],
)
@pytest.mark.parametrize("chain", ["embedded"], indirect=True)
def test_bad_recipients_are_refused_with_a_reason(ledger: Ledger, recipients: dict[str, int], message: str) -> None:
    with pytest.raises(LedgerlineError, match=message):
        splits.split_create(ledger=ledger, recipients=recipients)
    assert not ChainTransaction.objects.filter(kind="split_create").exists()


@pytest.mark.parametrize("chain", ["embedded"], indirect=True)
def test_an_address_without_a_split_is_refused(ledger: Ledger) -> None:
    with pytest.raises(LedgerlineError, match="There is no split"):
        splits.split_distribute(ledger=ledger, split="0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
