#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_restore
short_description: Restore the Kubernetes objects and EBS volumes of a backup set into an EKS cluster
version_added: 0.1.0
description:
  - Restores set O(backup_id) written by M(llmhub.eks.eks_backup) into the ACTIVE cluster O(cluster_name). The
    platform itself (VPC, IAM, cluster, node groups, add-ons) comes first from C(playbooks/restore.yml), which runs
    C(site.yml) with the set's stored variables when the cluster is gone.
  - Before any change, checks every file of the set against the size and SHA-256 of its manifest; a missing or
    changed file fails the task naming it, and nothing is changed.
  - Creates the objects in dependency order, each tier's objects concurrently. Custom resource definitions first
    (waited for until C(Established)), namespaces, then quotas, limit ranges, priority, storage and ingress classes
    and network policies, RBAC and service accounts, config maps and Secrets (decrypted with their KMS data key),
    persistent volumes and claims, workloads, Services and Ingresses, everything else (custom resources,
    autoscalers, disruption budgets...), and admission webhooks last.
  - Each claim whose volume was snapshotted gets a new EBS volume made from its snapshot, in the original zone when
    the cluster has subnets there, with the original size, type, IOPS, throughput and tags, encrypted with the key of
    the claim's storage class in the cluster (or the original key). Its PersistentVolume points at the new volume and
    is pre-bound to the claim, which names it, so the claim binds to the restored data and not to a new empty volume.
  - A KMS key the set needs (the Secrets' key, the snapshots' key) that is pending deletion, as the key of a
    destroyed cluster is, has its deletion cancelled for the restore and scheduled again afterwards, with its
    original waiting period.
  - An object that exists already is left as it is (O(existing_resource_policy=none), reported in
    RV(skipped_objects) as equal to the backed-up one or not), or updated to the backed-up one by server-side apply (V(update)).
  - With O(wait=true), waits until the restored claims are C(Bound) and the restored Deployments and StatefulSets
    have their replicas ready.
  - In check mode, verifies the set and reports what would be restored and what exists already; when the cluster is
    gone (C(restore.yml --check) plans C(site.yml) first), what the set holds, tier by tier, from its manifest.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  cluster_name:
    description: Name of the EKS cluster to restore into.
    type: str
    required: true
  backup_id:
    description: The set to restore.
    type: str
    required: true
  backup_cluster_name:
    description: Cluster the set was taken of, when it is not O(cluster_name) (restoring into another cluster).
    type: str
  namespaces:
    description: Restore only these namespaces (and cluster-scoped objects unless O(include_cluster_resources=false)).
    type: list
    elements: str
  include_cluster_resources:
    description: Restore the set's cluster-scoped objects.
    type: bool
    default: true
  restore_volumes:
    description: Make the claims' volumes from their snapshots. Without, claims are created unbound to any snapshot.
    type: bool
    default: true
  existing_resource_policy:
    description: What to do with an object that exists already.
    type: str
    choices: [none, update]
    default: none
  wait:
    description: Wait for the restored claims and workloads.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for volumes, definitions, claims and workloads.
    type: int
    default: 900
extends_documentation_fragment:
  - llmhub.eks.backup_store
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Restore a backup into the cluster (playbooks/restore.yml builds the platform first if it is gone)
  llmhub.eks.eks_restore:
    cluster_name: llm-analytics-hub-prod-eks
    bucket: llmhub-artifacts-123456789012-us-east-1
    backup_id: 20261202T151500Z
  register: restored
"""

RETURN = r"""
restored:
  description: Objects created (or that would be), tier by tier in the order they were created, as
    C(<kind>/<namespace>/<name>).
  returned: always
  type: list
  elements: dict
  sample: [{"tier": "namespaces", "objects": ["Namespace/llm-analytics"]},
           {"tier": "config and secrets", "objects": ["ConfigMap/llm-analytics/settings"]}]
restored_counts:
  description: Number of objects created (or that would be) by tier.
  returned: always
  type: dict
  sample: {"namespaces": 1, "config and secrets": 3}
skipped_objects:
  description: Objects not created, with the reason (exists, equal or different; outside O(namespaces)).
  returned: always
  type: list
  elements: dict
  sample: [{"object": "ServiceAccount/llm-analytics/default", "reason": "exists (equal to the backed-up one)"}]
volumes:
  description: Volumes made from the snapshots, one per claim.
  returned: always
  type: list
  elements: dict
  sample: [{"namespace": "llm-analytics", "claim": "data-analytics-cache-0", "snapshot_id": "snap-0def",
            "volume_id": "vol-0123", "availability_zone": "us-east-1a"}]
kms_keys_recovered:
  description: KMS keys whose pending deletion was cancelled for the restore, then scheduled again.
  returned: always
  type: list
  elements: str
verified_files:
  description: Files checked against the manifest.
  returned: always
  type: int
"""

import json
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils import backup as bk
from ansible_collections.llmhub.eks.plugins.module_utils import kubeconfig as kc
from ansible_collections.llmhub.eks.plugins.module_utils.backup_session import describe_cluster
from ansible_collections.llmhub.eks.plugins.module_utils.backup_session import fail_kubernetes
from ansible_collections.llmhub.eks.plugins.module_utils.backup_session import kubernetes_api
from ansible_collections.llmhub.eks.plugins.module_utils.backup_session import open_store
from ansible_collections.llmhub.eks.plugins.module_utils.backup_session import cluster_exists
from ansible_collections.llmhub.eks.plugins.module_utils.common import KNOWN_AFTER_APPLY
from ansible_collections.llmhub.eks.plugins.module_utils.common import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_concurrently
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.common import wait_for_set

FIELD_MANAGER = "llmhub-eks-restore"
POLL = 1.0


def label(obj):
    meta = obj.get("metadata") or {}
    return "/".join(part for part in (obj.get("kind"), meta.get("namespace"), meta.get("name")) if part)


class Restore:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.name = module.params["cluster_name"]
        self.source = module.params.get("backup_cluster_name") or self.name
        self.ec2 = retrying_client(module, "ec2")
        self.kms = retrying_client(module, "kms")
        self.restored, self.skipped, self.failed = {}, [], []
        self.api = None
        self.types = {}

    # -- reading the set ----------------------------------------------------------------------------------------

    def read(self):
        if not self.params.get("prefix"):
            self.params["prefix"] = f"backups/{self.source}"
        store = open_store(self.module)
        backup_id = bk.check_backup_id(self.params["backup_id"])
        manifest = bk.read_manifest(store, backup_id)
        contents = bk.verify(store, backup_id, manifest)
        return manifest, contents

    def in_scope(self, obj, namespaced):
        chosen = self.params.get("namespaces")
        meta = obj.get("metadata") or {}
        if not namespaced:
            if obj.get("kind") == "Namespace" and chosen:
                return meta.get("name") in chosen
            return self.params["include_cluster_resources"]
        return not chosen or meta.get("namespace") in chosen

    def objects(self, manifest, contents):
        """Every object of the set in scope, with its resource type; Secrets decrypted."""
        found = []
        for name, resource in sorted((manifest.get("resources") or {}).items()):
            document = json.loads(contents[name])
            if resource.get("encrypted"):
                if self.module.check_mode:  # a key pending deletion is recovered by a real run only
                    self.restored.setdefault("config and secrets", []).append(
                        f"Secret x{resource['count']} in {name.split('/')[2]} (encrypted, not read in check mode)")
                    continue
                document = json.loads(bk.decrypt(self.kms, document))
            for obj in document.get("items") or []:
                if self.in_scope(obj, resource["namespaced"]):
                    found.append((resource, obj))
        return found

    # -- KMS keys of a destroyed cluster --------------------------------------------------------------------------

    def recover_keys(self, key_ids):
        """Cancel the pending deletion of the keys the set needs: [(key ARN, waiting period in days)]."""
        recovered = []
        for key_id in sorted(set(k for k in key_ids if k)):
            metadata = self.kms.describe_key(KeyId=key_id, aws_retry=True)["KeyMetadata"]
            if metadata.get("KeyState") != "PendingDeletion":
                continue
            window = metadata.get("PendingDeletionWindowInDays") or 30
            if not self.module.check_mode:
                self.kms.cancel_key_deletion(KeyId=metadata["Arn"], aws_retry=True)
                self.kms.enable_key(KeyId=metadata["Arn"], aws_retry=True)
            recovered.append((metadata["Arn"], window))
        return recovered

    def reschedule(self, recovered):
        for arn, window in recovered:
            if not self.module.check_mode:
                self.kms.schedule_key_deletion(KeyId=arn, PendingWindowInDays=window, aws_retry=True)

    # -- volumes ------------------------------------------------------------------------------------------------

    def storage_class_keys(self):
        keys = {}
        try:
            for storage_class in self.api.list("/apis/storage.k8s.io/v1/storageclasses"):
                params = {k.lower(): v for k, v in (storage_class.get("parameters") or {}).items()}
                if params.get("kmskeyid"):
                    keys[storage_class["metadata"]["name"]] = params["kmskeyid"]
        except kc.KubernetesApiError:
            pass
        return keys

    def cluster_zones(self, cluster):
        subnet_ids = (cluster.get("resourcesVpcConfig") or {}).get("subnetIds") or []
        subnets = paginate(self.ec2, "describe_subnets", "Subnets", SubnetIds=subnet_ids) if subnet_ids else []
        return sorted({s["AvailabilityZone"] for s in subnets})

    def claim_exists(self, record):
        try:
            self.api.get(f"/api/v1/namespaces/{record['namespace']}/persistentvolumeclaims/{record['claim']}")
            return True
        except kc.KubernetesApiError as e:
            if e.status == 404:
                return False
            raise

    def volume_records(self, manifest):
        return [r for r in manifest.get("volumes") or [] if r.get("snapshot_id") and self.in_scope(
            {"metadata": {"namespace": r["namespace"]}}, True)]

    def restored_before(self, backup_id):
        """{snapshot id: volume} of volumes an earlier, interrupted restore of this set made (not deleted)."""
        found = paginate(self.ec2, "describe_volumes", "Volumes",
                         Filters=[{"Name": "tag:llmhub.io/backup-id", "Values": [backup_id]},
                                  {"Name": "status", "Values": ["creating", "available"]}])
        return {tag["Value"]: volume for volume in found for tag in volume.get("Tags") or []
                if tag["Key"] == "llmhub.io/restored-from"}

    def make_volumes(self, manifest, cluster, backup_id, recovered_keys):
        """{persistent volume name: (volume id, zone, original zone)} of the volumes made from the snapshots."""
        records = [r for r in self.volume_records(manifest) if not self.claim_exists(r)]
        if not records:
            return {}, []
        zones = self.cluster_zones(cluster)
        class_keys = self.storage_class_keys()
        cluster_key = next((entry.get("provider", {}).get("keyArn") for entry in cluster.get("encryptionConfig") or []
                            if "secrets" in (entry.get("resources") or [])), None)
        earlier = self.restored_before(backup_id)
        plans = []
        for record in records:
            zone = record["availability_zone"] if record["availability_zone"] in zones or not zones else zones[0]
            tags = {k: v for k, v in (record.get("tags") or {}).items() if not k.startswith("aws:")}
            tags.update({"llmhub.io/restored-from": record["snapshot_id"], "llmhub.io/backup-id": backup_id})
            request = {"SnapshotId": record["snapshot_id"], "AvailabilityZone": zone,
                       "VolumeType": record.get("volume_type") or "gp3",
                       "TagSpecifications": [{"ResourceType": "volume",
                                              "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}]}
            if record.get("volume_type") in ("io1", "io2", "gp3") and record.get("iops"):
                request["Iops"] = record["iops"]
            if record.get("volume_type") == "gp3" and record.get("throughput"):
                request["Throughput"] = record["throughput"]
            if record.get("encrypted"):
                # the claim's class key in this cluster; never a key this restore found pending deletion (it is
                # scheduled for deletion again afterwards, and would take the volume's data with it)
                key = class_keys.get(record.get("storage_class")) or record.get("kms_key_id")
                if key in recovered_keys or not key:
                    key = cluster_key or key
                request["Encrypted"] = True
                request["KmsKeyId"] = key
            plans.append((record, zone, request))
        if self.module.check_mode:
            return {r["persistent_volume"]: ("(known after apply)", zone, r["availability_zone"])
                    for r, zone, _req in plans}, [dict(namespace=r["namespace"], claim=r["claim"],
                                                       snapshot_id=r["snapshot_id"], volume_id="(known after apply)",
                                                       availability_zone=zone) for r, zone, _req in plans]

        def create(plan):
            made = earlier.get(plan[0]["snapshot_id"])
            if made is not None and made["AvailabilityZone"] == plan[1]:
                return made["VolumeId"]  # made by an interrupted run of this restore: not made twice
            return self.ec2.create_volume(aws_retry=True, **plan[2])["VolumeId"]

        ids = run_concurrently(create, plans, "make volumes from the backup's snapshots",
                               label=lambda p: f"{p[0]['namespace']}/{p[0]['claim']} ({p[0]['snapshot_id']})")

        def fetch(pending):
            return {v["VolumeId"]: v for v in paginate(self.ec2, "describe_volumes", "Volumes", VolumeIds=list(pending))}

        wait_for_set(fetch, ids, lambda v: v.get("State") == "available",
                     lambda v: "error" if v.get("State") == "error" else None, self.params["wait_timeout"],
                     "the volumes made from the backup's snapshots")
        made, report = {}, []
        for (record, zone, _request), volume_id in zip(plans, ids):
            made[record["persistent_volume"]] = (volume_id, zone, record["availability_zone"])
            report.append({"namespace": record["namespace"], "claim": record["claim"],
                           "snapshot_id": record["snapshot_id"], "volume_id": volume_id, "availability_zone": zone})
        return made, report

    # -- objects --------------------------------------------------------------------------------------------------

    def path_of(self, resource, obj, name=None):
        namespace = (obj.get("metadata") or {}).get("namespace") if resource["namespaced"] else None
        if name:
            return bk.object_path(resource, name, namespace)
        return bk.collection_path(resource, namespace)

    def create(self, item):
        resource, obj = item
        what = label(obj)
        try:
            return self.create_one(resource, obj, what)
        except kc.KubernetesApiError as e:
            if e.status in (401, 403) or e.status is None:
                raise  # access or reachability: every other object would fail the same way
            return ("failed", what, str(e))

    def create_one(self, resource, obj, what):
        name = obj["metadata"].get("name")
        if self.module.check_mode:
            try:
                live = self.api.get(self.path_of(resource, obj, name)) if name else None
            except kc.KubernetesApiError as e:
                if e.status != 404:
                    raise
                live = None
            return ("exists", what, None) if live is not None else ("created", what, None)
        try:
            self.api.request("POST", self.path_of(resource, obj), query={"fieldManager": FIELD_MANAGER}, body=obj)
            return ("created", what, None)
        except kc.KubernetesApiError as e:
            if e.status != 409 or not name:
                raise
        live = self.api.get(self.path_of(resource, obj, name))
        if bk.clean(live) == bk.clean(obj):
            return ("equal", what, None)
        if self.params["existing_resource_policy"] == "update":
            self.api.request("PATCH", self.path_of(resource, obj, name),
                             query={"fieldManager": FIELD_MANAGER, "force": "true"}, body=obj,
                             content_type="application/apply-patch+yaml")
            return ("updated", what, None)
        return ("exists", what, None)

    def wait_established(self, definitions):
        deadline = time.monotonic() + self.params["wait_timeout"]
        for crd in definitions:
            path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}"
            while True:
                conditions = (self.api.get(path).get("status") or {}).get("conditions") or []
                if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                    break
                if time.monotonic() > deadline:
                    raise bk.BackupError(f"CustomResourceDefinition {crd['metadata']['name']} was not Established "
                                         f"within {self.params['wait_timeout']}s")
                time.sleep(POLL)

    def apply(self, objects):
        tiers = {}
        for resource, obj in objects:
            tiers.setdefault(bk.restore_tier(obj), []).append((resource, obj))
        for index, (tier_name, _members) in enumerate(bk.RESTORE_TIERS):
            items = tiers.get(index) or []
            if not items:
                continue
            with ThreadPoolExecutor(max_workers=8) as pool:
                outcomes = list(pool.map(self.create, items))
            for outcome, what, detail in outcomes:
                if outcome in ("created", "updated"):
                    self.restored.setdefault(tier_name, []).append(what + (" (updated)" if outcome == "updated" else ""))
                elif outcome == "equal":
                    self.skipped.append({"object": what, "reason": "exists (equal to the backed-up one)"})
                elif outcome == "exists":
                    self.skipped.append({"object": what, "reason": (
                        "exists (differs from the backed-up one; existing_resource_policy=update applies the "
                        "backed-up fields over it)"
                        if not self.module.check_mode else "exists")})
                else:
                    self.failed.append({"object": what, "error": detail})
            if index == 0 and not self.module.check_mode:
                created = {what for outcome, what, _detail in outcomes if outcome in ("created", "updated")}
                self.wait_established([obj for _r, obj in items if label(obj) in created])

    def wait_for_workloads(self, objects):
        pending = {}
        for resource, obj in objects:
            kind = obj.get("kind")
            if kind == "PersistentVolumeClaim" and not (obj.get("spec") or {}).get("volumeName"):
                continue  # a class that waits for its first consumer binds it only when a pod uses it
            if kind in ("PersistentVolumeClaim", "Deployment", "StatefulSet") and resource["namespaced"]:
                pending[label(obj)] = (resource, obj)

        def fetch(ids):
            seen = {}
            for key in ids:
                resource, obj = pending[key]
                try:
                    seen[key] = self.api.get(self.path_of(resource, obj, obj["metadata"]["name"]))
                except kc.KubernetesApiError:
                    continue
            return seen

        def ready(live):
            status = live.get("status") or {}
            if live.get("kind") == "PersistentVolumeClaim":
                return status.get("phase") == "Bound"
            wanted = (live.get("spec") or {}).get("replicas", 1)
            return status.get("readyReplicas", 0) >= wanted and status.get("observedGeneration", 0) >= \
                (live.get("metadata") or {}).get("generation", 0)

        if pending:
            wait_for_set(fetch, list(pending), ready, lambda live: None, self.params["wait_timeout"],
                         "the restored claims and workloads")

    # -- the run --------------------------------------------------------------------------------------------------

    def run(self):
        manifest, contents = self.read()
        backup_id = manifest["backup_id"]
        if self.module.check_mode and not cluster_exists(retrying_client(self.module, "eks"), self.name):
            self.plan_without_cluster(manifest, contents)
        cluster = describe_cluster(self.module, retrying_client(self.module, "eks"), "restore into")
        if cluster.get("status") not in ("ACTIVE", "UPDATING"):
            self.module.fail_json(msg=f"{self.name} is {cluster.get('status')}, not ACTIVE: run site.yml (or "
                                      "playbooks/restore.yml, which does) before restoring into it")
        self.api = kubernetes_api(self.module, cluster)
        snapshot_ids = [r["snapshot_id"] for r in self.volume_records(manifest)]
        snapshot_keys = []
        if snapshot_ids and self.params["restore_volumes"]:
            snapshots = paginate(self.ec2, "describe_snapshots", "Snapshots", SnapshotIds=snapshot_ids)
            snapshot_keys = [snapshot.get("KmsKeyId") for snapshot in snapshots]
        recovered = self.recover_keys([manifest.get("secrets_kms_key_id")] + snapshot_keys)
        try:
            objects = self.objects(manifest, contents)
            volumes, volume_report = ({}, [])
            if self.params["restore_volumes"]:
                volumes, volume_report = self.make_volumes(manifest, cluster, backup_id,
                                                           {arn for arn, _w in recovered})
            objects = self.without_stale_volumes(
                bind_claims([(resource, self.bind(obj, volumes)) for resource, obj in objects], manifest, volumes),
                volumes)
            self.apply(objects)
        except kc.KubernetesApiError as e:
            fail_kubernetes(self.module, e, cluster, "restore its objects")
        finally:
            self.reschedule(recovered)
        if self.failed:
            self.module.fail_json(msg=f"{len(self.failed)} object(s) of backup {backup_id} could not be restored: " +
                                  "; ".join(f"{f['object']}: {f['error']}" for f in self.failed),
                                  restored=self.restored_list(), skipped_objects=self.skipped,
                                  failed_objects=self.failed, volumes=volume_report)
        if self.params["wait"] and not self.module.check_mode:
            restored = {what for names in self.restored.values() for what in names}
            self.wait_for_workloads([(r, o) for r, o in objects if label(o) in restored])
        self.module.exit_json(changed=bool(self.restored), restored=self.restored_list(),
                              restored_counts={tier: len(names) for tier, names in self.restored.items()},
                              skipped_objects=self.skipped,
                              volumes=volume_report, kms_keys_recovered=[arn for arn, _w in recovered],
                              verified_files=len(contents))

    def plan_without_cluster(self, manifest, contents):
        """Check mode while the cluster is gone (restore.yml --check plans site.yml first): what the set holds, by
        tier, from the manifest; nothing is decrypted or read from a cluster."""
        tiers = {}
        for name, resource in sorted((manifest.get("resources") or {}).items()):
            api_version = f"{resource['group']}/{resource['version']}" if resource["group"] else resource["version"]
            tier = bk.RESTORE_TIERS[bk.restore_tier({"apiVersion": api_version, "kind": resource["kind"]})][0]
            namespace = name.split("/")[2] if name.startswith("kubernetes/namespaces/") else None
            tiers.setdefault(tier, []).append(f"{resource['kind']} x{resource['count']}" +
                                              (f" in {namespace}" if namespace else ""))
        ordered = [{"tier": tier, "objects": tiers[tier]} for tier, _members in bk.RESTORE_TIERS if tier in tiers]
        volumes = [{"namespace": r["namespace"], "claim": r["claim"], "snapshot_id": r.get("snapshot_id"),
                    "volume_id": KNOWN_AFTER_APPLY, "availability_zone": r.get("availability_zone")}
                   for r in manifest.get("volumes") or [] if r.get("snapshot_id")]
        self.module.exit_json(changed=True, restored=ordered,
                              restored_counts={t["tier"]: len(t["objects"]) for t in ordered}, skipped_objects=[],
                              volumes=volumes, kms_keys_recovered=[], verified_files=len(contents),
                              msg=f"{self.name} does not exist yet: once built, the set's objects would be restored")

    def without_stale_volumes(self, objects, volumes):
        """Leave out the PVs of EBS volumes that were not made again here (O(restore_volumes=false), or no
        snapshot): they point at the original cluster's volumes. Their claims get new, empty volumes."""
        stale = {obj["metadata"]["name"] for _r, obj in objects if obj.get("kind") == "PersistentVolume"
                 and bk.ebs_volume_id(obj) and obj["metadata"]["name"] not in volumes}
        kept = []
        for resource, obj in objects:
            if obj.get("kind") == "PersistentVolume" and obj["metadata"]["name"] in stale:
                self.skipped.append({"object": label(obj), "reason": "its EBS volume was not made from a snapshot "
                                                                     "here; its claim gets a new volume"})
                continue
            if obj.get("kind") == "PersistentVolumeClaim" and (obj.get("spec") or {}).get("volumeName") in stale:
                obj = dict(obj, spec={k: v for k, v in obj["spec"].items() if k != "volumeName"})
            kept.append((resource, obj))
        return kept

    def restored_list(self):
        return [{"tier": tier, "objects": names} for tier, names in self.restored.items()]

    @staticmethod
    def bind(obj, volumes):
        """A PV pointed at its new volume and pre-bound to its claim; a claim naming its restored PV."""
        kind = obj.get("kind")
        if kind == "PersistentVolume" and obj["metadata"]["name"] in volumes:
            volume_id, zone, original_zone = volumes[obj["metadata"]["name"]]
            return bk.with_volume(obj, volume_id, zone, original_zone)
        return obj


def bind_claims(objects, manifest, volumes):
    """Claims of restored volumes name their PersistentVolume; the PV's claimRef names the claim."""
    by_claim = {(r["namespace"], r["claim"]): r["persistent_volume"] for r in manifest.get("volumes") or []
                if r["persistent_volume"] in volumes}
    bound = []
    for resource, obj in objects:
        meta = obj.get("metadata") or {}
        if obj.get("kind") == "PersistentVolumeClaim" and (meta.get("namespace"), meta.get("name")) in by_claim:
            obj = dict(obj, spec=dict(obj.get("spec") or {}, volumeName=by_claim[(meta["namespace"], meta["name"])]))
        elif obj.get("kind") == "PersistentVolume" and meta.get("name") in volumes:
            claim = next((c for c, pv in by_claim.items() if pv == meta["name"]), None)
            if claim:
                obj = dict(obj, spec=dict(obj.get("spec") or {}, claimRef={
                    "apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": claim[0], "name": claim[1]}))
        bound.append((resource, obj))
    return bound


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        backup_id=dict(type="str", required=True),
        backup_cluster_name=dict(type="str"),
        bucket=dict(type="str"),
        prefix=dict(type="str"),
        directory=dict(type="path"),
        namespaces=dict(type="list", elements="str"),
        include_cluster_resources=dict(type="bool", default=True),
        restore_volumes=dict(type="bool", default=True),
        existing_resource_policy=dict(type="str", choices=["none", "update"], default="none"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=900),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              mutually_exclusive=[("bucket", "directory")],
                              required_one_of=[("bucket", "directory")])
    if module.params["wait_timeout"] < 1:
        module.fail_json(msg=f"wait_timeout must be at least 1, not {module.params['wait_timeout']}")
    try:
        bk.check_backup_id(module.params["backup_id"])
        run_module(module, Restore(module).run)
    except bk.BackupError as e:
        module.fail_json(msg=str(e))


if __name__ == "__main__":
    main()
