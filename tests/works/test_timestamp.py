"""C2PA_TSA_URL: each signature is countersigned by an RFC 3161 time stamp authority, and the
verifier reports the time stamp c2pa-rs validated."""

from typing import Any

from cryptography.hazmat.primitives import serialization

from ledgerline.provenance.services import signing_key_active
from ledgerline.works.credentials import wav_sign
from ledgerline_verify.credentials import credentials_read
from tests.datasets.test_upload_containers import TONE_CREDENTIALS
from tests.tsa import time_stamp_authority


def test_a_configured_tsa_time_stamps_each_signature(team: Any, media_dir: Any, settings: Any) -> None:
    wav = (media_dir / "tone.wav").read_bytes()
    key = signing_key_active(organisation=team.organisation)
    assert (
        credentials_read(wav_sign(wav, definition=TONE_CREDENTIALS, signing_key=key), "audio/wav")["timestamp"] is None
    )

    with time_stamp_authority() as tsa:
        settings.C2PA_TSA_URL = tsa.url
        signed = wav_sign(wav, definition=TONE_CREDENTIALS, signing_key=key)
    assert tsa.requests == ["application/timestamp-query"]  # one RFC 3161 request for the one signature
    credentials = credentials_read(signed, "audio/wav")
    assert credentials["state"] == "Valid" and credentials["timestamp"]["time"]
    assert credentials["timestamp"]["trusted"] is False  # a TSA on no list
    trusting = credentials_read(signed, "audio/wav", trust_anchors=[tsa.ca.public_bytes(serialization.Encoding.DER)])
    assert trusting["timestamp"]["trusted"] is True
