"""Managed node group updates replace the nodes, as EKS does: surge, cordon, drain through the Eviction API
(PodDisruptionBudgets hold), terminate; PodEvictionFailure when a budget blocks the drain, unless forced
(emulator/k8s/controllers/nodes.py, emulator/eks_cluster_patches.py, emulator/k8s/eviction.py)."""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ClientError

from emulator import eks_amis
from emulator.k8s.clusters import REGISTRY
from emulator.k8s.errors import ApiError
from emulator.k8s.eviction import evict
from tests.unit.emulator.k8s.controller_support import deployment, start_cluster

# A transition long enough that no test sees it end by itself: the tests look, then settle.
LONG = 120
AL2023 = "AL2023_x86_64_STANDARD"


@pytest.fixture
def cluster(emulator, monkeypatch, tmp_path):
    """An ACTIVE cluster ``demo`` (1.35) with its Kubernetes API and controllers; no node group yet."""
    monkeypatch.setattr(REGISTRY, "factory", None)
    served = start_cluster(emulator.url, tmp_path)
    yield served
    REGISTRY.stop_all()


def web(replicas: int = 2, min_available: int = 1) -> tuple[dict, dict]:
    """A Deployment ``web`` and its PodDisruptionBudget.

    The Deployment tolerates one unavailable replica (``maxUnavailable: 1``): its ``Available`` condition is
    ``availableReplicas >= replicas - maxUnavailable``, which the budget keeps true through a drain.
    """
    manifest = deployment("web", replicas=replicas)
    manifest["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}}
    budget = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web",
                                                                                    "namespace": "default"},
              "spec": {"minAvailable": min_available, "selector": {"matchLabels": {"app": "web"}}}}
    return manifest, budget


def kubelet(node: dict) -> str:
    return node["status"]["nodeInfo"]["kubeletVersion"]


def available(obj: dict | None) -> str | None:
    for condition in ((obj or {}).get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Available":
            return condition.get("status")
    return None


def deploy_web(cluster, replicas: int = 2, min_available: int = 1) -> None:
    cluster.apply(*web(replicas, min_available))
    cluster.wait(lambda: available(cluster.get("deployments", "web")) == "True"
                 and (cluster.get("deployments", "web")["status"].get("readyReplicas") or 0) == replicas,
                 "web ready")
    expected = replicas - min_available
    cluster.wait(lambda: ((cluster.get("poddisruptionbudgets", "web") or {}).get("status") or {}).get(
        "disruptionsAllowed") == expected, "the budget's status")


def describe_update(cluster, update_id: str, group: str = "workers") -> dict:
    return cluster.aws("eks").describe_update(name="demo", updateId=update_id, nodegroupName=group)["update"]


def nodegroup(cluster, group: str = "workers") -> dict:
    return cluster.aws("eks").describe_nodegroup(clusterName="demo", nodegroupName=group)["nodegroup"]


class AvailabilityRecorder:
    """Every ``Available`` status the Deployment ``web`` is written with (store events, none missed)."""

    def __init__(self, store) -> None:
        self.seen: list[str | None] = []
        self._lock = threading.Lock()
        self._unsubscribe = store.subscribe(self._on_change)

    def _on_change(self, event_type, rt, obj, old) -> None:
        if rt.kind == "Deployment" and obj["metadata"]["name"] == "web":
            with self._lock:
                self.seen.append(available(obj))

    def stop(self) -> list[str | None]:
        self._unsubscribe()
        return self.seen


def test_version_update_replaces_every_node_and_the_workload_stays_available(cluster, emulator_client):
    eks = cluster.aws("eks")
    cluster.nodegroup("workers", desired=3, version="1.34", amiType=AL2023)
    old_nodes = {n["metadata"]["name"] for n in cluster.nodes("workers")}
    assert all(kubelet(n).startswith("v1.34.2-eks-") for n in cluster.nodes("workers"))
    deploy_web(cluster)
    recorder = AvailabilityRecorder(cluster.store)
    # the replacement is quick (instant pods); the update then lasts eks_nodegroup_update, long here
    emulator_client.configure(profile={"eks_nodegroup_update": LONG, "eks_nodegroup_drain_timeout": LONG})

    update = eks.update_nodegroup_version(clusterName="demo", nodegroupName="workers")["update"]
    assert (update["type"], update["status"]) == ("VersionUpdate", "InProgress")
    assert {"type": "Version", "value": "1.35"} in update["params"]
    assert {"type": "ReleaseVersion", "value": eks_amis.latest_release("1.35")} in update["params"]
    assert nodegroup(cluster)["status"] == "UPDATING"
    cluster.wait(lambda: not old_nodes & {n["metadata"]["name"] for n in cluster.nodes("workers")}
                 and len(cluster.nodes("workers")) == 3, "the old nodes replaced by three new ones")
    cluster.settle()
    # the nodes are replaced, the update keeps its minimum duration: InProgress, the group UPDATING, old version
    assert describe_update(cluster, update["id"])["status"] == "InProgress"
    described = nodegroup(cluster)
    assert (described["status"], described["version"]) == ("UPDATING", "1.34")

    emulator_client.settle()
    assert describe_update(cluster, update["id"]) | {"createdAt": None} == {
        "id": update["id"], "status": "Successful", "type": "VersionUpdate", "params": update["params"],
        "createdAt": None, "errors": []}
    described = nodegroup(cluster)
    assert (described["status"], described["version"], described["releaseVersion"]) == (
        "ACTIVE", "1.35", eks_amis.latest_release("1.35"))
    nodes = cluster.nodes("workers")
    assert len(nodes) == 3
    for node in nodes:
        assert kubelet(node).startswith("v1.35.0-eks-")
        assert node["status"]["nodeInfo"]["osImage"] == "Amazon Linux 2023.9.20261118"
        assert not node["spec"].get("unschedulable")
        assert node["metadata"]["labels"]["eks.amazonaws.com/nodegroup-image"] == eks_amis.image_id(
            AL2023, eks_amis.latest_release("1.35"), "us-east-1")
    assert {p["spec"]["nodeName"] for p in cluster.pods(labels="app=web")} <= {n["metadata"]["name"] for n in nodes}
    seen = recorder.stop()
    assert seen and set(seen) == {"True"}, f"web was unavailable during the replacement: {seen}"
    assert available(cluster.get("deployments", "web")) == "True"

    # a configuration update changes the nodes in place
    eks.update_nodegroup_config(clusterName="demo", nodegroupName="workers",
                                labels={"addOrUpdateLabels": {"tier": "web"}})
    emulator_client.settle()
    cluster.wait(lambda: all(n["metadata"]["labels"].get("tier") == "web" for n in cluster.nodes("workers")),
                 "the new label on every node")
    assert {n["metadata"]["name"] for n in cluster.nodes("workers")} == {n["metadata"]["name"] for n in nodes}


def test_a_budget_that_blocks_the_drain_fails_the_update_unless_forced(cluster, emulator_client):
    eks = cluster.aws("eks")
    cluster.nodegroup("workers", desired=2, version="1.34", amiType=AL2023)
    old_nodes = {n["metadata"]["name"] for n in cluster.nodes("workers")}
    deploy_web(cluster, replicas=2, min_available=2)
    pod = cluster.pods(labels="app=web")[0]
    with pytest.raises(ApiError) as refused:
        evict(cluster.store, "default", pod["metadata"]["name"])
    assert (refused.value.status, refused.value.reason, refused.value.message) == (
        429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.")
    assert refused.value.details["causes"] == [{"reason": "DisruptionBudget", "message": "The disruption budget "
                                                "web needs 2 healthy pods and has 2 currently"}]
    emulator_client.configure(profile={"eks_nodegroup_drain_timeout": LONG})

    update = eks.update_nodegroup_version(clusterName="demo", nodegroupName="workers")["update"]
    cluster.wait(lambda: all(n["spec"].get("unschedulable") for n in cluster.nodes("workers")
                             if n["metadata"]["name"] in old_nodes), "the old nodes cordoned")
    cluster.settle()
    for node in (n for n in cluster.nodes("workers") if n["metadata"]["name"] in old_nodes):
        assert {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}.items() <= \
            next(t for t in node["spec"]["taints"] if t["key"] == "node.kubernetes.io/unschedulable").items()
        assert node["metadata"]["labels"]["node.kubernetes.io/exclude-from-external-load-balancers"] == "true"
    # the budget holds: the pods stay where they were, the update waits
    assert {p["spec"]["nodeName"] for p in cluster.pods(labels="app=web")} <= old_nodes
    assert describe_update(cluster, update["id"])["status"] == "InProgress"
    assert nodegroup(cluster)["status"] == "UPDATING"
    with pytest.raises(ClientError) as busy:
        eks.update_nodegroup_version(clusterName="demo", nodegroupName="workers", force=True)
    assert busy.value.response["Error"]["Code"] == "ResourceInUseException"

    emulator_client.settle()  # the drain timeout passes now
    failed = describe_update(cluster, update["id"])
    assert failed["status"] == "Failed"
    assert [(e["errorCode"], e["errorMessage"]) for e in failed["errors"]] == [
        ("PodEvictionFailure", "Reached max retries while trying to evict pods from nodes in node group workers")]
    assert failed["errors"][0]["resourceIds"] and all(i.startswith("i-") for i in failed["errors"][0]["resourceIds"])
    described = nodegroup(cluster)
    assert (described["status"], described["version"]) == ("ACTIVE", "1.34")
    assert old_nodes <= {n["metadata"]["name"] for n in cluster.nodes("workers")}
    assert available(cluster.get("deployments", "web")) == "True"

    forced = eks.update_nodegroup_version(clusterName="demo", nodegroupName="workers", force=True)["update"]
    cluster.wait(lambda: describe_update(cluster, forced["id"])["status"] == "Successful", "the forced update")
    nodes = cluster.nodes("workers")
    assert len(nodes) == 2 and not old_nodes & {n["metadata"]["name"] for n in nodes}
    assert all(kubelet(n).startswith("v1.35.") for n in nodes)
    assert nodegroup(cluster)["version"] == "1.35"
    cluster.wait(lambda: available(cluster.get("deployments", "web")) == "True"
                 and {p["spec"].get("nodeName") for p in cluster.pods(labels="app=web")}
                 <= {n["metadata"]["name"] for n in nodes}, "web running on the new nodes")


def test_a_release_update_replaces_the_nodes_with_the_published_ami(cluster, emulator_client):
    eks, ssm = cluster.aws("eks"), cluster.aws("ssm")
    cluster.nodegroup("workers", desired=2, releaseVersion="1.35.0-20261104", amiType=AL2023)
    old_nodes = {n["metadata"]["name"] for n in cluster.nodes("workers")}
    emulator_client.set_test_controls(eks_ami_releases={"1.35": "1.35.0-20261215"})
    path = "/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/standard/recommended"
    release = ssm.get_parameter(Name=f"{path}/release_version")["Parameter"]["Value"]
    image = ssm.get_parameter(Name=f"{path}/image_id")["Parameter"]["Value"]
    assert release == "1.35.0-20261215"
    assert nodegroup(cluster)["releaseVersion"] == "1.35.0-20261104"  # behind until updated

    update = eks.update_nodegroup_version(clusterName="demo", nodegroupName="workers", releaseVersion=release)["update"]
    assert {"type": "ReleaseVersion", "value": release} in update["params"]
    cluster.wait(lambda: describe_update(cluster, update["id"])["status"] == "Successful", "the release update")
    assert nodegroup(cluster)["releaseVersion"] == release
    nodes = cluster.nodes("workers")
    assert len(nodes) == 2 and not old_nodes & {n["metadata"]["name"] for n in nodes}
    for node in nodes:
        assert node["metadata"]["labels"]["eks.amazonaws.com/nodegroup-image"] == image
        assert node["status"]["nodeInfo"]["osImage"] == "Amazon Linux 2023.9.20261215"
