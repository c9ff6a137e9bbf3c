#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_backup
short_description: Back up an EKS cluster (AWS configuration, Kubernetes objects, EBS volumes), or prune backups
version_added: 0.1.0
description:
  - With O(state=present), writes a backup set named O(backup_id) to an S3 bucket (O(bucket), under O(prefix)) or to
    a local O(directory). A set that already exists is never overwritten.
  - B(AWS side), as JSON descriptions, the cluster, its managed node groups, add-ons, access entries with their
    access policies, its IAM OIDC provider and the IAM roles that trust it (IRSA), with their policies. O(variables)
    (the inventory variables of the deploy) are kept in C(inventory/variables.json).
  - B(Kubernetes side), every resource type the API server offers through discovery (not a fixed list), in every
    namespace or in O(namespaces) (less O(exclude_namespaces)), and the cluster-scoped ones unless
    O(include_cluster_resources=false). Left out on purpose, and listed in the result, is what controllers or the API
    server make again (events, endpoints and endpoint slices, leases, nodes, CSI nodes and volume attachments,
    controller revisions, API services, the metrics API, every object that has a controlling owner such as the pods
    of a ReplicaSet and the ReplicaSets of a Deployment, C(kube-root-ca.crt) and service account tokens).
  - Objects are kept as C(List) files per resource type and namespace, cleaned of what the server sets (uid,
    resourceVersion, generation, creationTimestamp, managedFields, ownerReferences, finalizers, status, the
    last-applied annotation, a Service's cluster IPs and node ports, a PV's claimRef, a claim's volumeName, a Job's
    generated selector), so that M(llmhub.eks.eks_restore) or C(kubectl apply -f) can create them again.
  - Secrets only with O(include_secrets=true), then encrypted per namespace with a data key of O(secrets_kms_key_id)
    (default the cluster's secrets encryption key) and AES-256-GCM; only the KMS-encrypted data key is kept.
  - B(Persistent data), with O(snapshot_volumes=true), an EBS snapshot of the volume behind every PersistentVolume
    bound to a claim that is kept, tagged C(llmhub.io/backup-id), C(llmhub.io/cluster),
    C(kubernetes.io/created-for/pvc/namespace), C(kubernetes.io/created-for/pvc/name) and C(llmhub.io/storage-class),
    waited for until C(completed), and recorded with the volume's size, type, IOPS, throughput, encryption key, zone
    and tags.
  - C(manifest.json), written last, lists every file with its size and SHA-256, the resource types, counts, what was
    skipped and the snapshots.
  - In check mode nothing is written and no snapshot is taken; the result lists what would be backed up.
  - With O(state=absent), deletes backup set O(backup_id), or every set older than O(retention_days) (the newest
    O(keep_last) are always kept), each with every version of its objects and its EBS snapshots.
  - Talks to the cluster's Kubernetes API in-process with an EKS token of the module's own credentials, never shown.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  cluster_name:
    description: Name of the EKS cluster.
    type: str
    required: true
  state:
    description: V(present) takes a backup, V(absent) deletes backups.
    type: str
    choices: [present, absent]
    default: present
  backup_id:
    description:
      - Name of the set. Default with O(state=present) is the time in UTC, V(20261202T151500Z).
      - With O(state=absent), the one set to delete; without it, sets older than O(retention_days) are deleted.
    type: str
  namespaces:
    description: Namespaces to back up. Default every namespace but O(exclude_namespaces).
    type: list
    elements: str
  exclude_namespaces:
    description: Namespaces never backed up (their objects belong to EKS and the add-ons, which make them again).
    type: list
    elements: str
    default: [kube-system, kube-public, kube-node-lease]
  include_cluster_resources:
    description: Back up cluster-scoped objects (CRDs, cluster roles and bindings, storage and priority classes, PVs...).
    type: bool
    default: true
  include_secrets:
    description: Back up Secrets, encrypted with O(secrets_kms_key_id).
    type: bool
    default: false
  secrets_kms_key_id:
    description: KMS key (id, ARN or alias) of the Secrets' data keys. Default the cluster's secrets encryption key.
    type: str
  snapshot_volumes:
    description: Snapshot the EBS volume of every claim backed up.
    type: bool
    default: true
  variables:
    description: Inventory variables of the deploy, kept for a restore that must build the platform again.
    type: dict
    default: {}
  wait_timeout:
    description: Seconds to wait for the snapshots to complete.
    type: int
    default: 1800
  retention_days:
    description: With O(state=absent) and no O(backup_id), delete the sets older than this many days.
    type: int
    default: 30
  keep_last:
    description: With O(state=absent), the newest sets kept whatever their age.
    type: int
    default: 1
extends_documentation_fragment:
  - llmhub.eks.backup_store
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Back up the cluster to its artifacts bucket, Secrets included
  llmhub.eks.eks_backup:
    cluster_name: llm-analytics-hub-prod-eks
    bucket: llmhub-artifacts-123456789012-us-east-1
    include_secrets: true
  register: backup

- name: Back up two namespaces to a local directory, without snapshots
  llmhub.eks.eks_backup:
    cluster_name: llm-analytics-hub-prod-eks
    directory: /var/backups/eks
    namespaces: [llm-analytics, llm-batch]
    snapshot_volumes: false

- name: Delete the backups older than 30 days (keeping the newest)
  llmhub.eks.eks_backup:
    cluster_name: llm-analytics-hub-prod-eks
    bucket: llmhub-artifacts-123456789012-us-east-1
    state: absent
    retention_days: 30
"""

RETURN = r"""
backup:
  description: The set written (or, in check mode, that would be).
  returned: state=present
  type: dict
  contains:
    id:
      description: The backup id.
      type: str
      sample: 20261202T151500Z
    location:
      description: Where the set is.
      type: str
      sample: s3://llmhub-artifacts-123456789012-us-east-1/backups/llm-analytics-hub-prod-eks/20261202T151500Z/
    files:
      description: Number of files, the manifest included.
      type: int
    size:
      description: Bytes written.
      type: int
    objects:
      description: Kubernetes objects kept, by C(<resource>.<group>).
      type: dict
      sample: {"configmaps.core": 12, "deployments.apps": 2}
    namespaces:
      description: Namespaces backed up.
      type: list
      elements: str
    skipped:
      description:
        - C(resource_types), those left out and why; C(objects), the number of objects left out by reason (made again
          by their controlling owner, by the API server or EKS, by a Helm release or served from a namespace that is
          not backed up).
      type: dict
    volumes:
      description: The EBS snapshots taken, one per claim.
      type: list
      elements: dict
      sample: [{"namespace": "llm-analytics", "claim": "data-analytics-cache-0", "volume_id": "vol-0abc",
                "snapshot_id": "snap-0def", "size_gib": 20, "volume_type": "gp3", "encrypted": true}]
    secrets_encrypted_with:
      description: ARN of the KMS key of the Secrets' data keys, when Secrets were backed up.
      type: str
deleted:
  description: Backup ids deleted (or that would be), with their snapshots.
  returned: state=absent
  type: list
  elements: str
deleted_snapshots:
  description: EBS snapshots deleted with them.
  returned: state=absent
  type: list
  elements: str
"""

import datetime as _dt
import json
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils import backup as bk
from ansible_collections.llmhub.eks.plugins.module_utils import kubeconfig as kc
from ansible_collections.llmhub.eks.plugins.module_utils.backup_session import describe_cluster
from ansible_collections.llmhub.eks.plugins.module_utils.backup_session import fail_kubernetes
from ansible_collections.llmhub.eks.plugins.module_utils.backup_session import kubernetes_api
from ansible_collections.llmhub.eks.plugins.module_utils.backup_session import open_store
from ansible_collections.llmhub.eks.plugins.module_utils.common import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_concurrently
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.common import wait_for_set

SNAPSHOT_BATCH = 200


class Backup:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.name = module.params["cluster_name"]
        self.eks = retrying_client(module, "eks")
        self.ec2 = retrying_client(module, "ec2")

    # -- AWS side -----------------------------------------------------------------------------------------------

    def aws_descriptions(self, cluster):
        iam = retrying_client(self.module, "iam")
        name = self.name

        def nodegroups():
            names = paginate(self.eks, "list_nodegroups", "nodegroups", clusterName=name)
            return [self.eks.describe_nodegroup(clusterName=name, nodegroupName=n, aws_retry=True)["nodegroup"]
                    for n in names]

        def addons():
            names = paginate(self.eks, "list_addons", "addons", clusterName=name)
            return [self.eks.describe_addon(clusterName=name, addonName=n, aws_retry=True)["addon"] for n in names]

        def access_entries():
            entries = []
            for arn in paginate(self.eks, "list_access_entries", "accessEntries", clusterName=name):
                entry = self.eks.describe_access_entry(clusterName=name, principalArn=arn, aws_retry=True)["accessEntry"]
                entry["associatedAccessPolicies"] = paginate(self.eks, "list_associated_access_policies",
                                                             "associatedAccessPolicies", clusterName=name,
                                                             principalArn=arn)
                entries.append(entry)
            return entries

        issuer = ((cluster.get("identity") or {}).get("oidc") or {}).get("issuer", "")
        issuer_host = issuer.replace("https://", "")

        def oidc_provider():
            for provider in iam.list_open_id_connect_providers(aws_retry=True).get("OpenIDConnectProviderList") or []:
                if issuer_host and provider["Arn"].endswith("/" + issuer_host):
                    found = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"], aws_retry=True)
                    found.pop("ResponseMetadata", None)
                    return dict(found, Arn=provider["Arn"])
            return None

        def irsa_roles():
            roles = []
            for role in paginate(iam, "list_roles", "Roles"):
                document = role.get("AssumeRolePolicyDocument") or {}
                if not issuer_host or issuer_host not in json.dumps(document):
                    continue
                role_name = role["RoleName"]
                role["AttachedPolicies"] = paginate(iam, "list_attached_role_policies", "AttachedPolicies",
                                                    RoleName=role_name)
                role["InlinePolicies"] = {
                    policy: iam.get_role_policy(RoleName=role_name, PolicyName=policy, aws_retry=True)["PolicyDocument"]
                    for policy in paginate(iam, "list_role_policies", "PolicyNames", RoleName=role_name)}
                roles.append(role)
            return roles

        parts = {"cluster": lambda: cluster, "nodegroups": nodegroups, "addons": addons,
                 "access_entries": access_entries, "oidc_provider": oidc_provider, "irsa_roles": irsa_roles}
        results = run_concurrently(lambda key: parts[key](), list(parts), "describe the cluster's AWS resources")
        return dict(zip(parts, results))

    # -- Kubernetes side ----------------------------------------------------------------------------------------

    def wanted_namespaces(self, api):
        every = sorted(ns["metadata"]["name"] for ns in api.list("/api/v1/namespaces"))
        chosen = self.params.get("namespaces")
        if chosen:
            missing = sorted(set(chosen) - set(every))
            if missing:
                self.module.fail_json(msg=f"namespaces names {', '.join(missing)}, which {self.name} does not have "
                                          f"(it has {', '.join(every)})")
            every = sorted(set(chosen))
        return [ns for ns in every if ns not in (self.params.get("exclude_namespaces") or [])]

    def collect(self, api):
        """{file: (type, [objects])}, {type key: count}, skipped, namespaces, claims, {PV name: PV}."""
        types, left_out = bk.discover(api)
        namespaces = self.wanted_namespaces(api)
        excluded = self.params.get("exclude_namespaces") or []
        keep_secrets = self.params["include_secrets"]
        # namespaces and PVs are cluster-scoped but belong to the namespaces kept: always listed
        always = {("", "namespaces"), ("", "persistentvolumes")}
        wanted_types = [t for t in types if t["namespaced"] or self.params["include_cluster_resources"]
                        or (t["group"], t["resource"]) in always]
        if not keep_secrets:
            left_out["secrets.core"] = "include_secrets is false"
            wanted_types = [t for t in wanted_types if (t["group"], t["resource"]) != ("", "secrets")]

        def list_type(resource_type):
            try:
                return resource_type, api.list(bk.collection_path(resource_type))
            except kc.KubernetesApiError as e:
                if e.status in (404, 405, 501, 503):
                    return resource_type, None
                raise

        with ThreadPoolExecutor(max_workers=8) as pool:
            listed = list(pool.map(list_type, wanted_types))
        files, counts, made_again, volumes_by_name, claims = {}, {}, {}, {}, []
        for resource_type, items in listed:
            key = f"{resource_type['resource']}.{resource_type['group'] or 'core'}"
            if items is None:
                left_out[key] = "listed by discovery but not served"
                continue
            api_version = (f"{resource_type['group']}/{resource_type['version']}" if resource_type["group"]
                           else resource_type["version"])
            pair = (resource_type["group"], resource_type["resource"])
            for item in items:
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", resource_type["kind"])
                meta = item.get("metadata") or {}
                namespace = meta.get("namespace") if resource_type["namespaced"] else None
                if resource_type["namespaced"] and namespace not in namespaces:
                    continue
                if pair == ("", "namespaces") and meta.get("name") not in namespaces:
                    continue
                reason = bk.skip_reason(resource_type["group"], resource_type["resource"], item, excluded)
                if reason:
                    made_again[reason] = made_again.get(reason, 0) + 1
                    continue
                if pair == ("", "persistentvolumes"):
                    volumes_by_name[meta["name"]] = item
                if pair == ("", "persistentvolumeclaims"):
                    claims.append(item)
                files.setdefault(bk.resource_file(resource_type["group"], resource_type["resource"], namespace),
                                 (resource_type, []))[1].append(item)
                counts[key] = counts.get(key, 0) + 1
        # a PV is kept with a claim that is kept, or unclaimed when cluster-scoped objects are
        kept_claims = {(c["metadata"].get("namespace"), c["metadata"]["name"]) for c in claims}
        for path, (resource_type, items) in list(files.items()):
            if (resource_type["group"], resource_type["resource"]) == ("", "persistentvolumes"):
                items[:] = [pv for pv in items if (
                    ((pv.get("spec") or {}).get("claimRef") or {}).get("namespace"),
                    ((pv.get("spec") or {}).get("claimRef") or {}).get("name")) in kept_claims
                    or (not (pv.get("spec") or {}).get("claimRef") and self.params["include_cluster_resources"])]
                counts["persistentvolumes.core"] = len(items)
                if not items:
                    del files[path]
                    counts.pop("persistentvolumes.core")
        skipped = {"resource_types": left_out, "objects": dict(sorted(made_again.items()))}
        return files, counts, skipped, namespaces, claims, volumes_by_name

    # -- persistent data ----------------------------------------------------------------------------------------

    def volume_records(self, claims, volumes_by_name):
        records = []
        for claim in claims:
            if (claim.get("status") or {}).get("phase") != "Bound":
                continue  # no volume yet (WaitForFirstConsumer without a pod, or Pending): nothing to snapshot
            pv = volumes_by_name.get((claim.get("spec") or {}).get("volumeName") or "")
            if pv is None:
                self.module.fail_json(msg=(f"Claim {claim['metadata']['namespace']}/{claim['metadata']['name']} is "
                                           f"Bound to {claim['spec'].get('volumeName')}, which the API did not list: "
                                           "its data cannot be backed up. Run the backup again"))
            volume_id = bk.ebs_volume_id(pv)
            if volume_id:
                records.append({"namespace": claim["metadata"]["namespace"], "claim": claim["metadata"]["name"],
                                "persistent_volume": pv["metadata"]["name"], "volume_id": volume_id,
                                "storage_class": (claim.get("spec") or {}).get("storageClassName") or ""})
        if not records:
            return []
        described = {}
        for start in range(0, len(records), SNAPSHOT_BATCH):
            batch = [r["volume_id"] for r in records[start:start + SNAPSHOT_BATCH]]
            for volume in paginate(self.ec2, "describe_volumes", "Volumes",
                                   Filters=[{"Name": "volume-id", "Values": batch}]):
                described[volume["VolumeId"]] = volume
        for record in records:
            volume = described.get(record["volume_id"])
            if volume is None:
                self.module.fail_json(msg=(f"The EBS volume {record['volume_id']} of claim {record['namespace']}/"
                                           f"{record['claim']} does not exist in {self.module.region}: the claim's "
                                           "data cannot be backed up. Set snapshot_volumes: false to back up "
                                           "without persistent data"))
            record.update({
                "size_gib": volume["Size"], "volume_type": volume.get("VolumeType"), "iops": volume.get("Iops"),
                "throughput": volume.get("Throughput"), "encrypted": bool(volume.get("Encrypted")),
                "kms_key_id": volume.get("KmsKeyId"), "availability_zone": volume["AvailabilityZone"],
                "tags": {t["Key"]: t["Value"] for t in volume.get("Tags") or []}})
        return records

    def snapshot(self, records, backup_id):
        def take(record):
            tags = {"Name": f"{self.name}/{record['namespace']}/{record['claim']}/{backup_id}",
                    "llmhub.io/backup-id": backup_id, "llmhub.io/cluster": self.name,
                    "kubernetes.io/created-for/pvc/namespace": record["namespace"],
                    "kubernetes.io/created-for/pvc/name": record["claim"],
                    "llmhub.io/storage-class": record["storage_class"]}
            answer = self.ec2.create_snapshot(
                VolumeId=record["volume_id"], aws_retry=True,
                Description=f"llmhub.eks backup {backup_id} of {record['namespace']}/{record['claim']} ({self.name})",
                TagSpecifications=[{"ResourceType": "snapshot",
                                    "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}])
            return answer["SnapshotId"]

        ids = run_concurrently(take, records, "snapshot the claims' EBS volumes",
                               label=lambda r: f"{r['namespace']}/{r['claim']} ({r['volume_id']})")
        for record, snapshot_id in zip(records, ids):
            record["snapshot_id"] = snapshot_id

        def fetch(pending):
            try:
                return {s["SnapshotId"]: s for s in paginate(self.ec2, "describe_snapshots", "Snapshots",
                                                             SnapshotIds=list(pending))}
            except is_boto3_error_code("InvalidSnapshot.NotFound"):
                return {}  # EC2 is eventually consistent: a new snapshot may not be listed for a few seconds

        wait_for_set(fetch, ids, lambda s: s.get("State") == "completed",
                     lambda s: (s.get("StateMessage") or "error") if s.get("State") == "error" else None,
                     self.params["wait_timeout"], "the EBS snapshots of the backup")

    # -- states -------------------------------------------------------------------------------------------------

    def present(self):
        params = self.params
        backup_id = bk.check_backup_id(params.get("backup_id") or bk.new_backup_id())
        store = open_store(self.module)
        cluster = describe_cluster(self.module, self.eks, "back up")
        if store.get(backup_id, bk.MANIFEST) is not None:
            self.module.fail_json(msg=f"Backup {backup_id} already exists at {store.location(backup_id)}: backups are "
                                      "never overwritten. Leave backup_id unset for a new one")
        api = kubernetes_api(self.module, cluster)
        try:
            files, counts, skipped, namespaces, claims, volumes_by_name = self.collect(api)
        except kc.KubernetesApiError as e:
            fail_kubernetes(self.module, e, cluster, "list its objects")
        records = self.volume_records(claims, volumes_by_name) if params["snapshot_volumes"] else []
        summary = {"id": backup_id, "location": store.location(backup_id), "objects": dict(sorted(counts.items())),
                   "namespaces": namespaces, "skipped": skipped,
                   "volumes": records}
        if self.module.check_mode:
            summary.update(files=len(files) + 8, size=None)
            self.module.exit_json(changed=True, backup=summary)

        secrets_key = None
        if params["include_secrets"]:
            secrets_key = params.get("secrets_kms_key_id") or next(
                (entry.get("provider", {}).get("keyArn") for entry in cluster.get("encryptionConfig") or []
                 if "secrets" in (entry.get("resources") or [])), None)
            if not secrets_key:
                self.module.fail_json(msg=(f"{self.name} has no secrets encryption key to encrypt the backed-up "
                                           "Secrets with: set secrets_kms_key_id (eks_backup_secrets_kms_key_id)"))
        aws = self.aws_descriptions(cluster)
        written = {}
        try:
            self.write(store, backup_id, cluster, aws, files, records, skipped, namespaces, summary, secrets_key,
                       written)
        except BaseException:
            # a set without its manifest is neither listed nor restorable: take back what this run made
            self.remove_leftovers(store, backup_id, bool(written))
            raise
        self.module.exit_json(changed=True, backup=summary)

    def remove_leftovers(self, store, backup_id, files_written):
        try:
            for snapshot_id in self.snapshots_of([backup_id]):
                self.ec2.delete_snapshot(SnapshotId=snapshot_id, aws_retry=True)
            if files_written:
                store.delete(backup_id)
        except Exception:  # pylint: disable=broad-exception-caught
            self.module.warn(f"Could not remove what the failed backup {backup_id} left; run this module with "
                             f"state=absent backup_id={backup_id}")

    def snapshots_of(self, backup_ids):
        return [s["SnapshotId"] for s in paginate(
            self.ec2, "describe_snapshots", "Snapshots", OwnerIds=["self"],
            Filters=[{"Name": "tag:llmhub.io/cluster", "Values": [self.name]},
                     {"Name": "tag:llmhub.io/backup-id", "Values": list(backup_ids)}])]

    def write(self, store, backup_id, cluster, aws, files, records, skipped, namespaces, summary, secrets_key,
              written):
        params = self.params
        if records:
            self.snapshot(records, backup_id)

        def put(name, data):
            store.put(backup_id, name, data)
            written[name] = {"size": len(data), "sha256": bk.sha256(data)}

        for part, content in aws.items():
            put(f"aws/{part}.json", bk.dumps(content))
        put("inventory/variables.json", bk.dumps(params.get("variables") or {}))
        kms = retrying_client(self.module, "kms") if secrets_key else None
        resources = {}
        for name, (resource_type, items) in sorted(files.items()):
            document = {"apiVersion": "v1", "kind": "List", "items": [bk.clean(item) for item in items]}
            if (resource_type["group"], resource_type["resource"]) == ("", "secrets"):
                namespace = items[0]["metadata"]["namespace"]
                name = f"kubernetes/namespaces/{namespace}/{bk.SECRETS_FILE}"
                envelope = bk.encrypt(kms, secrets_key, bk.dumps(document),
                                      dict(bk.encryption_context(self.name, backup_id), file=name))
                secrets_key = envelope["kms_key_id"]
                data = bk.dumps(envelope)
            else:
                data = bk.dumps(document)
            put(name, data)
            resources[name] = dict(resource_type, count=len(items), encrypted=name.endswith(bk.SECRETS_FILE))
        manifest = {
            "format": bk.FORMAT, "backup_id": backup_id, "cluster": self.name, "region": self.module.region,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "kubernetes_version": cluster.get("version"), "cluster_arn": cluster.get("arn"),
            "namespaces": namespaces, "objects": summary["objects"], "skipped": skipped,
            "resources": resources, "volumes": records, "secrets_kms_key_id": secrets_key if resources and any(
                r["encrypted"] for r in resources.values()) else None,
            "files": written,
        }
        manifest_data = bk.dumps(manifest)
        store.put(backup_id, bk.MANIFEST, manifest_data)
        summary.update(files=len(written) + 1, size=sum(f["size"] for f in written.values()) + len(manifest_data),
                       secrets_encrypted_with=manifest["secrets_kms_key_id"])

    def absent(self):
        params = self.params
        store = open_store(self.module)
        if params.get("backup_id"):
            # also a set a failed run left without its manifest (files, snapshots)
            doomed = [bk.check_backup_id(params["backup_id"])]
            present = store.get(doomed[0], bk.MANIFEST) is not None or store.has_files(doomed[0])
        else:
            cutoff = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(days=params["retention_days"])
            dated = []
            for backup_id in store.ids():
                try:
                    dated.append((_dt.datetime.fromisoformat(bk.read_manifest(store, backup_id)["created"]), backup_id))
                except (bk.BackupError, KeyError, ValueError):
                    continue  # not a set this module can date: left alone
            dated.sort()
            kept = {backup_id for _created, backup_id in dated[len(dated) - params["keep_last"]:]} \
                if params["keep_last"] else set()
            doomed = [backup_id for created, backup_id in dated if created < cutoff and backup_id not in kept]
            present = bool(doomed)
        snapshots = self.snapshots_of(doomed) if doomed else []
        if not present and not snapshots:
            self.module.exit_json(changed=False, deleted=[], deleted_snapshots=[])
        if not self.module.check_mode:
            for snapshot_id in snapshots:
                try:
                    self.ec2.delete_snapshot(SnapshotId=snapshot_id, aws_retry=True)
                except is_boto3_error_code("InvalidSnapshot.NotFound"):
                    pass
            for backup_id in doomed:
                store.delete(backup_id)
        self.module.exit_json(changed=True, deleted=doomed, deleted_snapshots=sorted(snapshots))


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        backup_id=dict(type="str"),
        bucket=dict(type="str"),
        prefix=dict(type="str"),
        directory=dict(type="path"),
        namespaces=dict(type="list", elements="str"),
        exclude_namespaces=dict(type="list", elements="str", default=list(bk.SYSTEM_NAMESPACES)),
        include_cluster_resources=dict(type="bool", default=True),
        include_secrets=dict(type="bool", default=False),
        secrets_kms_key_id=dict(type="str"),
        snapshot_volumes=dict(type="bool", default=True),
        variables=dict(type="dict", default={}),
        wait_timeout=dict(type="int", default=1800),
        retention_days=dict(type="int", default=30),
        keep_last=dict(type="int", default=1),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              mutually_exclusive=[("bucket", "directory")],
                              required_one_of=[("bucket", "directory")])
    for option in ("wait_timeout", "retention_days", "keep_last"):
        if module.params[option] < (1 if option != "keep_last" else 0):
            module.fail_json(msg=f"{option} must be {'at least 1' if option != 'keep_last' else '0 or more'}, "
                                 f"not {module.params[option]}")
    try:
        if module.params.get("backup_id"):
            bk.check_backup_id(module.params["backup_id"])
    except bk.BackupError as e:
        module.fail_json(msg=str(e))
    run = Backup(module)
    try:
        run_module(module, run.present if module.params["state"] == "present" else run.absent)
    except bk.BackupError as e:
        module.fail_json(msg=str(e))


if __name__ == "__main__":
    main()
