"""Throw-away TLS material for tests: a CA, a server certificate for 127.0.0.1/localhost and a client certificate."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TlsFiles:
    """PEM files made by make_tls: CA, server key+chain (Kafka PEM keystore), client cert and key."""

    ca: Path
    server_cert: Path
    server_key: Path
    server_keystore: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
        "-days", "2", "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory,
    )  # fmt: skip
    return key, cert


def _leaf(directory: Path, name: str, ca: tuple[Path, Path], ext: str) -> tuple[Path, Path]:
    """A PKCS#8 key and a certificate signed by `ca` with the extensions in `ext` (openssl -extfile syntax)."""
    key, csr, cert = directory / f"{name}.key", directory / f"{name}.csr", directory / f"{name}.pem"
    extfile = directory / f"{name}.ext"
    extfile.write_text(ext)
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key), cwd=directory)
    _openssl("req", "-new", "-key", str(key), "-out", str(csr), "-subj", f"/CN={name}", cwd=directory)
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca[1]), "-CAkey", str(ca[0]), "-CAcreateserial",
        "-out", str(cert), "-days", "2", "-extfile", str(extfile), cwd=directory,
    )  # fmt: skip
    return key, cert


def make_tls(directory: Path) -> TlsFiles:
    """Generate a fresh CA and certificates with openssl (nothing shared between test runs)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = _ca(directory, "gridwatch-test-ca")
    _other_key, other_ca = _ca(directory, "unrelated-ca")
    server_key, server_cert = _leaf(
        directory, "broker", ca, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
    )
    client_key, client_cert = _leaf(directory, "client", ca, "extendedKeyUsage=clientAuth\n")
    keystore = directory / "broker-keystore.pem"
    keystore.write_text(server_key.read_text() + server_cert.read_text() + ca[1].read_text())
    return TlsFiles(ca[1], server_cert, server_key, keystore, client_cert, client_key, other_ca)
