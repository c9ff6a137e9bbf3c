"""The Kubernetes API behind an emulated EKS cluster, end to end.

DescribeCluster's endpoint and CA, EKS tokens, access entries and RBAC,
through the real ``apiserver.ApiServer`` (the registry's default factory) and
real clients: the ``kubernetes`` Python client and, when installed,
``aws eks update-kubeconfig`` + ``kubectl``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from emulator.k8s import auth, clusters
from emulator.k8s.clusters import REGISTRY
from tests.unit.emulator.k8s.eks_support import ACCOUNT, POLICY, create_cluster, mint_token
from tests.unit.emulator.shape_check import client, wait_until

BIN = Path(__file__).resolve().parents[4] / ".venv" / "bin"
DEMO = auth.ClusterRef(ACCOUNT, "us-east-1", "demo")


@pytest.fixture
def real_apis(emulator, monkeypatch):
    """The registry's default factory (apiserver.ApiServer), whatever an earlier test set."""
    pytest.importorskip("emulator.k8s.apiserver")
    monkeypatch.setattr(REGISTRY, "factory", None)
    assert clusters.default_factory() is clusters.apiserver_factory
    yield
    REGISTRY.stop_all()


def k8s_client(cluster, token, tmp_path):
    """A ``kubernetes`` ApiClient for a DescribeCluster answer, as a kubeconfig from it would be."""
    from kubernetes import client as k8s

    ca = tmp_path / f"ca-{cluster['name']}.pem"
    ca.write_bytes(base64.b64decode(cluster["certificateAuthority"]["data"]))
    configuration = k8s.Configuration()
    configuration.host = cluster["endpoint"]
    configuration.ssl_ca_cert = str(ca)
    configuration.api_key = {"authorization": token}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    return k8s.ApiClient(configuration)


def iam_user(emulator, name, groups=(), policy=None, scope=None):
    iam = client(emulator.url, "iam")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    eks = client(emulator.url, "eks")
    eks.create_access_entry(clusterName="demo", principalArn=arn, kubernetesGroups=list(groups))
    if policy:
        eks.associate_access_policy(clusterName="demo", principalArn=arn, policyArn=POLICY + policy,
                                    accessScope=scope or {"type": "cluster"})
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def test_python_client_with_describe_cluster_and_eks_tokens(emulator, real_apis, tmp_path):
    from kubernetes import client as k8s
    from kubernetes.client.rest import ApiException

    create_cluster(emulator.url)
    cluster = client(emulator.url, "eks").describe_cluster(name="demo")["cluster"]
    assert cluster["endpoint"].startswith("https://127.0.0.1:")

    admin = k8s_client(cluster, mint_token(emulator.url, "demo"), tmp_path)
    names = [ns.metadata.name for ns in k8s.CoreV1Api(admin).list_namespace().items]
    assert {"default", "kube-system"} <= set(names)
    version = k8s.VersionApi(admin).get_code()
    assert version.minor.startswith("35")
    roles = {role.metadata.name for role in k8s.RbacAuthorizationV1Api(admin).list_cluster_role().items}
    assert {"cluster-admin", "admin", "edit", "view"} <= roles  # seeded bootstrap RBAC

    # The admin gives the group "app-devs" the edit ClusterRole in "apps"; a user with only that group can act there.
    core, rbac = k8s.CoreV1Api(admin), k8s.RbacAuthorizationV1Api(admin)
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}})
    rbac.create_namespaced_role_binding("apps", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "app-devs-edit"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "app-devs"}],
    })
    dev = k8s.CoreV1Api(k8s_client(cluster, mint_token(emulator.url, "demo", **iam_user(emulator, "dev", ["app-devs"])),
                                   tmp_path))
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}}
    dev.create_namespaced_config_map("apps", config_map)
    with pytest.raises(ApiException) as excinfo:
        dev.create_namespaced_config_map("default", config_map)
    assert excinfo.value.status == 403
    assert 'cannot create resource "configmaps"' in json.loads(excinfo.value.body)["message"]

    # A view user reads but does not write; a bad token is 401.
    viewer = k8s.CoreV1Api(k8s_client(
        cluster, mint_token(emulator.url, "demo", **iam_user(emulator, "viewer", policy="AmazonEKSViewPolicy")),
        tmp_path))
    assert viewer.read_namespaced_config_map("settings", "apps").data == {"a": "1"}
    with pytest.raises(ApiException) as excinfo:
        viewer.delete_namespaced_config_map("settings", "apps")
    assert excinfo.value.status == 403
    with pytest.raises(ApiException) as excinfo:
        k8s.CoreV1Api(k8s_client(cluster, mint_token(emulator.url, "other-cluster"), tmp_path)).list_namespace()
    assert excinfo.value.status == 401


def test_served_certificate_verifies_with_the_describe_cluster_ca(emulator, real_apis):
    create_cluster(emulator.url)
    cluster = client(emulator.url, "eks").describe_cluster(name="demo")["cluster"]
    port = int(cluster["endpoint"].rsplit(":", 1)[1])
    context = ssl.create_default_context(cadata=base64.b64decode(cluster["certificateAuthority"]["data"]).decode())
    context.verify_flags |= getattr(ssl, "VERIFY_X509_STRICT", 0)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as secure:
            assert secure.version() in ("TLSv1.2", "TLSv1.3")
            peer = secure.getpeercert()
            assert ("IP Address", "127.0.0.1") in peer["subjectAltName"]


def test_deleting_the_cluster_stops_its_api(emulator, emulator_client, real_apis):
    emulator_client.configure(profile={"eks_cluster_delete": 0.3})
    create_cluster(emulator.url)
    eks = client(emulator.url, "eks")
    port = int(eks.describe_cluster(name="demo")["cluster"]["endpoint"].rsplit(":", 1)[1])
    eks.delete_cluster(name="demo")
    wait_until(lambda: REGISTRY.get(DEMO) is None)

    def closed():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return True
        return False

    assert wait_until(closed)


@pytest.mark.skipif(not (BIN / "kubectl").exists() or not (BIN / "aws").exists(),
                    reason="kubectl and awscli are installed by `make k8s-clients` / requirements.txt")
def test_kubectl_through_aws_eks_update_kubeconfig(emulator, real_apis, tmp_path):
    create_cluster(emulator.url)
    kubeconfig = tmp_path / "kubeconfig"
    env = {**os.environ, "AWS_ENDPOINT_URL": emulator.url, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1", "KUBECONFIG": str(kubeconfig),
           "AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "creds"),
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(tmp_path)}
    env.pop("AWS_PROFILE", None)

    def run(*command):
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    result = run(str(BIN / "aws"), "eks", "update-kubeconfig", "--name", "demo")
    assert result.returncode == 0, result.stderr
    result = run(str(BIN / "kubectl"), "get", "namespaces", "-o", "name")
    assert result.returncode == 0, result.stderr
    assert "namespace/kube-system" in result.stdout.split()
    result = run(str(BIN / "kubectl"), "auth", "whoami", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"]["userInfo"]["username"] == f"arn:aws:sts::{ACCOUNT}:user/moto"
    result = run(str(BIN / "kubectl"), "auth", "can-i", "create", "deployments", "-n", "default")
    assert result.stdout.strip() == "yes", result.stderr
    assert shutil.which("kubectl", path=str(BIN))
