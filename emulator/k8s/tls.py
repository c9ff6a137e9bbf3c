"""Certificates of an emulated cluster's Kubernetes API: a CA and a serving certificate.

Like EKS, every cluster has its own certificate authority (subject
``CN=kubernetes``, valid 10 years), which ``DescribeCluster`` returns as
``certificateAuthority.data`` (base64 of the PEM), and the API serves a
certificate signed by it. Here the API listens on 127.0.0.1, so the serving
certificate names ``127.0.0.1``/``::1``, ``localhost`` and the in-cluster names
of the API (``kubernetes``, ``kubernetes.default``, ``kubernetes.default.svc``,
``kubernetes.default.svc.cluster.local``): a kubeconfig made from
``DescribeCluster`` verifies it with no ``insecure-skip-tls-verify``.

Keys are EC P-256 by default: generating one takes microseconds, so every
cluster gets its own keys (and one cluster's CA never vouches for another's
server). ``key_type="rsa"`` gives RSA 2048 keys as EKS uses; RSA generation
takes tens of milliseconds, so those two keys are generated once per process
and shared (each cluster still gets its own CA certificate).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = datetime.timedelta(days=3650)
SERVER_VALIDITY = datetime.timedelta(days=365)
CLOCK_SKEW = datetime.timedelta(minutes=5)
SERVER_IPS = ("127.0.0.1", "::1")
SERVER_DNS_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                    "kubernetes.default.svc.cluster.local")
KEY_TYPES = ("ec", "rsa")

_rsa_keys: dict[str, Any] = {}
_rsa_lock = threading.Lock()


def _private_key(key_type: str, role: str) -> Any:
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type != "rsa":
        raise ValueError(f"key_type must be one of {KEY_TYPES}, not {key_type!r}")
    with _rsa_lock:  # slow to generate: one per role and process
        if role not in _rsa_keys:
            _rsa_keys[role] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return _rsa_keys[role]


def _pem_key(key: Any) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass(frozen=True)
class ClusterTLS:
    """The CA and serving certificate of one cluster's API (PEM bytes)."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes = field(repr=False)

    @property
    def ca_data(self) -> str:
        """``certificateAuthority.data`` as EKS returns it: base64 of the CA's PEM."""
        return base64.b64encode(self.ca_pem).decode("ascii")

    @property
    def ca_certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.ca_pem)

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    def server_context(self) -> ssl.SSLContext:
        """An ``ssl.SSLContext`` serving the certificate (TLS 1.2+, ALPN ``http/1.1``).

        ``load_cert_chain`` only reads files: the PEMs go through a private
        temporary directory that is removed before returning.
        """
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_alpn_protocols(["http/1.1"])
        with tempfile.TemporaryDirectory(prefix="emulator-tls-") as directory:
            cert_path, key_path = os.path.join(directory, "tls.crt"), os.path.join(directory, "tls.key")
            for path, data in ((cert_path, self.cert_pem), (key_path, self.key_pem)):
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(data)
            context.load_cert_chain(cert_path, key_path)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting only this cluster's CA (for tests and tools)."""
        return ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))


def generate(key_type: str = "ec", now: datetime.datetime | None = None) -> ClusterTLS:
    """A new CA (``CN=kubernetes``) and a serving certificate for 127.0.0.1 signed by it."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    start = now - CLOCK_SKEW
    ca_key = _private_key(key_type, "ca")
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = _private_key(key_type, "server")
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in SERVER_DNS_NAMES]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SERVER_IPS]
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + SERVER_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=key_type == "rsa", data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return ClusterTLS(
        ca_pem=ca_cert.public_bytes(serialization.Encoding.PEM),
        cert_pem=server_cert.public_bytes(serialization.Encoding.PEM),
        key_pem=_pem_key(server_key),
    )
