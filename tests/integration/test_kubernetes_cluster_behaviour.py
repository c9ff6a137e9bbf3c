"""The cluster built by site.yml behaves like a cluster (issue 12), seen through kubectl and boto3.

* the database node group's taint: tolerating pods (that ask for those nodes)
  land only there, others never do, and a pod asking for them without the
  toleration, or for more cpu than any node has, stays Pending with a
  FailedScheduling event;
* the coredns add-on is ACTIVE only while its pods are Ready on nodes;
* a claim on a gp3 class of the EBS CSI driver, used by a pod, becomes an
  encrypted gp3 EBS volume with the driver's tags.
"""

from __future__ import annotations

import json

import pytest

from tests.support.kubernetes import CLUSTER, Kube, nodes_by_group, wait_for

pytestmark = pytest.mark.integration
# Reads the platform the other sharing modules read (tests/support/shared_platform.py).
SHARES_PLATFORM = True

DATABASE_TAINT = {"key": "workload", "operator": "Equal", "value": "database", "effect": "NoSchedule"}


@pytest.fixture(scope="module")
def kube(built_platform, emulator_server, tmp_path_factory) -> Kube:
    """kubectl with the kubeconfig of ``aws eks update-kubeconfig``, its token minted once (``Kube.with_token``)."""
    kube, run = Kube.connect(emulator_server.url, tmp_path_factory.mktemp("kube"))
    assert run.returncode == 0, run.describe()
    return kube.with_token()


@pytest.fixture(scope="module")
def groups(kube) -> dict[str, set[str]]:
    """Node group -> the names of its nodes."""
    return {name: {n["metadata"]["name"] for n in nodes}
            for name, nodes in nodes_by_group(kube.get_json("nodes")["items"]).items()}


def deployment(name: str, namespace: str, replicas: int, pod_spec: dict) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": "busybox:1.36",
                                                           "command": ["sleep", "infinity"],
                                                           "resources": {"requests": {"cpu": "100m"}}}],
                                           **pod_spec}}}}


def pods_of(kube: Kube, namespace: str, selector: str) -> list[dict]:
    return kube.get_json("pods", "-n", namespace, "-l", selector)["items"]


def failed_scheduling(kube: Kube, namespace: str, pod: str) -> list[dict]:
    return kube.get_json("events", "-n", namespace, "--field-selector",
                         f"involvedObject.kind=Pod,involvedObject.name={pod},reason=FailedScheduling")["items"]


def test_database_taint_admits_only_tolerating_pods(kube, groups):
    namespace = "placement"
    on_database = {"tolerations": [DATABASE_TAINT],
                   "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                       "nodeSelectorTerms": [{"matchExpressions": [{"key": "eks.amazonaws.com/nodegroup",
                                                                    "operator": "In", "values": ["database"]}]}]}}}}
    anywhere_replicas = 2 * (len(groups["system"]) + len(groups["application"]))
    run = kube.apply_yaml([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        deployment("db-client", namespace, 2 * len(groups["database"]), on_database),
        deployment("anywhere", namespace, anywhere_replicas, {}),
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "intolerant", "namespace": namespace},
         "spec": {"nodeSelector": {"role": "database"},
                  "containers": [{"name": "app", "image": "busybox:1.36"}]}},
    ])
    assert run.lines == [f"namespace/{namespace} created", "deployment.apps/db-client created",
                         "deployment.apps/anywhere created", "pod/intolerant created"]
    for name in ("db-client", "anywhere"):
        run = kube.ok("wait", "--for=condition=Available", f"deployment/{name}", "-n", namespace, "--timeout=120s")
        assert run.lines == [f"deployment.apps/{name} condition met"]

    tolerating = pods_of(kube, namespace, "app=db-client")
    assert len(tolerating) == 2 * len(groups["database"])
    assert {p["spec"]["nodeName"] for p in tolerating} <= groups["database"]
    assert all(p["status"]["phase"] == "Running" for p in tolerating)
    # spread over the group's nodes, not piled on one
    assert len({p["spec"]["nodeName"] for p in tolerating}) > 1

    others = pods_of(kube, namespace, "app=anywhere")
    assert len(others) == anywhere_replicas
    assert all(p["status"]["phase"] == "Running" for p in others)
    used = {p["spec"]["nodeName"] for p in others}
    assert not used & groups["database"]
    assert used <= groups["system"] | groups["application"]

    # asking for the database nodes without tolerating their taint: never scheduled
    events = wait_for(lambda: failed_scheduling(kube, namespace, "intolerant"), what="FailedScheduling of intolerant")
    total = sum(len(nodes) for nodes in groups.values())
    assert events[0]["type"] == "Warning"
    assert events[0]["source"]["component"] == "default-scheduler"
    assert events[0]["message"].startswith(
        f"0/{total} nodes are available: {len(groups['database'])} node(s) had untolerated taint "
        "{workload: database}, ")
    assert "didn't match Pod's node affinity/selector" in events[0]["message"]
    pod = kube.get_json("pod", "intolerant", "-n", namespace)
    assert pod["status"]["phase"] == "Pending" and "nodeName" not in pod["spec"]

    run = kube.ok("delete", "namespace", namespace)
    assert run.lines == [f'namespace "{namespace}" deleted']


@pytest.mark.mutates_platform
def test_a_pod_larger_than_any_node_stays_pending_with_an_event(kube, groups):
    namespace = "too-big"
    nodes = kube.get_json("nodes")["items"]
    largest = max(int(n["status"]["capacity"]["cpu"]) for n in nodes)
    run = kube.apply_yaml([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "huge", "namespace": namespace},
         "spec": {"containers": [{"name": "app", "image": "busybox:1.36",
                                  "resources": {"requests": {"cpu": str(largest + 1)}}}]}},
    ])
    assert run.lines == [f"namespace/{namespace} created", "pod/huge created"]

    events = wait_for(lambda: failed_scheduling(kube, namespace, "huge"), what="FailedScheduling of huge")
    total = len(nodes)
    untainted = len(groups["system"]) + len(groups["application"])
    assert events[0]["type"] == "Warning" and events[0]["reason"] == "FailedScheduling"
    assert events[0]["involvedObject"]["kind"] == "Pod" and events[0]["involvedObject"]["name"] == "huge"
    assert events[0]["message"].startswith(
        f"0/{total} nodes are available: {len(groups['database'])} node(s) had untolerated taint "
        f"{{workload: database}}, {untainted} Insufficient cpu. ")

    pod = kube.get_json("pod", "huge", "-n", namespace)
    assert pod["status"]["phase"] == "Pending" and "nodeName" not in pod["spec"]
    [scheduled] = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert (scheduled["status"], scheduled["reason"]) == ("False", "Unschedulable")
    assert f"{untainted} Insufficient cpu" in scheduled["message"]

    table = kube.ok("get", "pod", "huge", "-n", namespace)
    assert table.lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert table.lines[1].split()[:4] == ["huge", "0/1", "Pending", "0"]
    described = kube.ok("describe", "pod", "huge", "-n", namespace)
    assert any(line.split()[:2] == ["Warning", "FailedScheduling"] for line in described.lines), described.stdout
    run = kube.ok("delete", "namespace", namespace)
    assert run.lines == [f'namespace "{namespace}" deleted']


def coredns_state(kube: Kube, boto) -> tuple[str, list[dict]]:
    addon = boto("eks").describe_addon(clusterName=CLUSTER, addonName="coredns")["addon"]
    return addon["status"], pods_of(kube, "kube-system", "k8s-app=kube-dns")


def ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


@pytest.mark.mutates_platform
def test_coredns_is_active_only_while_its_pods_are_ready_on_nodes(kube, boto, groups):
    eks = boto("eks")
    nodes = set().union(*groups.values())
    status, pods = coredns_state(kube, boto)
    assert status == "ACTIVE"
    assert len(pods) == 2 and all(ready(p) and p["spec"]["nodeName"] in nodes for p in pods)
    deployment = kube.get_json("deployment", "coredns", "-n", "kube-system")
    assert deployment["status"]["readyReplicas"] == 2

    # the add-on's configuration sends its pods where no node is: they stay Pending and the add-on degrades
    update = eks.update_addon(clusterName=CLUSTER, addonName="coredns", resolveConflicts="OVERWRITE",
                              configurationValues=json.dumps({"nodeSelector": {"role": "no-such-nodes"}}))["update"]
    assert update["type"] == "AddonUpdate"

    def degraded():
        status, pods = coredns_state(kube, boto)
        pending = [p for p in pods if p["spec"].get("nodeSelector") == {"role": "no-such-nodes"}]
        return status == "DEGRADED" and pending and all(p["status"]["phase"] == "Pending" for p in pending)

    wait_for(degraded, what="coredns DEGRADED with Pending pods")
    addon = eks.describe_addon(clusterName=CLUSTER, addonName="coredns")["addon"]
    assert [i["code"] for i in addon["health"]["issues"]] == ["InsufficientNumberOfReplicas"]
    pending = [p for p in pods_of(kube, "kube-system", "k8s-app=kube-dns") if p["status"]["phase"] == "Pending"]
    assert pending
    for name in (p["metadata"]["name"] for p in pending):
        events = wait_for(lambda name=name: failed_scheduling(kube, "kube-system", name),
                          what=f"FailedScheduling of {name}")
        assert "didn't match Pod's node affinity/selector" in events[0]["message"]

    # back to the default configuration: ACTIVE again, and only with every pod Ready on a node
    eks.update_addon(clusterName=CLUSTER, addonName="coredns", resolveConflicts="OVERWRITE", configurationValues="")

    def active():
        status, pods = coredns_state(kube, boto)
        return (status, pods) if status == "ACTIVE" else None

    status, pods = wait_for(active, what="coredns ACTIVE again")
    deployment = kube.get_json("deployment", "coredns", "-n", "kube-system")
    assert deployment["status"].get("readyReplicas") == deployment["spec"]["replicas"] == 2
    run = kube.ok("rollout", "status", "deployment/coredns", "-n", "kube-system", "--timeout=120s")
    assert run.lines[-1] == 'deployment "coredns" successfully rolled out'
    pods = [p for p in pods_of(kube, "kube-system", "k8s-app=kube-dns") if "deletionTimestamp" not in p["metadata"]]
    assert len(pods) == 2 and all(ready(p) and p["spec"]["nodeName"] in nodes for p in pods)
    assert all("nodeSelector" not in p["spec"] or p["spec"]["nodeSelector"] != {"role": "no-such-nodes"} for p in pods)
    assert eks.describe_addon(clusterName=CLUSTER, addonName="coredns")["addon"]["health"]["issues"] == []


@pytest.mark.mutates_platform
def test_a_gp3_claim_used_by_a_pod_becomes_an_encrypted_ebs_volume(kube, boto, groups):
    namespace = "storage"
    run = kube.apply_yaml([
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "gp3-encrypted"},
         "provisioner": "ebs.csi.aws.com", "parameters": {"type": "gp3", "encrypted": "true"},
         "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": namespace},
         "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "gp3-encrypted",
                  "resources": {"requests": {"storage": "20Gi"}}}},
    ])
    assert run.lines == ["storageclass.storage.k8s.io/gp3-encrypted created", f"namespace/{namespace} created",
                         "persistentvolumeclaim/data created"]
    # no consumer yet: the claim waits, and nothing is created in EC2
    events = wait_for(lambda: kube.get_json("events", "-n", namespace, "--field-selector",
                                            "involvedObject.name=data,reason=WaitForFirstConsumer")["items"],
                      what="WaitForFirstConsumer event")
    assert events[0]["message"] == "waiting for first consumer to be created before binding"
    assert kube.get_json("pvc", "data", "-n", namespace)["status"]["phase"] == "Pending"
    ec2 = boto("ec2")
    by_claim = [{"Name": "tag:kubernetes.io/created-for/pvc/name", "Values": ["data"]},
                {"Name": "tag:kubernetes.io/created-for/pvc/namespace", "Values": [namespace]}]
    assert ec2.describe_volumes(Filters=by_claim)["Volumes"] == []

    run = kube.apply_yaml([{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "db", "namespace": namespace},
                            "spec": {"containers": [{"name": "db", "image": "busybox:1.36",
                                                     "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                                     "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}}])
    assert run.lines == ["pod/db created"]
    run = kube.ok("wait", "--for=jsonpath={.status.phase}=Bound", "pvc/data", "-n", namespace, "--timeout=120s")
    assert run.lines == ["persistentvolumeclaim/data condition met"]
    run = kube.ok("wait", "--for=condition=Ready", "pod/db", "-n", namespace, "--timeout=120s")
    assert run.lines == ["pod/db condition met"]

    claim = kube.get_json("pvc", "data", "-n", namespace)
    pod = kube.get_json("pod", "db", "-n", namespace)
    node = kube.get_json("node", pod["spec"]["nodeName"])
    zone = node["metadata"]["labels"]["topology.kubernetes.io/zone"]
    assert claim["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == pod["spec"]["nodeName"]
    assert claim["status"]["capacity"]["storage"] == "20Gi"
    volume_name = claim["spec"]["volumeName"]
    pv = kube.get_json("pv", volume_name)
    assert pv["spec"]["csi"]["driver"] == "ebs.csi.aws.com"
    assert pv["spec"]["storageClassName"] == "gp3-encrypted"
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert pv["status"]["phase"] == "Bound"
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "topology.kubernetes.io/zone", "operator": "In", "values": [zone]}]
    volume_id = pv["spec"]["csi"]["volumeHandle"]

    [volume] = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"]
    assert (volume["VolumeType"], volume["Size"], volume["Encrypted"], volume["AvailabilityZone"]) == (
        "gp3", 20, True, zone)
    assert volume["KmsKeyId"].startswith("arn:aws:kms:us-east-1:123456789012:key/")
    tags = {t["Key"]: t["Value"] for t in volume["Tags"]}
    assert tags == {
        "CSIVolumeName": volume_name,
        "ebs.csi.aws.com/cluster": "true",
        "KubernetesCluster": CLUSTER,
        f"kubernetes.io/cluster/{CLUSTER}": "owned",
        "kubernetes.io/created-for/pv/name": volume_name,
        "kubernetes.io/created-for/pvc/name": "data",
        "kubernetes.io/created-for/pvc/namespace": namespace,
        # the inventory's common tags (llmhub_tags), the driver's extraVolumeTags
        "Project": "llm-analytics-hub", "Environment": "local", "ManagedBy": "ansible",
    }
    assert [v["VolumeId"] for v in ec2.describe_volumes(Filters=by_claim)["Volumes"]] == [volume_id]

    # reclaim policy Delete: the claim goes with its namespace, the volume with the claim
    run = kube.ok("delete", "namespace", namespace)
    assert run.lines == [f'namespace "{namespace}" deleted']

    def volume_gone():
        return not ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": [volume_id]}])["Volumes"]

    wait_for(volume_gone, what=f"EBS volume {volume_id} deleted")
    run = wait_for(lambda: (lambda r: r if r.returncode == 1 else None)(kube.kubectl("get", "pv", volume_name)),
                   what=f"PV {volume_name} deleted")
    assert run.stderr == f'Error from server (NotFound): persistentvolumes "{volume_name}" not found\n'
    assert kube.ok("delete", "storageclass", "gp3-encrypted").lines == [
        'storageclass.storage.k8s.io "gp3-encrypted" deleted']
