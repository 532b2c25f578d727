"""Gas per minted work: LedgerlineWorks against a plain OpenZeppelin ERC721URIStorage.

Deploys both contracts on one in-process EVM (gas is the same on any EVM of the same fork)
and mints 1, 10 and 100 works with each: LedgerlineWorks in one batch transaction, the
baseline one `mint(to, uri)` transaction per work, as ERC721URIStorage is used. Counts the
whole transaction gas (what a minter pays) and prints gas per work and the ratio to the
baseline (below 1.0 = cheaper). "of which watermark": what announcing each work's audio watermark
adds (the same batches minted on a second deployment with no marks, side by side).

    .venv/bin/python bench/gas.py
"""

import hashlib
import sys
from pathlib import Path
from typing import cast

from eth_tester import EthereumTester, PyEVMBackend
from web3 import Web3
from web3.contract import Contract

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))
from ledgerline.ledger.artifacts import artifact

CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"


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


if __name__ == "__main__":
    main()
