"""The embedded chain read from outside (/chain/rpc): web3.py and the independent verifier in a
process without Django reach their verdicts through the site alone; nothing that writes is served."""

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import c2pa
import pytest
import requests
from web3 import HTTPProvider, Web3

from ledgerline.ledger.artifacts import artifact
from tests.audit.conftest import Released
from tests.audit.test_independent import verifier
from tests.audit.test_tampering import flip_audio_byte


def rpc(url: str, body: Any) -> requests.Response:
    return requests.post(f"{url}/chain/rpc", data=body if isinstance(body, bytes) else json.dumps(body), timeout=30)


def call(url: str, method: str, params: list[Any]) -> dict[str, Any]:
    response = rpc(url, {"jsonrpc": "2.0", "id": 7, "method": method, "params": params})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["id"] == 7
    return answer


@pytest.mark.django_db(transaction=True)
def test_web3_and_the_verifier_read_the_embedded_chain_through_the_site(
    released: Released, live_server: Any, tmp_path: Path
) -> None:
    info = requests.get(f"{live_server.url}/chain/", timeout=30).json()
    assert info["rpc"] == f"{live_server.url}/chain/rpc" and info["ipfs_gateway"] == f"{live_server.url}/ipfs"
    w3 = Web3(HTTPProvider(info["rpc"]))
    assert w3.eth.chain_id == info["chain_id"] and w3.net.version == str(info["chain_id"])
    contract = w3.eth.contract(address=info["contract"], abi=artifact("LedgerlineWorks")["abi"])
    work = released.works[0]
    token_id = work["token"]["token_id"]
    assert contract.functions.tokenOfContent(bytes.fromhex(work["content_sha256"])).call() == token_id
    minted = contract.events.Transfer().get_logs(from_block=0, argument_filters={"tokenId": token_id})
    assert len(minted) == 1
    receipt = w3.eth.get_transaction_receipt(minted[0]["transactionHash"])
    assert receipt["status"] == 1 and receipt["blockNumber"] == minted[0]["blockNumber"] <= w3.eth.block_number
    assert w3.eth.get_transaction(minted[0]["transactionHash"])["to"] == info["contract"]
    block = w3.eth.get_block(receipt["blockNumber"], full_transactions=True)
    assert minted[0]["transactionHash"] in [tx["hash"] for tx in block["transactions"]]

    folder = requests.get(f"{info['ipfs_gateway']}/{work['cid']}/", timeout=30)  # a folder, as gateways list it
    assert folder.status_code == 200 and "work.wav" in folder.text
    wav = tmp_path / "work.wav"
    wav.write_bytes(requests.get(f"{info['ipfs_gateway']}/{work['cid']}/work.wav", timeout=30).content)

    def verify(path: Path, *more: str) -> tuple[int, dict[str, Any]]:
        """The verifier in a process without Django, through the site's RPC and gateway alone."""
        return verifier(info["rpc"], info["ipfs_gateway"], info["contract"], str(path), *more, source="--gateway")

    status, report = verify(wav)
    assert (status, report["verdict"]) == (0, "verified"), report["summary"]
    assert report["subject"]["token_id"] == token_id
    credentials = next(c for c in report["checks"] if c["link"] == "credentials")
    trust = credentials["details"]["trust"]
    assert credentials["details"]["state"] == "Trusted" and trust["trusted"], credentials
    assert "CN=Ledgerline C2PA CA" in trust["anchor"]["subject"] and trust["certificate_anchored_at"]
    assert "a trust anchor the contract holds" in credentials["reason"]
    # The trust list the site serves is the chain's, and c2pa's own Reader trusts the work with it.
    served = requests.get(f"{live_server.url}/c2pa/trust-settings.json", timeout=30).json()
    with (
        c2pa.Settings.from_dict(served) as trust_list,
        c2pa.Context(trust_list) as context,
        c2pa.Reader("audio/wav", io.BytesIO(wav.read_bytes()), context=context) as reader,
    ):
        assert json.loads(reader.json())["validation_state"] == "Trusted"
    # A file trained on, with its version's inclusion proof: registered training data, checked.
    chorale = released.files[0]
    query = {"sha256": hashlib.sha256(chorale.read_bytes()).hexdigest()}
    proof = released.team.owner.client.get(f"/api/v1/dataset-versions/{released.versions[0]['id']}/proof/", query)
    (tmp_path / "proof.json").write_text(json.dumps(proof.json()))
    status, report = verify(chorale, "--proof", str(tmp_path / "proof.json"))
    assert (status, report["verdict"]) == (0, "verified"), report["summary"]
    found = report["match"]
    assert found["kind"] == "training_data" and found["proof_verified"] and found["anchored_at"]
    assert found["merkle_root"] == released.versions[0]["merkle_root"] and found["path"] == chorale.name
    assert found["stated"]["dataset"] == "Chorales"
    forged = {**proof.json(), "leaf_index": (proof.json()["leaf_index"] + 1) % proof.json()["tree_size"]}
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    status, report = verify(chorale, "--proof", str(tmp_path / "forged.json"))
    assert (status, report["verdict"]) == (1, "failed") and "does not lead" in report["summary"]

    changed = tmp_path / "changed.wav"
    changed.write_bytes(flip_audio_byte(wav.read_bytes()))
    status, report = verify(changed)
    assert (status, report["verdict"]) == (1, "failed"), report["summary"]


@pytest.mark.django_db(transaction=True)
def test_the_endpoint_serves_reads_only_and_refuses_what_it_cannot_read(
    embedded: None, live_server: Any, settings: Any, monkeypatch: Any
) -> None:
    from ledgerline import chain_rpc

    url = live_server.url
    assert call(url, "eth_blockNumber", [])["result"].startswith("0x")
    for method in ("eth_sendRawTransaction", "eth_sendTransaction", "eth_sign", "eth_accounts", "evm_mine"):
        answer = call(url, method, [])
        assert answer["error"]["code"] == -32601 and "reads the chain only" in answer["error"]["message"]
    refused = call(url, "eth_call", [{"data": "0x6000"}, "latest"])  # code of the caller's own: not run
    assert refused["error"]["code"] == -32602 and "`to`" in refused["error"]["message"]
    assert call(url, "eth_getBlockByNumber", ["0xzz", False])["error"]["code"] == -32602
    assert call(url, "eth_getLogs", [{"fromBlock": "0x0", "topics": ["0x12"]}])["error"]["code"] == -32602
    assert call(url, "eth_getTransactionReceipt", ["0x" + "00" * 32])["result"] is None
    contract = Web3().eth.contract(abi=artifact("LedgerlineWorks")["abi"])
    address = requests.get(f"{url}/chain/", timeout=30).json()["contract"]
    reverted = call(url, "eth_call", [{"to": address, "data": contract.encode_abi("tokenURI", [999])}, "latest"])
    assert reverted["error"]["code"] == -32000, reverted  # a revert is the call's error, not the site's
    for odd in ({"to": address, "data": "0xzz"}, {"to": address, "gas": "latest"}, {"to": address, "value": "0x1"}):
        assert call(url, "eth_call", [odd, "latest"])["error"]["code"] == -32602
    pairing = {"to": "0x" + "00" * 19 + "08", "data": "0x" + "00" * 192 * 100}  # a minute of pure-Python ecpairing
    assert "holds no contract" in call(url, "eth_call", [pairing, "latest"])["error"]["message"]
    future = "0xffffff"  # past the head: the chain's refusal, never a 500
    assert "error" in call(url, "eth_call", [{"to": address, "data": contract.encode_abi("totalMinted")}, future])
    assert "error" in call(url, "eth_getCode", [address, future])
    assert "error" in call(url, "eth_getLogs", [{"fromBlock": "0x0", "toBlock": future}])
    assert "error" in call(url, "eth_call", [{"to": address, "gas": "0x0"}, "latest"])
    monkeypatch.setattr(chain_rpc, "MAX_LOGS", 1)  # the contract has logged more than one entry by now
    assert call(url, "eth_getLogs", [{"fromBlock": "0x0", "address": address}])["error"]["code"] == -32005
    batch = rpc(url, [{"jsonrpc": "2.0", "id": i, "method": "eth_chainId"} for i in range(3)]).json()
    assert [a["id"] for a in batch] == [0, 1, 2] and len({a["result"] for a in batch}) == 1
    for body, status in [
        (b"{", 400),
        (b"[" * 100_000 + b"]" * 100_000, 400),  # nested past what a parser's stack holds
        (json.dumps([{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}] * 101).encode(), 400),
        (b"x" * 300_000, 413),
    ]:
        response = rpc(url, body)
        assert response.status_code == status and "error" in response.json(), response.text
    assert requests.get(f"{url}/chain/rpc", timeout=30).status_code == 405
    assert call(url, "eth_chainId", [])["result"]  # still answering

    settings.SITE_URL, settings.SITE_URL_SET = "https://ledgerline.example.com", True  # behind a proxy
    info = requests.get(f"{url}/chain/", timeout=30).json()
    assert (info["rpc"], info["ipfs_gateway"]) == (
        "https://ledgerline.example.com/chain/rpc",
        "https://ledgerline.example.com/ipfs",
    )
    settings.CHAIN_RPC_URL, settings.CHAIN_PUBLIC_RPC_URL = "http://chain:8545", "https://rpc.example.org"
    response = rpc(url, {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"})
    assert response.status_code == 404 and "https://rpc.example.org" in response.json()["error"]["message"]


@pytest.mark.django_db(transaction=True)
def test_the_endpoint_is_rate_limited(embedded: None, live_server: Any, monkeypatch: Any) -> None:
    from ledgerline.chain_rpc import ChainRpcThrottle

    monkeypatch.setattr(ChainRpcThrottle, "THROTTLE_RATES", {"chain_rpc": "4/min"})
    one = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}
    statuses = [rpc(live_server.url, body) for body in ([one] * 5, [one] * 3, one)]
    # Each call of a batch counts: five are too many; the refused request's own one counted,
    # three more reach the limit, and the next call is refused.
    assert [r.status_code for r in statuses] == [429, 200, 429]
    assert int(statuses[-1].headers["Retry-After"]) > 0


@pytest.mark.django_db
def test_a_ca_the_contract_does_not_hold_is_not_trusted(released: Released) -> None:
    """The same credentials against a chain whose one trust anchor is another CA: valid, signed
    with the anchored key, but untrusted, and the verdict says why."""
    from cryptography.hazmat.primitives import serialization

    from ledgerline.audit.services import platform_verifier
    from ledgerline_verify import Subject, Verifier
    from tests.audit.c2pa_files import other_ca

    engine = platform_verifier()
    chain = engine.chain
    held = chain.trust_anchors()
    assert len(held) == 1  # the deployment's CA, anchored when the key was published
    stranger = other_ca().public_bytes(serialization.Encoding.DER)
    chain.trust_anchors = lambda: [stranger]  # type: ignore[method-assign]
    work = released.works[0]
    verdict = Verifier(chain=chain, ipfs=engine.ipfs).verify(Subject(token_id=work["token"]["token_id"]))
    credentials = next(c for c in verdict.checks if c.link == "credentials")
    assert credentials.details["state"] == "Valid" and not credentials.details["trust"]["trusted"]
    assert "not issued by a trust anchor the contract holds" in credentials.reason


@pytest.mark.django_db
def test_a_revoked_certificate_is_no_longer_trusted(released: Released) -> None:
    """`manage.py chain revoke-certificate`: the signer's certificate revoked, its works read
    untrusted (still signed with the anchored key); the CA revoked, the contract holds no anchor."""
    from django.core.management import call_command

    from ledgerline.audit.services import platform_verifier
    from ledgerline_verify import Subject

    def credentials() -> Any:
        verdict = platform_verifier().verify(Subject(token_id=released.works[0]["token"]["token_id"]))
        assert verdict.verdict == "verified", verdict.summary
        return next(c for c in verdict.checks if c.link == "credentials")

    trust = credentials().details["trust"]
    assert trust["trusted"] and trust["certificate_revoked_at"] is None
    call_command("chain", "revoke-certificate", trust["certificate_sha256"], stdout=io.StringIO())
    revoked = credentials()
    assert not revoked.details["trust"]["trusted"] and revoked.details["trust"]["certificate_revoked_at"]
    assert "the contract revoked the signer's certificate" in revoked.reason
    call_command("chain", "revoke-certificate", trust["anchor"]["sha256"], stdout=io.StringIO())
    assert platform_verifier().chain.trust_anchors() == []
    assert credentials().details["state"] == "Valid"  # c2pa no longer trusts it either
