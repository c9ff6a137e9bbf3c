# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup sets of an EKS platform: their layout, where they are kept, and what goes into them.

A backup set is a directory ``<backup id>/`` (on disk, or under a key prefix of an S3 bucket) of JSON files and
``manifest.json``, which lists every other file with its size and SHA-256 and records the EBS snapshots taken.
Kubernetes objects are kept per resource type as ``kind: List`` files, cleaned of what the API server, controllers
and admission set, so that they can be created again on another cluster (or read by ``kubectl apply -f``).

Standard library only (``cryptography`` when Secrets are encrypted): the module code and the unit tests share it.
"""

from __future__ import annotations

import base64
import copy
import datetime as _dt
import hashlib
import json
import os
import re

FORMAT = 1
MANIFEST = "manifest.json"
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SECRETS_FILE = "secrets.enc.json"

# Resource types never kept: re-created by controllers or the API server, or not objects at all.
SKIPPED_RESOURCES = {
    ("", "events"): "events are history, not state",
    ("events.k8s.io", "events"): "events are history, not state",
    ("", "endpoints"): "re-created from their Services",
    ("discovery.k8s.io", "endpointslices"): "re-created from their Services",
    ("coordination.k8s.io", "leases"): "leader election and node heartbeats",
    ("", "nodes"): "registered by the node groups' kubelets",
    ("", "componentstatuses"): "a view of the control plane",
    ("storage.k8s.io", "csinodes"): "registered by the CSI node plugins",
    ("storage.k8s.io", "volumeattachments"): "made by the CSI attacher for scheduled pods",
    ("apps", "controllerrevisions"): "history kept by StatefulSets and DaemonSets",
    ("apiregistration.k8s.io", "apiservices"): "registered by the API server and the add-ons",
    ("certificates.k8s.io", "certificatesigningrequests"): "short-lived requests",
}
SKIPPED_GROUPS = {
    "metrics.k8s.io": "live measurements of the metrics API",
    "flowcontrol.apiserver.k8s.io": "maintained by the API server",
}
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
KEPT_METADATA = ("name", "generateName", "namespace", "labels", "annotations")
SERVER_ANNOTATIONS = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/selected-node",
    "control-plane.alpha.kubernetes.io/leader",
)
JOB_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid", "job-name", "batch.kubernetes.io/job-name")

# Restore order: what others need first (the issue's and Velero's order), then everything else, webhooks last so
# that they cannot refuse the restore's own objects.
RESTORE_TIERS = (
    ("custom resource definitions", {("apiextensions.k8s.io", "CustomResourceDefinition")}),
    ("namespaces", {("", "Namespace")}),
    ("policies and classes", {("scheduling.k8s.io", "PriorityClass"), ("", "ResourceQuota"), ("", "LimitRange"),
                              ("storage.k8s.io", "StorageClass"), ("networking.k8s.io", "IngressClass"),
                              ("networking.k8s.io", "NetworkPolicy")}),
    ("RBAC and service accounts", {("rbac.authorization.k8s.io", "ClusterRole"),
                                   ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
                                   ("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "RoleBinding"),
                                   ("", "ServiceAccount")}),
    ("config and secrets", {("", "ConfigMap"), ("", "Secret")}),
    ("persistent volumes and claims", {("", "PersistentVolume"), ("", "PersistentVolumeClaim")}),
    ("workloads", {("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"), ("apps", "ReplicaSet"),
                   ("batch", "Job"), ("batch", "CronJob"), ("", "Pod"), ("", "ReplicationController")}),
    ("services and ingresses", {("", "Service"), ("networking.k8s.io", "Ingress")}),
    ("everything else", None),
    ("admission webhooks", {("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
                            ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
                            ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
                            ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding")}),
)


class BackupError(Exception):
    """A backup set that cannot be read or written; the message says which and what to do."""


def new_backup_id(now=None):
    """``20261202T151500Z``: sorts by time, and is a valid S3 key segment and directory name."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ")


def check_backup_id(backup_id, option="backup_id"):
    if not ID_PATTERN.match(backup_id or ""):
        raise BackupError(f"{option}={backup_id!r} is not a backup id: 1-64 letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit (backups are named like 20261202T151500Z)")
    return backup_id


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def dumps(obj):
    """The bytes a JSON file of the set holds (stable: sorted keys, so a checksum follows the content)."""
    return (json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n").encode("utf-8")


# -- where sets are kept ---------------------------------------------------------------------------------------


class DirectoryStore:
    """Backup sets as directories under ``root``."""

    def __init__(self, root):
        self.root = os.path.abspath(os.path.expanduser(root))

    def location(self, backup_id):
        return os.path.join(self.root, backup_id)

    def _path(self, backup_id, name):
        path = os.path.normpath(os.path.join(self.root, backup_id, name))
        if not path.startswith(os.path.join(self.root, backup_id) + os.sep):
            raise BackupError(f"{name!r} is not a file of backup {backup_id}")
        return path

    def put(self, backup_id, name, data):
        path = self._path(backup_id, name)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        temporary = path + ".part"
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)

    def get(self, backup_id, name):
        try:
            with open(self._path(backup_id, name), "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def has_files(self, backup_id):
        return os.path.isdir(self.location(backup_id))

    def ids(self):
        if not os.path.isdir(self.root):
            return []
        return sorted(entry for entry in os.listdir(self.root)
                      if ID_PATTERN.match(entry) and os.path.isfile(os.path.join(self.root, entry, MANIFEST)))

    def delete(self, backup_id):
        base = self.location(backup_id)
        for directory, _dirs, files in os.walk(base, topdown=False):
            for name in files:
                os.unlink(os.path.join(directory, name))
            os.rmdir(directory)


class S3Store:
    """Backup sets under ``s3://bucket/prefix/<backup id>/`` (the bucket's default encryption applies)."""

    def __init__(self, client, bucket, prefix):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, backup_id, name=""):
        return "/".join(part for part in (self.prefix, backup_id, name) if part)

    def location(self, backup_id):
        return f"s3://{self.bucket}/{self._key(backup_id)}/"

    def put(self, backup_id, name, data):
        self.client.put_object(Bucket=self.bucket, Key=self._key(backup_id, name), Body=data,
                               ContentType="application/json", ChecksumAlgorithm="SHA256")

    def get(self, backup_id, name):
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(backup_id, name))["Body"].read()
        except (self.client.exceptions.NoSuchKey, self.client.exceptions.NoSuchBucket):
            return None  # no bucket yet (a first run in check mode): no set either

    def has_files(self, backup_id):
        try:
            page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._key(backup_id) + "/", MaxKeys=1)
        except self.client.exceptions.NoSuchBucket:
            return False
        return bool(page.get("KeyCount"))

    def ids(self):
        found = []
        paginator = self.client.get_paginator("list_objects_v2")
        prefix = self.prefix + "/" if self.prefix else ""
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
                for common in page.get("CommonPrefixes") or []:
                    backup_id = common["Prefix"][len(prefix):].rstrip("/")
                    if ID_PATTERN.match(backup_id):
                        found.append(backup_id)
        except self.client.exceptions.NoSuchBucket:
            return []
        return sorted(backup_id for backup_id in found if self.get(backup_id, MANIFEST) is not None)

    def delete(self, backup_id):
        """Every version of every object of the set (versioning keeps overwritten or deleted objects otherwise)."""
        paginator = self.client.get_paginator("list_object_versions")
        batch = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(backup_id) + "/"):
            for entry in (page.get("Versions") or []) + (page.get("DeleteMarkers") or []):
                batch.append({"Key": entry["Key"], "VersionId": entry["VersionId"]})
        for start in range(0, len(batch), 1000):
            answer = self.client.delete_objects(Bucket=self.bucket,
                                                Delete={"Objects": batch[start:start + 1000], "Quiet": True})
            errors = answer.get("Errors") or []
            if errors:
                first = errors[0]
                raise BackupError(f"S3 did not delete {len(errors)} object(s) of backup {backup_id}, such as "
                                  f"{first.get('Key')}: {first.get('Code')} {first.get('Message')} (Object Lock, or "
                                  "a bucket policy: the set stays listed until they go)")


# -- the manifest ----------------------------------------------------------------------------------------------


def read_manifest(store, backup_id):
    """The manifest of ``backup_id``; BackupError naming the ids that exist when there is none."""
    data = store.get(backup_id, MANIFEST)
    if data is None:
        existing = store.ids()
        listed = ", ".join(existing[-20:]) if existing else "none"
        raise BackupError(f"There is no backup {backup_id} at {store.location(backup_id)}. Backups there: {listed}")
    try:
        manifest = json.loads(data)
    except ValueError as e:
        raise BackupError(f"{store.location(backup_id)}{MANIFEST} is not JSON ({e}): the set cannot be trusted") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
        raise BackupError(f"{store.location(backup_id)}{MANIFEST} is not a manifest of format {FORMAT} of this "
                          "collection")
    return manifest


def verify(store, backup_id, manifest):
    """{name: bytes} of every file of the set, after checking each against the manifest; BackupError naming each
    file that is missing or whose size or SHA-256 differs (nothing may be restored from such a set)."""
    contents, problems = {}, []
    for name, expected in sorted(manifest["files"].items()):
        data = store.get(backup_id, name)
        if data is None:
            problems.append(f"{name} is missing")
        elif len(data) != expected.get("size") or sha256(data) != expected.get("sha256"):
            problems.append(f"{name} does not match its checksum (size {len(data)}, manifest {expected.get('size')})")
        else:
            contents[name] = data
    if problems:
        raise BackupError(f"Backup {backup_id} at {store.location(backup_id)} failed verification, nothing was "
                          f"changed: {'; '.join(problems)}. Restore another backup, or restore the files from "
                          "the bucket's earlier versions")
    return contents


# -- what is kept of a Kubernetes object ------------------------------------------------------------------------


def group_of(api_version):
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def resource_file(group, resource, namespace=None):
    """``kubernetes/cluster/<resource>.<group>.json`` or ``kubernetes/namespaces/<ns>/<resource>.<group>.json``."""
    name = f"{resource}.{group or 'core'}.json"
    return f"kubernetes/namespaces/{namespace}/{name}" if namespace else f"kubernetes/cluster/{name}"


SYSTEM_NAME_PREFIXES = ("system:", "eks:", "system-")
SYSTEM_LABELS = {"kubernetes.io/bootstrapping": None, "eks.amazonaws.com/component": None,
                 "app.kubernetes.io/managed-by": "EKS"}


def skip_reason(group, resource, obj, excluded_namespaces=SYSTEM_NAMESPACES):
    """Why ``obj`` is not kept (made again by a controller, the API server, EKS or an add-on in a namespace that is
    not backed up), or None."""
    meta = obj.get("metadata") or {}
    namespaced = "namespace" in meta
    if not namespaced:
        name = meta.get("name", "")
        labels = meta.get("labels") or {}
        if name.startswith(SYSTEM_NAME_PREFIXES) and resource in (
                "clusterroles", "clusterrolebindings", "priorityclasses", "flowschemas"):
            return "made by the API server or EKS"
        for label, value in SYSTEM_LABELS.items():
            if label in labels and (value is None or labels[label] == value):
                return f"made by the API server or EKS (label {label})"
        release_namespace = (meta.get("annotations") or {}).get("meta.helm.sh/release-namespace")
        if release_namespace in excluded_namespaces:
            return f"part of a Helm release in {release_namespace}, which is not backed up"
        for webhook in obj.get("webhooks") or []:
            service = (webhook.get("clientConfig") or {}).get("service") or {}
            if service.get("namespace") in excluded_namespaces:
                return f"served from {service['namespace']}, which is not backed up"
    if resource in ("persistentvolumeclaims", "persistentvolumes") and group == "":
        return None  # claims of a StatefulSet with a retention policy are owned by it, but hold the data
    for owner in meta.get("ownerReferences") or []:
        if owner.get("controller"):
            return f"made again by its {owner.get('kind')}"
    if group == "" and resource == "configmaps" and meta.get("name") == "kube-root-ca.crt":
        return "published in every namespace by the API server"
    if group == "" and resource == "secrets" and obj.get("type") == "kubernetes.io/service-account-token":
        return "a service account token, minted again by the token controller"
    return None


def clean(obj):
    """``obj`` without what the API server, controllers and admission set, so that it can be created again."""
    obj = copy.deepcopy(obj)
    kind = obj.get("kind")
    group = group_of(obj.get("apiVersion", ""))
    meta = obj.get("metadata") or {}
    kept = {key: meta[key] for key in KEPT_METADATA if meta.get(key) not in (None, {}, "")}
    annotations = {k: v for k, v in (kept.get("annotations") or {}).items() if k not in SERVER_ANNOTATIONS}
    kept.pop("annotations", None)
    if annotations:
        kept["annotations"] = annotations
    obj["metadata"] = kept
    obj.pop("status", None)
    spec = obj.get("spec")
    if group == "" and kind == "Service" and isinstance(spec, dict):
        if spec.get("clusterIP") != "None":
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        spec.pop("healthCheckNodePort", None)
        for port in spec.get("ports") or []:
            port.pop("nodePort", None)
    elif group == "" and kind == "PersistentVolume" and isinstance(spec, dict) and spec.get("claimRef"):
        # the binding stays (another claim must not take a restored volume); the claim's uid is the old cluster's
        ref = spec["claimRef"]
        spec["claimRef"] = {key: ref[key] for key in ("apiVersion", "kind", "namespace", "name") if key in ref}
    elif group == "" and kind == "ServiceAccount":
        obj.pop("secrets", None)
    elif group == "" and kind == "Pod" and isinstance(spec, dict):
        _clean_pod_spec(spec)
    elif group == "batch" and kind == "Job" and isinstance(spec, dict):
        if not spec.get("manualSelector"):
            spec.pop("selector", None)
            labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            for label in JOB_LABELS:
                labels.pop(label, None)
        for label in JOB_LABELS:
            (obj["metadata"].get("labels") or {}).pop(label, None)
    return obj


def _clean_pod_spec(spec):
    spec.pop("nodeName", None)
    injected = {v.get("name") for v in spec.get("volumes") or [] if str(v.get("name", "")).startswith("kube-api-access-")}
    if injected:
        spec["volumes"] = [v for v in spec["volumes"] if v.get("name") not in injected]
        for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            mounts = [m for m in container.get("volumeMounts") or [] if m.get("name") not in injected]
            if mounts:
                container["volumeMounts"] = mounts
            else:
                container.pop("volumeMounts", None)


def restore_tier(obj):
    """Index of the tier of RESTORE_TIERS that ``obj`` is created in."""
    key = (group_of(obj.get("apiVersion", "")), obj.get("kind"))
    rest = None
    for index, (_name, members) in enumerate(RESTORE_TIERS):
        if members is None:
            rest = index
        elif key in members:
            return index
    return rest


def ebs_volume_id(pv):
    """The EBS volume id behind a PersistentVolume (CSI ``volumeHandle`` or in-tree ``awsElasticBlockStore``)."""
    spec = pv.get("spec") or {}
    csi = spec.get("csi") or {}
    if csi.get("driver") == "ebs.csi.aws.com" and csi.get("volumeHandle"):
        return csi["volumeHandle"]
    in_tree = (spec.get("awsElasticBlockStore") or {}).get("volumeID")
    if in_tree:
        return in_tree.rsplit("/", 1)[-1]
    return None


def with_volume(pv, volume_id, zone=None, original_zone=None):
    """The cleaned PersistentVolume ``pv`` pointing at EBS volume ``volume_id`` (in ``zone``)."""
    pv = copy.deepcopy(pv)
    spec = pv.setdefault("spec", {})
    if (spec.get("csi") or {}).get("driver") == "ebs.csi.aws.com":
        spec["csi"]["volumeHandle"] = volume_id
    elif spec.get("awsElasticBlockStore"):
        spec["awsElasticBlockStore"]["volumeID"] = f"aws://{zone}/{volume_id}" if zone else volume_id
    if zone and original_zone and zone != original_zone:
        for term in ((spec.get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms") or []:
            for expression in term.get("matchExpressions") or []:
                expression["values"] = [zone if value == original_zone else value
                                        for value in expression.get("values") or []]
    return pv


# -- discovery ---------------------------------------------------------------------------------------------------


def discover(api):
    """Every resource type the cluster serves that can be listed and created (the preferred version of each group,
    no subresources): [{group, version, resource, kind, namespaced}], and {"<resource>.<group>": reason} of the
    types left out on purpose."""
    found, left_out = [], {}
    versions = [("", "v1", "/api/v1")]
    for group in api.get("/apis").get("groups") or []:
        preferred = (group.get("preferredVersion") or {}).get("groupVersion")
        if preferred:
            versions.append((group["name"], preferred.rpartition("/")[2], f"/apis/{preferred}"))
    for group, version, path in versions:
        if group in SKIPPED_GROUPS:
            left_out[f"*.{group}"] = SKIPPED_GROUPS[group]
            continue
        try:
            listing = api.get(path)
        except Exception as e:  # pylint: disable=broad-exception-caught
            if getattr(e, "status", None) in (404, 503):  # an aggregated API whose server is down
                left_out[f"*.{group or 'core'}"] = f"not available ({e})"
                continue
            raise
        for resource in listing.get("resources") or []:
            name = resource.get("name", "")
            verbs = set(resource.get("verbs") or [])
            if "/" in name or not {"list", "get", "create"} <= verbs:
                continue
            if (group, name) in SKIPPED_RESOURCES:
                left_out[f"{name}.{group or 'core'}"] = SKIPPED_RESOURCES[(group, name)]
                continue
            found.append({"group": group, "version": version, "resource": name, "kind": resource.get("kind"),
                          "namespaced": bool(resource.get("namespaced"))})
    return found, left_out


def collection_path(resource_type, namespace=None):
    prefix = f"/apis/{resource_type['group']}/{resource_type['version']}" if resource_type["group"] else "/api/v1"
    if namespace and resource_type["namespaced"]:
        return f"{prefix}/namespaces/{namespace}/{resource_type['resource']}"
    return f"{prefix}/{resource_type['resource']}"


def object_path(resource_type, name, namespace=None):
    return f"{collection_path(resource_type, namespace)}/{name}"


# -- Secrets: envelope encryption with the cluster's KMS key -------------------------------------------------------


def encryption_context(cluster_name, backup_id):
    return {"llmhub.io/cluster": cluster_name, "llmhub.io/backup-id": backup_id}


def encrypt(kms, key_id, plaintext, context):
    """An envelope: a data key from KMS (``GenerateDataKey``, AES-256) encrypts ``plaintext`` with AES-GCM; only
    the KMS-encrypted data key is kept. Needs the ``cryptography`` library (an ansible-core requirement)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # pylint: disable=import-outside-toplevel

    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=context)
    nonce = os.urandom(12)
    ciphertext = AESGCM(data_key["Plaintext"]).encrypt(nonce, plaintext, json.dumps(context, sort_keys=True).encode())
    return {"format": FORMAT, "algorithm": "AES-256-GCM", "kms_key_id": data_key["KeyId"],
            "encryption_context": context, "encrypted_data_key": base64.b64encode(data_key["CiphertextBlob"]).decode(),
            "nonce": base64.b64encode(nonce).decode(), "ciphertext": base64.b64encode(ciphertext).decode()}


def decrypt(kms, envelope):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # pylint: disable=import-outside-toplevel

    context = envelope["encryption_context"]
    data_key = kms.decrypt(CiphertextBlob=base64.b64decode(envelope["encrypted_data_key"]),
                           EncryptionContext=context, KeyId=envelope["kms_key_id"])["Plaintext"]
    return AESGCM(data_key).decrypt(base64.b64decode(envelope["nonce"]), base64.b64decode(envelope["ciphertext"]),
                                    json.dumps(context, sort_keys=True).encode())


# -- what the inventory set ---------------------------------------------------------------------------------------

# Variables that bind a run to this machine or this endpoint, not to the platform: kept in the set for the record,
# never applied by a restore (the inventory that restores supplies its own).
ENVIRONMENT_VARIABLES = re.compile(
    r"^(ansible_.*|llmhub_aws_endpoint_url|llmhub_require_endpoint_url|kubeconfig_path|kubeconfig_aws_cli_path|"
    r".*_helm_binary|"
    r".*_chart_repo|backup_.*|restore_.*)$")


def environment_variable(name):
    return bool(ENVIRONMENT_VARIABLES.match(name))
