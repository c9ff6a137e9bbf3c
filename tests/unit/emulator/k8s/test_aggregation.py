"""APIServices and the metrics API over a served store (no controllers): validation, discovery while the
APIService is unavailable and once available, metrics-server's answers; the availability checks and the usage
model as functions (emulator/k8s/aggregator.py, metrics.py, controllers/aggregation.py)."""

from __future__ import annotations

import copy

import pytest

from emulator.k8s import metrics
from emulator.k8s.controllers.aggregation import availability
from emulator.k8s.controllers.util import now_rfc3339

from .conftest import Cluster, requires_kubectl
from .test_apiserver import AGGREGATED, TABLE, raw

APISERVICE = {
    "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
    "metadata": {"name": "v1beta1.metrics.k8s.io"},
    "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100, "versionPriority": 100,
             "insecureSkipTLSVerify": True, "service": {"name": "metrics-server", "namespace": "kube-system"}},
}
NODE = {
    "apiVersion": "v1", "kind": "Node",
    "metadata": {"name": "ip-10-0-1-10.ec2.internal", "labels": {"kubernetes.io/os": "linux", "pool": "a"}},
    "status": {"capacity": {"cpu": "2", "memory": "8026116Ki", "pods": "29"},
               "allocatable": {"cpu": "1930m", "memory": "7201796Ki", "pods": "29"},
               "conditions": [{"type": "Ready", "status": "True"}]},
}


def pod(name: str, namespace: str, phase: str = "Running", **resources) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace,
                                                            "labels": {"app": name}},
            "spec": {"nodeName": NODE["metadata"]["name"],
                     "containers": [{"name": "app", "image": "nginx:1.27", "resources": resources}]},
            "status": {"phase": phase}}


def rt(cluster: Cluster, group: str, version: str, plural: str):
    return cluster.store.resources.get(group, version, plural)


def set_available(cluster: Cluster, status: str, reason: str) -> None:
    apiservices = rt(cluster, "apiregistration.k8s.io", "v1", "apiservices")
    current = cluster.store.get(apiservices, None, "v1beta1.metrics.k8s.io")
    current["status"] = {"conditions": [{"type": "Available", "status": status, "reason": reason, "message": reason,
                                         "lastTransitionTime": now_rfc3339()}]}
    cluster.store.update(apiservices, current, subresource="status")


def test_apiservice_validation_and_table(cluster):
    wrong = copy.deepcopy(APISERVICE)
    wrong["metadata"]["name"] = "metrics"
    wrong["spec"]["groupPriorityMinimum"] = 0
    status, _, body = raw(cluster, "POST", "/apis/apiregistration.k8s.io/v1/apiservices", wrong)
    assert status == 422 and body["reason"] == "Invalid"
    assert [(c["field"], c["message"]) for c in body["details"]["causes"]] == [
        ("metadata.name", 'Invalid value: "metrics": must be `spec.version+"."+spec.group`: '
                          '"v1beta1.metrics.k8s.io"'),
        ("spec.groupPriorityMinimum", "Invalid value: 0: must be positive and less than 20000")]
    local = {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": "v1.example.io"},
             "spec": {"group": "example.io", "version": "v1", "groupPriorityMinimum": 1000, "versionPriority": 15,
                      "insecureSkipTLSVerify": True}}
    status, _, body = raw(cluster, "POST", "/apis/apiregistration.k8s.io/v1/apiservices", local)
    assert status == 422 and body["details"]["causes"][0]["message"] == (
        "Invalid value: true: local APIServices may not have insecureSkipTLSVerify")
    del local["spec"]["insecureSkipTLSVerify"]
    status, _, created = raw(cluster, "POST", "/apis/apiregistration.k8s.io/v1/apiservices", local)
    assert status == 201
    status, _, table = raw(cluster, "GET", "/apis/apiregistration.k8s.io/v1/apiservices/v1.example.io",
                           headers={"Accept": TABLE})
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Service", "Available", "Age"]
    assert table["rows"][0]["cells"][:3] == ["v1.example.io", "Local", "Unknown"]
    raw(cluster, "DELETE", "/apis/apiregistration.k8s.io/v1/apiservices/v1.example.io")
    _, _, apis = raw(cluster, "GET", "/apis")
    assert apis["groups"][0]["name"] == "apiregistration.k8s.io" and "example.io" not in str(apis)


def test_metrics_api_follows_the_apiservice(cluster, namespace):
    store = cluster.store
    assert raw(cluster, "GET", "/apis/metrics.k8s.io/v1beta1/nodes")[0] == 404  # no APIService: no group
    node = store.create(rt(cluster, "", "v1", "nodes"), copy.deepcopy(NODE))
    node["status"] = copy.deepcopy(NODE["status"])
    store.update(rt(cluster, "", "v1", "nodes"), node, subresource="status")
    for name, phase, resources in (("web", "Running", {"requests": {"cpu": "250m", "memory": "256Mi"}}),
                                   ("idle", "Running", {}),
                                   ("limited", "Running", {"limits": {"cpu": "1", "memory": "1Gi"}}),
                                   ("waiting", "Pending", {"requests": {"cpu": "1"}})):
        created = store.create(rt(cluster, "", "v1", "pods"), pod(name, namespace, **resources))
        created["status"]["phase"] = phase
        store.update(rt(cluster, "", "v1", "pods"), created, subresource="status")
    status, _, _ = raw(cluster, "POST", "/apis/apiregistration.k8s.io/v1/apiservices", APISERVICE)
    assert status == 201

    # listed, but not served until Available
    _, _, apis = raw(cluster, "GET", "/apis")
    assert apis["groups"][-1] == {"name": "metrics.k8s.io", "versions": [
        {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}], "preferredVersion": {
        "groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}}
    _, _, aggregated = raw(cluster, "GET", "/apis", headers={"Accept": AGGREGATED})
    assert aggregated["items"][-1] == {"metadata": {"name": "metrics.k8s.io", "creationTimestamp": None},
                                       "versions": [{"version": "v1beta1", "freshness": "Stale"}]}
    assert raw(cluster, "GET", "/apis/metrics.k8s.io")[2]["preferredVersion"]["version"] == "v1beta1"
    for path in ("/apis/metrics.k8s.io/v1beta1", "/apis/metrics.k8s.io/v1beta1/nodes",
                 f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods"):
        status, headers, body = raw(cluster, "GET", path)
        assert (status, body, headers["content-type"]) == (503, "service unavailable\n", "text/plain; charset=utf-8")
    set_available(cluster, "False", "MissingEndpoints")
    assert raw(cluster, "GET", "/apis/metrics.k8s.io/v1beta1/nodes")[0] == 503

    set_available(cluster, "True", "Passed")
    status, _, resources = raw(cluster, "GET", "/apis/metrics.k8s.io/v1beta1")
    assert status == 200 and [(r["name"], r["kind"], r["namespaced"], r["verbs"]) for r in resources["resources"]] == [
        ("nodes", "NodeMetrics", False, ["get", "list"]), ("pods", "PodMetrics", True, ["get", "list"])]
    _, _, aggregated = raw(cluster, "GET", "/apis", headers={"Accept": AGGREGATED})
    version = aggregated["items"][-1]["versions"][0]
    assert version["freshness"] == "Current" and [r["resource"] for r in version["resources"]] == ["nodes", "pods"]

    status, _, nodes = raw(cluster, "GET", "/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=pool%3Da")
    assert status == 200 and nodes["kind"] == "NodeMetricsList" and nodes["apiVersion"] == "metrics.k8s.io/v1beta1"
    node = nodes["items"][0]
    assert node["metadata"]["labels"] == NODE["metadata"]["labels"] and node["window"] == "15s"
    # 100m + 1m + 400m of the running pods, 40% of the 70m reserved for the system
    assert node["usage"]["cpu"] == "529m"
    assert raw(cluster, "GET", "/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=pool%3Db")[2]["items"] == []
    status, _, pods = raw(cluster, "GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods")
    assert [(p["metadata"]["name"], p["containers"]) for p in pods["items"]] == [
        ("idle", [{"name": "app", "usage": {"cpu": "1m", "memory": "8Mi"}}]),
        ("limited", [{"name": "app", "usage": {"cpu": "400m", "memory": "419428Ki"}}]),
        ("web", [{"name": "app", "usage": {"cpu": "100m", "memory": "104856Ki"}}])]
    status, _, one = raw(cluster, "GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods/web")
    assert status == 200 and one["kind"] == "PodMetrics" and one["metadata"]["namespace"] == namespace
    status, _, missing = raw(cluster, "GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods/waiting")
    assert (status, missing["message"]) == (404, f'podmetrics.metrics.k8s.io "{namespace}/waiting" not found')
    status, _, missing = raw(cluster, "GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods/ghost")
    assert (status, missing["message"]) == (404, 'pod "ghost" not found')
    status, _, named = raw(cluster, "GET", "/apis/metrics.k8s.io/v1beta1/pods?fieldSelector=metadata.name%3Dweb")
    assert [p["metadata"]["name"] for p in named["items"]] == ["web"]
    status, _, table = raw(cluster, "GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods",
                           headers={"Accept": TABLE})
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "cpu", "memory", "Window"]
    assert table["rows"][2]["cells"] == ["web", "100m", "104856Ki", "15s"]
    status, _, body = raw(cluster, "GET", "/apis/metrics.k8s.io/v1beta1/nodes?watch=true")
    assert (status, body["message"]) == (405, 'watch is not supported on resources of kind "nodes.metrics.k8s.io"')
    assert raw(cluster, "DELETE", "/apis/metrics.k8s.io/v1beta1/nodes/x")[0] == 405
    assert raw(cluster, "GET", "/apis/metrics.k8s.io/v1beta1/nodes", token=None)[0] == 403

    raw(cluster, "DELETE", "/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io")
    assert "metrics.k8s.io" not in str(raw(cluster, "GET", "/apis")[2])
    assert raw(cluster, "GET", "/apis/metrics.k8s.io/v1beta1/nodes")[0] == 404


def test_availability_checks():
    service = {"metadata": {"name": "metrics-server", "namespace": "kube-system"},
               "spec": {"type": "ClusterIP", "clusterIP": "172.20.5.5",
                        "ports": [{"name": "https", "port": 443, "targetPort": "https"}]}}
    ready = {"metadata": {"name": "metrics-server", "namespace": "kube-system"},
             "subsets": [{"addresses": [{"ip": "10.0.1.5"}], "ports": [{"name": "https", "port": 10251}]}]}
    key = ("kube-system", "metrics-server")
    apiservice = copy.deepcopy(APISERVICE)
    apiservice["spec"]["service"]["port"] = 443
    assert availability(apiservice, {}, {})[:2] == ("False", "ServiceNotFound")
    assert availability(apiservice, {}, {})[2] == 'service/metrics-server in "kube-system" is not present'
    assert availability(apiservice, {key: service}, {})[1] == "EndpointsNotFound"
    not_ready = {"metadata": ready["metadata"], "subsets": [{"notReadyAddresses": [{"ip": "10.0.1.5"}],
                                                             "ports": [{"name": "https", "port": 10251}]}]}
    assert availability(apiservice, {key: service}, {key: not_ready})[1] == "MissingEndpoints"
    assert availability(apiservice, {key: service}, {key: ready}) == ("True", "Passed", "all checks passed")
    elsewhere = copy.deepcopy(apiservice)
    elsewhere["spec"]["service"]["port"] = 8443
    assert availability(elsewhere, {key: service}, {key: ready})[2] == (
        'service/metrics-server in "kube-system" is not listening on port 8443')
    custom = copy.deepcopy(apiservice)
    custom["spec"].update(group="custom.metrics.k8s.io", version="v1beta2")
    assert availability(custom, {key: service}, {key: ready}) == (
        "False", "FailedDiscoveryCheck", 'failing or missing response from https://172.20.5.5:443/apis/custom.metrics'
        '.k8s.io/v1beta2: Get "https://172.20.5.5:443/apis/custom.metrics.k8s.io/v1beta2": dial tcp '
        "172.20.5.5:443: connect: connection refused")
    assert availability({"spec": {"group": "apps", "version": "v1"}}, {}, {}) == (
        "True", "Local", "Local APIServices are always available")


@pytest.mark.parametrize(("resources", "usage"), [
    ({"requests": {"cpu": "100m", "memory": "200Mi"}}, (40_000_000, 80 * 2 ** 20)),
    ({"requests": {"cpu": "250m", "memory": "64Mi"}}, (100_000_000, 26841088)),  # rounded down to a 4 KiB page
    ({"limits": {"cpu": "2", "memory": "1Gi"}}, (800_000_000, 429494272)),  # requests default to limits
    ({}, (1_000_000, 8 * 2 ** 20)),
    ({"requests": {"cpu": "3m"}}, (1_200_000, 8 * 2 ** 20)),
])
def test_usage_model(resources, usage):
    assert metrics.container_usage({"name": "app", "resources": resources}) == usage


def test_quantities_print_canonically():
    assert [metrics.format_cpu(n) for n in (40_000_000, 2 * 10 ** 9, 1_200_000, 1500, 7)] == [
        "40m", "2", "1200u", "1500n", "7n"]
    assert [metrics.format_memory(n) for n in (80 * 2 ** 20, 26841088, 2 ** 30, 1536, 0)] == [
        "80Mi", "26212Ki", "1Gi", "1536", "0"]


@requires_kubectl
def test_kubectl_applies_and_lists_apiservices(cluster, tmp_path):
    import json
    import subprocess

    from .conftest import KUBECTL

    manifest = copy.deepcopy(APISERVICE)
    manifest["metadata"]["name"] = "v1beta1.custom.metrics.k8s.io"
    manifest["spec"].update(group="custom.metrics.k8s.io", service={"name": "adapter", "namespace": "monitoring"})
    env = {"KUBECONFIG": str(cluster.kubeconfig()), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def kubectl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(KUBECTL), *args], input=stdin, capture_output=True, text=True, env=env,
                              timeout=60, check=False)

    applied = kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.strip() == "apiservice.apiregistration.k8s.io/v1beta1.custom.metrics.k8s.io created"
    listed = kubectl("get", "apiservices")
    assert listed.returncode == 0 and listed.stdout.split()[:4] == ["NAME", "SERVICE", "AVAILABLE", "AGE"]
    assert "monitoring/adapter" in listed.stdout
    resources = kubectl("api-resources", "--api-group=apiregistration.k8s.io")
    assert resources.stdout.splitlines()[1].split() == ["apiservices", "apiregistration.k8s.io/v1", "false",
                                                        "APIService"]
    assert kubectl("delete", "apiservice", "v1beta1.custom.metrics.k8s.io").returncode == 0
