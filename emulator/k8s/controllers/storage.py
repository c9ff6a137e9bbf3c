"""Persistent volumes: the PV controller, the EBS CSI driver's provisioner, admission and protection.

* Admission (as kube-apiserver's DefaultStorageClass, PersistentVolumeClaimResize
  neighbours do): a new claim without ``storageClassName`` gets the default
  class, claims get the ``kubernetes.io/pvc-protection`` finalizer and volumes
  ``kubernetes.io/pv-protection``. A claim created before any default class
  gets it later (retroactive default assignment).
* Binding: a claim naming a volume, or matching an Available one, is bound to
  it. Otherwise its class provisions: for ``ebs.csi.aws.com`` (and the
  in-tree ``kubernetes.io/aws-ebs``, migrated to it as EKS does) an EBS volume
  is created in EC2 through the cloud, with the class's ``type``, ``iops``,
  ``iopsPerGB``, ``throughput``, ``encrypted``, ``kmsKeyId`` and
  ``tagSpecification_N`` parameters and the driver's tags (``CSIVolumeName``,
  ``kubernetes.io/created-for/pvc/name``/``namespace``,
  ``kubernetes.io/created-for/pv/name``, ``ebs.csi.aws.com/cluster=true``,
  ``KubernetesCluster``, ``kubernetes.io/cluster/<cluster>=owned``) and the
  controller's ``--extra-tags`` (the add-on's ``controller.extraVolumeTags``), then a
  PV with the volume's zone as node affinity, and both become Bound.
  ``Immediate`` classes provision at once, ``WaitForFirstConsumer`` ones in
  the zone of the node the scheduler picked for the first pod using the claim
  (``volume.kubernetes.io/selected-node``). Only while an
  ``ebs-csi-controller`` Deployment has a ready replica (the add-on's
  controller); before that the claim stays Pending with the PV controller's
  ``ExternalProvisioning`` event, as on EKS.
* Release: a deleted claim (its protection finalizer goes once no pod uses it)
  releases its volume: ``Delete`` deletes the EBS volume and the PV,
  ``Retain`` keeps both, the PV ``Released``.
* Generic ephemeral volumes get their claim (``<pod>-<volume>``, owned by the pod).
"""

from __future__ import annotations

import math
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .cloud import CloudError, VolumeRequest
from .runtime import Context
from .util import bytes_of, is_terminal, label_match, owner_ref

EBS_CSI = "ebs.csi.aws.com"
IN_TREE_EBS = "kubernetes.io/aws-ebs"
EBS_PROVISIONERS = (EBS_CSI, IN_TREE_EBS)
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT_CLASS = "storageclass.beta.kubernetes.io/is-default-class"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"
PROVISIONER_FINALIZER = "external-provisioner.volume.kubernetes.io/finalizer"
ZONE = "topology.kubernetes.io/zone"
PV_CONTROLLER = "persistentvolume-controller"
MIN_SIZE_GIB = {"io1": 4, "io2": 4, "st1": 125, "sc1": 125}


def external_provisioning_message(provisioner: str) -> str:
    return (f"Waiting for a volume to be created either by the external provisioner '{provisioner}' or manually by "
            "the system administrator. If volume creation is delayed, please verify that the provisioner is running "
            "and correctly registered.")


def _true(value: Any) -> bool:
    return str(value).lower() == "true"


def is_default_class(storage_class: dict) -> bool:
    annotations = storage_class["metadata"].get("annotations") or {}
    return _true(annotations.get(DEFAULT_CLASS)) or _true(annotations.get(BETA_DEFAULT_CLASS))


def default_class(classes: list[dict]) -> dict | None:
    """The default StorageClass (the newest when several are marked, as Kubernetes picks)."""
    marked = [c for c in classes if is_default_class(c)]
    if not marked:
        return None
    return max(marked, key=lambda c: (c["metadata"].get("creationTimestamp", ""), c["metadata"]["name"]))


def claim_class_name(claim: dict) -> str | None:
    spec = claim.get("spec") or {}
    if "storageClassName" in spec and spec["storageClassName"] is not None:
        return spec["storageClassName"]
    return (claim["metadata"].get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class")


def volume_id_of(pv: dict) -> str | None:
    spec = pv.get("spec") or {}
    csi = spec.get("csi") or {}
    if csi.get("driver") == EBS_CSI and csi.get("volumeHandle"):
        return csi["volumeHandle"]
    legacy = (spec.get("awsElasticBlockStore") or {}).get("volumeID")
    if legacy:
        return legacy.rsplit("/", 1)[-1]
    return None


def claims_of(pod: dict) -> list[tuple[str, str]]:
    """``(volume name, claim name)`` of the pod's persistentVolumeClaim and ephemeral volumes."""
    result = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if claim:
            result.append((volume.get("name", ""), claim))
        elif volume.get("ephemeral"):
            result.append((volume.get("name", ""), f"{pod['metadata']['name']}-{volume.get('name', '')}"))
    return result


# -- what the scheduler asks -------------------------------------------------------------------------


def extra_volume_tags(csi_controller: dict) -> dict[str, str]:
    """The ``--extra-tags=k1=v1,k2=v2`` of the driver's ``ebs-plugin`` container (a pod, or its Deployment)."""
    spec = csi_controller.get("spec") or {}
    if "template" in spec:
        spec = (spec["template"] or {}).get("spec") or {}
    tags: dict[str, str] = {}
    for container in spec.get("containers") or []:
        if container.get("name") != "ebs-plugin":
            continue
        for arg in container.get("args") or []:
            if str(arg).startswith("--extra-tags="):
                for item in str(arg).split("=", 1)[1].split(","):
                    key, _, value = item.partition("=")
                    if key.strip():
                        tags[key.strip()] = value.strip()
    return tags

@dataclass
class PodVolumes:
    error: str | None = None
    bound: list[dict] = field(default_factory=list)  # the PVs of the pod's bound claims
    unbound: list[dict] = field(default_factory=list)  # WaitForFirstConsumer claims still unbound
    classes: dict[str, dict] = field(default_factory=dict)  # claim name -> StorageClass


def pod_volumes(ctx: Context, pod: dict) -> PodVolumes:
    result = PodVolumes()
    claims = claims_of(pod)
    if not claims:
        return result
    namespace = pod["metadata"].get("namespace")
    by_name = {c["metadata"]["name"]: c for c in ctx.list("persistentvolumeclaims", namespace)}
    volumes = {v["metadata"]["name"]: v for v in ctx.list("persistentvolumes")}
    classes = {c["metadata"]["name"]: c for c in ctx.list("storageclasses")}
    for _volume, name in claims:
        claim = by_name.get(name)
        if claim is None:
            result.error = f'persistentvolumeclaim "{name}" not found'
            return result
        if claim["metadata"].get("deletionTimestamp"):
            result.error = f'persistentvolumeclaim "{name}" is being deleted'
            return result
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if volume_name and (claim.get("status") or {}).get("phase") == "Bound":
            pv = volumes.get(volume_name)
            if pv is None:
                result.error = f'pvc {name} bound to non-existent pv {volume_name}'
                return result
            result.bound.append(pv)
            continue
        storage_class = classes.get(claim_class_name(claim) or "")
        if storage_class is not None and storage_class.get("volumeBindingMode") == "WaitForFirstConsumer" \
                and not volume_name:
            result.unbound.append(claim)
            result.classes[name] = storage_class
            continue
        result.error = "pod has unbound immediate PersistentVolumeClaims"
        return result
    return result


def _node_term_match(term: dict, labels: dict) -> bool:
    from .scheduler import term_matches

    return term_matches(term, {"metadata": {"name": labels.get("kubernetes.io/hostname", ""), "labels": labels}})


def node_conflict(volumes: PodVolumes, node: dict) -> str | None:
    labels = node["metadata"].get("labels") or {}
    for pv in volumes.bound:
        required = (((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {})
        terms = required.get("nodeSelectorTerms") or []
        if terms and not any(_node_term_match(term, labels) for term in terms):
            return "node(s) had volume node affinity conflict"
    for claim in volumes.unbound:
        storage_class = volumes.classes.get(claim["metadata"]["name"]) or {}
        allowed = storage_class.get("allowedTopologies") or []
        if allowed and not any(all(labels.get(e.get("key")) in (e.get("values") or [])
                                   for e in term.get("matchLabelExpressions") or []) for term in allowed):
            return "node(s) didn't find available persistent volumes to bind"
        if storage_class.get("provisioner") in EBS_PROVISIONERS and ZONE not in labels \
                and "topology.ebs.csi.aws.com/zone" not in labels:
            return "node(s) didn't find available persistent volumes to bind"
    return None


def select_node(ctx: Context, claims: list[dict], node: str) -> None:
    """Mark WaitForFirstConsumer claims with the node the scheduler picked for their first pod."""
    for claim in claims:
        annotations = dict(claim["metadata"].get("annotations") or {})
        if annotations.get(SELECTED_NODE) == node:
            continue
        annotations[SELECTED_NODE] = node
        ctx.update("persistentvolumeclaims", dict(claim, metadata=dict(claim["metadata"], annotations=annotations)))


def claim_in_use(ctx: Context, claim: dict) -> bool:
    namespace = claim["metadata"].get("namespace")
    name = claim["metadata"]["name"]
    for pod in ctx.list("pods", namespace):
        if is_terminal(pod):
            continue
        if any(claim_name == name for _v, claim_name in claims_of(pod)):
            return True
    return False


class StorageController:
    """See the module docstring."""

    def __init__(self) -> None:
        self._identity = f"{int(time.time() * 1000)}-{random.randint(1000, 9999)}-{EBS_CSI}"
        self._instance = uuid.uuid4().hex[:8]
        self._reported: dict[tuple[str, str], str] = {}  # (claim uid, reason) -> message
        self._retry_at: dict[str, float] = {}  # claim uid -> next provisioning attempt after a failure

    # -- admission ------------------------------------------------------------------------------------

    def admit(self, request: Any) -> None:
        rt = request.rt
        if request.operation != "CREATE" or request.obj is None or rt.group != "":
            return
        meta = request.obj.setdefault("metadata", {})
        if rt.kind == "PersistentVolumeClaim":
            spec = request.obj.setdefault("spec", {})
            if spec.get("storageClassName") is None and not (meta.get("annotations") or {}).get(
                    "volume.beta.kubernetes.io/storage-class") and not spec.get("volumeName"):
                classes_rt = request.store.resources.get("storage.k8s.io", "v1", "storageclasses")
                chosen = default_class(request.store.list(classes_rt)[0])
                if chosen is not None:
                    spec["storageClassName"] = chosen["metadata"]["name"]
            finalizers = list(meta.get("finalizers") or [])
            if PVC_PROTECTION not in finalizers:
                meta["finalizers"] = finalizers + [PVC_PROTECTION]
        elif rt.kind == "PersistentVolume":
            finalizers = list(meta.get("finalizers") or [])
            if PV_PROTECTION not in finalizers:
                meta["finalizers"] = finalizers + [PV_PROTECTION]

    # -- the pass ---------------------------------------------------------------------------------------

    def reconcile(self, ctx: Context) -> None:
        self._ephemeral_claims(ctx)
        claims = ctx.list("persistentvolumeclaims")
        volumes = ctx.list("persistentvolumes")
        if not claims and not volumes:
            return
        classes = {c["metadata"]["name"]: c for c in ctx.list("storageclasses")}
        csi_controller = self._csi_controller(ctx)
        by_volume = {v["metadata"]["name"]: v for v in volumes}
        for claim in claims:
            meta = claim["metadata"]
            if meta.get("deletionTimestamp"):
                if PVC_PROTECTION in (meta.get("finalizers") or []) and not claim_in_use(ctx, claim):
                    finalizers = [f for f in meta["finalizers"] if f != PVC_PROTECTION]
                    ctx.update("persistentvolumeclaims", dict(claim, metadata=dict(meta, finalizers=finalizers)))
                continue
            if (claim.get("status") or {}).get("phase") == "Bound":
                continue
            self._bind_or_provision(ctx, claim, classes, by_volume, csi_controller)
        self._volumes(ctx, {c["metadata"].get("uid"): c for c in ctx.list("persistentvolumeclaims")})

    def _csi_controller(self, ctx: Context) -> dict | None:
        """A ready pod of an ``ebs-csi-controller`` Deployment (the EBS CSI driver's provisioner), if any."""
        for deployment in ctx.list("deployments"):
            if deployment["metadata"]["name"] != "ebs-csi-controller":
                continue
            if int((deployment.get("status") or {}).get("readyReplicas") or 0) < 1:
                continue
            namespace = deployment["metadata"].get("namespace")
            selector = (deployment.get("spec") or {}).get("selector")
            for pod in ctx.list("pods", namespace):
                if label_match(selector, pod["metadata"].get("labels")) and not is_terminal(pod):
                    return pod
            return deployment
        return None

    def _report(self, ctx: Context, claim: dict, event_type: str, reason: str, message: str,
                component: str = PV_CONTROLLER) -> None:
        key = (claim["metadata"].get("uid", ""), reason)
        if self._reported.get(key) == message:
            return
        self._reported[key] = message
        ctx.event(claim, event_type, reason, message, component)

    def _bind_or_provision(self, ctx: Context, claim: dict, classes: dict[str, dict], volumes: dict[str, dict],
                           csi_controller: dict | None) -> None:
        spec = claim.get("spec") or {}
        meta = claim["metadata"]
        class_name = claim_class_name(claim)
        if class_name is None and "storageClassName" not in spec:
            chosen = default_class(list(classes.values()))
            if chosen is not None:  # retroactive default StorageClass assignment
                ctx.update("persistentvolumeclaims",
                           dict(claim, spec=dict(spec, storageClassName=chosen["metadata"]["name"])))
                return
        # a named volume, or an Available one that fits
        named = spec.get("volumeName")
        candidate = volumes.get(named) if named else self._matching_volume(claim, class_name, volumes)
        if candidate is not None:
            self._bind(ctx, claim, candidate, bound_by_controller=not named)
            return
        if named:
            return
        storage_class = classes.get(class_name or "")
        if storage_class is None:
            if class_name:
                self._report(ctx, claim, "Warning", "ProvisioningFailed",
                             f'storageclass.storage.k8s.io "{class_name}" not found')
            else:
                self._report(ctx, claim, "Normal", "FailedBinding",
                             "no persistent volumes available for this claim and no storage class is set")
            return
        provisioner = storage_class.get("provisioner", "")
        waits = storage_class.get("volumeBindingMode") == "WaitForFirstConsumer"
        selected = (meta.get("annotations") or {}).get(SELECTED_NODE)
        if waits and not selected:
            self._report(ctx, claim, "Normal", "WaitForFirstConsumer",
                         "waiting for first consumer to be created before binding")
            return
        driver = EBS_CSI if provisioner in EBS_PROVISIONERS else provisioner
        annotations = dict(meta.get("annotations") or {})
        if annotations.get(PROVISIONER) != driver or annotations.get(BETA_PROVISIONER) != driver:
            annotations[PROVISIONER] = annotations[BETA_PROVISIONER] = driver
            if provisioner == IN_TREE_EBS:
                annotations["pv.kubernetes.io/migrated-to"] = EBS_CSI
            claim = ctx.update("persistentvolumeclaims", dict(claim, metadata=dict(meta, annotations=annotations))) \
                or claim
        if provisioner not in EBS_PROVISIONERS or csi_controller is None:
            self._report(ctx, claim, "Normal", "ExternalProvisioning", external_provisioning_message(driver))
            return
        uid = claim["metadata"].get("uid", "")
        if self._retry_at.get(uid, 0) > ctx.now:
            ctx.wake_at(self._retry_at[uid])
            return
        self._provision(ctx, claim, storage_class, selected, csi_controller)

    @staticmethod
    def _matching_volume(claim: dict, class_name: str | None, volumes: dict[str, dict]) -> dict | None:
        spec = claim.get("spec") or {}
        try:
            wanted = bytes_of(((spec.get("resources") or {}).get("requests") or {}).get("storage", "0"))
        except ValueError:
            return None
        modes = set(spec.get("accessModes") or [])
        fits = []
        for pv in volumes.values():
            pv_spec = pv.get("spec") or {}
            if (pv.get("status") or {}).get("phase") != "Available" or pv_spec.get("claimRef"):
                continue
            if (pv_spec.get("storageClassName") or "") != (class_name or ""):
                continue
            if not modes <= set(pv_spec.get("accessModes") or []):
                continue
            if pv_spec.get("volumeMode", "Filesystem") != spec.get("volumeMode", "Filesystem"):
                continue
            if spec.get("selector") is not None and not label_match(spec["selector"], pv["metadata"].get("labels")):
                continue
            try:
                size = bytes_of((pv_spec.get("capacity") or {}).get("storage", "0"))
            except ValueError:
                continue
            if size >= wanted:
                fits.append((size, pv["metadata"]["name"], pv))
        return min(fits, key=lambda item: item[:2])[2] if fits else None

    def _bind(self, ctx: Context, claim: dict, pv: dict, bound_by_controller: bool) -> None:
        meta = claim["metadata"]
        pv_spec = dict(pv.get("spec") or {})
        claim_ref = pv_spec.get("claimRef") or {}
        if claim_ref and claim_ref.get("uid") not in (None, "", meta.get("uid")):
            return
        if not claim_ref.get("uid"):
            pv_spec["claimRef"] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": meta["name"],
                                   "namespace": meta.get("namespace"), "uid": meta.get("uid"),
                                   "resourceVersion": meta.get("resourceVersion")}
            pv_meta = dict(pv["metadata"])
            pv_meta["annotations"] = dict(pv_meta.get("annotations") or {}, **{"pv.kubernetes.io/bound-by-controller":
                                                                                "yes"})
            pv = ctx.update("persistentvolumes", dict(pv, metadata=pv_meta, spec=pv_spec))
            if pv is None:
                return
        if (pv.get("status") or {}).get("phase") != "Bound":
            pv["status"] = {"phase": "Bound", "lastPhaseTransitionTime": ctx.timestamp}
            pv = ctx.update_status("persistentvolumes", pv) or pv
        annotations = dict(meta.get("annotations") or {})
        annotations["pv.kubernetes.io/bind-completed"] = "yes"
        if bound_by_controller:
            annotations["pv.kubernetes.io/bound-by-controller"] = "yes"
        spec = dict(claim.get("spec") or {}, volumeName=pv["metadata"]["name"])
        if not spec.get("storageClassName") and (pv.get("spec") or {}).get("storageClassName"):
            spec["storageClassName"] = pv["spec"]["storageClassName"]
        updated = ctx.update("persistentvolumeclaims", dict(claim, metadata=dict(meta, annotations=annotations),
                                                            spec=spec))
        if updated is None:
            return
        updated["status"] = {"phase": "Bound", "accessModes": list((pv.get("spec") or {}).get("accessModes") or []),
                             "capacity": dict((pv.get("spec") or {}).get("capacity") or {})}
        ctx.update_status("persistentvolumeclaims", updated)

    def _provision(self, ctx: Context, claim: dict, storage_class: dict, selected: str | None,
                   csi_controller: dict) -> None:
        meta = claim["metadata"]
        namespace, name, uid = meta.get("namespace", ""), meta["name"], meta.get("uid", "")
        pv_name = f"pvc-{uid}"
        component = f"{EBS_CSI}_{csi_controller['metadata']['name']}_{self._instance}"
        zone = self._zone(ctx, storage_class, selected)
        if zone is None:
            self._report(ctx, claim, "Warning", "ProvisioningFailed",
                         f'failed to provision volume with StorageClass "{storage_class["metadata"]["name"]}": '
                         "rpc error: code = InvalidArgument desc = no topology: no zone for the volume", component)
            return
        params = {str(k): str(v) for k, v in (storage_class.get("parameters") or {}).items()}
        lowered = {k.lower(): v for k, v in params.items()}
        in_tree = storage_class.get("provisioner") == IN_TREE_EBS
        volume_type = lowered.get("type") or ("gp2" if in_tree else "gp3")
        spec = claim.get("spec") or {}
        try:
            requested = bytes_of(((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi"))
        except ValueError:
            requested = 2 ** 30
        size = max(math.ceil(requested / 2 ** 30), MIN_SIZE_GIB.get(volume_type, 1), 1)
        iops = None
        if lowered.get("iops"):
            iops = int(lowered["iops"])
        elif lowered.get("iopspergb"):
            iops = int(float(lowered["iopspergb"]) * size)
            if _true(lowered.get("allowautoiopspergbincrease")):
                iops = max(iops, 100 if volume_type in ("io1", "io2") else iops)
        throughput = int(lowered["throughput"]) if lowered.get("throughput") else None
        encrypted = _true(lowered.get("encrypted"))
        kms_key = params.get("kmsKeyId") or lowered.get("kmskeyid") or None
        cluster = ctx.info.name if ctx.info else ""
        tags = {
            "CSIVolumeName": pv_name,
            "kubernetes.io/created-for/pvc/name": name,
            "kubernetes.io/created-for/pvc/namespace": namespace,
            "kubernetes.io/created-for/pv/name": pv_name,
            "ebs.csi.aws.com/cluster": "true",
        }
        if cluster:
            tags["KubernetesCluster"] = cluster
            tags[f"kubernetes.io/cluster/{cluster}"] = "owned"
        tags.update(extra_volume_tags(csi_controller))
        for key, value in sorted(params.items()):
            if key.lower().startswith("tagspecification") and "=" in value:
                tag_key, _, tag_value = value.partition("=")
                tags[tag_key.strip()] = (tag_value.strip()
                                         .replace("{{ .PVCName }}", name).replace("{{ .PVCNamespace }}", namespace)
                                         .replace("{{ .PVName }}", pv_name))
        self._report(ctx, claim, "Normal", "Provisioning",
                     f'External provisioner is provisioning volume for claim "{namespace}/{name}"', component)
        try:
            volume_id = ctx.cloud.create_volume(VolumeRequest(
                zone=zone, size_gib=size, volume_type=volume_type, iops=iops, throughput=throughput,
                encrypted=encrypted, kms_key_id=kms_key if encrypted else None, tags=tuple(sorted(tags.items()))))
        except CloudError as error:
            self._retry_at[uid] = ctx.now + 5.0
            ctx.wake_at(ctx.now + 5.0)
            self._report(ctx, claim, "Warning", "ProvisioningFailed",
                         f'failed to provision volume with StorageClass "{storage_class["metadata"]["name"]}": '
                         f"rpc error: code = Internal desc = Could not create volume \"{pv_name}\": {error.message}",
                         component)
            return
        self._retry_at.pop(uid, None)
        fs_type = params.get("csi.storage.k8s.io/fstype") or params.get("fsType") or lowered.get("fstype") or "ext4"
        pv_spec: dict[str, Any] = {
            "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
            "capacity": {"storage": f"{size}Gi"},
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": name, "namespace": namespace,
                         "uid": uid, "resourceVersion": meta.get("resourceVersion")},
            "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy") or "Delete",
            "storageClassName": storage_class["metadata"]["name"],
            "volumeMode": spec.get("volumeMode") or "Filesystem",
        }
        annotations = {"pv.kubernetes.io/provisioned-by": storage_class.get("provisioner", EBS_CSI),
                       "volume.kubernetes.io/provisioner-deletion-secret-name": "",
                       "volume.kubernetes.io/provisioner-deletion-secret-namespace": ""}
        if in_tree:
            annotations["pv.kubernetes.io/migrated-to"] = EBS_CSI
            pv_spec["awsElasticBlockStore"] = {"volumeID": f"aws://{zone}/{volume_id}", "fsType": fs_type}
            region = ctx.info.region if ctx.info else zone[:-1]
            terms = [{"matchExpressions": [{"key": ZONE, "operator": "In", "values": [zone]},
                                           {"key": "topology.kubernetes.io/region", "operator": "In",
                                            "values": [region]}]}]
        else:
            pv_spec["csi"] = {"driver": EBS_CSI, "fsType": fs_type, "volumeHandle": volume_id,
                              "volumeAttributes": {"storage.kubernetes.io/csiProvisionerIdentity": self._identity}}
            terms = [{"matchExpressions": [{"key": ZONE, "operator": "In", "values": [zone]}]}]
        if storage_class.get("mountOptions"):
            pv_spec["mountOptions"] = list(storage_class["mountOptions"])
        pv_spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": terms}}
        pv = {"metadata": {"name": pv_name, "annotations": annotations,
                           "finalizers": [PROVISIONER_FINALIZER, PV_PROTECTION]},
              "spec": pv_spec}
        created = ctx.try_create("persistentvolumes", pv)
        if created is None:
            existing = ctx.get("persistentvolumes", None, pv_name)
            if existing is None:
                ctx.cloud.delete_volume(volume_id)
                return
            created = existing
        self._report(ctx, claim, "Normal", "ProvisioningSucceeded", f"Successfully provisioned volume {pv_name}",
                     component)
        self._bind(ctx, claim, created, bound_by_controller=True)

    def _zone(self, ctx: Context, storage_class: dict, selected: str | None) -> str | None:
        if selected:
            node = ctx.get("nodes", None, selected)
            labels = (node or {}).get("metadata", {}).get("labels") or {}
            return labels.get(ZONE) or labels.get("topology.ebs.csi.aws.com/zone")
        allowed = []
        for term in storage_class.get("allowedTopologies") or []:
            for expression in term.get("matchLabelExpressions") or []:
                if expression.get("key") in (ZONE, "topology.ebs.csi.aws.com/zone"):
                    allowed += list(expression.get("values") or [])
        if allowed:
            return sorted(allowed)[0]
        zones = sorted({(n["metadata"].get("labels") or {}).get(ZONE) for n in ctx.list("nodes")} - {None})
        if zones:
            return random.choice(zones)
        if ctx.info and ctx.info.subnets:
            return sorted({s.az for s in ctx.info.subnets})[0]
        return None

    # -- volumes --------------------------------------------------------------------------------------------

    def _volumes(self, ctx: Context, claims_by_uid: dict[str, dict]) -> None:
        for pv in ctx.list("persistentvolumes"):
            meta = pv["metadata"]
            spec = pv.get("spec") or {}
            phase = (pv.get("status") or {}).get("phase")
            claim_ref = spec.get("claimRef") or {}
            claim = claims_by_uid.get(claim_ref.get("uid")) if claim_ref.get("uid") else None
            released = bool(claim_ref.get("uid")) and claim is None
            if claim_ref.get("uid") and claim is not None and phase not in ("Bound",):
                pv["status"] = {"phase": "Bound", "lastPhaseTransitionTime": ctx.timestamp}
                ctx.update_status("persistentvolumes", pv)
                continue
            if released:
                policy = spec.get("persistentVolumeReclaimPolicy") or "Retain"
                if policy == "Delete" and meta.get("annotations", {}).get("pv.kubernetes.io/provisioned-by") in \
                        EBS_PROVISIONERS:
                    self._reclaim(ctx, pv)
                    continue
                if phase != "Released":
                    pv["status"] = {"phase": "Released", "lastPhaseTransitionTime": ctx.timestamp}
                    pv = ctx.update_status("persistentvolumes", pv) or pv
            elif not claim_ref and phase in (None, "Pending"):
                pv["status"] = {"phase": "Available", "lastPhaseTransitionTime": ctx.timestamp}
                pv = ctx.update_status("persistentvolumes", pv) or pv
            if meta.get("deletionTimestamp"):
                keep = [f for f in meta.get("finalizers") or []
                        if f not in (PV_PROTECTION, PROVISIONER_FINALIZER)]
                bound = claim is not None
                if not bound and keep != list(meta.get("finalizers") or []):
                    if (spec.get("persistentVolumeReclaimPolicy") == "Delete"
                            and PROVISIONER_FINALIZER in (meta.get("finalizers") or [])):
                        volume_id = volume_id_of(pv)
                        if volume_id:
                            try:
                                ctx.cloud.delete_volume(volume_id)
                            except CloudError:
                                continue
                    ctx.update("persistentvolumes", dict(pv, metadata=dict(meta, finalizers=keep)))

    def _reclaim(self, ctx: Context, pv: dict) -> None:
        """The Delete reclaim policy: the EBS volume, then the PV."""
        meta = pv["metadata"]
        volume_id = volume_id_of(pv)
        if volume_id:
            try:
                ctx.cloud.delete_volume(volume_id)
            except CloudError as error:
                ctx.event(pv, "Warning", "VolumeFailedDelete", error.message, f"{EBS_CSI}")
                return
        finalizers = [f for f in meta.get("finalizers") or [] if f not in (PV_PROTECTION, PROVISIONER_FINALIZER)]
        if finalizers != list(meta.get("finalizers") or []):
            pv = ctx.update("persistentvolumes", dict(pv, metadata=dict(meta, finalizers=finalizers))) or pv
        if not pv["metadata"].get("deletionTimestamp"):
            ctx.delete("persistentvolumes", None, meta["name"], uid=meta.get("uid"))

    # -- generic ephemeral volumes ------------------------------------------------------------------------------

    def _ephemeral_claims(self, ctx: Context) -> None:
        for pod in ctx.list("pods"):
            if pod["metadata"].get("deletionTimestamp") or is_terminal(pod):
                continue
            for volume in (pod.get("spec") or {}).get("volumes") or []:
                template = (volume.get("ephemeral") or {}).get("volumeClaimTemplate")
                if not template:
                    continue
                name = f"{pod['metadata']['name']}-{volume.get('name', '')}"
                namespace = pod["metadata"].get("namespace")
                if any(c["metadata"]["name"] == name for c in ctx.list("persistentvolumeclaims", namespace)):
                    continue
                claim_meta = dict(template.get("metadata") or {})
                claim_meta.update({"name": name, "namespace": namespace,
                                   "ownerReferences": [owner_ref(pod)]})
                ctx.try_create("persistentvolumeclaims", {"metadata": claim_meta,
                                                          "spec": dict(template.get("spec") or {})})
