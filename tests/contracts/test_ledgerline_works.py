"""The LedgerlineWorks contract on an in-process EVM (eth-tester with py-evm)."""

import hashlib
from typing import Any

import pytest
from eth_tester import EthereumTester, PyEVMBackend
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from ledgerline.ledger.artifacts import artifact
from ledgerline.ledger.reverts import revert_error

CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"


def content(n: int) -> bytes:
    return hashlib.sha256(f"work {n}".encode()).digest()


@pytest.fixture
def w3() -> Web3:
    return Web3(Web3.EthereumTesterProvider(EthereumTester(PyEVMBackend())))


@pytest.fixture
def accounts(w3: Web3) -> dict[str, str]:
    admin, artist, buyer, stranger = w3.eth.accounts[:4]
    return {"admin": admin, "artist": artist, "buyer": buyer, "stranger": stranger}


@pytest.fixture
def works(w3: Web3, accounts: dict[str, str]) -> Contract:
    data = artifact("LedgerlineWorks")
    factory = w3.eth.contract(abi=data["abi"], bytecode=data["bytecode"])
    tx = factory.constructor("Ledgerline Works", "LLW", accounts["admin"]).transact({"from": accounts["admin"]})
    address = w3.eth.get_transaction_receipt(tx)["contractAddress"]
    return w3.eth.contract(address=address, abi=data["abi"])


def mint_call(
    works: Contract,
    to: str,
    hashes: list[bytes],
    *,
    receiver: str | None = None,
    bps: int = 500,
    cid: str = CID,
    marks: bytes = b"",
) -> Any:
    return works.functions.mintBatch(to, hashes, marks, cid, receiver or to, bps)


def mint(works: Contract, to: str, hashes: list[bytes], *, sender: str, **kwargs: Any) -> Any:
    tx = mint_call(works, to, hashes, **kwargs).transact({"from": sender})
    return works.w3.eth.get_transaction_receipt(tx)


def logs(works: Contract, event: str, tx: Any) -> list[Any]:
    """The ``event`` logs of a transaction (given by hash or receipt)."""
    receipt = tx if isinstance(tx, dict) or hasattr(tx, "logs") else works.w3.eth.get_transaction_receipt(tx)
    return list(getattr(works.events, event)().process_receipt(receipt, errors=DISCARD))


def reverts_with(works: Contract, call: Any, sender: str) -> str | None:
    """The name of the custom error ``call`` reverts with when sent by ``sender``."""
    with pytest.raises(Exception) as info:
        call.call({"from": sender})
    return revert_error(works.abi, info.value)


def test_a_batch_gives_each_work_its_own_token(works: Contract, accounts: dict[str, str]) -> None:
    receipt = mint(works, accounts["artist"], [content(i) for i in range(3)], sender=accounts["admin"])
    assert works.functions.totalMinted().call() == 3
    assert [works.functions.ownerOf(t).call() for t in (1, 2, 3)] == [accounts["artist"]] * 3
    assert works.functions.balanceOf(accounts["artist"]).call() == 3
    assert works.functions.tokenURI(2).call() == f"ipfs://{CID}/2.json"
    transfers = logs(works, "Transfer", receipt)
    assert [(t.args["from"], t.args.to, t.args.tokenId) for t in transfers] == [
        ("0x" + "00" * 20, accounts["artist"], token) for token in (1, 2, 3)
    ]
    [batch] = logs(works, "BatchMinted", receipt)
    assert batch.args.contentHashes == [content(i) for i in range(3)]


def test_a_single_work_emits_a_plain_transfer(works: Contract, accounts: dict[str, str]) -> None:
    receipt = mint(works, accounts["artist"], [content(0)], sender=accounts["admin"])
    [event] = logs(works, "Transfer", receipt)
    assert event.args.tokenId == 1 and event.args["from"] == "0x" + "00" * 20


def test_watermarks_are_announced_and_looked_up_by_their_topic(works: Contract, accounts: dict[str, str]) -> None:
    marks = [b"\x11" * 8, bytes(8), b"\x33" * 8]  # the second work has none
    receipt = mint(
        works, accounts["artist"], [content(i) for i in range(3)], sender=accounts["admin"], marks=b"".join(marks)
    )
    # Anonymous: the one topic is the mark (left-aligned, as an indexed bytes8), the data the token.
    announced = [
        (log["topics"][0], int.from_bytes(log["data"], "big")) for log in receipt["logs"] if len(log["topics"]) == 1
    ]
    assert announced == [(b"\x11" * 8 + bytes(24), 1), (b"\x33" * 8 + bytes(24), 3)]
    found = works.w3.eth.get_logs({"address": works.address, "fromBlock": 0, "topics": ["0x" + "33" * 8 + "00" * 24]})
    assert [int.from_bytes(log["data"], "big") for log in found] == [3]
    unmarked = mint(works, accounts["artist"], [content(9)], sender=accounts["admin"])
    assert [log for log in unmarked["logs"] if len(log["topics"]) == 1] == []
    short = mint_call(works, accounts["artist"], [content(5), content(6)], marks=b"\x44" * 8)
    assert reverts_with(works, short, accounts["admin"]) == "InvalidBatch"


def test_content_hashes_are_provable_and_looked_up(works: Contract, accounts: dict[str, str]) -> None:
    mint(works, accounts["artist"], [content(i) for i in range(5)], sender=accounts["admin"])
    assert works.functions.tokenOfContent(content(3)).call() == 4
    assert works.functions.isContentOf(4, content(3)).call()
    assert not works.functions.isContentOf(4, content(2)).call()
    assert works.functions.tokenOfContent(content(99)).call() == 0
    assert not works.functions.isContentOf(0, content(99)).call()


def test_the_same_content_can_never_be_minted_twice(works: Contract, accounts: dict[str, str]) -> None:
    mint(works, accounts["artist"], [content(1)], sender=accounts["admin"])
    again = mint_call(works, accounts["buyer"], [content(2), content(1)])
    assert reverts_with(works, again, accounts["admin"]) == "DuplicateContent"
    twice_in_one = mint_call(works, accounts["buyer"], [content(5), content(5)])
    assert reverts_with(works, twice_in_one, accounts["admin"]) == "DuplicateContent"
    assert works.functions.totalMinted().call() == 1
    assert works.functions.tokenOfContent(content(2)).call() == 0


def test_buyers_cant_mint(works: Contract, accounts: dict[str, str]) -> None:
    call = mint_call(works, accounts["stranger"], [content(1)])
    assert reverts_with(works, call, accounts["stranger"]) == "AccessControlUnauthorizedAccount"
    minter = works.functions.MINTER_ROLE().call()
    works.functions.grantRole(minter, accounts["artist"]).transact({"from": accounts["admin"]})
    mint(works, accounts["artist"], [content(1)], sender=accounts["artist"])
    grant = works.functions.grantRole(minter, accounts["stranger"])
    assert reverts_with(works, grant, accounts["artist"]) == "AccessControlUnauthorizedAccount"


@pytest.mark.parametrize(
    ("hashes", "cid", "bps"), [([], CID, 0), ([b"\x01" * 32], "", 0), ([b"\x01" * 32], CID, 10_001)]
)
def test_bad_batches_are_refused(
    works: Contract, accounts: dict[str, str], hashes: list[bytes], cid: str, bps: int
) -> None:
    call = mint_call(works, accounts["artist"], hashes, cid=cid, bps=bps)
    assert reverts_with(works, call, accounts["admin"]) == "InvalidBatch"


def test_royalties_come_from_the_batch_or_the_default(works: Contract, accounts: dict[str, str]) -> None:
    mint(
        works,
        accounts["artist"],
        [content(1), content(2)],
        sender=accounts["admin"],
        receiver=accounts["buyer"],
        bps=750,
    )
    assert works.functions.royaltyInfo(2, 10_000).call() == [accounts["buyer"], 750]
    works.functions.setDefaultRoyalty(accounts["admin"], 100).transact({"from": accounts["admin"]})
    mint(works, accounts["artist"], [content(3)], sender=accounts["admin"], receiver="0x" + "00" * 20, bps=0)
    assert works.functions.royaltyInfo(3, 10_000).call() == [accounts["admin"], 100]


def test_a_transfer_moves_one_token_and_leaves_its_batch(works: Contract, accounts: dict[str, str]) -> None:
    mint(works, accounts["artist"], [content(i) for i in range(4)], sender=accounts["admin"])
    works.functions.transferFrom(accounts["artist"], accounts["buyer"], 2).transact({"from": accounts["artist"]})
    owners = [works.functions.ownerOf(t).call() for t in range(1, 5)]
    assert owners == [accounts["artist"], accounts["buyer"], accounts["artist"], accounts["artist"]]
    assert works.functions.balanceOf(accounts["artist"]).call() == 3
    assert works.functions.balanceOf(accounts["buyer"]).call() == 1
    stale = works.functions.transferFrom(accounts["artist"], accounts["stranger"], 2)  # no longer the artist's
    assert reverts_with(works, stale, accounts["artist"]) == "ERC721InsufficientApproval"
    works.functions.approve(accounts["stranger"], 3).transact({"from": accounts["artist"]})
    works.functions.transferFrom(accounts["artist"], accounts["stranger"], 3).transact({"from": accounts["stranger"]})
    assert works.functions.ownerOf(3).call() == accounts["stranger"]


def test_tokens_cannot_be_burned_or_sent_nowhere(works: Contract, accounts: dict[str, str]) -> None:
    mint(works, accounts["artist"], [content(1)], sender=accounts["admin"])
    burn = works.functions.transferFrom(accounts["artist"], "0x" + "00" * 20, 1)
    assert reverts_with(works, burn, accounts["artist"]) == "ERC721InvalidReceiver"


def test_tokens_that_do_not_exist_say_so(works: Contract, accounts: dict[str, str]) -> None:
    mint(works, accounts["artist"], [content(1), content(2)], sender=accounts["admin"])
    for token in (0, 3):
        assert reverts_with(works, works.functions.ownerOf(token), accounts["buyer"]) == "ERC721NonexistentToken"
        assert reverts_with(works, works.functions.tokenURI(token), accounts["buyer"]) == "ERC721NonexistentToken"


def test_metadata_updates_follow_erc4906(works: Contract, accounts: dict[str, str]) -> None:
    mint(works, accounts["artist"], [content(i) for i in range(3)], sender=accounts["admin"])
    tx = works.functions.setBatchMetadata(0, "bafynew").transact({"from": accounts["admin"]})
    [event] = logs(works, "BatchMetadataUpdate", tx)
    assert (event.args._fromTokenId, event.args._toTokenId) == (1, 3)
    assert works.functions.tokenURI(3).call() == "ipfs://bafynew/3.json"
    evil = works.functions.setBatchMetadata(0, "bafyevil")
    assert reverts_with(works, evil, accounts["artist"]) == "AccessControlUnauthorizedAccount"


def test_dataset_and_model_anchors_are_recorded_once(works: Contract, accounts: dict[str, str]) -> None:
    root, weights = hashlib.sha256(b"root").digest(), hashlib.sha256(b"weights").digest()
    tx = works.functions.anchorDataset(root, "ipfs://bafymanifest").transact({"from": accounts["admin"]})
    [event] = logs(works, "DatasetAnchored", tx)
    assert event.args.merkleRoot == root
    assert works.functions.datasetAnchoredAt(root).call() > 0
    works.functions.anchorModel(weights, root, "ipfs://bafymodel").transact({"from": accounts["admin"]})
    assert works.functions.modelAnchoredAt(weights).call() > 0
    again = works.functions.anchorDataset(root, "again")
    assert reverts_with(works, again, accounts["admin"]) == "AlreadyAnchored"
    forged = works.functions.anchorModel(hashlib.sha256(b"x").digest(), root, "")
    assert reverts_with(works, forged, accounts["stranger"]) == "AccessControlUnauthorizedAccount"


def test_signing_keys_are_published_with_their_history(works: Contract, accounts: dict[str, str]) -> None:
    public_key, organisation = b"0Y0\x13 a DER public key", bytes(range(16))
    tx = works.functions.anchorKey(public_key, organisation).transact({"from": accounts["admin"]})
    [event] = logs(works, "KeyAnchored", tx)
    key_hash = hashlib.sha256(public_key).digest()  # the key id anyone can recompute
    assert (event.args.keyHash, event.args.organisation) == (key_hash, organisation)
    owner, anchored, retired, stored = works.functions.signingKey(key_hash).call()
    assert (owner, stored, retired) == (organisation, public_key, 0) and anchored > 0
    works.functions.retireKey(key_hash).transact({"from": accounts["admin"]})
    assert works.functions.signingKey(key_hash).call()[2] >= anchored > 0
    assert reverts_with(works, works.functions.retireKey(key_hash), accounts["admin"]) == "AlreadyAnchored"
    again = works.functions.anchorKey(public_key, organisation)
    assert reverts_with(works, again, accounts["admin"]) == "AlreadyAnchored"
    unknown = works.functions.retireKey(hashlib.sha256(b"never anchored").digest())
    assert reverts_with(works, unknown, accounts["admin"]) == "NotAnchored"
    forged = works.functions.anchorKey(b"the stranger's key", organisation)
    assert reverts_with(works, forged, accounts["stranger"]) == "AccessControlUnauthorizedAccount"
    assert works.functions.signingKey(hashlib.sha256(b"the stranger's key").digest()).call()[1] == 0


def test_certificates_are_vouched_for_and_revoked(works: Contract, accounts: dict[str, str]) -> None:
    admin = accounts["admin"]
    ca, other_ca, leaf, public_key = b"0\x82 a CA", b"0\x82 another CA", b"0\x82 a leaf", b"0Y0 a key"
    key_hash = hashlib.sha256(public_key).digest()
    unanchored_key = works.functions.anchorCertificate(leaf, key_hash)
    assert reverts_with(works, unanchored_key, admin) == "NotAnchored"  # a key's certificate needs its key
    works.functions.anchorKey(public_key, bytes(16)).transact({"from": admin})
    works.functions.anchorCertificate(leaf, key_hash).transact({"from": admin})
    for anchor in (ca, other_ca):
        tx = works.functions.anchorCertificate(anchor, bytes(32)).transact({"from": admin})
    [event] = logs(works, "CertificateAnchored", tx)
    assert (event.args.certificateHash, event.args.keyHash) == (hashlib.sha256(other_ca).digest(), bytes(32))
    assert works.functions.trustAnchors().call() == [ca, other_ca]  # the leaf is no trust anchor
    bound, anchored, revoked = works.functions.certificates(hashlib.sha256(leaf).digest()).call()
    assert (bound, revoked) == (key_hash, 0) and anchored > 0
    assert reverts_with(works, works.functions.anchorCertificate(ca, bytes(32)), admin) == "AlreadyAnchored"
    stranger = works.functions.anchorCertificate(b"0\x82 the stranger's CA", bytes(32))
    assert reverts_with(works, stranger, accounts["stranger"]) == "AccessControlUnauthorizedAccount"

    works.functions.revokeCertificate(hashlib.sha256(ca).digest()).transact({"from": admin})
    assert works.functions.trustAnchors().call() == [other_ca]
    assert works.functions.certificates(hashlib.sha256(ca).digest()).call()[2] > 0
    again = works.functions.revokeCertificate(hashlib.sha256(ca).digest())
    assert reverts_with(works, again, admin) == "AlreadyAnchored"
    never = works.functions.revokeCertificate(hashlib.sha256(b"never").digest())
    assert reverts_with(works, never, admin) == "NotAnchored"
    revoke_leaf = works.functions.revokeCertificate(hashlib.sha256(leaf).digest())
    assert reverts_with(works, revoke_leaf, accounts["stranger"]) == "AccessControlUnauthorizedAccount"


def test_consent_withdrawals_are_listed_per_dataset_root(works: Contract, accounts: dict[str, str]) -> None:
    root, files = hashlib.sha256(b"root").digest(), [hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()]
    early = works.functions.withdrawConsent(root, files[0])
    assert reverts_with(works, early, accounts["admin"]) == "NotAnchored"  # only anchored roots
    works.functions.anchorDataset(root, "ipfs://bafymanifest").transact({"from": accounts["admin"]})
    for file in files:
        tx = works.functions.withdrawConsent(root, file).transact({"from": accounts["admin"]})
    [event] = logs(works, "ConsentWithdrawn", tx)
    assert (event.args.merkleRoot, event.args.fileHash) == (root, files[1])
    listed = works.functions.consentWithdrawals(root).call()
    assert [f for f, _ in listed] == files and all(at > 0 for _, at in listed)
    assert works.functions.consentWithdrawnAt(root, files[0]).call() == listed[0][1]
    assert reverts_with(works, works.functions.withdrawConsent(root, files[0]), accounts["admin"]) == "AlreadyAnchored"
    assert reverts_with(works, works.functions.withdrawConsent(root, files[0]), accounts["stranger"]) == (
        "AccessControlUnauthorizedAccount"
    )
    assert works.functions.consentWithdrawals(hashlib.sha256(b"other").digest()).call() == []


@pytest.mark.parametrize(
    ("interface", "supported"),
    [
        ("0x80ac58cd", True),
        ("0x5b5e139f", True),
        ("0x2a55205a", True),
        ("0x49064906", True),
        ("0x7965db0b", True),
        ("0xffffffff", False),
    ],
)
def test_it_declares_its_interfaces(works: Contract, interface: str, supported: bool) -> None:
    assert works.functions.supportsInterface(bytes.fromhex(interface[2:])).call() is supported


def test_many_batches_keep_their_owners_apart(works: Contract, accounts: dict[str, str]) -> None:
    owners = [accounts["artist"], accounts["buyer"], accounts["stranger"]]
    n = 0
    for round_ in range(6):
        size = [1, 7, 2][round_ % 3]
        mint(works, owners[round_ % 3], [content(n + i) for i in range(size)], sender=accounts["admin"])
        n += size
    expected = []
    for round_ in range(6):
        expected += [owners[round_ % 3]] * [1, 7, 2][round_ % 3]
    assert [works.functions.ownerOf(t).call() for t in range(1, n + 1)] == expected
    assert works.functions.batchOf(9).call()[0] == 2
