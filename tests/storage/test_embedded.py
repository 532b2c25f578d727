"""The embedded node: pins, garbage collection, corruption, CAR export, streaming."""

import hashlib
import io
import json
import random
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from ledgerline.storage.blockstore import CorruptBlock
from ledgerline.storage.client import EmbeddedIpfs, IpfsUnavailable, KuboIpfs
from ledgerline_verify.unixfs import CID
from tests.streams import StreamedBody

MiB = 1024 * 1024


@pytest.fixture
def node(db: Any, settings: Any) -> EmbeddedIpfs:
    return EmbeddedIpfs(Path(settings.IPFS_BLOCKS_DIR))


def data(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def test_added_bytes_read_back_whole_and_by_range(node: EmbeddedIpfs) -> None:
    content = data(3 * 256 * 1024 + 123)
    cid = node.add(io.BytesIO(content), name="track.wav").cid
    assert node.size(cid) == len(content)
    assert b"".join(node.read(cid)) == content
    for start, end in [(0, 1), (262_143, 262_145), (500_000, 700_000), (len(content) - 5, len(content))]:
        assert b"".join(node.read(cid, start, end)) == content[start:end]


def test_unpinned_blocks_are_collected_and_pinned_ones_kept(node: EmbeddedIpfs) -> None:
    kept = node.add(io.BytesIO(data(600_000, 1)), name="kept").cid
    dropped = node.add(io.BytesIO(data(600_000, 2)), name="dropped").cid
    assert node.pins() == sorted([str(kept), str(dropped)])
    node.unpin(dropped)
    assert node.gc() == 4  # three raw leaves and the root
    assert b"".join(node.read(kept)) == data(600_000, 1)
    with pytest.raises(LookupError, match="is not in this node's store"):
        b"".join(node.read(dropped))


def test_a_corrupted_block_is_detected_on_read(node: EmbeddedIpfs, settings: Any) -> None:
    cid = node.add(io.BytesIO(data(600_000)), name="x").cid
    leaf = first_leaf_path(node, cid)
    raw = bytearray(leaf.read_bytes())
    raw[1000] ^= 0xFF
    leaf.write_bytes(bytes(raw))
    with pytest.raises(CorruptBlock, match="is corrupt: its bytes no longer hash to its CID"):
        b"".join(node.read(cid))


def test_a_large_file_is_added_without_holding_it_in_memory(node: EmbeddedIpfs) -> None:
    size, digest = 384 * MiB, hashlib.sha256()
    block = data(MiB)

    def chunks() -> Iterator[bytes]:
        for i in range(size // MiB):
            piece = block[i % 7 :] + block[: i % 7]  # no two chunks alike
            digest.update(piece)
            yield piece

    tracemalloc.start()
    try:
        cid = node.add(StreamedBody(chunks()), name="big").cid  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert node.size(cid) == size
    assert peak < 16 * MiB, f"peak {peak / MiB:.0f} MiB"
    check = hashlib.sha256()
    for piece in node.read(cid):
        check.update(piece)
    assert check.hexdigest() == digest.hexdigest()


@pytest.mark.slow
def test_a_car_export_imports_into_a_real_daemon_with_the_same_root(
    node: EmbeddedIpfs, jsipfs: str, tmp_path: Path
) -> None:
    content = data(700_000, 9)
    cid = node.add(io.BytesIO(content), name="x").cid
    car = tmp_path / "export.car"
    with open(car, "wb") as f:
        node.export_car(cid, f)
    with open(car, "rb") as f:
        response = requests.post(
            f"{jsipfs}/api/v0/dag/import", files={"file": ("export.car", f, "application/vnd.ipld.car")}, timeout=60
        )
    response.raise_for_status()
    roots = [json.loads(line)["Root"]["Cid"]["/"] for line in response.text.splitlines() if line.strip()]
    assert [CID.parse(root) for root in roots] == [cid]
    assert b"".join(KuboIpfs(jsipfs).read(cid)) == content


def test_a_node_that_is_down_is_a_clear_503(db: Any) -> None:
    with pytest.raises(IpfsUnavailable) as info:
        KuboIpfs("http://127.0.0.1:9").add(io.BytesIO(b"x"), name="x")
    assert info.value.status == 503 and "does not answer" in info.value.message


def test_gc_waits_for_an_add_in_progress(transactional_db: Any, settings: Any) -> None:
    import fcntl
    import threading

    node = EmbeddedIpfs(Path(settings.IPFS_BLOCKS_DIR))  # committed rows: gc runs in another thread
    node.add(io.BytesIO(data(10)), name="x")
    done = threading.Event()
    with open(node._lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)  # what an add holds from its first block to its pin
        worker = threading.Thread(target=lambda: (node.gc(), done.set()))
        worker.start()
        assert not done.wait(0.5), "gc ran while an add held the lock"
        fcntl.flock(handle, fcntl.LOCK_UN)
    worker.join(10)
    assert done.is_set()


def test_a_damaged_pin_stops_gc_before_it_deletes_anything(node: EmbeddedIpfs, settings: Any) -> None:
    from ledgerline.errors import LedgerlineError
    from ledgerline_verify.unixfs import dag_pb_decode

    damaged = node.add(io.BytesIO(data(600_000, 1)), name="damaged").cid
    node.add(io.BytesIO(data(10, 2)), name="other")
    # Without its root, what lies below cannot be told from garbage.
    assert dag_pb_decode(node.store.get(damaged))[0]
    node.store.delete(damaged)
    before = len(list(node.store.digests()))
    with pytest.raises(LedgerlineError, match="nothing deleted"):
        node.gc()
    assert len(list(node.store.digests())) == before


def test_re_adding_content_repairs_a_corrupted_block(node: EmbeddedIpfs) -> None:
    content = data(600_000)
    cid = node.add(io.BytesIO(content), name="x").cid
    leaf = first_leaf_path(node, cid)
    leaf.write_bytes(b"\0" * leaf.stat().st_size)
    node.add(io.BytesIO(content), name="x again")
    assert b"".join(node.read(cid)) == content


def test_corruption_in_a_later_block_stops_the_read_never_returns_wrong_bytes(node: EmbeddedIpfs) -> None:
    from ledgerline_verify.unixfs import dag_pb_decode

    content = data(700_000)
    cid = node.add(io.BytesIO(content), name="x").cid
    last = dag_pb_decode(node.store.get(cid))[0][-1].cid
    node.store._path(last).write_bytes(b"\0" * len(node.store.get(last)))
    received = b""
    with pytest.raises(CorruptBlock):
        for piece in node.read(cid):
            received += piece
    assert content.startswith(received) and len(received) < len(content)


def test_a_directory_kubo_would_shard_is_refused(node: EmbeddedIpfs) -> None:
    from ledgerline_verify.unixfs import DirectoryTooLarge

    names = {f"{i:06d}-" + "n" * 250 + ".json": b"{}" for i in range(1000)}
    with pytest.raises(DirectoryTooLarge, match="would be sharded by Kubo"):
        node.add_directory(names, name="too big")


@pytest.mark.parametrize("name", ["..", "a/b", ""])
def test_directory_entries_with_unusable_names_are_refused(node: EmbeddedIpfs, name: str) -> None:
    from ledgerline.errors import LedgerlineError

    with pytest.raises(LedgerlineError, match="cannot name a file"):
        node.add_directory({name: b"x"}, name="bad")


def first_leaf_path(node: EmbeddedIpfs, cid: CID) -> Path:
    from ledgerline_verify.unixfs import dag_pb_decode

    return node.store._path(dag_pb_decode(node.store.get(cid))[0][0].cid)
