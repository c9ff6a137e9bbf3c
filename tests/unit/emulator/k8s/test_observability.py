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
    # the add-on's objects are applied one by one: wait for the last ones too (a loaded machine is slow)
    agent = cluster.wait(lambda: cluster.get("daemonsets", "cloudwatch-agent", namespace), "the agent DaemonSet")
    fluent_bit = cluster.wait(lambda: cluster.get("daemonsets", "fluent-bit", namespace), "the Fluent Bit DaemonSet")
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


def test_metrics_server_serves_the_metrics_api_once_ready(cluster, tmp_path):
    eks = cluster.aws("eks")
    eks.create_addon(clusterName="demo", addonName="metrics-server")
    deployment = cluster.wait(lambda: cluster.get("deployments", "metrics-server", "kube-system"), "metrics-server")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert deployment["spec"]["replicas"] == 2
    assert container["image"] == f"{ECR}/eks/metrics-server:v0.8.0-eksbuild.1"
    assert {"--secure-port=10251", "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
            "--metric-resolution=15s"} <= set(container["args"])
    apiservice = cluster.wait(lambda: cluster.get("apiservices", "v1beta1.metrics.k8s.io", None), "the APIService")
    assert apiservice["spec"]["service"] == {"name": "metrics-server", "namespace": "kube-system", "port": 443}
    condition = cluster.wait(lambda: (cluster.get("apiservices", "v1beta1.metrics.k8s.io", None).get("status") or {})
                             .get("conditions"), "the Available condition")[0]
    assert (condition["status"], condition["reason"]) == ("False", "MissingEndpoints")
    assert condition["message"] == ('endpoints for service/metrics-server in "kube-system" have no addresses with '
                                    'port name "https"')
    assert cluster.addon("metrics-server")["status"] == "DEGRADED"
    result = cluster.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes")
    assert result.returncode == 1 and "the server is currently unable to handle the request" in result.stderr
    result = cluster.kubectl("top", "pods", "-A")  # the group's version is stale: no metrics API
    assert (result.returncode, result.stderr.strip()) == (1, "error: Metrics API not available")
    assert cluster.kubectl("get", "pods", "-A").stderr == ""  # and nothing else complains

    cluster.nodegroup("general", desired=2)
    cluster.wait(lambda: cluster.addon("metrics-server")["status"] == "ACTIVE", "metrics-server ACTIVE")
    cluster.wait(lambda: cluster.get("apiservices", "v1beta1.metrics.k8s.io", None)["status"]["conditions"][0][
        "reason"] == "Passed", "the APIService Available")
    result = cluster.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes")
    assert result.returncode == 0, result.stderr
    nodes = json.loads(result.stdout)
    assert nodes["kind"] == "NodeMetricsList" and len(nodes["items"]) == 2
    assert {n["metadata"]["name"] for n in nodes["items"]} == {n["metadata"]["name"] for n in cluster.nodes()}
    assert all(n["window"] == "15s" and "kind" not in n for n in nodes["items"])

    top = cluster.kubectl("top", "nodes")
    assert top.returncode == 0, top.stderr
    header, *rows = top.stdout.splitlines()
    assert header.split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"] and len(rows) == 2
    # a metrics-server pod (40% of 100m) and 40% of the node's system reserve (m5.large: 2000m - 1930m)
    assert sorted(row.split()[1] for row in rows) == ["68m", "68m"]
    top = cluster.kubectl("top", "pods", "-n", "kube-system")
    assert top.returncode == 0, top.stderr
    rows = [row.split() for row in top.stdout.splitlines()[1:]]
    assert len(rows) == 2 and all(r[0].startswith("metrics-server-") and r[1:] == ["40m", "80Mi"] for r in rows)
    top = cluster.kubectl("top", "pods", "-n", "kube-system", "--containers")
    assert [row.split()[1:] for row in top.stdout.splitlines()[1:]] == [["metrics-server", "40m", "80Mi"]] * 2
    table = cluster.kubectl("get", "podmetrics", "-n", "kube-system")
    assert table.returncode == 0, table.stderr
    assert table.stdout.split()[:4] == ["NAME", "CPU", "MEMORY", "WINDOW"] and "15s" in table.stdout
    resources = cluster.kubectl("api-resources", "--api-group=metrics.k8s.io")
    assert [line.split()[0] for line in resources.stdout.splitlines()[1:]] == ["nodes", "pods"]
    services = cluster.kubectl("get", "apiservice", "v1beta1.metrics.k8s.io")
    assert services.stdout.split()[4:7] == ["v1beta1.metrics.k8s.io", "kube-system/metrics-server", "True"]
    missing = cluster.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/kube-system/pods/nope")
    assert missing.returncode == 1 and 'pod "nope" not found' in missing.stderr
    forbidden = cluster.kubectl("delete", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes")
    assert forbidden.returncode == 1 and forbidden.stderr == (
        "Error from server (MethodNotAllowed): the server does not allow this method on the requested resource\n")

    eks.delete_addon(clusterName="demo", addonName="metrics-server")
    cluster.wait(lambda: cluster.get("apiservices", "v1beta1.metrics.k8s.io", None) is None, "the APIService gone")
    cluster.wait(lambda: cluster.get("deployments", "metrics-server", "kube-system") is None)
    assert cluster.get("clusterroles", "system:metrics-server-aggregated-reader", None) is None
    result = cluster.kubectl("get", "--raw", "/apis")
    assert "metrics.k8s.io" not in result.stdout
    result = cluster.kubectl("top", "nodes")
    assert (result.returncode, result.stderr.strip()) == (1, "error: Metrics API not available")


@requires_kubectl
def test_horizontal_pod_autoscaler_with_kubectl(cluster):
    cluster.nodegroup("general", desired=2)
    manifest = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                         "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                             {"name": "web", "image": "nginx:1.27",
                              "resources": {"requests": {"cpu": "250m", "memory": "128Mi"}}}]}}}}
    assert cluster.kubectl("apply", "-f", "-", stdin=json.dumps(manifest)).returncode == 0
    result = cluster.kubectl("autoscale", "deployment/web", "--min=2", "--max=6", "--cpu=70%")
    assert result.returncode == 0, result.stderr
    hpa = cluster.wait(lambda: (cluster.get("horizontalpodautoscalers", "web") or {}).get("status", {}).get(
        "conditions"), "the HPA's conditions")
    assert {c["type"]: c["reason"] for c in hpa}["ScalingActive"] == "FailedGetResourceMetric"
    listed = cluster.kubectl("get", "hpa", "web")
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split() == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert row.split()[:7] == ["web", "Deployment/web", "cpu:", "<unknown>/70%", "2", "6", "2"]
    described = cluster.kubectl("describe", "hpa", "web")
    assert described.returncode == 0, described.stderr
    assert "FailedGetResourceMetric" in described.stdout and "ScalingActive" in described.stdout

    cluster.aws("eks").create_addon(clusterName="demo", addonName="metrics-server")
    cluster.wait(lambda: "cpu: 40%/70%" in cluster.kubectl("get", "hpa", "web").stdout, "TARGETS cpu: 40%/70%")
    cluster.wait(lambda: {c["type"]: c["reason"] for c in cluster.get("horizontalpodautoscalers", "web")[
        "status"]["conditions"]}.get("ScalingActive") == "ValidMetricFound")
    top = cluster.kubectl("top", "pods", "-l", "app=web")
    assert [row.split()[1:] for row in top.stdout.splitlines()[1:]] == [["100m", "51Mi"]] * 2, top.stdout

    # a target below the model's 40%: the HPA scales the Deployment up to its maximum
    patch = json.dumps({"spec": {"metrics": [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 25}}}]}})
    assert cluster.kubectl("patch", "hpa", "web", "--type=merge", "-p", patch).returncode == 0
    cluster.wait(lambda: cluster.get("deployments", "web")["spec"]["replicas"] == 6, "six replicas")
    rollout = cluster.kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    assert rollout.returncode == 0, rollout.stderr
    cluster.wait(lambda: cluster.kubectl("get", "hpa", "web").stdout.splitlines()[1].split()[3:7] ==
                 ["40%/25%", "2", "6", "6"], "the HPA at its maximum")
