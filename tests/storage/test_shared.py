"""Hosts that share the IPFS node rather than a disk: a stored file and a signing key reach a
host that lacks them, fetched by CID and checked on arrival; a host's var/ is a cache it may
lose; what the hosts pass among themselves is not served by the site's gateway."""

import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from ledgerline.datasets.blobs import blob_file, blob_path
from ledgerline.datasets.models import Blob
from ledgerline.errors import LedgerlineError
from ledgerline.provenance.hashing import sha256_file
from ledgerline.provenance.keys import KeyStore
from ledgerline.provenance.services import signing_key_active
from ledgerline.storage.client import ipfs_connect
from ledgerline.storage.models import SharedFile
from ledgerline_verify.unixfs import CID


@pytest.fixture
def shared(settings: Any, jsipfs: str) -> str:
    settings.IPFS_API_URL = jsipfs
    return jsipfs


@pytest.mark.django_db
def test_a_file_another_host_stored_is_fetched_by_its_cid(shared: str, upload: Any, settings: Any) -> None:
    _, response = upload("melody.mid")
    sha256 = response.json()[0]["sha256"]
    blob = Blob.objects.get(sha256=sha256)
    assert blob.cid
    stored = blob_path(sha256).read_bytes()
    shutil.rmtree(settings.LEDGERLINE_BLOB_DIR)  # this host lost its cache, or never had it
    assert blob_file(sha256).read_bytes() == stored
    assert b"".join(ipfs_connect().read(CID.parse(blob.cid))) == stored  # the copy every host reaches


@pytest.mark.django_db
def test_what_arrives_is_checked_against_its_hash(shared: str, upload: Any, settings: Any, media_dir: Path) -> None:
    _, response = upload("melody.mid")
    sha256 = response.json()[0]["sha256"]
    with open(media_dir / "other.mid", "rb") as other:
        wrong = str(ipfs_connect().add(other, name="other.mid").cid)
    Blob.objects.filter(sha256=sha256).update(cid=wrong)  # a row pointing at other content
    shutil.rmtree(settings.LEDGERLINE_BLOB_DIR)
    with pytest.raises(LedgerlineError, match=f"not the file recorded: its SHA-256 is .*, not {sha256}"):
        blob_file(sha256)
    assert not blob_path(sha256).exists() and not list(blob_path(sha256).parent.iterdir())


@pytest.mark.django_db
def test_a_signing_key_made_on_one_host_signs_on_another(shared: str, team: Any, settings: Any) -> None:
    key = signing_key_active(organisation=team.organisation)
    assert SharedFile.objects.filter(name=f"keys/{key.key_id.removeprefix('sha256:')}.pem").exists()
    shutil.rmtree(settings.SIGNING_KEYS_DIR)  # another default worker, with an empty folder
    store = KeyStore.default()
    assert store.load(key.key_id).public_key().public_numbers() is not None
    restored = store.directory / (key.key_id.removeprefix("sha256:") + ".pem")
    assert restored.stat().st_mode & 0o077 == 0  # as private as the file it came from
    assert b"ENCRYPTED PRIVATE KEY" in restored.read_bytes()  # it travelled encrypted


@pytest.mark.django_db
def test_without_a_passphrase_of_its_own_a_key_stays_on_its_host(
    shared: str, team: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.SIGNING_KEY_PASSPHRASE = ""  # the embedded default's var/keys/.passphrase, which no other host has
    key = signing_key_active(organisation=team.organisation)
    assert not SharedFile.objects.exists()
    assert "SIGNING_KEY_PASSPHRASE" in caplog.text
    assert KeyStore.default().load(key.key_id)  # it still signs here


@pytest.mark.django_db
def test_the_gateway_does_not_serve_what_the_hosts_share(shared: str, upload: Any, client: Any) -> None:
    _, response = upload("melody.mid")
    blob = Blob.objects.get(sha256=response.json()[0]["sha256"])
    for suffix in ("", "?format=raw"):
        refused = client.get(f"/ipfs/{blob.cid}{suffix}")
        assert refused.status_code == 404 and b"not published here" in refused.content


@pytest.mark.django_db
def test_moving_off_a_shared_volume_sends_what_no_host_can_fetch_yet(
    upload: Any, team: Any, settings: Any, jsipfs: str
) -> None:
    _, response = upload("melody.mid")  # stored while every process shared this var/
    sha256 = response.json()[0]["sha256"]
    key = signing_key_active(organisation=team.organisation)
    assert Blob.objects.get(sha256=sha256).cid == ""
    settings.IPFS_API_URL = jsipfs
    out = io.StringIO()
    call_command("share", stdout=out)
    assert "shared 1 stored files and 1 keys" in out.getvalue()
    shutil.rmtree(settings.LEDGERLINE_BLOB_DIR)
    shutil.rmtree(settings.SIGNING_KEYS_DIR)  # a new host
    assert sha256_file(blob_file(sha256)) == sha256
    assert KeyStore.default().load(key.key_id)
