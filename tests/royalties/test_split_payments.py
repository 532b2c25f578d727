"""Resale royalties paid on chain: a work minted through works_mint has its batch's split contract
as its ERC-2981 receiver, and what a marketplace pays there reaches each payee's wallet, on the
embedded chain and on anvil."""

import secrets
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from ledgerline.ledger import services, splits
from ledgerline.ledger.client import Ledger
from ledgerline.ledger.models import ChainTransaction, TxStatus
from ledgerline.royalties.splits import work_split
from ledgerline.works.minting import works_mint
from ledgerline.works.models import Work, WorkStatus
from tests.ledger.conftest import anvil, chain_env, fund, keyfile_for_new_account
from tests.royalties.conftest import Catalogue

LABEL_WALLET = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ADA_WALLET = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
SALE = Web3.to_wei(2, "ether")


@pytest.fixture(params=["embedded", "anvil"])
def ledger(request: pytest.FixtureRequest, catalogue: Catalogue, settings: Any, tmp_path: Path) -> Iterator[Ledger]:
    """A fresh chain of each backend; on anvil the contracts are deployed as `chain deploy` does."""
    with anvil() if request.param == "anvil" else nullcontext("") as url:
        env = chain_env(request.param, tmp_path, url)
        if request.param == "anvil":
            fund(url, keyfile_for_new_account(Path(env["CHAIN_ACCOUNT_KEYFILE"])))
        for name, value in env.items():
            setattr(settings, name, Path(value) if name in ("CHAIN_STATE_DIR", "CHAIN_ACCOUNT_KEYFILE") else value)
        connected = Ledger.connect()
        if request.param == "anvil":
            services.contract_deploy(ledger=connected)
            splits.split_factory_deploy(ledger=connected)
        yield connected


def pinned(catalogue: Catalogue, count: int = 1) -> list[Work]:
    """Works of the catalogue's model as signing and pinning leave them, their split in the manifest."""
    works = []
    for i in range(count):
        work = Work.objects.create(
            organisation=catalogue.team.organisation,
            title=f"Pinned {i + 1}",
            model=catalogue.model,
            seed=100 + i,
            status=WorkStatus.PINNED,
            content_sha256=secrets.token_hex(32),
            cid="bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
        )
        work.manifest = {"manifest": {"royalties": work_split(work)}}
        work.save()
        works.append(work)
    return works


def royalty_info(ledger: Ledger, work: Work) -> tuple[str, int]:
    work.refresh_from_db()
    assert work.token is not None
    receiver, amount = services.works_contract(ledger=ledger).functions.royaltyInfo(work.token.token_id, SALE).call()
    return str(receiver), int(amount)


def wallets_register(catalogue: Catalogue) -> None:
    """The label and Ada register wallets; Bo does not, so Bo's part is paid to the label's."""
    team = catalogue.team
    put = team.owner.client.put
    assert put("/api/v1/organisations/acme-records/wallet/", {"wallet": LABEL_WALLET}, format="json").status_code == 200
    ada = catalogue.holders["Ada"].pk
    assert put(f"/api/v1/rights-holders/{ada}/wallet/", {"wallet": ADA_WALLET}, format="json").status_code == 200


@pytest.mark.django_db
def test_a_resale_royalty_reaches_each_payees_wallet(catalogue: Catalogue, ledger: Ledger) -> None:
    wallets_register(catalogue)
    [work] = pinned(catalogue)
    works_mint(works=[work])

    split, royalty = royalty_info(ledger, work)
    assert split not in (ledger.account.address, LABEL_WALLET, ADA_WALLET)
    assert royalty == SALE * 500 // 10_000  # the label's policy: 5% on resales
    # Ada 0.075, Bo 0.075 (to the label's wallet), the label 0.8, Ledgerline 0.05 (its account).
    parts = {ADA_WALLET: 75, LABEL_WALLET: 875, ledger.account.address: 50}
    assert splits.split_recipients(ledger=ledger, split=split) == {a: n * 10**9 for a, n in parts.items()}

    # A marketplace pays the royalty to the receiver, as ERC-2981 tells it to.
    w3 = ledger.w3
    w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": split, "value": royalty})
    )
    assert splits.split_distribute(ledger=ledger, split=split) == royalty
    for address, part in parts.items():
        owed = royalty * part // 1000
        assert splits.split_withdrawable(ledger=ledger, split=split, account=address) == owed
        before = w3.eth.get_balance(address)
        assert splits.split_withdraw(ledger=ledger, split=split, account=address) == owed
        if address != ledger.account.address:  # the platform's account paid for the withdrawals' gas
            assert w3.eth.get_balance(address) == before + owed
    assert w3.eth.get_balance(split) == 0


@pytest.mark.django_db
@pytest.mark.parametrize("ledger", ["embedded"], indirect=True)
def test_batches_with_one_split_share_one_clone(catalogue: Catalogue, ledger: Ledger, settings: Any) -> None:
    settings.LEDGERLINE_MINT_BATCH = 1  # each work its own batch
    unclaimed = pinned(catalogue)  # minted before anyone registered a wallet
    works_mint(works=unclaimed)
    assert royalty_info(ledger, unclaimed[0])[0] == ledger.account.address  # everything to the platform: no split

    wallets_register(catalogue)
    same = pinned(catalogue, 2)
    catalogue.team.owner.client.put(
        "/api/v1/organisations/acme-records/royalty-policy/", {"platform_share": "0.1"}, format="json"
    )
    other = pinned(catalogue)
    works_mint(works=[*same, *other])

    first, second, third = (royalty_info(ledger, w)[0] for w in [*same, *other])
    assert first == second != third
    assert third == splits.split_address(
        ledger=ledger, recipients={ADA_WALLET: 75 * 10**9, LABEL_WALLET: 825 * 10**9, ledger.account.address: 10**11}
    )
    assert ChainTransaction.objects.filter(kind="split_create", status=TxStatus.CONFIRMED).count() == 2


class Crash(BaseException):
    """The worker dies (as `kill -9` would: nothing catches it)."""


@pytest.mark.django_db
@pytest.mark.parametrize("ledger", ["embedded"], indirect=True)
def test_a_crash_once_the_split_is_sent_leaves_one_split_and_one_token(
    catalogue: Catalogue, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    wallets_register(catalogue)
    [work] = pinned(catalogue)
    sending = ChainTransaction.objects.filter(kind="split_create", status=TxStatus.PENDING)

    def crash(name: str) -> None:
        if name == "after_broadcast" and sending.exists():
            raise Crash

    monkeypatch.setattr(services, "fault_point", crash)
    with pytest.raises(Crash):
        works_mint(works=[work])
    assert Work.objects.get(pk=work.pk).status == WorkStatus.PINNED
    monkeypatch.undo()
    works_mint(works=[Work.objects.get(pk=work.pk)])  # the retry, by the next worker

    split, _ = royalty_info(ledger, work)
    assert ChainTransaction.objects.get(kind="split_create").payload["split"] == split
    assert ChainTransaction.objects.filter(kind="mint", status=TxStatus.CONFIRMED).count() == 1
    assert splits.split_recipients(ledger=ledger, split=split)[ADA_WALLET] == 75 * 10**9
