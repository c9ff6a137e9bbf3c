"""The observability add-ons of an emulated EKS cluster end to end (boto3 against the emulator, the cluster's
store, real kubectl): metrics-server and the metrics API, Container Insights, HorizontalPodAutoscalers."""

from __future__ import annotations

import json

import pytest

from emulator.k8s.clusters import REGISTRY
from tests.unit.emulator.k8s.controller_support import BIN, ready, start_cluster

requires_kubectl = pytest.mark.skipif(not (BIN / "kubectl").exists(), reason="kubectl: make k8s-clients")
ECR = "602401143452.dkr.ecr.us-east-1.amazonaws.com"
CLOUDWATCH_ROLE = "arn:aws:iam::123456789012:role/cloudwatch-agent"


@pytest.fixture
def cluster(emulator, monkeypatch, tmp_path):
    """An ACTIVE cluster ``demo`` (1.35) with its Kubernetes API and controllers; no node group yet."""
    monkeypatch.setattr(REGISTRY, "factory", None)  # the real apiserver, whatever an earlier test set
    served = start_cluster(emulator.url, tmp_path)
    yield served
    REGISTRY.stop_all()


def test_container_insights_objects_health_and_deletion(cluster):
    eks = cluster.aws("eks")
    eks.create_addon(clusterName="demo", addonName="amazon-cloudwatch-observability",
                     serviceAccountRoleArn=CLOUDWATCH_ROLE,
                     configurationValues=json.dumps({"agent": {"resources": {"requests": {"cpu": "200m"}}}}))
    namespace = "amazon-cloudwatch"
    manager = cluster.wait(lambda: cluster.get("deployments", "amazon-cloudwatch-observability-controller-manager",
                                               namespace), "the operator's Deployment")
    assert cluster.get("namespaces", namespace, None) is not None
    assert manager["spec"]["template"]["spec"]["containers"][0]["image"] == (
        f"{ECR}/eks/cloudwatch-agent-operator:v4.7.0-eksbuild.1")
    agent_account = cluster.get("serviceaccounts", "cloudwatch-agent", namespace)
    assert agent_account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": CLOUDWATCH_ROLE}
    assert "annotations" not in cluster.get("serviceaccounts", "amazon-cloudwatch-observability-controller-manager",
                                            namespace)["metadata"]
    binding = cluster.get("clusterrolebindings", "cloudwatch-agent-role-binding", None)
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "cloudwatch-agent", "namespace": namespace}]
    agent = cluster.get("daemonsets", "cloudwatch-agent", namespace)
    fluent_bit = cluster.get("daemonsets", "fluent-bit", namespace)
    for daemonset in (agent, fluent_bit):
        spec = daemonset["spec"]["template"]["spec"]
        assert spec["tolerations"] == [{"operator": "Exists"}] and spec["serviceAccountName"] == "cloudwatch-agent"
    assert agent["spec"]["template"]["spec"]["containers"][0]["resources"] == {"requests": {"cpu": "200m"}}
    config = json.loads(cluster.get("configmaps", "cloudwatch-agent", namespace)["data"]["cwagentconfig.json"])
    assert config["logs"]["metrics_collected"]["kubernetes"]["cluster_name"] == "demo"
    assert "/aws/containerinsights/${CLUSTER_NAME}/application" in cluster.get(
        "configmaps", "fluent-bit-config", namespace)["data"]["application-log.conf"]
    assert cluster.addon("amazon-cloudwatch-observability")["status"] == "DEGRADED"  # no nodes yet

    cluster.nodegroup("general", desired=2, taints=[{"key": "dedicated", "value": "x", "effect": "NO_SCHEDULE"}])
    cluster.nodegroup("open", desired=1)
    cluster.wait(lambda: cluster.addon("amazon-cloudwatch-observability")["status"] == "ACTIVE", "ACTIVE")
    assert cluster.addon("amazon-cloudwatch-observability")["health"] == {"issues": []}
    pods = cluster.wait(lambda: len(cluster.pods(namespace, "k8s-app=fluent-bit")) == 3
                        and cluster.pods(namespace, "k8s-app=fluent-bit"), "one Fluent Bit pod a node")
    assert len({p["spec"]["nodeName"] for p in pods}) == 3  # the tainted nodes too
    cluster.wait(lambda: len(cluster.pods(namespace, "app.kubernetes.io/name=cloudwatch-agent")) == 3)

    eks.update_addon(clusterName="demo", addonName="amazon-cloudwatch-observability",
                     configurationValues=json.dumps({"containerLogs": {"enabled": False}}))
    cluster.wait(lambda: cluster.get("daemonsets", "fluent-bit", namespace) is None, "Fluent Bit turned off")
    eks.delete_addon(clusterName="demo", addonName="amazon-cloudwatch-observability")
    cluster.wait(lambda: cluster.get("namespaces", namespace, None) is None, "the namespace gone")
    assert cluster.get("clusterroles", "cloudwatch-agent-role", None) is None
    assert cluster.pods(namespace) == []
