"""Gas per minted work: LedgerlineWorks against a plain OpenZeppelin ERC721URIStorage.

Deploys both contracts on one in-process EVM (gas is the same on any EVM of the same fork)
and mints 1, 10 and 100 works with each: LedgerlineWorks in one batch transaction, the
baseline one `mint(to, uri)` transaction per work, as ERC721URIStorage is used. Counts the
whole transaction gas (what a minter pays) and prints gas per work and the ratio to the
baseline (below 1.0 = cheaper). "of which watermark": what announcing each work's audio watermark
adds (the same batches minted on a second deployment with no marks, side by side).

Then the royalty split: the factory's deployment, a split's creation for 2, 10 and 100
recipients, and for 10 and 100 recipients a distribution (the first, to recipients the split
has never credited, and a later one) and every recipient's withdrawal, in ETH and in an
ERC-20, beside 0xSplits v1 SplitMain's published figures where they published one (createSplit
and distributeETH, the latter to recipients already initialised, so our later distribution
is the one to compare). Recipients hold some ETH already, as wallets do.

    .venv/bin/python bench/gas.py
"""

import hashlib
import sys
from pathlib import Path
from typing import cast

from eth_tester import EthereumTester, PyEVMBackend
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.types import Wei

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))
from ledgerline.ledger.artifacts import artifact

CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
ETH = "0x0000000000000000000000000000000000000000"
# 0xSplits v1 (SplitMain, immutable split, no distributor fee): "Gas Estimates", Total Gas.
OXSPLITS_SOURCE = (
    "0xSplits docs, Gas Estimates (docs.0xsplits.xyz/appendices/gas-estimates; github.com/0xSplits/docs "
    "pages/appendices/gas-estimates.mdx at d6021f2f, 2022-07-15)"
)
OXSPLITS = {
    ("createSplit", 2): 100_729,
    ("createSplit", 10): 110_802,
    ("createSplit", 100): 223_155,
    ("distribute ETH, later", 10): 110_069,
    ("distribute ETH, later", 100): 702_505,
}


def deploy(w3: Web3, name: str, *args: object) -> Contract:
    data = artifact(name)
    tx = w3.eth.contract(abi=data["abi"], bytecode=data["bytecode"]).constructor(*args).transact()
    receipt = w3.eth.get_transaction_receipt(tx)
    print(f"deployed {name}: {receipt['gasUsed']:,} gas")
    return cast(Contract, w3.eth.contract(address=receipt["contractAddress"], abi=data["abi"]))


def main() -> None:
    w3 = Web3(Web3.EthereumTesterProvider(EthereumTester(PyEVMBackend())))
    admin, owner = list(w3.eth.accounts)[:2]
    w3.eth.default_account = admin
    works = deploy(w3, "LedgerlineWorks", "Ledgerline Works", "LLW", admin)
    unmarked = deploy(w3, "LedgerlineWorks", "Ledgerline Works", "LLW", admin)  # the same mints, no marks
    baseline = deploy(w3, "BaselineURIStorage")
    minted = 0
    print(
        f"\n{'works':>6} {'Ledgerline gas/work':>20} {'baseline gas/work':>18} {'ratio':>7} {'of which watermark':>19}"
    )
    for size in (1, 10, 100):
        hashes = [hashlib.sha256(f"work {minted + i}".encode()).digest() for i in range(size)]
        marks = b"".join(hashlib.sha256(h).digest()[:8] for h in hashes)
        tx = works.functions.mintBatch(owner, hashes, marks, CID, owner, 500).transact({"gas": 30_000_000})
        ours = w3.eth.get_transaction_receipt(tx)["gasUsed"]
        tx = unmarked.functions.mintBatch(owner, hashes, b"", CID, owner, 500).transact({"gas": 30_000_000})
        without = w3.eth.get_transaction_receipt(tx)["gasUsed"]
        theirs = 0
        for i in range(size):
            uri = f"ipfs://{CID}/{minted + i + 1}.json"
            theirs += w3.eth.get_transaction_receipt(baseline.functions.mint(owner, uri).transact())["gasUsed"]
        minted += size
        print(
            f"{size:>6} {ours / size:>20,.0f} {theirs / size:>18,.0f} {ours / theirs:>7.3f} "
            f"{(ours - without) / size:>19,.0f}"
        )
    splits_bench(w3)


def gas(w3: Web3, tx: HexBytes) -> int:
    return int(w3.eth.get_transaction_receipt(tx)["gasUsed"])


def row(operation: str, size: int, ours: int) -> None:
    theirs = OXSPLITS.get((operation, size))
    published = f"{theirs:>12,}" if theirs else f"{'-':>12}"
    ratio = f"{ours / theirs:>7.2f}" if theirs else f"{'-':>7}"
    print(f"{operation:<26} {size:>10} {ours:>12,} {published} {ratio}")


def splits_bench(w3: Web3) -> None:
    """The split's gas beside 0xSplits v1's published figures."""
    admin = w3.eth.accounts[0]
    print()
    factory = deploy(w3, "LedgerlineSplits")
    token = deploy(w3, "TestToken")
    split_abi = artifact("LedgerlineSplit")["abi"]
    print(f"\n{'split operation':<26} {'recipients':>10} {'Ledgerline':>12} {'0xSplits v1':>12} {'ratio':>7}")
    made = 0
    for size in (2, 10, 100):
        accounts = [Web3.to_checksum_address(f"0x{0xA0 << 152 | (made + i):040x}") for i in range(size)]
        made += size
        for account in accounts:  # wallets that exist, as recipients' do
            w3.eth.send_transaction({"from": admin, "to": account, "value": Wei(1)})
        parts = [1_000 + i for i in range(size)]
        row("createSplit", size, gas(w3, factory.functions.createSplit(accounts, parts).transact({"gas": 30_000_000})))
        if size == 2:
            continue
        split = w3.eth.contract(address=factory.functions.predictSplit(accounts, parts).call(), abi=split_abi)
        for name, asset in (("ETH", ETH), ("ERC-20", token.address)):
            for when in ("first", "later"):
                if asset == ETH:
                    w3.eth.send_transaction({"from": admin, "to": split.address, "value": Wei(10**18 + 7)})
                else:
                    token.functions.mint(split.address, 10**18 + 7).transact()
                distributed = gas(w3, split.functions.distribute(asset).transact({"gas": 30_000_000}))
                withdrawn = sum(gas(w3, split.functions.withdraw(a, asset).transact()) for a in accounts)
                row(f"distribute {name}, {when}", size, distributed)
                row(f"withdraw {name} x{size}, {when}", size, withdrawn)
    print(f"\n0xSplits v1 figures: {OXSPLITS_SOURCE}; '-': no published figure.")


if __name__ == "__main__":
    main()
