"""Pure logic of eks_cloud_resources (module_utils/cloud_resources.py): which Services and Ingresses make load
balancers, which claims own EBS volumes, which pods hold them and their top owners, the controller's ELBv2 tags."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.llmhub.eks.plugins.module_utils import cloud_resources as cr  # noqa: E402

CLUSTER = "llm-analytics-hub-prod-eks"


def obj(kind, name, namespace="apps", uid=None, owner=None, api_version=None, **fields):
    metadata = {"name": name, "uid": uid or f"uid-{kind}-{name}"}
    if namespace:
        metadata["namespace"] = namespace
    if owner is not None:
        metadata["ownerReferences"] = [{"apiVersion": owner.get("apiVersion"), "kind": owner["kind"],
                                        "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                                        "controller": True}]
    metadata.update(fields.pop("metadata", {}))
    return {"apiVersion": api_version or "v1", "kind": kind, "metadata": metadata, **fields}


# -- Services and Ingresses -------------------------------------------------------------------

def test_only_services_of_type_load_balancer_sorted():
    services = [obj("Service", "web", spec={"type": "LoadBalancer"}),
                obj("Service", "db", spec={"type": "ClusterIP"}),
                obj("Service", "nodeport", spec={"type": "NodePort"}),
                obj("Service", "api", namespace="a", spec={"type": "LoadBalancer",
                                                         "loadBalancerClass": "service.k8s.aws/nlb"}),
                obj("Service", "headless", spec={"clusterIP": "None"})]
    assert [cr.key(s) for s in cr.load_balancer_services(services)] == ["a/api", "apps/web"]


def ingress_class(name, controller=cr.ALB_CONTROLLER, default=False):
    annotations = {cr.DEFAULT_INGRESS_CLASS: "true"} if default else {}
    return obj("IngressClass", name, namespace=None, metadata={"annotations": annotations},
               spec={"controller": controller})


def ingress(name, class_name=None, annotation=None):
    spec = {"ingressClassName": class_name} if class_name else {}
    annotations = {cr.INGRESS_CLASS_ANNOTATION: annotation} if annotation else {}
    return obj("Ingress", name, api_version="networking.k8s.io/v1", metadata={"annotations": annotations},
               spec=spec)


def test_alb_ingress_classes_and_the_default_one():
    classes = [ingress_class("alb"), ingress_class("alb-internal", default=True),
               ingress_class("nginx", controller="k8s.io/ingress-nginx")]
    assert cr.alb_ingress_classes(classes) == ({"alb", "alb-internal"}, "alb-internal")
    assert cr.alb_ingress_classes([ingress_class("alb"), ingress_class("nginx", "k8s.io/ingress-nginx", True)]) == (
        {"alb"}, None)
    assert cr.alb_ingress_classes([]) == (set(), None)


@pytest.mark.parametrize("item, classes, expected", [
    (ingress("a", class_name="alb"), [ingress_class("alb")], True),
    (ingress("a", class_name="public"), [ingress_class("public")], True),
    # an ingressClassName without an ALB IngressClass: another controller's (or none)
    (ingress("a", class_name="nginx"), [ingress_class("alb"), ingress_class("nginx", "k8s.io/ingress-nginx")], False),
    (ingress("a", class_name="alb"), [], False),
    # the annotation: the controller's --ingress-class (alb)
    (ingress("a", annotation="alb"), [], True),
    (ingress("a", annotation="nginx"), [ingress_class("alb", default=True)], False),
    # no class at all: the default IngressClass decides
    (ingress("a"), [ingress_class("alb", default=True)], True),
    (ingress("a"), [ingress_class("alb")], False),
    (ingress("a"), [ingress_class("nginx", "k8s.io/ingress-nginx", default=True)], False),
    # either way of naming the ALB class counts (the controller reads the annotation first, Kubernetes the field)
    (ingress("a", class_name="nginx", annotation="alb"), [ingress_class("nginx", "k8s.io/ingress-nginx")], True),
    (ingress("a", class_name="alb", annotation="nginx"), [ingress_class("alb")], True),
])
def test_which_ingresses_are_alb_ones(item, classes, expected):
    names, default = cr.alb_ingress_classes(classes)
    assert cr.is_alb_ingress(item, names, default) is expected


def test_alb_ingresses_sorted():
    items = [ingress("web", "alb"), ingress("api", annotation="alb"), ingress("other", "nginx")]
    items[1]["metadata"]["namespace"] = "a"
    assert [cr.key(i) for i in cr.alb_ingresses(items, [ingress_class("alb")])] == ["a/api", "apps/web"]


# -- claims and volumes -----------------------------------------------------------------------

def claim(name, volume=None, namespace="apps", deleting=False):
    metadata = {"deletionTimestamp": "2026-12-02T10:00:00Z"} if deleting else {}
    return obj("PersistentVolumeClaim", name, namespace=namespace, metadata=metadata,
               spec={"volumeName": volume} if volume else {},
               status={"phase": "Bound" if volume else "Pending"})


def volume(name, policy="Delete", handle=None, claim_of=None, phase="Bound", driver=cr.EBS_CSI_DRIVER, legacy=None):
    spec = {"persistentVolumeReclaimPolicy": policy}
    if handle:
        spec["csi"] = {"driver": driver, "volumeHandle": handle}
    if legacy:
        spec["awsElasticBlockStore"] = {"volumeID": legacy}
    if claim_of is not None:
        spec["claimRef"] = {"name": claim_of["metadata"]["name"], "namespace": claim_of["metadata"]["namespace"],
                            "uid": claim_of["metadata"]["uid"]}
    return obj("PersistentVolume", name, namespace=None, spec=spec, status={"phase": phase})


def test_ebs_volume_id_from_csi_or_in_tree():
    assert cr.ebs_volume_id(volume("pv", handle="vol-1")) == "vol-1"
    assert cr.ebs_volume_id(volume("pv", legacy="aws://us-east-1a/vol-2")) == "vol-2"
    assert cr.ebs_volume_id(volume("pv", legacy="vol-3")) == "vol-3"
    assert cr.ebs_volume_id(volume("pv", handle="fs-1::fsap-1", driver="efs.csi.aws.com")) is None
    assert cr.ebs_volume_id(volume("pv")) is None


def test_claims_that_qualify_are_bound_to_delete_volumes():
    data = claim("data", "pv-data")
    kept = claim("kept", "pv-kept")
    pending = claim("pending")
    efs = claim("shared", "pv-efs")
    gone_volume = claim("orphan", "pv-missing")
    stolen = claim("stolen", "pv-other")
    other = claim("stolen", namespace="x", volume="pv-other")
    other["metadata"]["uid"] = "uid-of-x-stolen"  # apps/stolen names pv-other, bound to x/stolen
    volumes = [volume("pv-data", handle="vol-1", claim_of=data), volume("pv-kept", "Retain", "vol-2", kept),
               volume("pv-efs", handle="fs-1::fsap-1", driver="efs.csi.aws.com", claim_of=efs),
               volume("pv-other", handle="vol-3", claim_of=other)]
    plan = cr.claims_to_delete([pending, kept, data, efs, gone_volume, stolen, other], volumes)
    assert [(cr.key(i["claim"]), i["volume"], i["volume_id"]) for i in plan] == [
        ("apps/data", "pv-data", "vol-1"), ("apps/shared", "pv-efs", None), ("x/stolen", "pv-other", "vol-3")]


def test_released_delete_volumes_are_waited_for():
    volumes = [volume("a", handle="vol-1", phase="Released"), volume("b", "Retain", "vol-2", phase="Released"),
               volume("c", handle="vol-3"), volume("d", handle="vol-4", phase="Failed"),
               volume("e", handle="vol-5", phase="Bound")]
    volumes[4]["metadata"]["deletionTimestamp"] = "2026-12-02T10:00:00Z"
    assert cr.released_volume_ids(volumes) == ["vol-1", "vol-5"]


def pod(name, claims=(), ephemeral=(), owner=None, phase="Running", namespace="apps"):
    volumes = [{"name": f"v{n}", "persistentVolumeClaim": {"claimName": c}} for n, c in enumerate(claims)]
    volumes += [{"name": e, "ephemeral": {"volumeClaimTemplate": {"spec": {}}}} for e in ephemeral]
    volumes.append({"name": "config", "configMap": {"name": "x"}})
    return obj("Pod", name, namespace=namespace, owner=owner, spec={"volumes": volumes}, status={"phase": phase})


def test_claim_names_of_a_pod():
    assert cr.claim_names_of(pod("p", ["data", "logs"], ["scratch"])) == ["data", "logs", "p-scratch"]
    assert cr.claim_names_of({"metadata": {"name": "p"}}) == []


def test_pods_using_the_claims_in_their_namespace_and_not_finished():
    claims = [claim("data", "pv-1"), claim("web-0-scratch", "pv-2")]
    pods = [pod("db", ["data"]), pod("other", ["logs"]), pod("done", ["data"], phase="Succeeded"),
            pod("elsewhere", ["data"], namespace="x"), pod("web-0", ephemeral=["scratch"]), pod("failed", ["data"],
                                                                                            phase="Failed")]
    assert [cr.key(p) for p in cr.pods_using(pods, claims)] == ["apps/db", "apps/web-0"]


# -- owners -----------------------------------------------------------------------------------

def owner_lookup(*objects):
    by_ref = {(o["metadata"].get("namespace"), o["kind"], o["metadata"]["name"]): o for o in objects}
    calls = []

    def fetch(namespace, ref):
        calls.append((namespace, ref["kind"], ref["name"]))
        found = by_ref.get((namespace, ref["kind"], ref["name"]))
        return dict(found, metadata=dict(found["metadata"])) if found else None

    return fetch, calls


def test_top_owner_of_a_deployment_pod_is_the_deployment():
    deployment = obj("Deployment", "web", api_version="apps/v1")
    replica_set = obj("ReplicaSet", "web-5d8f", api_version="apps/v1", owner=deployment)
    member = pod("web-5d8f-x", ["data"], owner=replica_set)
    fetch, calls = owner_lookup(deployment, replica_set)
    assert cr.workload_label(cr.top_owner(member, fetch)) == "Deployment apps/web"
    assert calls == [("apps", "ReplicaSet", "web-5d8f"), ("apps", "Deployment", "web")]


def test_top_owner_of_statefulset_daemonset_and_cronjob_pods():
    statefulset = obj("StatefulSet", "db", api_version="apps/v1")
    daemonset = obj("DaemonSet", "agent", api_version="apps/v1")
    cronjob = obj("CronJob", "backup", api_version="batch/v1")
    job = obj("Job", "backup-29000", api_version="batch/v1", owner=cronjob)
    fetch, _calls = owner_lookup(statefulset, daemonset, cronjob, job)
    assert cr.workload_label(cr.top_owner(pod("db-0", owner=statefulset), fetch)) == "StatefulSet apps/db"
    assert cr.workload_label(cr.top_owner(pod("agent-x", owner=daemonset), fetch)) == "DaemonSet apps/agent"
    assert cr.workload_label(cr.top_owner(pod("backup-29000-y", owner=job), fetch)) == "CronJob apps/backup"


def test_a_bare_pod_is_its_own_top_owner():
    fetch, calls = owner_lookup()
    bare = pod("debug", ["data"])
    assert cr.top_owner(bare, fetch) is bare
    assert calls == []


def test_the_chain_stops_at_a_missing_replaced_or_unfollowed_owner():
    deployment = obj("Deployment", "web", api_version="apps/v1")
    replica_set = obj("ReplicaSet", "web-5d8f", api_version="apps/v1", owner=deployment)
    # the Deployment is gone (being deleted in the background): the ReplicaSet is the top owner left
    fetch, _calls = owner_lookup(replica_set)
    assert cr.workload_label(cr.top_owner(pod("p", owner=replica_set), fetch)) == "ReplicaSet apps/web-5d8f"
    # a new Deployment of the same name (another uid) is not this ReplicaSet's owner
    fetch, _calls = owner_lookup(replica_set, obj("Deployment", "web", api_version="apps/v1", uid="new"))
    assert cr.workload_label(cr.top_owner(pod("p", owner=replica_set), fetch)) == "ReplicaSet apps/web-5d8f"
    # a mirror pod's Node (cluster-scoped, never deleted): fetch_owner gives None, the pod stays the top
    node = obj("Node", "ip-10-0-0-1", namespace=None)
    mirror = pod("static", owner=node)
    fetch, _calls = owner_lookup()
    assert cr.top_owner(mirror, fetch) is mirror


def test_an_ownership_cycle_ends():
    a = obj("Widget", "a", api_version="example.com/v1")
    b = obj("Widget", "b", api_version="example.com/v1", owner=a)
    a["metadata"]["ownerReferences"] = [{"apiVersion": "example.com/v1", "kind": "Widget", "name": "b",
                                         "uid": b["metadata"]["uid"], "controller": True}]
    fetch, calls = owner_lookup(a, b)
    top = cr.top_owner(pod("p", owner=b), fetch)
    assert cr.workload_label(top) in ("Widget apps/a", "Widget apps/b")
    assert len(calls) <= 3


def test_only_the_controller_reference_is_followed():
    deployment = obj("Deployment", "web", api_version="apps/v1")
    member = pod("p")
    member["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                              "uid": deployment["metadata"]["uid"]}]
    fetch, calls = owner_lookup(deployment)
    assert cr.top_owner(member, fetch) is member
    assert calls == []


def test_workloads_to_delete_once_each_sorted():
    statefulset = obj("StatefulSet", "db", api_version="apps/v1")
    deployment = obj("Deployment", "web", api_version="apps/v1")
    replica_set = obj("ReplicaSet", "web-1", api_version="apps/v1", owner=deployment)
    pods = [pod("db-0", owner=statefulset), pod("db-1", owner=statefulset), pod("web-1-a", owner=replica_set),
            pod("web-1-b", owner=replica_set), {"metadata": {"name": "bare", "namespace": "apps", "uid": "u"}}]
    fetch, _calls = owner_lookup(statefulset, deployment, replica_set)
    assert [cr.workload_label(w) for w in cr.workloads_to_delete(pods, fetch)] == [
        "Deployment apps/web", "Pod apps/bare", "StatefulSet apps/db"]


# -- paths, tags ------------------------------------------------------------------------------

def test_paths():
    assert cr.object_path("v1", "services", "apps", "web") == "/api/v1/namespaces/apps/services/web"
    assert cr.object_path("apps/v1", "deployments", "apps", "web") == "/apis/apps/v1/namespaces/apps/deployments/web"
    assert cr.object_path("v1", "persistentvolumes", None, "pv-1") == "/api/v1/persistentvolumes/pv-1"
    assert cr.group_of("batch/v1") == "batch" and cr.group_of("v1") == ""
    assert cr.WORKLOAD_RESOURCES[(cr.group_of("apps/v1"), "StatefulSet")] == "statefulsets"


def test_split_deleting():
    fresh, leaving = claim("a", "pv"), claim("b", "pv", deleting=True)
    assert cr.split_deleting([fresh, leaving]) == ([fresh], [leaving])
    assert cr.finalizers_note({"metadata": {"finalizers": [cr.PVC_PROTECTION]}}) == \
        "finalizers: kubernetes.io/pvc-protection"
    assert cr.finalizers_note({"metadata": {}}) == "no finalizers"


def test_tags_of_the_controller_for_the_cluster_and_kinds():
    service_lb = {cr.CLUSTER_TAG: CLUSTER, cr.SERVICE_STACK_TAG: "apps/web"}
    ingress_lb = {cr.CLUSTER_TAG: CLUSTER, cr.INGRESS_STACK_TAG: "apps/web"}
    other_cluster = {cr.CLUSTER_TAG: "other", cr.SERVICE_STACK_TAG: "apps/web"}
    assert cr.stack_tags_of(set(cr.KINDS)) is None
    assert cr.stack_tags_of({"load_balancer_services", "ingresses"}) is None
    assert cr.stack_tags_of({"load_balancer_services"}) == (cr.SERVICE_STACK_TAG,)
    assert cr.stack_tags_of({"ingresses", "volumes"}) == (cr.INGRESS_STACK_TAG,)
    assert cr.stack_tags_of({"volumes"}) == ()
    assert cr.tagged_for(service_lb, CLUSTER) and cr.tagged_for(ingress_lb, CLUSTER)
    assert cr.tagged_for({cr.CLUSTER_TAG: CLUSTER}, CLUSTER)
    assert not cr.tagged_for(other_cluster, CLUSTER) and not cr.tagged_for({}, CLUSTER)
    assert cr.tagged_for(service_lb, CLUSTER, (cr.SERVICE_STACK_TAG,))
    assert not cr.tagged_for(ingress_lb, CLUSTER, (cr.SERVICE_STACK_TAG,))


def test_load_balancers_waited_for_are_those_of_the_objects_found():
    services = [{"metadata": {"namespace": "apps", "name": "web"}}]
    ingresses = [{"metadata": {"namespace": "apps", "name": "api"}},
                 {"metadata": {"namespace": "apps", "name": "ui",
                               "annotations": {"alb.ingress.kubernetes.io/group.name": "shared"}}}]
    stacks = cr.stacks_of(services, ingresses)
    assert stacks == {"apps/web", "apps/api", "shared"}
    assert cr.made_for_stacks({cr.SERVICE_STACK_TAG: "apps/web"}, stacks)
    assert cr.made_for_stacks({cr.INGRESS_STACK_TAG: "shared"}, stacks)
    assert not cr.made_for_stacks({cr.SERVICE_STACK_TAG: "gone/svc"}, stacks)  # an orphan: left to the sweep
    assert not cr.made_for_stacks({}, stacks)
