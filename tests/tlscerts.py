"""Test certificates from trustme: written as the PEM files a server is given, and trusted."""

from __future__ import annotations

import base64
import hashlib
import ssl
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

NAMES = ("127.0.0.1", "localhost")


def write_cert(ca: trustme.CA, directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost signed by `ca`, written (or overwritten) as
    chain.pem and key.pem in `directory`: the paths for tls_cert and tls_key."""
    cert = ca.issue_cert(*NAMES)
    chain, key = directory / "chain.pem", directory / "key.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    key.write_bytes(cert.private_key_pem.bytes())
    return chain, key


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    """A client's context that trusts `ca` and nothing else."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def ca_file(ca: trustme.CA, directory: Path) -> Path:
    path = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def spki_hash(chain: Path) -> str:
    """base64 of the SHA-256 of the leaf certificate's public key (SubjectPublicKeyInfo), as
    Chromium's --ignore-certificate-errors-spki-list wants it."""
    leaf = x509.load_pem_x509_certificate(chain.read_bytes())
    spki = leaf.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()
