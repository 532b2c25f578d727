"""Ledgerline's CIDs are the CIDs other IPFS implementations compute for the same bytes."""

import shutil
from pathlib import Path
from typing import Any

import pytest

from ledgerline.storage.client import EmbeddedIpfs, KuboIpfs
from ledgerline_verify.unixfs import CID, path_add
from tests.storage.conftest import SIZES, kubo_cids

NAMES = [*SIZES, "tree"]


def ours(path: Path, version: int, *, hidden: bool = True) -> CID:
    # The references add dotfiles (Kubo's library, and ipfshttpclient walking a folder), as
    # `ipfs add -r --hidden` does.
    return path_add(path, lambda cid, block: None, version=version, hidden=hidden).cid


@pytest.mark.slow
def test_cidv0_dags_match_kubo_itself(sample_files: dict[str, Path], tmp_path: Path) -> None:
    reference = kubo_cids([sample_files[name] for name in NAMES], tmp_path / "kubo-repo")
    assert [str(ours(sample_files[name], 0)) for name in NAMES] == reference


@pytest.mark.slow
def test_cidv1_dags_match_a_kubo_rpc_daemon(
    sample_files: dict[str, Path], jsipfs: str, db: Any, tmp_path: Path
) -> None:
    import warnings

    import ipfshttpclient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = ipfshttpclient.connect(f"/ip4/127.0.0.1/tcp/{jsipfs.rsplit(':', 1)[1]}/http")
    for name in NAMES:
        path = sample_files[name]
        added = client.add(str(path), recursive=True, cid_version=1, raw_leaves=True)
        theirs = CID.parse((added[-1] if isinstance(added, list) else added)["Hash"])
        assert ours(path, 1) == theirs, name


def test_folders_leave_out_dotfiles_by_default_as_the_ipfs_cli_does(
    sample_files: dict[str, Path], tmp_path: Path
) -> None:
    without = shutil.copytree(sample_files["tree"], tmp_path / "tree", ignore=shutil.ignore_patterns(".*"))
    assert ours(sample_files["tree"], 1, hidden=False) == ours(without, 1)
    assert ours(sample_files["tree"], 1, hidden=False) != ours(sample_files["tree"], 1)


def test_the_embedded_store_and_a_daemon_agree_through_the_client(
    jsipfs: str, db: Any, settings: Any, sample_files: dict[str, Path]
) -> None:
    embedded, daemon = EmbeddedIpfs(Path(settings.IPFS_BLOCKS_DIR)), KuboIpfs(jsipfs)
    with open(sample_files["256KiB+1"], "rb") as a, open(sample_files["256KiB+1"], "rb") as b:
        assert embedded.add(a, name="x").cid == daemon.add(b, name="x").cid
    folder = {"1.json": b'{"token": 1}', "2.json": b'{"token": 2}', "readme.txt": b"metadata"}
    assert embedded.add_directory(folder, name="batch").cid == daemon.add_directory(folder, name="batch").cid


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH", 0),
        ("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", 1),
        ("bafybeibawc3q42dg5s22t23qmyzydmzkobvom3bh5m2lgxjpnip4hn3xni", 1),
    ],
)
def test_cids_round_trip_through_their_strings(text: str, version: int) -> None:
    cid = CID.parse(text)
    assert cid.version == version and str(cid) == text and CID.from_bytes(bytes(cid)) == cid


@pytest.mark.parametrize("text", ["", "Qm123", "bafy!!", "xyz", "bafkqaaa"])
def test_a_malformed_cid_is_refused_by_name(text: str) -> None:
    with pytest.raises(ValueError, match="is not a CID"):
        CID.parse(text)
