"""The read-only gateway at /ipfs/<cid>[/<path>]: what links in the portal and in token
metadata resolve to on the embedded default."""

import io
import json
import random
from pathlib import Path
from typing import Any

import pytest

from ledgerline.storage.client import EmbeddedIpfs, KuboIpfs
from ledgerline_verify.unixfs import CID


@pytest.fixture
def node(db: Any, settings: Any) -> EmbeddedIpfs:
    return EmbeddedIpfs(Path(settings.IPFS_BLOCKS_DIR))


@pytest.fixture
def track(node: EmbeddedIpfs) -> tuple[str, bytes]:
    content = b"RIFF" + random.Random(3).randbytes(700_000)
    return str(node.add(io.BytesIO(content), name="track").cid), content


def body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def test_it_serves_a_file_with_its_cid_as_etag(client: Any, track: tuple[str, bytes]) -> None:
    cid, content = track
    response = client.get(f"/ipfs/{cid}")
    assert response.status_code == 200 and body(response) == content
    assert response["ETag"] == f'"{cid}"' and response["Accept-Ranges"] == "bytes"
    assert "immutable" in response["Cache-Control"]


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-9", 0, 10),
        ("bytes=262140-262150", 262140, 262151),
        ("bytes=-100", 700_004 - 100, 700_004),
        ("bytes=699990-", 699990, 700_004),
    ],
)
def test_range_requests_get_exactly_those_bytes(
    client: Any, track: tuple[str, bytes], header: str, start: int, end: int
) -> None:
    cid, content = track
    response = client.get(f"/ipfs/{cid}", HTTP_RANGE=header)
    assert response.status_code == 206
    assert body(response) == content[start:end]
    assert response["Content-Range"] == f"bytes {start}-{end - 1}/{len(content)}"


@pytest.mark.parametrize("header", ["bytes=800000-", "items=0-1", "bytes=0-1,5-6", "bytes=" + "9" * 5000 + "-"])
def test_an_unsatisfiable_range_is_a_416(client: Any, track: tuple[str, bytes], header: str) -> None:
    cid, _ = track
    assert client.get(f"/ipfs/{cid}", HTTP_RANGE=header).status_code == 416


def test_an_invalid_range_is_ignored_as_rfc_9110_says(client: Any, track: tuple[str, bytes]) -> None:
    cid, content = track
    response = client.get(f"/ipfs/{cid}", HTTP_RANGE="bytes=5-2")
    assert response.status_code == 200 and body(response) == content


def test_paths_in_a_directory_resolve_with_content_types(client: Any, node: EmbeddedIpfs) -> None:
    folder = node.add_directory(
        {"1.json": json.dumps({"name": "work 1"}).encode(), "take.mid": b"MThd" + b"\0" * 50}, name="batch"
    )
    listing = client.get(f"/ipfs/{folder.cid}")
    assert listing.status_code == 200 and b"1.json" in listing.content and b"take.mid" in listing.content
    metadata = client.get(f"/ipfs/{folder.cid}/1.json")
    assert metadata["Content-Type"] == "application/json"
    assert json.loads(body(metadata)) == {"name": "work 1"}
    assert client.get(f"/ipfs/{folder.cid}/take.mid")["Content-Type"] == "audio/midi"
    assert client.get(f"/ipfs/{folder.cid}/missing.json").status_code == 404


def test_what_anyone_pinned_never_runs_as_the_site(client: Any, node: EmbeddedIpfs) -> None:
    folder = node.add_directory(
        {
            "index.html": b"<script src=x.js></script>",
            "x.js": b"alert(document.cookie)",
            "y.svg": b"<svg onload=alert(1)>",
        },
        name="pinned",
    )
    for name in ("index.html", "x.js", "y.svg"):
        response = client.get(f"/ipfs/{folder.cid}/{name}")
        assert response["Content-Type"] == "application/octet-stream", name
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"].startswith("sandbox; default-src 'none'")
    assert client.get(f"/ipfs/{folder.cid}")["Content-Security-Policy"].startswith("sandbox;")


def test_unknown_and_malformed_cids_are_clear(client: Any, db: Any) -> None:
    unknown = client.get("/ipfs/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
    assert unknown.status_code == 404 and b"not in this node's store" in unknown.content
    bad = client.get("/ipfs/not-a-cid")
    assert bad.status_code == 400 and b"is not a CID" in bad.content


def test_a_corrupted_first_block_is_a_502_not_wrong_bytes(
    client: Any, track: tuple[str, bytes], node: EmbeddedIpfs
) -> None:
    from tests.storage.test_embedded import first_leaf_path

    cid, _ = track
    first_leaf_path(node, CID.parse(cid)).write_bytes(b"\0" * 262_144)
    response = client.get(f"/ipfs/{cid}", HTTP_RANGE="bytes=0-9")
    assert response.status_code == 502 and b"is corrupt" in response.content


@pytest.mark.parametrize("path", ["../x", "a/../../b", "./1.json", "a//b"])
def test_paths_that_leave_the_cid_are_refused(client: Any, track: tuple[str, bytes], path: str) -> None:
    cid, _ = track
    response = client.get(f"/ipfs/{cid}/{path}")
    assert response.status_code in (400, 404) and b"root" not in response.content


def test_a_node_that_is_down_is_a_503(client: Any, settings: Any, db: Any) -> None:
    settings.IPFS_API_URL = "http://127.0.0.1:9"
    response = client.get("/ipfs/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
    assert response.status_code == 503 and b"does not answer" in response.content


def test_a_block_of_another_codec_is_refused(client: Any, db: Any) -> None:
    dag_cbor = "bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    assert client.get(f"/ipfs/{dag_cbor}").status_code in (404, 502)


@pytest.mark.slow
def test_the_gateway_serves_through_a_real_daemon(client: Any, settings: Any, jsipfs: str, db: Any) -> None:
    settings.IPFS_API_URL = jsipfs
    content = random.Random(5).randbytes(600_000)
    cid = KuboIpfs(jsipfs).add(io.BytesIO(content), name="x").cid
    assert body(client.get(f"/ipfs/{cid}")) == content
    ranged = client.get(f"/ipfs/{cid}", HTTP_RANGE="bytes=262100-262200")
    assert ranged.status_code == 206 and body(ranged) == content[262100:262201]


def test_a_raw_block_is_served_for_a_verifier_to_check(client: Any, track: tuple[str, bytes]) -> None:
    import hashlib

    cid, content = track
    root = CID.parse(cid)
    response = client.get(f"/ipfs/{cid}?format=raw")
    assert response.status_code == 200 and response["Content-Type"] == "application/vnd.ipld.raw"
    assert hashlib.sha256(response.content).digest() == root.digest  # the root node, not the file
    assert response.content != content[: len(response.content)]
    by_header = client.get(f"/ipfs/{cid}", HTTP_ACCEPT="application/vnd.ipld.raw")
    assert by_header.content == response.content
    assert client.get(f"/ipfs/{cid}/x?format=raw").status_code == 400
    missing = CID.of(b"never added", codec=0x55, version=1)
    assert client.get(f"/ipfs/{missing}?format=raw").status_code == 404
