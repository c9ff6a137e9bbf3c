"""The stand-in charts installed by the real helm from the emulator's chart repository into a served cluster.

What the roles will do through ``kubernetes.core.helm`` (``chart_repo_url``:
``helm show chart --repo``, then ``helm upgrade --install --repo``): the
objects reach the API with the values passed, upgrades change them, and
uninstall removes them. The chart names, versions and values are those of
``tests/unit/emulator/test_charts.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..test_charts import CA, CA_VALUES, CLUSTER, LBC, LBC_VALUES, ROLE_ARN
from .conftest import HELM, KUBECTL, Cluster


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

    def upgrade(self, release: str, chart: str, version: str, values: dict[str, Any]) -> str:
        """``helm upgrade --install`` as kubernetes.core.helm runs it with chart_repo_url."""
        return self.run(HELM, "upgrade", "--install", release, chart, f"--repo={self.repo_url}",
                        f"--version={version}", "--namespace=kube-system", values=values)

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
