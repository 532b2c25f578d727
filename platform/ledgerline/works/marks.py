"""The audio watermark every released track carries (ledgerline_verify.watermark): written into the
rendered sound before its C2PA credentials are signed in, so the signed and minted bytes carry it,
and announced on chain with the work's token (the contract's Watermarked event), so that a copy
whose bytes and credentials are gone still names its token.

A work's mark is 8 bytes derived from its id: the same on every signing attempt, and different
for every work. The manifest records it with the algorithm, its parameters, and the hashes of
the render before and after marking: regeneration renders again, compares the render, marks it
again and compares that too.
"""

import hashlib
import io
from typing import Any

import numpy as np
import soundfile

from ledgerline.errors import LedgerlineError
from ledgerline.provenance.hashing import sha256_bytes
from ledgerline.works.models import Work
from ledgerline_verify import watermark


def work_mark(work: Work) -> bytes:
    return hashlib.sha256(b"ledgerline watermark\0" + work.pk.bytes).digest()[: watermark.PAYLOAD_BITS // 8]


def wav_mark(wav: bytes, mark: bytes) -> bytes:
    """The WAV with ``mark`` written into its sound: same rate, channels and sample format."""
    try:
        with soundfile.SoundFile(io.BytesIO(wav)) as sound:
            samples, rate, subtype = sound.read(dtype="float64", always_2d=True), sound.samplerate, sound.subtype
    except (soundfile.LibsndfileError, RuntimeError) as exc:
        raise LedgerlineError(f"The rendered audio could not be read to watermark it: {exc}") from None
    marked = np.clip(watermark.embed(samples, rate, mark), -1.0, 1.0)
    buffer = io.BytesIO()
    soundfile.write(buffer, marked, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


def watermark_entry(*, mark: bytes, unmarked: bytes, marked: bytes) -> dict[str, Any]:
    """The manifest's record of a work's watermark."""
    return {
        "algorithm": watermark.ALGORITHM,
        "payload": mark.hex(),
        "parameters": watermark.PARAMETERS,
        "unmarked_sha256": sha256_bytes(unmarked),
        "marked_sha256": sha256_bytes(marked),
    }


def soft_binding(entry: dict[str, Any]) -> dict[str, Any]:
    """The C2PA soft-binding assertion for a watermark entry: its algorithm and its 8 bytes."""
    return {
        "label": "c2pa.soft-binding",
        "data": {"alg": entry["algorithm"], "blocks": [{"scope": {}, "value": entry["payload"]}]},
    }
