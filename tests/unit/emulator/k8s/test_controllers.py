"""The controllers over a bare store and a hand-made cloud (no moto): quantities, cron, scheduler rules,
workload controllers, endpoints, storage and load balancers (emulator/k8s/controllers)."""

from __future__ import annotations

import datetime as dt
import time
from fractions import Fraction
from typing import Any

import pytest

from emulator.k8s.controllers import (
    ClusterInfo, Controllers, InstanceType, NodeGroup, StaticCloud, Subnet,
)
from emulator.k8s.controllers import cron
from emulator.k8s.controllers.nodes import capacity, reserved_cpu_millis
from emulator.k8s.controllers.runtime import KINDS, kind_name
from emulator.k8s.controllers.scheduler import Scheduler, term_matches, tolerates
from emulator.k8s.controllers.util import parse_quantity, pod_requests, template_hash
from emulator.k8s.store import Store
from tests.unit.emulator.shape_check import wait_until

SUBNETS = (Subnet("subnet-a", "10.0.0.0/20", "us-east-1a", "use1-az1", (("kubernetes.io/role/elb", "1"),)),
           Subnet("subnet-b", "10.0.16.0/20", "us-east-1b", "use1-az2", (("kubernetes.io/role/elb", "1"),)))
M5_LARGE = InstanceType("m5.large", 2, 8192, 29)


def group(name: str, desired: int, **kwargs: Any) -> NodeGroup:
    kwargs.setdefault("subnets", SUBNETS)
    kwargs.setdefault("release_version", "1.35.0-20261118")
    kwargs.setdefault("ami_type", "AL2023_x86_64_STANDARD")
    return NodeGroup(name, "ACTIVE", desired, (M5_LARGE,), **kwargs)


def info(*groups: NodeGroup) -> ClusterInfo:
    return ClusterInfo("demo", "us-east-1", "123456789012", "1.35", "vpc-1", SUBNETS, nodegroups=groups)


class Kube:
    """A store with controllers over a :class:`StaticCloud`."""

    def __init__(self, cloud: StaticCloud, clock: Any = time.time) -> None:
        self.store = Store(namespace_delay=0.1)
        self.cloud = cloud
        self.controllers = Controllers(self.store, cloud, poll=0.05, clock=clock, name="test").start()

    def rt(self, kind: str) -> Any:
        group_name, version, plural = KINDS[kind]
        return self.store.resources.get(group_name, version, plural)

    def apply(self, *manifests: dict) -> None:
        for manifest in manifests:
            self.store.create(self.rt(kind_name(manifest)), manifest)

    def get(self, kind: str, name: str, namespace: str | None = "default") -> dict | None:
        return self.store.try_get(self.rt(kind), namespace, name)

    def list(self, kind: str, namespace: str | None = None, labels: str | None = None) -> list[dict]:
        return self.store.list(self.rt(kind), namespace, labels)[0]

    def wait(self, probe: Any, timeout: float = 30.0) -> Any:
        return wait_until(probe, timeout=timeout)

    def settle(self) -> None:
        assert self.controllers.sync(10.0)


@pytest.fixture
def kube():
    cluster = Kube(StaticCloud(info(group("general", 2), group("db", 1, labels=(("role", "db"), ("disks", "4")),
                                                           taints=(("dedicated", "database", "NO_SCHEDULE"),)))))
    cluster.wait(lambda: len(cluster.list("nodes")) == 3)
    yield cluster
    cluster.controllers.stop()


def pod(name: str, **spec: Any) -> dict:
    body = {"containers": [{"name": "app", "image": "busybox"}]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default",
                                                           "labels": {"app": name}}, "spec": body}


def workload(kind: str, name: str, replicas: int | None = 2, **spec: Any) -> dict:
    api = "batch/v1" if kind == "Job" else "apps/v1"
    body: dict[str, Any] = {"selector": {"matchLabels": {"app": name}},
                            "template": {"metadata": {"labels": {"app": name}},
                                         "spec": {"containers": [{"name": "app", "image": "busybox"}]}}}
    if kind == "Job":
        body.pop("selector")
        body["template"]["spec"]["restartPolicy"] = "Never"
    if replicas is not None:
        body["replicas"] = replicas
    body.update(spec)
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": "default"}, "spec": body}


# -- pure functions ---------------------------------------------------------------------------------------------

def test_quantities():
    assert parse_quantity("100m") == Fraction(1, 10)
    assert parse_quantity("1.5Gi") == 1.5 * 2 ** 30
    assert parse_quantity("2k") == 2000 and parse_quantity("1e3") == 1000 and parse_quantity("128974848") == 128974848
    assert parse_quantity("64Mi") == 64 * 2 ** 20 and parse_quantity("1M") == 10 ** 6
    assert parse_quantity(2) == 2
    with pytest.raises(ValueError):
        parse_quantity("12 cores")
    spec = {"containers": [{"resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
                           {"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}],
            "initContainers": [{"resources": {"requests": {"cpu": "2"}}},
                               {"restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}}],
            "overhead": {"memory": "10Mi"}}
    assert pod_requests(spec) == {"cpu": 2000, "memory": 64 * 2 ** 20 + 2 ** 30 + 10 * 2 ** 20}


def test_node_allocatable_follows_the_eks_ami():
    assert [reserved_cpu_millis(n) for n in (1, 2, 4, 8, 64)] == [60, 70, 80, 90, 230]
    t3_medium = InstanceType("t3.medium", 2, 4096, 17)
    cap, alloc = capacity(t3_medium, 20, gpu=False)
    assert (cap["cpu"], cap["pods"], alloc["cpu"], alloc["pods"]) == ("2", "17", "1930m", "17")
    memory = int(cap["memory"][:-2]) - (11 * 17 + 255 + 100) * 1024
    assert alloc["memory"] == f"{memory}Ki"
    g5 = InstanceType("g5.xlarge", 4, 16384, 58, gpus=1)
    assert capacity(g5, 100, gpu=True)[1]["nvidia.com/gpu"] == "1"
    assert "nvidia.com/gpu" not in capacity(g5, 100, gpu=False)[1]


def test_template_hash_is_stable_and_kubernetes_shaped():
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "a", "image": "x"}]}}
    first = template_hash(template)
    assert first == template_hash(dict(template)) and first != template_hash(template, collision_count=1)
    assert set(first) <= set("bcdfghjklmnpqrstvwxz2456789") and 1 <= len(first) <= 10


def test_cron_schedules():
    start = dt.datetime(2026, 12, 2, 10, 7, 30, tzinfo=dt.timezone.utc).timestamp()

    def following(expression: str, zone: str | None = None) -> str:
        moment = cron.parse(expression, zone).next_after(start)
        return dt.datetime.fromtimestamp(moment, dt.timezone.utc).strftime("%Y-%m-%d %H:%M")

    assert following("*/15 * * * *") == "2026-12-02 10:15"
    assert following("@hourly") == "2026-12-02 11:00"
    assert following("0 3 * * 0") == "2026-12-06 03:00"  # the next Sunday
    assert following("30 2 1 jan *") == "2027-01-01 02:30"
    assert following("0 9 * * *", "Europe/Paris") == "2026-12-03 08:00"
    assert following("CRON_TZ=America/New_York 0 6 * * *") == "2026-12-02 11:00"
    assert following("0 0 13 * 5") == "2026-12-04 00:00"  # day 13 or a Friday
    for bad in ("* * * *", "61 * * * *", "@every 5m", "0 0 * * mon-xyz"):
        with pytest.raises(cron.CronError):
            cron.parse(bad)


def test_tolerations_and_node_terms():
    taint = {"key": "dedicated", "value": "database", "effect": "NoSchedule"}
    assert tolerates([{"key": "dedicated", "operator": "Equal", "value": "database"}], taint)
    assert tolerates([{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}], taint)
    assert tolerates([{"operator": "Exists"}], taint)
    assert not tolerates([{"key": "dedicated", "value": "cache"}], taint)
    assert not tolerates([{"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}], taint)
    node = {"metadata": {"name": "n1", "labels": {"disks": "4", "zone": "a"}}}
    expressions = [({"key": "disks", "operator": "Gt", "values": ["3"]}, True),
                   ({"key": "disks", "operator": "Lt", "values": ["3"]}, False),
                   ({"key": "zone", "operator": "NotIn", "values": ["b"]}, True),
                   ({"key": "gpu", "operator": "DoesNotExist"}, True),
                   ({"key": "gpu", "operator": "Exists"}, False)]
    for expression, expected in expressions:
        assert term_matches({"matchExpressions": [expression]}, node) is expected, expression
    assert term_matches({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}, node)


def test_fit_error_message_is_worded_like_kube_scheduler():
    message = Scheduler._fit_error(4, {"a": ["Insufficient cpu", "Insufficient memory"], "b": ["Insufficient cpu"],
                                       "c": ["node(s) had untolerated taint {dedicated: database}"],
                                       "d": ["node(s) didn't match Pod's node affinity/selector"]})
    assert message == (
        "0/4 nodes are available: 1 Insufficient memory, 1 node(s) didn't match Pod's node affinity/selector, "
        "1 node(s) had untolerated taint {dedicated: database}, 2 Insufficient cpu. preemption: 0/4 nodes are "
        "available: 2 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.")


# -- over a store ------------------------------------------------------------------------------------------------

def test_resources_affinity_and_anti_affinity(kube):
    kube.apply(*[pod(f"big-{i}", containers=[{"name": "app", "image": "busybox",
                                              "resources": {"requests": {"cpu": "900m"}}}]) for i in range(5)])
    kube.wait(lambda: sum(1 for p in kube.list("pods") if p["spec"].get("nodeName")) == 4)
    kube.settle()
    pending = [p for p in kube.list("pods") if not p["spec"].get("nodeName")]
    assert len(pending) == 1
    message = next(c for c in pending[0]["status"]["conditions"] if c["type"] == "PodScheduled")["message"]
    assert message.startswith("0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: database}, "
                              "2 Insufficient cpu.")
    for name in [p["metadata"]["name"] for p in kube.list("pods")]:
        kube.store.delete(kube.rt("pods"), "default", name)

    toleration = [{"key": "dedicated", "operator": "Exists"}]
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "disks", "operator": "Gt", "values": ["2"]}]}]}}}
    kube.apply(pod("disky", tolerations=toleration, affinity=affinity))
    db_node = [n["metadata"]["name"] for n in kube.list("nodes", labels="eks.amazonaws.com/nodegroup=db")][0]
    assert kube.wait(lambda: kube.get("pods", "disky")["spec"].get("nodeName")) == db_node

    spread = workload("Deployment", "spread", 3)
    spread["spec"]["template"]["spec"]["affinity"] = {"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchLabels": {"app": "spread"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    kube.apply(spread)
    kube.wait(lambda: len(kube.list("pods", "default", "app=spread")) == 3)
    kube.wait(lambda: sum(1 for p in kube.list("pods", "default", "app=spread") if p["spec"].get("nodeName")) == 2)
    kube.settle()
    waiting = [p for p in kube.list("pods", "default", "app=spread") if not p["spec"].get("nodeName")][0]
    message = next(c for c in waiting["status"]["conditions"] if c["type"] == "PodScheduled")["message"]
    assert message == ("0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: database}, 2 node(s) "
                       "didn't match pod anti-affinity rules. preemption: 0/3 nodes are available: 3 Preemption is "
                       "not helpful for scheduling.")
    # a third untainted node: the pending pod goes there
    kube.cloud.info = info(group("general", 3), group("db", 1, labels=(("role", "db"), ("disks", "4")),
                                                      taints=(("dedicated", "database", "NO_SCHEDULE"),)))
    kube.wait(lambda: all(p["status"].get("phase") == "Running" for p in kube.list("pods", "default", "app=spread")))
    assert len({p["spec"]["nodeName"] for p in kube.list("pods", "default", "app=spread")}) == 3


def test_statefulset_in_order_with_claims(kube):
    sts = workload("StatefulSet", "db", 3, serviceName="db", volumeClaimTemplates=[{
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}])
    for i in range(3):
        kube.apply({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"pv-{i}"},
                    "spec": {"capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOnce"],
                             "hostPath": {"path": f"/data/{i}"}}})
    kube.apply(sts)
    pods = kube.wait(lambda: [kube.get("pods", f"db-{i}") for i in range(3)]
                     if all(kube.get("pods", f"db-{i}") and kube.get("pods", f"db-{i}")["status"].get("phase")
                            == "Running" for i in range(3)) else None)
    created = [p["metadata"]["creationTimestamp"] for p in pods]
    assert created == sorted(created)
    assert pods[1]["spec"]["hostname"] == "db-1" and pods[1]["spec"]["subdomain"] == "db"
    assert pods[1]["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "1"
    claims = {c["metadata"]["name"]: c for c in kube.list("persistentvolumeclaims", "default")}
    assert set(claims) == {"data-db-0", "data-db-1", "data-db-2"}
    assert all(c["status"]["phase"] == "Bound" for c in claims.values())
    status = kube.wait(lambda: (kube.get("statefulsets", "db").get("status") or {}).get("readyReplicas") == 3
                       and kube.get("statefulsets", "db")["status"])
    assert status["currentRevision"] == status["updateRevision"] and status["updatedReplicas"] == 3

    current = kube.get("statefulsets", "db")
    current["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:1.37"
    kube.store.update(kube.rt("statefulsets"), current)
    kube.wait(lambda: all(p["spec"]["containers"][0]["image"] == "busybox:1.37"
                          for p in kube.list("pods", "default", "app=db")) and
              len(kube.list("pods", "default", "app=db")) == 3)
    kube.wait(lambda: kube.get("statefulsets", "db")["status"]["currentRevision"]
              == kube.get("statefulsets", "db")["status"]["updateRevision"] != status["updateRevision"])


def test_job_completes_and_cronjob_schedules(kube):
    kube.apply(workload("Job", "once", None, completions=3, parallelism=2))
    job = kube.wait(lambda: any(c["type"] == "Complete" for c in
                                (kube.get("jobs", "once").get("status") or {}).get("conditions") or [])
                    and kube.get("jobs", "once"))
    assert job["status"]["succeeded"] == 3 and "active" not in job["status"]
    assert [c["type"] for c in job["status"]["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert all(p["status"]["phase"] == "Succeeded" for p in kube.list("pods", "default", "job-name=once"))

    indexed = workload("Job", "indexed", None, completions=3, parallelism=3, completionMode="Indexed")
    kube.apply(indexed)
    done = kube.wait(lambda: (kube.get("jobs", "indexed").get("status") or {}).get("completedIndexes") == "0-2"
                     and kube.get("jobs", "indexed"))
    assert done["status"]["succeeded"] == 3


def test_cronjob_creates_jobs_when_due():
    cluster = Kube(StaticCloud(info(group("general", 1))), clock=lambda: time.time() + 180)
    try:
        cluster.wait(lambda: cluster.list("nodes"))
        job = workload("Job", "tick", None)
        cluster.apply({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick", "namespace": "default"},
                       "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": job["spec"]}}})
        status = cluster.wait(lambda: (cluster.get("cronjobs", "tick").get("status") or {}).get("lastScheduleTime")
                              and cluster.get("cronjobs", "tick")["status"])
        jobs = cluster.list("jobs", "default")
        assert len(jobs) == 1 and jobs[0]["metadata"]["name"].startswith("tick-")
        assert jobs[0]["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
        assert status["lastScheduleTime"] == jobs[0]["metadata"]["annotations"][
            "batch.kubernetes.io/cronjob-scheduled-timestamp"]
    finally:
        cluster.controllers.stop()


def test_service_endpoints_and_slices(kube):
    deploy = workload("Deployment", "api", 2)
    deploy["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": 8080}]
    kube.apply(deploy, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "default"},
                        "spec": {"selector": {"app": "api"}, "ports": [{"name": "web", "port": 80,
                                                                        "targetPort": "http"}]}})
    endpoints = kube.wait(lambda: len(((kube.get("endpoints", "api") or {}).get("subsets") or [{}])[0].get(
        "addresses") or []) == 2 and kube.get("endpoints", "api"))
    ips = sorted(p["status"]["podIP"] for p in kube.list("pods", "default", "app=api"))
    assert sorted(a["ip"] for a in endpoints["subsets"][0]["addresses"]) == ips
    assert endpoints["subsets"][0]["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
    slices = kube.list("endpointslices", "default", "kubernetes.io/service-name=api")
    assert len(slices) == 1 and slices[0]["addressType"] == "IPv4"
    assert sorted(e["addresses"][0] for e in slices[0]["endpoints"]) == ips
    assert all(e["conditions"]["ready"] and e["zone"].startswith("us-east-1") for e in slices[0]["endpoints"])
    assert slices[0]["metadata"]["ownerReferences"][0]["kind"] == "Service"
    kubernetes = kube.wait(lambda: kube.get("endpoints", "kubernetes"))
    assert kubernetes["subsets"][0]["ports"] == [{"name": "https", "port": 443, "protocol": "TCP"}]
    assert len(kubernetes["subsets"][0]["addresses"]) == 2

    kube.store.delete(kube.rt("services"), "default", "api")
    kube.wait(lambda: kube.get("endpoints", "api") is None)
    kube.wait(lambda: not kube.list("endpointslices", "default", "kubernetes.io/service-name=api"))


def test_claims_wait_for_the_ebs_csi_controller(kube):
    kube.apply({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast", "annotations": {
        "storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "ebs.csi.aws.com", "volumeBindingMode": "Immediate"},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c", "namespace": "default"},
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "3Gi"}}}})
    claim = kube.get("persistentvolumeclaims", "c")
    assert claim["spec"]["storageClassName"] == "fast"  # the default class, at admission
    assert claim["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    kube.settle()
    assert kube.get("persistentvolumeclaims", "c")["status"]["phase"] == "Pending"
    assert kube.cloud.volumes == {}
    controller = workload("Deployment", "ebs-csi-controller", 1)
    controller["metadata"]["namespace"] = "kube-system"
    kube.apply(controller)
    kube.wait(lambda: kube.get("persistentvolumeclaims", "c")["status"].get("phase") == "Bound")
    (request,) = kube.cloud.volumes.values()
    assert (request.volume_type, request.size_gib, request.encrypted) == ("gp3", 3, False)
    assert dict(request.tags)["kubernetes.io/created-for/pvc/name"] == "c"


def test_alb_for_an_ingress(kube):
    kube.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
                "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80}]}},
               {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": "web", "namespace": "default",
                             "annotations": {"alb.ingress.kubernetes.io/scheme": "internet-facing"}},
                "spec": {"ingressClassName": "alb", "rules": [{"host": "web.example.com", "http": {"paths": [
                    {"path": "/api", "pathType": "Prefix",
                     "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}})
    kube.settle()
    assert kube.cloud.load_balancers == {}
    controller = workload("Deployment", "aws-load-balancer-controller", 1)
    controller["metadata"]["namespace"] = "kube-system"
    kube.apply(controller)
    hostname = kube.wait(lambda: ((kube.get("ingresses", "web").get("status") or {}).get("loadBalancer") or {}).get(
        "ingress"))[0]["hostname"]
    spec = kube.cloud.load_balancers["default/web"]
    assert hostname.startswith(spec.name) and spec.type == "application" and spec.scheme == "internet-facing"
    assert dict(spec.tags)["ingress.k8s.aws/stack"] == "default/web"
    (listener,) = spec.listeners
    assert (listener.protocol, listener.port, listener.default_target_group) == ("HTTP", 80, None)
    assert [(host, path) for _p, host, path, _tg in listener.rules] == [("web.example.com", "/api"),
                                                                        ("web.example.com", "/api/*")]
    (target_group,) = spec.target_groups
    node_port = kube.get("services", "web")["spec"]["ports"][0]["nodePort"]
    assert (target_group.target_type, target_group.port, len(target_group.targets)) == ("instance", node_port, 3)
    kube.store.delete(kube.rt("ingresses"), "default", "web")
    kube.wait(lambda: kube.get("ingresses", "web") is None)
    assert kube.cloud.load_balancers == {}


def test_cordon_and_disruption_budget(kube):
    general = sorted(n["metadata"]["name"] for n in kube.list("nodes", labels="eks.amazonaws.com/nodegroup=general"))
    node = kube.get("nodes", general[0], None)
    node["spec"]["unschedulable"] = True
    kube.store.update(kube.rt("nodes"), node)
    kube.wait(lambda: any(t["key"] == "node.kubernetes.io/unschedulable"
                          for t in kube.get("nodes", general[0], None)["spec"].get("taints") or []))
    kube.apply(workload("Deployment", "web", 3),
               {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}})
    pods = kube.wait(lambda: len(kube.list("pods", "default", "app=web")) == 3 and all(
        p["status"].get("phase") == "Running" for p in kube.list("pods", "default", "app=web"))
        and kube.list("pods", "default", "app=web"))
    assert {p["spec"]["nodeName"] for p in pods} == {general[1]}  # not on the cordoned node nor the tainted one
    status = kube.wait(lambda: (kube.get("poddisruptionbudgets", "web").get("status") or {}).get("expectedPods") == 3
                       and kube.get("poddisruptionbudgets", "web")["status"])
    assert (status["currentHealthy"], status["desiredHealthy"], status["disruptionsAllowed"]) == (3, 2, 1)
    assert status["conditions"][0]["type"] == "DisruptionAllowed" and status["conditions"][0]["status"] == "True"
    node = kube.get("nodes", general[0], None)
    node["spec"]["unschedulable"] = False
    kube.store.update(kube.rt("nodes"), node)
    kube.wait(lambda: not any(t["key"] == "node.kubernetes.io/unschedulable"
                              for t in kube.get("nodes", general[0], None)["spec"].get("taints") or []))


def test_a_replicaset_whose_deployment_is_gone_is_collected_with_its_pods(kube):
    # what the Deployment controller leaves when it creates a ReplicaSet from a view taken just before the
    # Deployment was deleted: the garbage collector deletes the ReplicaSet, then its pods
    stale = workload("ReplicaSet", "stale", 2)
    stale["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "stale",
                                             "uid": "4a7c3a53-0000-4000-8000-000000000000", "controller": True,
                                             "blockOwnerDeletion": True}]
    kube.store.create(kube.rt("replicasets"), stale)
    kube.wait(lambda: kube.get("replicasets", "stale") is None and not kube.list("pods", "default", "app=stale"))


def test_recreate_and_progress_deadline():
    offset = [0.0]
    cluster = Kube(StaticCloud(info(group("general", 2))), clock=lambda: time.time() + offset[0])
    try:
        cluster.wait(lambda: len(cluster.list("nodes")) == 2)
        recreate = workload("Deployment", "batch", 2, strategy={"type": "Recreate"})
        cluster.apply(recreate)
        cluster.wait(lambda: (cluster.get("deployments", "batch").get("status") or {}).get("availableReplicas") == 2)
        current = cluster.get("deployments", "batch")
        current["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:1.37"
        cluster.store.update(cluster.rt("deployments"), current)
        cluster.wait(lambda: [p["spec"]["containers"][0]["image"] for p in cluster.list("pods", "default", "app=batch")]
                     == ["busybox:1.37"] * 2 and (cluster.get("deployments", "batch").get("status") or {}).get(
                         "updatedReplicas") == 2)
        events = [e["message"] for e in cluster.list("events", "default")
                  if e["involvedObject"]["name"] == "batch" and e["reason"] == "ScalingReplicaSet"]
        old_down = next(i for i, m in enumerate(events) if m.startswith("Scaled down") and m.endswith("from 2 to 0"))
        new_up = next(i for i, m in enumerate(events) if m.startswith("Scaled up") and m.endswith("to 2")
                      and i > 0)
        assert old_down < new_up  # Recreate: the old pods go before the new ones come

        stuck = workload("Deployment", "stuck", 1, progressDeadlineSeconds=30)
        stuck["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "64"}}
        cluster.apply(stuck)
        cluster.wait(lambda: any(c["type"] == "Progressing" for c in (cluster.get("deployments", "stuck").get(
            "status") or {}).get("conditions") or []))
        offset[0] = 60.0
        cluster.controllers.mark_dirty()

        def progressing():
            conditions = (cluster.get("deployments", "stuck").get("status") or {}).get("conditions") or []
            return next((c for c in conditions if c["type"] == "Progressing"), {})

        cluster.wait(lambda: progressing().get("reason") == "ProgressDeadlineExceeded")
        assert progressing()["status"] == "False"
        assert progressing()["message"].endswith("has timed out progressing.")
        available = next(c for c in cluster.get("deployments", "stuck")["status"]["conditions"]
                         if c["type"] == "Available")
        assert (available["status"], available["reason"]) == ("False", "MinimumReplicasUnavailable")
    finally:
        cluster.controllers.stop()


def test_pods_start_after_the_profiles_pod_start():
    store = Store(namespace_delay=0.1)
    controllers = Controllers(store, StaticCloud(info(group("general", 1))), poll=0.05, name="slow",
                              durations=lambda kind: 0.5 if kind == "k8s_pod_start" else 0.0).start()
    try:
        pods = store.resources.get("", "v1", "pods")
        wait_until(lambda: store.list(store.resources.get("", "v1", "nodes"))[0])
        store.create(pods, pod("slow"))
        creating = wait_until(lambda: (store.get(pods, "default", "slow").get("status") or {}).get(
            "containerStatuses") and store.get(pods, "default", "slow"))
        assert creating["status"]["phase"] == "Pending"
        assert creating["status"]["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
        ready = {c["type"]: c for c in creating["status"]["conditions"]}["Ready"]
        assert (ready["status"], ready["reason"]) == ("False", "ContainersNotReady")
        running = wait_until(lambda: store.get(pods, "default", "slow")["status"]["phase"] == "Running"
                             and store.get(pods, "default", "slow"))
        assert running["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
        assert running["status"]["podIP"].startswith("10.0.")
    finally:
        controllers.stop()
