"""A large upload streams to disk: memory stays flat however big the file is."""

import hashlib
import tracemalloc
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from django.test.client import ClientHandler

from ledgerline.datasets.models import DatasetFile
from ledgerline.datasets.samples import pcm16_wav_header
from tests.conftest import dataset_create
from tests.streams import multipart_file, upload_environ

MiB = 1024 * 1024


def long_wav(data_bytes: int, digest: Any) -> Iterator[bytes]:
    """A stereo 16-bit WAV of a 440 Hz tone, made a MiB at a time and fed to ``digest``."""
    t = np.arange(MiB // 4) / 44100
    block = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").repeat(2).tobytes()
    header = pcm16_wav_header(data_bytes)
    digest.update(header)
    yield header
    for _ in range(data_bytes // len(block)):
        digest.update(block)
        yield block


@pytest.mark.slow
def test_a_large_upload_is_never_held_in_memory(team: Any) -> None:
    dataset_id = dataset_create(team)
    digest = hashlib.sha256()
    size = 512 * MiB
    body, length = multipart_file("LedgerlineBoundary", "long.wav", long_wav(size, digest), size + 44)
    environ = upload_environ(
        path=f"/api/v1/datasets/{dataset_id}/files/",
        body=body,
        length=length,
        boundary="LedgerlineBoundary",
        token=team.owner.token,
    )
    tracemalloc.start()
    try:
        response = ClientHandler(enforce_csrf_checks=False)(environ)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 201, response.content
    file = DatasetFile.objects.select_related("blob").get()
    assert file.blob.size == size + 44
    assert file.blob.sha256 == digest.hexdigest()
    assert file.duration_seconds == pytest.approx(size / (44100 * 4))
    assert peak < 16 * MiB, f"peak {peak / MiB:.0f} MiB for a {size / MiB:.0f} MiB upload"
