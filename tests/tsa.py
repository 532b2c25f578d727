"""An RFC 3161 time stamp authority on loopback, for the tests: it answers a TimeStampReq with a
TimeStampResp whose token is a CMS SignedData over a TSTInfo (RFC 3161, with RFC 5816's
ESSCertIDv2), signed by its own ECDSA key under a CA of its own. No such server installs here;
c2pa-rs talks to it as to any public TSA."""

import datetime
import hashlib
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.audit.c2pa_files import certificate

POLICY = "1.3.6.1.4.1.99999.3161"  # a policy id of the tests' own


@dataclass
class Tsa:
    url: str
    ca: x509.Certificate
    requests: list[str] = field(default_factory=list)  # the Content-Type of each request


def _response(request: bytes, key: ec.EllipticCurvePrivateKey, signer: x509.Certificate, serial: int) -> bytes:
    asked = tsp.TimeStampReq.load(request)
    info = tsp.TSTInfo(
        {
            "version": "v1",
            "policy": POLICY,
            "message_imprint": asked["message_imprint"],
            "serial_number": serial,
            "gen_time": datetime.datetime.now(datetime.UTC).replace(microsecond=0),
        }
    )
    if asked["nonce"].native is not None:
        info["nonce"] = asked["nonce"].native
    content = info.dump()
    der = signer.public_bytes(serialization.Encoding.DER)
    signer_certificate = asn1_x509.Certificate.load(der)
    essv2 = {"certs": [{"hash_algorithm": {"algorithm": "sha256"}, "cert_hash": hashlib.sha256(der).digest()}]}
    attributes = cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
            cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(content).digest()]}),
            cms.CMSAttribute({"type": "signing_certificate_v2", "values": [tsp.SigningCertificateV2(essv2)]}),
        ]
    )
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": signer_certificate.issuer,
                        "serial_number": signer_certificate.serial_number,
                    }
                }
            ),
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": attributes,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": key.sign(attributes.dump(), ec.ECDSA(hashes.SHA256())),
        }
    )
    signed = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(content)},
            "certificates": [signer_certificate] if asked["cert_req"].native else [],
            "signer_infos": [signer],
        }
    )
    token = cms.ContentInfo({"content_type": "signed_data", "content": signed})
    return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()


@contextmanager
def time_stamp_authority() -> Iterator[Tsa]:
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("Ledgerline tests TSA CA", ca_key, None, ca_key)
    signer = certificate("Ledgerline tests TSA", key, ca, ca_key, purpose=ExtendedKeyUsageOID.TIME_STAMPING)
    serials = itertools.count(1)
    tsa = Tsa("", ca)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            tsa.requests.append(str(self.headers.get("Content-Type")))
            answer = _response(body, key, signer, next(serials))
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tsa.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tsa
    finally:
        server.shutdown()
        server.server_close()
