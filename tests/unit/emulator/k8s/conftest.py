"""Fixtures of the Kubernetes API tests: a test CA, test-double auth, a served store, clients.

The authenticator and authorizer here are test doubles (``StaticTokens``,
``AllowListed``): the real ones (EKS tokens, access entries, RBAC) live in
``emulator/k8s/auth.py`` and have their own tests.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from emulator.k8s.apiserver import ApiServer
from emulator.k8s.store import Store

ROOT = Path(__file__).resolve().parents[4]
# the venv's kubectl/helm (make k8s-clients); K8S_CLIENTS_BIN points elsewhere (a directory holding both)
_BIN = Path(os.environ.get("K8S_CLIENTS_BIN") or ROOT / ".venv" / "bin")
KUBECTL = _BIN / "kubectl"
HELM = _BIN / "helm"

ADMIN_TOKEN = "admin-token"  # noqa: S105 - a test double's token
VIEWER_TOKEN = "viewer-token"  # noqa: S105


@dataclass(frozen=True)
class TestUser:
    username: str
    groups: tuple[str, ...] = ("system:authenticated",)
    uid: str = ""
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"username": self.username, "groups": list(self.groups)}


class StaticTokens:
    """Test double authenticator: a fixed token -> user table."""

    def __init__(self, users: dict[str, TestUser]) -> None:
        self.users = users

    def __call__(self, token: str) -> TestUser | None:
        return self.users.get(token)


class AllowListed:
    """Test double authorizer: admins may do anything, viewers only read; everyone else nothing."""

    def __call__(self, user: Any, attributes: dict[str, Any]) -> tuple[bool, str]:
        if "system:masters" in getattr(user, "groups", ()):
            return True, ""
        if getattr(user, "username", "") == "viewer" and attributes["verb"] in ("get", "list", "watch"):
            return True, ""
        return False, "test double: not allowed"


USERS = {
    ADMIN_TOKEN: TestUser("admin", ("system:masters", "system:authenticated")),
    VIEWER_TOKEN: TestUser("viewer"),
}


def make_tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A test CA and a serving certificate for 127.0.0.1: (server context, CA PEM path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = _dt.datetime.now(_dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-kubernetes-ca")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - _dt.timedelta(days=1))
        .not_valid_after(now + _dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(days=1)).not_valid_after(now + _dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.DNSName("kubernetes"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_path = directory / "ca.crt"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path = directory / "tls.crt"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path = directory / "tls.key"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, ca_path


@dataclass
class Cluster:
    """A served store and how to reach it."""

    server: ApiServer
    store: Store
    ca_path: Path
    workdir: Path

    @property
    def url(self) -> str:
        return self.server.url

    def api_client(self, token: str = ADMIN_TOKEN) -> Any:
        from kubernetes import client

        configuration = client.Configuration()
        configuration.host = self.url
        configuration.ssl_ca_cert = str(self.ca_path)
        if token:
            configuration.api_key = {"authorization": token}
            configuration.api_key_prefix = {"authorization": "Bearer"}
        return client.ApiClient(configuration)

    def dynamic(self, token: str = ADMIN_TOKEN) -> Any:
        from kubernetes.dynamic import DynamicClient

        return DynamicClient(self.api_client(token))

    def kubeconfig(self, token: str = ADMIN_TOKEN, name: str = "kubeconfig") -> Path:
        path = self.workdir / name
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "test", "cluster": {"server": self.url,
                                                      "certificate-authority": str(self.ca_path)}}],
            "users": [{"name": "test", "user": {"token": token}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
            "current-context": "test",
        }))
        return path


def start_cluster(workdir: Path, store: Store | None = None, **kwargs: Any) -> Cluster:
    context, ca_path = make_tls(workdir / "pki")
    store = store if store is not None else Store(namespace_delay=0.2)
    server = ApiServer("test", "1.35", store, StaticTokens(USERS), AllowListed(), context, **kwargs).start()
    return Cluster(server, store, ca_path, workdir)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One served cluster per test module (tests that share it use their own namespaces)."""
    served = start_cluster(tmp_path_factory.mktemp("k8s"))
    yield served
    served.server.stop()


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> str:
    """A fresh namespace named after the test."""
    import re

    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:50].strip("-") or "test"
    rt = cluster.store.resources.get("", "v1", "namespaces")
    if cluster.store.try_get(rt, None, name) is None:
        cluster.store.create(rt, {"metadata": {"name": name}})
    return name


def have_kubectl() -> bool:
    return KUBECTL.exists() and os.access(KUBECTL, os.X_OK)


requires_kubectl = pytest.mark.skipif(not have_kubectl(), reason=f"no kubectl at {KUBECTL}")
requires_helm = pytest.mark.skipif(not (HELM.exists() and os.access(HELM, os.X_OK)), reason=f"no helm at {HELM}")
