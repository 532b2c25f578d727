"""The X.509 certificates C2PA signs with: a Ledgerline CA (made on first use beside the signing
keys, its key encrypted like theirs) certifies each organisation's ECDSA P-256 signing key. Both
are public; the contract vouches for them when the keys are published (ledger.services), so a
verifier loads the CA from the chain as its trust anchor.
"""

import datetime
import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ledgerline.leases.services import leased
from ledgerline.provenance.keys import KeyStore
from ledgerline.provenance.models import SigningKey
from ledgerline.storage.shared import store_shared


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ledgerline"),
        ]
    )


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One process at a time makes the CA or a certificate: on this host (a file lock) and, when
    hosts share the IPFS node rather than a disk, across hosts (a lease)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        if not store_shared():
            yield
            return
        with leased(f"keys:{path.name}", wait=60):  # Busy after a minute: a task retries
            yield


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _ca(store: KeyStore) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key_path, cert_path = store.directory / "c2pa-ca.pem", store.directory / "c2pa-ca.crt"
    if store.restore(cert_path):  # made already, here or on another host: no lock to take
        return store.load_path(key_path), x509.load_pem_x509_certificate(cert_path.read_bytes())
    with _locked(store.directory / "c2pa.lock"):
        if not store.restore(cert_path):
            new_key = ec.generate_private_key(ec.SECP256R1())
            now = datetime.datetime.now(datetime.UTC)
            cert = (
                x509.CertificateBuilder()
                .subject_name(_name("Ledgerline C2PA CA"))
                .issuer_name(_name("Ledgerline C2PA CA"))
                .public_key(new_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(_usage(ca=True), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(new_key.public_key()), critical=False)
                .sign(new_key, hashes.SHA256())
            )
            store.save(key_path, new_key)
            cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))  # last: the CA is whole
            store.share(cert_path)
    return store.load_path(key_path), x509.load_pem_x509_certificate(cert_path.read_bytes())


def certificate_chain(signing_key: SigningKey) -> str:
    """PEM: the organisation key's certificate, then the CA's. Public; kept beside the keys."""
    store = KeyStore.default()
    path = store.directory / (signing_key.key_id.removeprefix("sha256:") + ".crt")
    ca_key, ca_cert = _ca(store)
    if store.restore(path):
        return path.read_text() + ca_cert.public_bytes(serialization.Encoding.PEM).decode()
    with _locked(store.directory / "c2pa.lock"):
        if not store.restore(path):
            public = serialization.load_pem_public_key(signing_key.public_key_pem.encode())
            assert isinstance(public, ec.EllipticCurvePublicKey)
            now = datetime.datetime.now(datetime.UTC)
            cert = (
                x509.CertificateBuilder()
                .subject_name(_name(signing_key.organisation.name))
                .issuer_name(ca_cert.subject)
                .public_key(public)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=825))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(_usage(ca=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
                .sign(ca_key, hashes.SHA256())
            )
            path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            store.share(path)
    return path.read_text() + ca_cert.public_bytes(serialization.Encoding.PEM).decode()


def certificates_der(signing_key: SigningKey) -> tuple[bytes, bytes]:
    """DER: the organisation key's certificate and the CA's, as the contract vouches for them."""
    leaf, ca = x509.load_pem_x509_certificates(certificate_chain(signing_key).encode())
    return leaf.public_bytes(serialization.Encoding.DER), ca.public_bytes(serialization.Encoding.DER)
