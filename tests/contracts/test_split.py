"""The royalty split (LedgerlineSplit clones made by LedgerlineSplits) on an in-process EVM,
and its accounting on a real anvil node under random payments (a property test)."""

from collections.abc import Iterator
from typing import Any

import pytest
from eth_tester import EthereumTester, PyEVMBackend
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import HTTPProvider, Web3
from web3.contract import Contract

from ledgerline.ledger.artifacts import artifact
from ledgerline.ledger.reverts import revert_error
from tests.ledger.conftest import anvil

ETH = "0x0000000000000000000000000000000000000000"


def deploy(w3: Web3, name: str) -> Contract:
    data = artifact(name)
    tx = (
        w3.eth.contract(abi=data["abi"], bytecode=data["bytecode"]).constructor().transact({"from": w3.eth.accounts[0]})
    )
    address = w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]
    return w3.eth.contract(address=address, abi=data["abi"])


def ascending(addresses: list[str]) -> list[str]:
    return sorted(addresses, key=lambda a: int(a, 16))


def send(call: Any, sender: str) -> Any:
    """Send ``call`` and wait for its receipt (with a gas limit given, to spare an estimate)."""
    return call.w3.eth.wait_for_transaction_receipt(call.transact({"from": sender, "gas": 5_000_000}))


def create(factory: Contract, accounts: list[str], parts: list[int]) -> Contract:
    send(factory.functions.createSplit(accounts, parts), factory.w3.eth.accounts[0])
    address = factory.functions.predictSplit(accounts, parts).call()
    return factory.w3.eth.contract(address=address, abi=artifact("LedgerlineSplit")["abi"])


def pay(w3: Web3, split: Contract, amount: int, token: Contract | None = None, *, sender: str | None = None) -> None:
    sender = sender or w3.eth.accounts[0]
    if token is None:
        w3.eth.wait_for_transaction_receipt(
            w3.eth.send_transaction({"from": sender, "to": split.address, "value": amount})
        )
    else:
        send(token.functions.mint(split.address, amount), sender)


def reverts_with(errors: Contract, call: Any, sender: str) -> str | None:
    """The name of the custom error (one of ``errors``' ABI) ``call`` reverts with; None if it
    does not revert, or not with one of them."""
    try:
        call.call({"from": sender})
    except Exception as exc:  # each backend raises its own type; the revert data is what counts
        return revert_error(errors.abi, exc) or "unknown"
    return None


@pytest.fixture
def w3() -> Web3:
    return Web3(Web3.EthereumTesterProvider(EthereumTester(PyEVMBackend())))


@pytest.fixture
def factory(w3: Web3) -> Contract:
    return deploy(w3, "LedgerlineSplits")


@pytest.fixture
def token(w3: Web3) -> Contract:
    return deploy(w3, "TestToken")


@pytest.fixture
def people(w3: Web3) -> list[str]:
    """Five funded accounts, ascending: the recipients; accounts[0] pays, accounts[9] is a stranger."""
    return ascending(list(w3.eth.accounts[1:6]))


def test_a_split_lives_at_the_address_the_factory_predicts(w3: Web3, factory: Contract, people: list[str]) -> None:
    parts = [1, 2, 3]
    predicted = factory.functions.predictSplit(people[:3], parts).call()
    assert w3.eth.get_code(predicted) == b""
    receipt = send(factory.functions.createSplit(people[:3], parts), w3.eth.accounts[0])
    [created] = factory.events.SplitCreated().process_receipt(receipt)
    assert created.args.split == predicted
    assert w3.eth.get_code(predicted) != b""
    split = w3.eth.contract(address=predicted, abi=artifact("LedgerlineSplit")["abi"])
    assert split.functions.recipients().call() == [people[:3], parts]
    # The same list gives the same split (created again, nothing happens); another list another.
    again = send(factory.functions.createSplit(people[:3], parts), w3.eth.accounts[0])
    assert factory.events.SplitCreated().process_receipt(again) == ()
    assert factory.functions.predictSplit(people[:3], [1, 2, 4]).call() != predicted


def test_eth_is_distributed_and_withdrawn_to_each_recipient_exactly(
    w3: Web3, factory: Contract, people: list[str]
) -> None:
    split = create(factory, people[:3], [1, 1, 2])
    pay(w3, split, 1001)
    stranger = w3.eth.accounts[9]
    assert split.functions.undistributed(ETH).call() == 1001
    send(split.functions.distribute(ETH), stranger)  # anyone may distribute
    # 1001 / 4 = 250 each part: 250, 250 and 500, and the 1 wei the floors leave to the largest part.
    owed = dict(zip(people[:3], [250, 250, 501], strict=True))
    assert {p: split.functions.withdrawable(p, ETH).call() for p in people[:3]} == owed
    for person, amount in owed.items():
        before = w3.eth.get_balance(person)
        receipt = send(split.functions.withdraw(person, ETH), stranger)  # paid to the person, whoever asks
        assert split.events.Withdrawn().process_receipt(receipt)[0].args.amount == amount
        assert w3.eth.get_balance(person) == before + amount
    assert w3.eth.get_balance(split.address) == 0
    assert split.functions.owed(ETH).call() == 0


def test_an_erc20_is_distributed_and_withdrawn_to_each_recipient_exactly(
    w3: Web3, factory: Contract, token: Contract, people: list[str]
) -> None:
    split = create(factory, people[:2], [3, 7])
    pay(w3, split, 10**18 + 3, token)
    assert split.functions.distribute(token.address).call() == 10**18 + 3
    send(split.functions.distribute(token.address), people[0])
    for person, amount in zip(people[:2], [3 * 10**17, 7 * 10**17 + 3], strict=True):
        send(split.functions.withdraw(person, token.address), w3.eth.accounts[9])
        assert token.functions.balanceOf(person).call() == amount
    assert token.functions.balanceOf(split.address).call() == 0
    assert w3.eth.get_balance(split.address) == 0  # the ERC-20 left the ETH alone


def test_ties_for_the_largest_part_leave_the_remainder_to_the_first(
    w3: Web3, factory: Contract, people: list[str]
) -> None:
    split = create(factory, people[:3], [1, 2, 2])
    pay(w3, split, 4)  # floors 0, 1, 1: the 2 wei left go to the first largest
    send(split.functions.distribute(ETH), people[0])
    assert [split.functions.withdrawable(p, ETH).call() for p in people[:3]] == [0, 3, 1]


def test_a_recipient_that_refuses_payment_keeps_its_credit_and_blocks_nobody(
    w3: Web3, factory: Contract, people: list[str]
) -> None:
    probe = deploy(w3, "SplitProbe")
    send(probe.functions.setMode(1), people[0])  # Refuse
    recipients = ascending([people[0], people[1], probe.address])
    split = create(factory, recipients, [1, 1, 1])
    pay(w3, split, 3000)
    send(split.functions.distribute(ETH), people[0])
    assert reverts_with(probe, split.functions.withdraw(probe.address, ETH), people[0]) == "Refused"
    for person in (people[0], people[1]):
        send(split.functions.withdraw(person, ETH), people[0])
    assert split.functions.withdrawable(probe.address, ETH).call() == 1000
    assert w3.eth.get_balance(split.address) == 1000
    send(probe.functions.setMode(0), people[0])  # it accepts payments again: its credit is still there
    send(split.functions.withdraw(probe.address, ETH), people[0])
    assert w3.eth.get_balance(probe.address) == 1000
    assert w3.eth.get_balance(split.address) == 0


def test_a_recipient_cannot_reenter_while_it_is_paid(w3: Web3, factory: Contract, people: list[str]) -> None:
    probe = deploy(w3, "SplitProbe")
    send(probe.functions.setMode(2), people[0])  # Reenter: withdraw again, or distribute, while paid
    split = create(factory, ascending([people[0], probe.address]), [1, 1])
    pay(w3, split, 2000)
    send(split.functions.distribute(ETH), people[0])
    send(split.functions.withdraw(probe.address, ETH), people[0])
    assert probe.functions.reentered().call() is False
    assert w3.eth.get_balance(probe.address) == 1000
    assert split.functions.withdrawable(people[0], ETH).call() == 1000
    assert split.functions.undistributed(ETH).call() == 0
    assert w3.eth.get_balance(split.address) == 1000


def test_nothing_owed_is_nothing_to_withdraw(w3: Web3, factory: Contract, people: list[str]) -> None:
    split = create(factory, people[:2], [1, 1])
    assert split.functions.distribute(ETH).call() == 0
    assert reverts_with(split, split.functions.withdraw(people[0], ETH), people[0]) == "NothingOwed"


@pytest.mark.parametrize(
    ("accounts", "parts"),
    [
        pytest.param([], [], id="no recipients"),
        pytest.param([1, 0], [1, 1], id="descending"),
        pytest.param([0, 0], [1, 1], id="twice"),
        pytest.param([0, 1], [1, 0], id="a zero part"),
        pytest.param([0, 1], [1], id="parts missing"),
    ],
)
def test_bad_recipient_lists_are_refused(
    w3: Web3, factory: Contract, people: list[str], accounts: list[int], parts: list[int]
) -> None:
    call = factory.functions.createSplit([people[i] for i in accounts], parts)
    assert reverts_with(factory, call, people[0]) == "InvalidSplit"


def test_more_than_500_recipients_are_refused(w3: Web3, factory: Contract) -> None:
    accounts = [Web3.to_checksum_address(f"0x{i:040x}") for i in range(1, 502)]
    sender = w3.eth.accounts[0]
    assert reverts_with(factory, factory.functions.createSplit(accounts, [1] * 501), sender) == "InvalidSplit"
    assert reverts_with(factory, factory.functions.createSplit(accounts[:500], [1] * 500), sender) is None
    assert reverts_with(factory, factory.functions.createSplit([ETH], [1]), sender) == "InvalidSplit"


def test_the_implementation_itself_takes_no_money(w3: Web3, factory: Contract) -> None:
    implementation = factory.functions.implementation().call()
    with pytest.raises(Exception):  # noqa: B017 - each backend raises its own type
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": implementation, "value": 1})


# --- the property, on a real node ---


@pytest.fixture(scope="module")
def node() -> Iterator[tuple[Web3, Contract, Contract]]:
    """One anvil for the module, with the factory and a token deployed."""
    with anvil() as url:
        w3 = Web3(HTTPProvider(url))
        yield w3, deploy(w3, "LedgerlineSplits"), deploy(w3, "TestToken")


def owed_by_rule(amount: int, parts: list[int]) -> list[int]:
    """The rule, independently: the floor of each share, what is left to the first largest part."""
    shares = [amount * p // sum(parts) for p in parts]
    shares[parts.index(max(parts))] += amount - sum(shares)
    return shares


amounts = st.one_of(st.just(1), st.integers(2, 10**6), st.integers(10**6, 10**20))
events = st.lists(
    st.tuples(st.sampled_from(["eth", "token"]), amounts, st.booleans(), st.integers(1, 9)), min_size=1, max_size=6
)


@settings(max_examples=20, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(st.one_of(st.just(1), st.integers(1, 10**12)), min_size=2, max_size=30),
    seed=st.binary(min_size=20, max_size=20),
    payments=events,
)
def test_every_wei_paid_is_withdrawn_by_its_recipients_and_none_is_left(
    node: tuple[Web3, Contract, Contract], parts: list[int], seed: bytes, payments: list[Any]
) -> None:
    """Random recipients and parts; payments in ETH and the token, some distributed at once by a
    random caller; then the rest distributed and everything withdrawn: each recipient receives
    exactly what the rule gives it for every distribution, and the split ends empty."""
    w3, factory, token = node
    base = int.from_bytes(seed, "big") % 2**150
    accounts = ascending([Web3.to_checksum_address(f"0x{base + 2**155 + i:040x}") for i in range(len(parts))])
    split = create(factory, accounts, parts)
    callers = w3.eth.accounts
    expected = {"eth": [0] * len(parts), "token": [0] * len(parts)}
    waiting = {"eth": 0, "token": 0}
    paid = {"eth": 0, "token": 0}
    assets = {"eth": ETH, "token": token.address}

    def balance(account: str) -> int:
        return int(w3.eth.get_balance(account) if asset == "eth" else token.functions.balanceOf(account).call())

    def distribute(asset: str, caller: str) -> None:
        send(split.functions.distribute(assets[asset]), caller)
        expected[asset] = [a + b for a, b in zip(expected[asset], owed_by_rule(waiting[asset], parts), strict=True)]
        waiting[asset] = 0

    for asset, amount, distribute_now, caller in payments:
        pay(w3, split, amount, token if asset == "token" else None)
        paid[asset] += amount
        waiting[asset] += amount
        if distribute_now:
            distribute(asset, callers[caller])
    for asset in ("eth", "token"):
        if waiting[asset]:
            distribute(asset, callers[1])
        received = []
        for account, owed in zip(accounts, expected[asset], strict=True):
            assert split.functions.withdrawable(account, assets[asset]).call() == owed
            before = balance(account)
            if owed:
                send(split.functions.withdraw(account, assets[asset]), callers[2])
            received.append(balance(account) - before)
        assert received == expected[asset]
        assert sum(received) == paid[asset]
    assert w3.eth.get_balance(split.address) == 0
    assert token.functions.balanceOf(split.address).call() == 0
