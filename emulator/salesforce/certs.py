"""The local certificate authority and server certificate.

simple-salesforce only builds ``https://`` URLs, so the emulator must speak TLS with a
certificate the app can trust. A CA made by ``trustme`` signs a certificate for
127.0.0.1 and localhost; the app trusts the CA file through ``SALESFORCE_CA_BUNDLE``.
The CA is kept in the certificate directory and reused on the next start, so an app
that already loaded the CA file keeps trusting a restarted emulator. Several emulators
may share one directory (parallel tests): a file lock guards creating the CA, and each
server's own key only ever lives in a temporary file while it is loaded.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

import trustme

HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Certificates:
    ca_path: Path
    context: ssl.SSLContext
    """Server-side TLS context presenting a certificate signed by the CA."""


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` atomically with permissions ``mode``."""
    descriptor, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def _load_or_create_ca(cert_dir: Path) -> trustme.CA:
    ca_path, key_path = cert_dir / "ca.pem", cert_dir / "ca-key.pem"
    if ca_path.exists() and key_path.exists():
        with contextlib.suppress(ValueError):
            return trustme.CA.from_pem(ca_path.read_bytes(), key_path.read_bytes())
    ca = trustme.CA(organization_name="subsync Salesforce emulator")
    _write(key_path, ca.private_key_pem.bytes(), 0o600)
    _write(ca_path, ca.cert_pem.bytes(), 0o644)
    return ca


def prepare(cert_dir: Path) -> Certificates:
    """Load or create the CA in ``cert_dir`` and issue a fresh server certificate."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    with open(cert_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ca = _load_or_create_ca(cert_dir)
    server = ca.issue_cert(*HOSTS)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    descriptor, temp = tempfile.mkstemp(prefix=".server.", suffix=".pem", dir=cert_dir)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(server.private_key_and_cert_chain_pem.bytes())
        context.load_cert_chain(temp)
    finally:
        os.unlink(temp)
    return Certificates(ca_path=cert_dir / "ca.pem", context=context)
