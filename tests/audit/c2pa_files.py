"""WAVs with C2PA credentials, honest and hostile, for the tests of reading them.

A WAV keeps its manifest store in a RIFF chunk `C2PA`: one JUMBF superbox (`jumb`: a `jumd`
description, then content boxes or more superboxes). Anyone can sign a store with a key of their
own (it is then untrusted, but still read), so the hostile ones here are built by editing an
honest one's boxes: what they break is the reading, which comes before any trust decision.
"""

import datetime
import io
import struct
import wave

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# A JUMBF description box's type UUID is four letters and this fixed tail.
_UUID_TAIL = bytes.fromhex("00110010800000aa00389b71")
PROBE_LABEL = "org.ledgerline.probe"
_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"

Box = list  # [type: bytes, body: bytes | list[Box]]


def certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    purpose: x509.ObjectIdentifier = ExtendedKeyUsageOID.EMAIL_PROTECTION,
) -> x509.Certificate:
    """A CA (no ``issuer``) or an end-entity certificate for ``purpose``, as the C2PA profile
    asks (key identifiers included). A time stamping certificate's purpose is critical, as
    RFC 3161 requires."""
    ca = issuer is None
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, subject), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Probe")]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name if issuer is None else issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([purpose]), critical=purpose == ExtendedKeyUsageOID.TIME_STAMPING
        ).add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def other_ca(subject: str = "Ledgerline C2PA CA") -> x509.Certificate:
    """A CA of someone else's, under the name Ledgerline's own CA has."""
    key = ec.generate_private_key(ec.SECP256R1())
    return certificate(subject, key, None, key)


def signed_wav() -> bytes:
    """A short silent WAV signed by a throwaway CA's certificate, with one small CBOR assertion."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("Probe CA", ca_key, None, ca_key)
    chain = b"".join(
        c.public_bytes(serialization.Encoding.PEM) for c in (certificate("Probe", key, ca, ca_key), ca)
    ).decode()

    def sign(data: bytes) -> bytes:
        r, s = utils.decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    audio = io.BytesIO()
    with wave.open(audio, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 800)
    definition = {
        "claim_generator_info": [{"name": "probe", "version": "1"}],
        "title": "probe",
        "format": "audio/wav",
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": _SOURCE}]},
            },
            {"label": PROBE_LABEL, "data": {"a": [1, {"b": 2}]}},
        ],
    }
    signer = c2pa.Signer.from_callback(sign, c2pa.C2paSigningAlg.ES256, chain, None)
    signed = io.BytesIO()
    try:
        with c2pa.Builder(definition) as builder:
            builder.sign(signer, "audio/wav", io.BytesIO(audio.getvalue()), signed)
    finally:
        signer.close()
    return signed.getvalue()


def _c2pa_chunk(wav: bytes) -> tuple[int, int]:
    """Where the `C2PA` chunk's header starts and where its body ends."""
    at = 12
    while at + 8 <= len(wav):
        chunk, size = wav[at : at + 4], struct.unpack("<I", wav[at + 4 : at + 8])[0]
        if chunk == b"C2PA":
            return at, at + 8 + size
        at += 8 + size + (size & 1)
    raise ValueError("no C2PA chunk")


def _boxes(data: bytes) -> list[Box]:
    found, at = [], 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        body = data[at + 8 : at + size]
        found.append([kind, _boxes(body) if kind == b"jumb" else body])
        at += size
    return found


def _bytes(boxes: list[Box]) -> bytes:
    out = bytearray()
    for kind, body in boxes:
        raw = _bytes(body) if kind == b"jumb" else body
        out += struct.pack(">I4s", 8 + len(raw), kind) + raw
    return bytes(out)


def _label(superbox: Box) -> bytes:
    description = superbox[1][0][1]  # jumd: UUID (16), toggles (1), label, NUL
    return bytes(description[17:].split(b"\0")[0])


def _with_store(wav: bytes, store: bytes) -> bytes:
    start, end = _c2pa_chunk(wav)
    chunk = b"C2PA" + struct.pack("<I", len(store)) + store + b"\0" * (len(store) & 1)
    padded_end = end + ((end - start - 8) & 1)
    out = wav[:start] + chunk + wav[padded_end:]
    return out[:4] + struct.pack("<I", len(out) - 8) + out[8:]


def _store(wav: bytes) -> list[Box]:
    start, end = _c2pa_chunk(wav)
    return _boxes(wav[start + 8 : end])


def with_probe_assertion(wav: bytes, box_type: bytes, content: bytes) -> bytes:
    """The probe assertion's content replaced (its hash then fails, but it is still decoded)."""
    store = _store(wav)
    manifest = store[0][1][1]
    assertions = next(box for box in manifest[1][1:] if _label(box) == b"c2pa.assertions")
    probe = next(box for box in assertions[1][1:] if _label(box) == PROBE_LABEL.encode())
    description = probe[1][0][1]
    probe[1][0][1] = box_type + description[4:]  # the description names the content's type
    probe[1][1] = [box_type, content]
    return _with_store(wav, _bytes(store))


def with_nested_superboxes(wav: bytes, depth: int) -> bytes:
    """``depth`` superboxes, each inside the one before, added to the manifest store."""
    description = _bytes([[b"jumd", b"c2as" + _UUID_TAIL + b"\x03a\0"]])
    level = 8 + len(description)  # each superbox holds its description and the ones inside it
    nested = b"".join(struct.pack(">I4s", (depth - i) * level, b"jumb") + description for i in range(depth))
    start, end = _c2pa_chunk(wav)
    store = wav[start + 8 : end]
    size = struct.unpack(">I", store[:4])[0]
    return _with_store(wav, struct.pack(">I", size + len(nested)) + store[4:size] + nested + store[size:])


def with_claim(wav: bytes, content: bytes) -> bytes:
    """The claim's CBOR replaced."""
    store = _store(wav)
    manifest = store[0][1][1]
    claim = next(box for box in manifest[1][1:] if _label(box).startswith(b"c2pa.claim"))
    claim[1][1] = [b"cbor", content]
    return _with_store(wav, _bytes(store))
