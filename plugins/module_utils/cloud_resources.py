# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What makes AWS resources from inside a Kubernetes cluster, for ``llmhub.eks.eks_cloud_resources``.

Pure functions on Kubernetes objects (dicts as the API returns them), no
boto3 and no I/O:

* Services of type LoadBalancer (the AWS Load Balancer Controller makes an
  NLB for each, the in-tree cloud provider a CLB);
* Ingresses the AWS Load Balancer Controller handles (an ALB each, or per
  ``group.name``): ``spec.ingressClassName`` naming an IngressClass whose
  ``spec.controller`` is ``ingress.k8s.aws/alb``, the
  ``kubernetes.io/ingress.class: alb`` annotation, or neither while the
  default IngressClass is such a class;
* PersistentVolumeClaims bound to a PersistentVolume whose reclaim policy is
  ``Delete`` (a dynamically provisioned EBS volume, deleted with the claim);
  the EBS volume id is the PV's CSI ``volumeHandle`` (or the in-tree
  ``awsElasticBlockStore.volumeID``);
* the pods that mount those claims (pvc-protection holds a claim while a pod
  uses it) and their top owners: Pod -> ReplicaSet -> Deployment, Job ->
  CronJob, StatefulSet, DaemonSet, or any namespaced owner found through
  discovery; a pod without a controller is its own top owner.
"""

from __future__ import annotations

import urllib.parse

KINDS = ("load_balancer_services", "ingresses", "volumes")

ALB_CONTROLLER = "ingress.k8s.aws/alb"
ALB_ANNOTATION_CLASS = "alb"
INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
DEFAULT_INGRESS_CLASS = "ingressclass.kubernetes.io/is-default-class"
# ELBv2 tags of the AWS Load Balancer Controller
CLUSTER_TAG = "elbv2.k8s.aws/cluster"
SERVICE_STACK_TAG = "service.k8s.aws/stack"
INGRESS_STACK_TAG = "ingress.k8s.aws/stack"
EBS_CSI_DRIVER = "ebs.csi.aws.com"
PVC_PROTECTION = "kubernetes.io/pvc-protection"
TERMINAL_PHASES = ("Succeeded", "Failed")

SERVICES = "/api/v1/services"
INGRESSES = "/apis/networking.k8s.io/v1/ingresses"
INGRESS_CLASSES = "/apis/networking.k8s.io/v1/ingressclasses"
CLAIMS = "/api/v1/persistentvolumeclaims"
VOLUMES = "/api/v1/persistentvolumes"
PODS = "/api/v1/pods"

# (API group, kind) -> resource, for the owners a pod usually has; other kinds are found through discovery
WORKLOAD_RESOURCES = {
    ("", "Pod"): "pods",
    ("", "ReplicationController"): "replicationcontrollers",
    ("apps", "ReplicaSet"): "replicasets",
    ("apps", "Deployment"): "deployments",
    ("apps", "StatefulSet"): "statefulsets",
    ("apps", "DaemonSet"): "daemonsets",
    ("batch", "Job"): "jobs",
    ("batch", "CronJob"): "cronjobs",
}


# -- objects ----------------------------------------------------------------------------------

def meta(obj):
    return obj.get("metadata") or {}


def key(obj):
    """``namespace/name`` (``name`` for a cluster-scoped object)."""
    namespace = meta(obj).get("namespace")
    return f"{namespace}/{meta(obj).get('name')}" if namespace else str(meta(obj).get("name"))


def is_deleting(obj):
    """Marked for deletion, held by finalizers."""
    return bool(meta(obj).get("deletionTimestamp"))


def group_of(api_version):
    """The API group of ``apiVersion`` (``apps/v1`` -> ``apps``, ``v1`` -> the core group ``""``)."""
    return api_version.split("/", 1)[0] if "/" in (api_version or "") else ""


def api_root(api_version):
    """``/api/v1`` for the core group, ``/apis/<group>/<version>`` otherwise."""
    return "/api/v1" if api_version in (None, "", "v1") else f"/apis/{api_version}"


def object_path(api_version, resource, namespace, name):
    """The API path of one object (``namespace`` None: cluster-scoped)."""
    quote = urllib.parse.quote
    scope = f"/namespaces/{quote(namespace, safe='')}" if namespace else ""
    return f"{api_root(api_version)}{scope}/{resource}/{quote(name, safe='')}"


def workload_label(obj):
    """``Kind namespace/name``, as the module returns a workload."""
    return f"{obj.get('kind')} {key(obj)}"


# -- Services ---------------------------------------------------------------------------------

def load_balancer_services(services):
    """The Services of type LoadBalancer, sorted by ``namespace/name``."""
    return sorted((s for s in services if (s.get("spec") or {}).get("type") == "LoadBalancer"), key=key)


# -- Ingresses --------------------------------------------------------------------------------

def alb_ingress_classes(ingress_classes):
    """(names of the IngressClasses of the AWS Load Balancer Controller, the default IngressClass if it is one)."""
    names, default = set(), None
    for item in ingress_classes:
        if (item.get("spec") or {}).get("controller") != ALB_CONTROLLER:
            continue
        names.add(meta(item).get("name"))
        if str((meta(item).get("annotations") or {}).get(DEFAULT_INGRESS_CLASS)).lower() == "true":
            default = meta(item).get("name")
    return names, default


def is_alb_ingress(ingress, alb_classes, default_class=None):
    """Whether the AWS Load Balancer Controller handles ``ingress``: its ``spec.ingressClassName`` is one of
    ``alb_classes``, its ``kubernetes.io/ingress.class`` annotation is ``alb``, or it names no class while the
    default IngressClass (``default_class``) is an ALB one."""
    class_name = (ingress.get("spec") or {}).get("ingressClassName")
    annotation = (meta(ingress).get("annotations") or {}).get(INGRESS_CLASS_ANNOTATION)
    if class_name and class_name in alb_classes:
        return True
    if annotation == ALB_ANNOTATION_CLASS:
        return True
    return not class_name and not annotation and default_class is not None


def alb_ingresses(ingresses, ingress_classes):
    """The Ingresses of ``ingresses`` the AWS Load Balancer Controller handles, sorted by ``namespace/name``."""
    names, default = alb_ingress_classes(ingress_classes)
    return sorted((i for i in ingresses if is_alb_ingress(i, names, default)), key=key)


# -- claims and volumes -----------------------------------------------------------------------

def ebs_volume_id(volume):
    """The EBS volume id of a PersistentVolume (CSI ``volumeHandle`` of ``ebs.csi.aws.com``, or the in-tree
    ``awsElasticBlockStore.volumeID`` ``aws://<zone>/vol-...``), else None."""
    spec = volume.get("spec") or {}
    csi = spec.get("csi") or {}
    if csi.get("driver") == EBS_CSI_DRIVER and csi.get("volumeHandle"):
        return csi["volumeHandle"]
    legacy = (spec.get("awsElasticBlockStore") or {}).get("volumeID")
    return legacy.rsplit("/", 1)[-1] if legacy else None


def reclaims_on_delete(volume):
    return (volume.get("spec") or {}).get("persistentVolumeReclaimPolicy") == "Delete"


def claims_to_delete(claims, volumes):
    """The claims bound to a PersistentVolume whose reclaim policy is Delete, sorted by ``namespace/name``:
    [{claim, volume (the PV's name), volume_id (the EBS volume, or None for another driver)}]. A claim whose
    volume is Retain (a ``gp3-retain`` class), or that is not bound, makes no AWS resource go and is left."""
    by_name = {meta(v).get("name"): v for v in volumes}
    found = []
    for claim in claims:
        volume_name = (claim.get("spec") or {}).get("volumeName")
        volume = by_name.get(volume_name) if volume_name else None
        if volume is None or not reclaims_on_delete(volume):
            continue
        claim_ref = (volume.get("spec") or {}).get("claimRef") or {}
        if claim_ref.get("uid") and meta(claim).get("uid") and claim_ref["uid"] != meta(claim)["uid"]:
            continue  # the volume is bound to another claim of that name
        found.append({"claim": claim, "volume": volume_name, "volume_id": ebs_volume_id(volume)})
    return sorted(found, key=lambda item: key(item["claim"]))


def released_volume_ids(volumes):
    """EBS volume ids of Delete volumes whose claim is already gone (Released, or marked for deletion): the
    volume controller deletes them, and a re-run after an interrupted one waits for them too."""
    ids = []
    for volume in volumes:
        phase = (volume.get("status") or {}).get("phase")
        if reclaims_on_delete(volume) and (phase == "Released" or is_deleting(volume)):
            volume_id = ebs_volume_id(volume)
            if volume_id:
                ids.append(volume_id)
    return sorted(set(ids))


def claim_names_of(pod):
    """Names of the claims a pod mounts: its persistentVolumeClaim volumes and generic ephemeral volumes
    (claim ``<pod>-<volume>``)."""
    names = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if claim:
            names.append(claim)
        elif volume.get("ephemeral"):
            names.append(f"{meta(pod).get('name')}-{volume.get('name', '')}")
    return names


def is_terminal(pod):
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


def pods_using(pods, claims):
    """The pods that hold ``claims`` (pvc-protection): not finished, mounting one of them, sorted."""
    wanted = {(meta(c).get("namespace"), meta(c).get("name")) for c in claims}
    return sorted((p for p in pods if not is_terminal(p) and any(
        (meta(p).get("namespace"), name) in wanted for name in claim_names_of(p))), key=key)


# -- owners -----------------------------------------------------------------------------------

def controller_ref(obj):
    """The ownerReference with ``controller: true``, or None."""
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def top_owner(obj, fetch_owner, max_depth=10):
    """The object that owns ``obj`` through its chain of controllers (Pod -> ReplicaSet -> Deployment; Job ->
    CronJob; StatefulSet; DaemonSet): deleting it deletes ``obj`` (garbage collection), and nothing recreates it.

    ``fetch_owner(namespace, owner_reference)`` returns the owner object, or None when it is gone, or not a
    namespaced object that may be deleted (a Node of a mirror pod): then the chain stops there. An owner whose
    uid differs from the reference is a new object of the same name, not this one's owner: the chain stops too.
    """
    seen = {meta(obj).get("uid")}
    for _depth in range(max_depth):
        ref = controller_ref(obj)
        if ref is None:
            return obj
        owner = fetch_owner(meta(obj).get("namespace"), ref)
        if owner is None or (ref.get("uid") and meta(owner).get("uid") != ref["uid"]):
            return obj
        if meta(owner).get("uid") in seen:
            return obj
        seen.add(meta(owner).get("uid"))
        owner.setdefault("kind", ref.get("kind"))
        owner.setdefault("apiVersion", ref.get("apiVersion"))
        obj = owner
    return obj


def workloads_to_delete(pods, fetch_owner):
    """The top owners of ``pods`` (each once, by uid), sorted by ``Kind namespace/name``."""
    owners = {}
    for pod in pods:
        pod.setdefault("kind", "Pod")
        pod.setdefault("apiVersion", "v1")
        owner = top_owner(pod, fetch_owner)
        owners.setdefault(meta(owner).get("uid") or workload_label(owner), owner)
    return sorted(owners.values(), key=workload_label)


# -- the plan ---------------------------------------------------------------------------------

def split_deleting(objects):
    """(objects to delete, objects already marked for deletion: only waited for)."""
    return [o for o in objects if not is_deleting(o)], [o for o in objects if is_deleting(o)]


def finalizers_note(obj):
    finalizers = meta(obj).get("finalizers") or []
    return f"finalizers: {', '.join(finalizers)}" if finalizers else "no finalizers"


def tagged_for(tags, cluster_name, stack_tags=None):
    """Whether ELBv2 ``tags`` ({key: value}) mark a resource of the AWS Load Balancer Controller for
    ``cluster_name``; with ``stack_tags``, only one made for those kinds of object (``service.k8s.aws/stack``:
    a Service, ``ingress.k8s.aws/stack``: an Ingress)."""
    if tags.get(CLUSTER_TAG) != cluster_name:
        return False
    return stack_tags is None or any(tag in tags for tag in stack_tags)


def stacks_of(services, ingresses):
    """The stack tag values of the load balancers that ``services`` and ``ingresses`` (objects) have made: a
    Service's ``namespace/name``; an Ingress's ``namespace/name``, or its IngressGroup's name
    (``alb.ingress.kubernetes.io/group.name``)."""
    stacks = {key(o) for o in services}
    for ingress in ingresses:
        group = (meta(ingress).get("annotations") or {}).get("alb.ingress.kubernetes.io/group.name")
        stacks.add(group or key(ingress))
    return stacks


def made_for_stacks(tags, stacks):
    """Whether ELBv2 ``tags`` name one of ``stacks`` (values of the service or ingress stack tag)."""
    return any(tags.get(tag) in stacks for tag in (SERVICE_STACK_TAG, INGRESS_STACK_TAG))


def stack_tags_of(kinds):
    """The stack tags of the load balancers that ``kinds`` make go: None for any (Services and Ingresses),
    () for none (volumes only)."""
    services, ingresses = "load_balancer_services" in kinds, "ingresses" in kinds
    if services and ingresses:
        return None
    return ((SERVICE_STACK_TAG,) if services else ()) + ((INGRESS_STACK_TAG,) if ingresses else ())
