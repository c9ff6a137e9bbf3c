"""Per-cluster CA and serving certificates (emulator/k8s/tls.py)."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import socket
import ssl
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from emulator.k8s import tls


def serve_once(material: tls.ClusterTLS) -> tuple[int, threading.Thread]:
    """A one-connection TLS server with ``material``'s server context; its port."""
    context = material.server_context()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        with listener:
            connection, _ = listener.accept()
            try:
                with context.wrap_socket(connection, server_side=True) as secure:
                    secure.sendall(b"ok")
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return port, thread


def handshake(port: int, context: ssl.SSLContext, server_hostname: str = "127.0.0.1") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=server_hostname) as secure:
            return secure.recv(2)


def test_ca_and_server_certificate_are_eks_like():
    now = datetime.datetime.now(datetime.timezone.utc)
    material = tls.generate()
    ca, cert = material.ca_certificate, material.certificate
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kubernetes"
    assert ca.issuer == ca.subject and cert.issuer == ca.subject
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert datetime.timedelta(days=3649) < ca.not_valid_after_utc - now < datetime.timedelta(days=3651)
    assert ca.not_valid_before_utc <= now
    cert.verify_directly_issued_by(ca)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "kubernetes", "kubernetes.default.svc"} <= set(sans.get_values_for_type(x509.DNSName))
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ExtendedKeyUsageOID.SERVER_AUTH in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    # certificateAuthority.data: base64 of the PEM, as EKS returns it.
    assert base64.b64decode(material.ca_data) == material.ca_pem
    assert material.ca_pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert "key_pem" not in repr(material)


def test_handshake_verifies_against_the_ca_only():
    material, other = tls.generate(), tls.generate()
    port, _ = serve_once(material)
    strict = ssl.create_default_context(cadata=base64.b64decode(material.ca_data).decode())
    strict.verify_flags |= getattr(ssl, "VERIFY_X509_STRICT", 0)  # Python 3.13's default, stricter chains
    assert handshake(port, strict) == b"ok"
    port, _ = serve_once(material)
    assert handshake(port, material.client_context(), server_hostname="localhost") == b"ok"
    # Another cluster's CA does not vouch for this server.
    port, _ = serve_once(material)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(port, other.client_context())
    # Nor does this CA for a name outside the certificate.
    port, _ = serve_once(material)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(port, material.client_context(), server_hostname="example.com")


def test_generation_is_fast_and_rsa_keys_are_cached():
    started = time.perf_counter()
    materials = [tls.generate() for _ in range(20)]
    assert time.perf_counter() - started < 2.0
    assert len({m.ca_pem for m in materials}) == 20 and len({m.key_pem for m in materials}) == 20
    first, second = tls.generate("rsa"), tls.generate("rsa")
    assert isinstance(first.ca_certificate.public_key(), rsa.RSAPublicKey)
    assert first.ca_certificate.public_key().key_size == 2048
    assert first.ca_pem != second.ca_pem and first.key_pem == second.key_pem  # one RSA key pair per process
    port, _ = serve_once(second)
    assert handshake(port, second.client_context()) == b"ok"
    with pytest.raises(ValueError):
        tls.generate("dsa")
