"""The stand-in charts installed by the real helm from the emulator's chart repository into a served cluster.

What the roles will do through ``kubernetes.core.helm`` (``chart_repo_url``:
``helm show chart --repo``, then ``helm upgrade --install --repo``): the
objects reach the API with the values passed, upgrades change them, and
uninstall removes them. The chart names, versions and values are those of
``tests/unit/emulator/test_charts.py``.

The external-secrets, trivy-operator and falco charts go into an ACTIVE EKS
cluster of the emulator with its controllers and node groups, with
``--wait``: helm returns once the Deployment or DaemonSet is available, its
pods scheduled on the nodes the values select or tolerate.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from emulator.k8s.clusters import REGISTRY

from ..test_charts import (CA, CA_VALUES, CLUSTER, ESO, ESO_VALUES, FALCO, FALCO_VALUES, LBC, LBC_VALUES, ROLE_ARN,
                           TRIVY, TRIVY_VALUES)
from .conftest import HELM, KUBECTL, Cluster
from .controller_support import start_cluster

TAINT = {"key": "dedicated", "value": "database", "effect": "NO_SCHEDULE"}


class Clients:
    """helm and kubectl with their own homes, against ``cluster``."""

    def __init__(self, cluster: Cluster, workdir: Path, repo_url: str) -> None:
        self.repo_url = repo_url
        self.env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig()), "HOME": str(workdir),
                    "KUBECACHEDIR": str(workdir / "cache"), "HELM_CACHE_HOME": str(workdir / "helm-cache"),
                    "HELM_CONFIG_HOME": str(workdir / "helm-config"), "HELM_DATA_HOME": str(workdir / "helm-data")}

    def run(self, binary: Path, *args: str, values: dict[str, Any] | None = None) -> str:
        command = [str(binary), *args, *(["-f", "-"] if values is not None else [])]
        result = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=180, check=False,
                                input=yaml.safe_dump(values) if values is not None else None)
        assert result.returncode == 0, f"{binary.name} {' '.join(args)}: {result.stderr}"
        return result.stdout

    def upgrade(self, release: str, chart: str, version: str, values: dict[str, Any], *args: str,
                namespace: str = "kube-system") -> str:
        """``helm upgrade --install`` as kubernetes.core.helm runs it with chart_repo_url."""
        return self.run(HELM, "upgrade", "--install", release, chart, f"--repo={self.repo_url}",
                        f"--version={version}", f"--namespace={namespace}", *args, values=values)

    def get(self, *args: str) -> Any:
        return json.loads(self.run(KUBECTL, "get", *args, "-o", "json"))


@pytest.fixture(scope="module")
def clients(cluster: Cluster, emulator_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Clients:
    return Clients(cluster, tmp_path_factory.mktemp("charts"), f"{emulator_server.url}/_emulator/charts")


def test_cluster_autoscaler_installs_upgrades_and_uninstalls(clients):
    chart = yaml.safe_load(clients.run(HELM, "show", "chart", CA, f"--repo={clients.repo_url}", "--version=9.59.0"))
    assert (chart["name"], chart["version"]) == (CA, "9.59.0")
    clients.upgrade(CA, CA, "9.59.0", CA_VALUES)
    account = clients.get("serviceaccount", "cluster-autoscaler", "-n", "kube-system")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == ROLE_ARN.format("cluster-autoscaler")
    deployment = clients.get("deployment", "cluster-autoscaler-aws-cluster-autoscaler", "-n", "kube-system")
    command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "--scale-down-delay-after-add=10m" in command and "--expander=least-waste" in command
    assert f"--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/{CLUSTER}" \
        in command
    clients.upgrade(CA, CA, "9.59.0", {**CA_VALUES, "extraArgs": {**CA_VALUES["extraArgs"], "expander": "random"}})
    deployment = clients.get("deployment", "cluster-autoscaler-aws-cluster-autoscaler", "-n", "kube-system")
    assert "--expander=random" in deployment["spec"]["template"]["spec"]["containers"][0]["command"]
    releases = json.loads(clients.run(HELM, "list", "-n", "kube-system", "-o", "json"))
    assert [(r["name"], r["chart"], r["revision"]) for r in releases if r["name"] == CA] == \
        [(CA, "cluster-autoscaler-9.59.0", "2")]
    clients.run(HELM, "uninstall", CA, "-n", "kube-system", "--wait")
    assert clients.get("deployments", "-n", "kube-system", "-l", "app.kubernetes.io/instance=cluster-autoscaler")[
        "items"] == []


def test_aws_load_balancer_controller_installs_with_its_crds_and_ingress_class(clients):
    # its IngressClassParams + IngressClass come as a `kind: List`, which helm validates from /openapi/v2 (protobuf)
    clients.upgrade(LBC, LBC, "3.5.0", LBC_VALUES)
    crds = {item["metadata"]["name"] for item in clients.get("crd")["items"]}
    assert {"ingressclassparams.elbv2.k8s.aws", "targetgroupbindings.elbv2.k8s.aws"} <= crds
    assert clients.get("ingressclass", "alb")["spec"] == {"controller": "ingress.k8s.aws/alb"}
    assert clients.get("ingressclassparams", "alb")["metadata"]["labels"]["app.kubernetes.io/instance"] == LBC
    deployment = clients.get("deployment", LBC, "-n", "kube-system")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["spec"]["containers"][0]["args"][:2] == [
        f"--cluster-name={CLUSTER}", "--ingress-class=alb"]
    clients.run(HELM, "uninstall", LBC, "-n", "kube-system", "--wait")
    assert clients.get("ingressclass")["items"] == []


# -- into an EKS cluster with nodes, --wait ------------------------------------------------------------------


@pytest.fixture
def eks(emulator: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """An ACTIVE EKS cluster with controllers: two nodes labelled role=system, one tainted dedicated=database."""
    monkeypatch.setattr(REGISTRY, "factory", None)  # the real apiserver, whatever an earlier test set
    cluster = start_cluster(emulator.url, tmp_path)
    cluster.nodegroup("system", desired=2, labels={"role": "system"})
    cluster.nodegroup("db", desired=1, taints=[TAINT])
    yield cluster
    REGISTRY.stop_all()


@pytest.fixture
def eks_clients(eks: Any, emulator: Any, tmp_path: Path) -> Clients:
    return Clients(eks, tmp_path / "clients", f"{emulator.url}/_emulator/charts")


def available(deployment: dict[str, Any]) -> bool:
    status = deployment.get("status") or {}
    return status.get("availableReplicas") == deployment["spec"]["replicas"] and any(
        c["type"] == "Available" and c["status"] == "True" for c in status.get("conditions") or [])


def nodes_of(clients: Clients, namespace: str, selector: str) -> list[str]:
    pods = clients.get("pods", "-n", namespace, "-l", selector)["items"]
    assert pods and all(pod["status"]["phase"] == "Running" for pod in pods)
    return sorted(pod["spec"]["nodeName"] for pod in pods)


def node_names(clients: Clients, selector: str | None = None) -> list[str]:
    return sorted(n["metadata"]["name"] for n in clients.get("nodes", *(["-l", selector] if selector else []))["items"])


def test_external_secrets_installs_with_wait_and_serves_its_crds(eks_clients):
    clients = eks_clients
    clients.upgrade(ESO, ESO, "2.9.0", ESO_VALUES, "--create-namespace", "--wait", "--timeout=120s",
                    namespace="external-secrets")
    deployment = clients.get("deployment", ESO, "-n", "external-secrets")
    assert deployment["spec"]["replicas"] == 2 and available(deployment)
    system = node_names(clients, "role=system")
    assert set(nodes_of(clients, "external-secrets", f"app.kubernetes.io/instance={ESO}")) <= set(system)
    account = clients.get("serviceaccount", "external-secrets", "-n", "external-secrets")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == ROLE_ARN.format("external-secrets")
    for plural in ("externalsecrets", "secretstores", "clustersecretstores"):
        crd = clients.get("crd", f"{plural}.external-secrets.io")
        assert {c["type"]: c["status"] for c in crd["status"]["conditions"]}["Established"] == "True"
        assert crd["status"]["storedVersions"] == ["v1"]
    resources = clients.run(KUBECTL, "api-resources", "--api-group=external-secrets.io", "-o", "name")
    assert {"externalsecrets.external-secrets.io", "secretstores.external-secrets.io",
            "clustersecretstores.external-secrets.io"} <= set(resources.split())
    # custom resources of the served version; v1beta1 is there but not served (crds.unsafeServeV1Beta1: false)
    store = {"apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
             "metadata": {"name": "aws", "namespace": "default"},
             "spec": {"provider": {"aws": {"service": "SecretsManager", "region": "eu-west-1"}}}}
    secret = {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
              "metadata": {"name": "db", "namespace": "default"},
              "spec": {"secretStoreRef": {"name": "aws", "kind": "SecretStore"}, "target": {"name": "db"},
                       "dataFrom": [{"extract": {"key": "prod/db"}}]}}
    clients.run(KUBECTL, "apply", values={"apiVersion": "v1", "kind": "List", "items": [store, secret]})
    assert clients.get("externalsecret", "db", "-n", "default")["spec"]["secretStoreRef"]["name"] == "aws"
    old = subprocess.run([str(KUBECTL), "get", "secretstores.v1beta1.external-secrets.io", "-A"], env=clients.env,
                         capture_output=True, text=True, timeout=60, check=False)
    assert old.returncode == 1 and "the server doesn't have a resource type" in old.stderr


def test_trivy_operator_installs_with_wait(eks_clients):
    clients = eks_clients
    clients.upgrade(TRIVY, TRIVY, "0.34.0", TRIVY_VALUES, "--create-namespace", "--wait", "--timeout=120s",
                    namespace="trivy-system")
    deployment = clients.get("deployment", TRIVY, "-n", "trivy-system")
    assert deployment["spec"]["replicas"] == 1 and available(deployment)
    assert set(nodes_of(clients, "trivy-system", f"app.kubernetes.io/instance={TRIVY}")) <= set(
        node_names(clients, "role=system"))
    config = clients.get("configmap", "trivy-operator-trivy-config", "-n", "trivy-system")
    assert config["data"]["trivy.ignoreUnfixed"] == "true"
    crds = {item["metadata"]["name"] for item in clients.get("crd")["items"]}
    assert {"vulnerabilityreports.aquasecurity.github.io", "configauditreports.aquasecurity.github.io",
            "clustercompliancereports.aquasecurity.github.io", "sbomreports.aquasecurity.github.io"} <= crds
    reports = clients.get("clustercompliancereports")["items"]
    assert sorted(r["metadata"]["name"] for r in reports) == [
        "k8s-cis-1.23", "k8s-nsa-1.0", "k8s-pss-baseline-0.1", "k8s-pss-restricted-0.1"]
    assert clients.get("vulnerabilityreports", "-A")["items"] == []  # served, empty


def test_falco_daemonset_runs_on_every_node_tainted_ones_included(eks_clients):
    clients = eks_clients
    clients.upgrade(FALCO, FALCO, "9.1.0", FALCO_VALUES, "--create-namespace", "--wait", "--timeout=120s",
                    namespace="falco")
    daemonset = clients.get("daemonset", FALCO, "-n", "falco")
    status = daemonset["status"]
    assert (status["desiredNumberScheduled"], status["numberReady"], status["numberAvailable"]) == (3, 3, 3)
    every = node_names(clients)
    assert len(every) == 3
    assert nodes_of(clients, "falco", f"app.kubernetes.io/instance={FALCO}") == every  # the tainted node too
    config = clients.get("configmap", FALCO, "-n", "falco")
    assert yaml.safe_load(config["data"]["falco.yaml"])["engine"]["kind"] == "modern_ebpf"
