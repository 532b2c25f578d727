"""Shared fixtures: an organisation with its owner, a teammate and an auditor; an outsider
from another organisation; API clients for each; and real media files, good and broken."""

import struct
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from ledgerline.accounts import services as accounts
from ledgerline.accounts.models import Organisation, Role
from ledgerline.datasets import samples


@pytest.fixture(autouse=True)
def _isolated_files(settings: Any, tmp_path: Path) -> None:
    """Each test gets its own blob store and key folder."""
    settings.LEDGERLINE_BLOB_DIR = tmp_path / "blobs"
    settings.SIGNING_KEYS_DIR = tmp_path / "keys"
    settings.IPFS_BLOCKS_DIR = tmp_path / "ipfs" / "blocks"
    settings.IPFS_API_URL = ""
    settings.SIGNING_KEY_PASSPHRASE = "test passphrase"
    # Password hashing is deliberately slow; tests make many users and check no password strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Likewise the signing keys' PBKDF2 rounds (600,000 outside the tests; see provenance.keys).
    settings.SIGNING_KEY_KDF_ROUNDS = 1_000
    # A killed worker's lease frees its run sooner (renewed every 5 s while its holder lives).
    settings.LEDGERLINE_LEASE_SECONDS = 15


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Each test starts with an empty cache: the verification endpoint's rate limits count there,
    and one test's requests must not use up the next one's."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@dataclass
class Member:
    user: Any
    client: APIClient
    token: str


def _member(organisation: Organisation, username: str, role: str | None, admin_of: str | None = None) -> Member:
    user = accounts.user_create(username=username, password="a long test password")
    if admin_of:
        organisation = accounts.organisation_create(name=admin_of, admin=user)
    else:
        assert role is not None
        accounts.membership_add(organisation=organisation, user=user, role=role)
    membership = user.memberships.get(organisation=organisation)
    _, secret = accounts.api_token_create(membership=membership, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return Member(user=user, client=client, token=secret)


@dataclass
class Team:
    organisation: Organisation
    owner: Member
    teammate: Member
    auditor: Member
    outsider: Member


@pytest.fixture
def team(db: Any) -> Team:
    owner = _member(None, "owner", None, admin_of="Acme Records")  # type: ignore[arg-type]
    organisation = Organisation.objects.get(slug="acme-records")
    teammate = _member(organisation, "teammate", Role.ARTIST)
    auditor = _member(organisation, "auditor", Role.AUDITOR)
    outsider = _member(None, "outsider", None, admin_of="Other Label")  # type: ignore[arg-type]
    return Team(organisation, owner, teammate, auditor, outsider)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real files in every accepted format, and broken ones."""
    d = tmp_path_factory.mktemp("media")
    samples.melody_midi(d / "melody.mid", seed=1)
    samples.melody_midi(d / "other.mid", seed=2)
    samples.tone_audio(d / "tone.wav", seconds=3.0, frequency=440)
    samples.tone_audio(d / "tone.flac", seconds=2.0, frequency=330)
    samples.tone_audio(d / "tone.mp3", seconds=2.0, frequency=220, sample_rate=44100)
    midi = (d / "melody.mid").read_bytes()
    wav = (d / "tone.wav").read_bytes()
    flac = (d / "tone.flac").read_bytes()
    (d / "truncated.mid").write_bytes(midi[: len(midi) // 2])
    # Well formed, one track holding only its end marker: parses, but has no notes.
    (d / "header-only.mid").write_bytes(
        b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", 4) + b"\x00\xff\x2f\x00"
    )
    (d / "truncated.wav").write_bytes(wav[: len(wav) // 2])
    (d / "truncated.flac").write_bytes(flac[: len(flac) // 3])
    (d / "notes.txt").write_bytes(b"these are not music\n" * 10)
    (d / "garbage.mid").write_bytes(b"MThd" + bytes(range(200)))
    (d / "empty.wav").write_bytes(b"")
    return d


def dataset_create(team: Team, **fields: Any) -> str:
    body = {"name": "Chorales", "licence_spdx": "CC-BY-4.0", "consent": {"cawg.ai_training": "allowed"}, **fields}
    created = team.owner.client.post("/api/v1/datasets/", body, format="json")
    assert created.status_code == 201, created.json()
    return str(created.json()["id"])


@pytest.fixture
def upload(team: Team, media_dir: Path) -> Iterator[Any]:
    """Upload files by name from media_dir into a new dataset; returns (dataset_id, response)."""

    def _upload(*names: str, client: APIClient | None = None, dataset_id: str | None = None, **fields: Any) -> Any:
        client = client or team.owner.client
        if dataset_id is None:
            dataset_id = dataset_create(team)
        with ExitStack() as stack:
            handles = [stack.enter_context(open(media_dir / name, "rb")) for name in names]
            response = client.post(
                f"/api/v1/datasets/{dataset_id}/files/", {"file": handles, **fields}, format="multipart"
            )
        return dataset_id, response

    yield _upload


def model_record(organisation: Organisation, *, published: bool = True) -> Any:
    """A model's database record with nothing behind it: enough for requests that are refused,
    or queued and never run, to be made against it."""
    from ledgerline.datasets.models import Blob
    from ledgerline.training.models import ModelArtifact, TrainingRun

    run = TrainingRun.objects.create(organisation=organisation, name="run", config={"model": "lstm"})
    blob, _ = Blob.objects.get_or_create(sha256="cd" * 32, defaults={"size": 1})
    fields = {"signature": {"stand-in": True}, "cid": "bafy-stand-in", "anchored_at": 1} if published else {}
    return ModelArtifact.objects.create(run=run, name="weights", blob=blob, **fields)
