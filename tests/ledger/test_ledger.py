"""Minting and anchoring through the ledger client, on the embedded chain and on anvil."""

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from web3 import HTTPProvider, Web3

from ledgerline.errors import LedgerlineError
from ledgerline.ledger import services
from ledgerline.ledger.client import ChainUnavailable, Ledger, with_retries
from ledgerline.ledger.models import ChainTransaction, Token, TxStatus
from tests.ledger.conftest import anvil, chain_env, fund, keyfile_for_new_account, manage

CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
ROOT = Path(__file__).resolve().parents[2]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def ledger(db: Any, chain: dict[str, str]) -> Ledger:
    """A connected client; on a real node the contract is deployed explicitly first."""
    connected = Ledger.connect()
    if chain["backend"] == "anvil":
        services.contract_deploy(ledger=connected)
    return connected


def mint(ledger: Ledger, *texts: str, bps: int = 500) -> list[Token]:
    return services.contents_mint(
        ledger=ledger,
        content_hashes=[sha(t) for t in texts],
        metadata_cid=CID,
        to=ledger.account.address,
        royalty_receiver=ledger.account.address,
        royalty_bps=bps,
    )


def test_each_work_is_minted_once_however_often_asked(ledger: Ledger) -> None:
    first = mint(ledger, "a", "b", "c")
    assert [t.token_id for t in first] == [1, 2, 3]
    again = mint(ledger, "b", "c", "d")
    assert [t.token_id for t in again] == [2, 3, 4]
    contract = services.works_contract(ledger=ledger)
    assert contract.functions.totalMinted().call() == 4
    assert contract.functions.tokenOfContent(bytes.fromhex(sha("d"))).call() == 4
    kinds = list(ChainTransaction.objects.order_by("nonce").values_list("kind", "status"))
    assert kinds == [("deploy", "confirmed"), ("mint", "confirmed"), ("mint", "confirmed")]


def test_anchors_are_recorded_once(ledger: Ledger) -> None:
    first = services.dataset_anchor(ledger=ledger, merkle_root=sha("root"), manifest_uri="ipfs://bafym")
    assert services.dataset_anchor(ledger=ledger, merkle_root=sha("root"), manifest_uri="ipfs://bafym") == first
    assert (
        services.model_anchor(ledger=ledger, weights_sha256=sha("w"), datasets_commitment=sha("root"), manifest_uri="")
        > 0
    )
    assert ChainTransaction.objects.filter(kind__startswith="anchor").count() == 2


@pytest.mark.parametrize("chain", ["anvil"], indirect=True)  # the embedded chain deploys on first use
def test_a_real_node_needs_an_explicit_deployment(db: Any, chain: dict[str, str]) -> None:
    with pytest.raises(Exception, match="chain deploy"):
        mint(Ledger.connect(), "a")


def test_the_embedded_chain_keeps_its_tokens_across_restarts(db: Any, settings: Any, tmp_path: Path) -> None:
    for name, value in chain_env("embedded", tmp_path).items():
        setattr(settings, name, Path(value) if name in ("CHAIN_STATE_DIR", "CHAIN_ACCOUNT_KEYFILE") else value)
    mint(Ledger.connect(), "kept")
    restarted = Ledger.connect()  # a new process would build exactly this from the files
    contract = services.works_contract(ledger=restarted)
    assert contract.functions.tokenOfContent(bytes.fromhex(sha("kept"))).call() == 1
    assert contract.functions.ownerOf(1).call() == restarted.account.address


def test_anvil_keeps_its_tokens_across_restarts_with_its_state_file(db: Any, settings: Any, tmp_path: Path) -> None:
    state, port = tmp_path / "anvil-state.json", None
    env = chain_env("anvil", tmp_path)
    address = keyfile_for_new_account(Path(env["CHAIN_ACCOUNT_KEYFILE"]))
    settings.CHAIN_ACCOUNT_KEYFILE, settings.CHAIN_ACCOUNT_PASSPHRASE = (
        Path(env["CHAIN_ACCOUNT_KEYFILE"]),
        env["CHAIN_ACCOUNT_PASSPHRASE"],
    )
    with anvil(state=state) as url:
        port = int(url.rsplit(":", 1)[1])
        settings.CHAIN_RPC_URL = url
        fund(url, address)
        ledger = Ledger.connect()
        services.contract_deploy(ledger=ledger)
        mint(ledger, "kept")
    with anvil(state=state, port=port):
        contract = services.works_contract(ledger=Ledger.connect())
        assert contract.functions.tokenOfContent(bytes.fromhex(sha("kept"))).call() == 1


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["embedded", "anvil"])
def test_a_crash_between_send_and_record_leaves_exactly_one_token(tmp_path: Path, backend: str) -> None:
    from contextlib import nullcontext

    with anvil() if backend == "anvil" else nullcontext("") as url:
        env = {
            **chain_env(backend, tmp_path, url or ""),
            "LEDGERLINE_VAR_DIR": str(tmp_path / "var"),
            "DATABASE_URL": "",
        }
        if backend == "anvil":
            fund(url, keyfile_for_new_account(Path(env["CHAIN_ACCOUNT_KEYFILE"])))
        assert manage("migrate", "-v0", env=env).returncode == 0
        assert manage("chain", "deploy", env=env).returncode == 0
        crashed = manage("chain", "mint", sha("work"), "--cid", CID, env={**env, "LEDGERLINE_FAULT": "after_broadcast"})
        assert crashed.returncode == 137
        assert json.loads(manage("chain", "status", env=env).stdout)["transactions"]["pending"] == 1
        again = manage("chain", "mint", sha("work"), "--cid", CID, env=env)
        assert again.returncode == 0, again.stderr
        assert f"{sha('work')} -> token 1" in again.stdout
        status = json.loads(manage("chain", "status", env=env).stdout)
        # the two deployments (works contract, split factory) and the one mint
        assert status["transactions"] == {"pending": 0, "confirmed": 3, "failed": 0} and status["tokens"] == 1
        assert status["minted_on_chain"] == 1
        if backend == "anvil":  # and the node itself agrees, asked without Ledgerline
            abi = json.loads((ROOT / "contracts/build/LedgerlineWorks.json").read_text())["abi"]
            works = Web3(HTTPProvider(url)).eth.contract(address=status["contract"], abi=abi)
            assert works.functions.totalMinted().call() == 1


@pytest.mark.parametrize("chain", ["anvil"], indirect=True)
def test_an_outsider_checks_a_work_with_plain_web3_and_the_committed_abi(ledger: Ledger, chain: dict[str, str]) -> None:
    [token] = mint(ledger, "released track", bps=750)
    # Nothing from Ledgerline below: the node, the contract address and the committed ABI.
    w3 = Web3(HTTPProvider(chain["CHAIN_RPC_URL"]))
    abi = json.loads((ROOT / "contracts/build/LedgerlineWorks.json").read_text())["abi"]
    works = w3.eth.contract(address=services.contract_address(ledger=ledger), abi=abi)
    content = hashlib.sha256(b"released track").digest()
    assert works.functions.tokenOfContent(content).call() == token.token_id
    assert works.functions.isContentOf(token.token_id, content).call()
    assert works.functions.ownerOf(token.token_id).call() == ledger.account.address
    assert works.functions.tokenURI(token.token_id).call() == f"ipfs://{CID}/{token.token_id}.json"
    assert works.functions.royaltyInfo(token.token_id, 10_000).call() == [ledger.account.address, 750]


def test_a_node_that_is_down_is_a_clear_503(db: Any, settings: Any, tmp_path: Path) -> None:
    env = chain_env("anvil", tmp_path, "http://127.0.0.1:9")  # nothing listens on the discard port
    keyfile_for_new_account(Path(env["CHAIN_ACCOUNT_KEYFILE"]))
    for name, value in env.items():
        setattr(settings, name, Path(value) if name in ("CHAIN_STATE_DIR", "CHAIN_ACCOUNT_KEYFILE") else value)
    with pytest.raises(ChainUnavailable, match="does not answer") as info:
        Ledger.connect().chain_id  # noqa: B018
    assert info.value.status == 503


def test_transient_errors_are_retried_with_backoff() -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("connection reset")
        return "answer"

    assert with_retries(flaky, what="test", delay=0.01) == "answer"
    assert len(calls) == 3


def test_pending_records_are_settled_by_resume(ledger: Ledger) -> None:
    contract = services.works_contract(ledger=ledger)
    call = contract.functions.mintBatch(
        ledger.account.address, [bytes.fromhex(sha("x"))], b"", CID, ledger.account.address, 0
    )
    record = ledger.prepare(
        kind="mint",
        payload={"contract": contract.address, "content_hashes": [sha("x")], "metadata_cid": CID},
        tx={"to": contract.address, "data": call._encode_transaction_data(), "value": 0},
    )
    # Signed and recorded, never sent: resume sends it and records the token.
    assert [r.pk for r in services.transactions_resume(ledger=ledger)] == [record.pk]
    record.refresh_from_db()
    assert record.status == TxStatus.CONFIRMED
    assert Token.objects.get(content_sha256=sha("x")).token_id == 1


def test_a_transaction_the_chain_refuses_is_named_and_not_recorded(ledger: Ledger) -> None:
    mint(ledger, "once")
    contract = services.works_contract(ledger=ledger)
    call = contract.functions.mintBatch(
        ledger.account.address, [bytes.fromhex(sha("once"))], b"", CID, ledger.account.address, 0
    )
    before = ChainTransaction.objects.count()
    with pytest.raises(LedgerlineError, match="refuses this mint transaction: DuplicateContent"):
        ledger.prepare(
            kind="mint", payload={}, tx={"to": contract.address, "data": call._encode_transaction_data(), "value": 0}
        )
    assert ChainTransaction.objects.count() == before


@pytest.mark.parametrize("value", ["xyz", "ab" * 31, "0x" + "zz" * 32])
def test_a_malformed_content_hash_is_a_clear_error(ledger: Ledger, value: str) -> None:
    with pytest.raises(LedgerlineError, match="is not a SHA-256 content hash"):
        services.contents_mint(
            ledger=ledger,
            content_hashes=[value],
            metadata_cid=CID,
            to=ledger.account.address,
            royalty_receiver=ledger.account.address,
            royalty_bps=0,
        )


def test_hashes_are_normalised_before_minting(ledger: Ledger) -> None:
    upper = "0x" + sha("norm").upper()
    [token] = services.contents_mint(
        ledger=ledger,
        content_hashes=[upper],
        metadata_cid=CID,
        to=ledger.account.address,
        royalty_receiver=ledger.account.address,
        royalty_bps=0,
    )
    assert token.content_sha256 == sha("norm")


def test_a_recorded_contract_missing_from_the_chain_is_reported(ledger: Ledger, settings: Any) -> None:
    settings.CHAIN_CONTRACT_ADDRESS = "0x" + "12" * 20
    with pytest.raises(LedgerlineError, match="no contract at"):
        mint(ledger, "nowhere")


def test_a_nonce_taken_by_another_transaction_fails_the_record(ledger: Ledger) -> None:
    contract = services.works_contract(ledger=ledger)
    call = contract.functions.anchorDataset(bytes.fromhex(sha("r1")), "")
    stale = ledger.prepare(
        kind="anchor_dataset",
        payload={},
        tx={"to": contract.address, "data": call._encode_transaction_data(), "value": 0},
    )
    # Before it is sent, the same key spends that nonce elsewhere (an operator's wallet, say).
    rival = ledger.account.sign_transaction(
        {
            "to": "0x" + "11" * 20,
            "value": 1,
            "gas": 21_000,
            "nonce": stale.nonce,
            "chainId": ledger.chain_id,
            "maxFeePerGas": 10**11,
            "maxPriorityFeePerGas": 10**9,
        }
    )
    ledger.w3.eth.wait_for_transaction_receipt(ledger.w3.eth.send_raw_transaction(rival.raw_transaction))
    assert services.transactions_resume(ledger=ledger) == [stale]
    stale.refresh_from_db()
    assert stale.status == TxStatus.FAILED and "nonce was used" in stale.error
    # The next transaction takes the next free nonce, so nothing stalls behind the failed one.
    services.dataset_anchor(ledger=ledger, merkle_root=sha("r2"), manifest_uri="")
    assert ChainTransaction.objects.filter(kind="anchor_dataset", status=TxStatus.CONFIRMED).count() == 1
