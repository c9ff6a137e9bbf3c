"""EKS add-ons, which moto does not implement.

Add-ons live in :class:`~emulator.eks_common.ClusterExtras` (``addons``, a
:class:`~emulator.lifecycle.LingeringDict`), so they vanish with their
cluster. Status is a timeline: ``CREATING`` -> ``ACTIVE``
(``eks_addon_create``), ``UPDATING`` -> ``ACTIVE`` (``eks_addon_update``),
``DELETING`` -> gone (``eks_addon_delete``). Add-ons that run a Deployment
(``coredns``, ``aws-ebs-csi-driver``, ``metrics-server``,
``amazon-cloudwatch-observability``) report ``DEGRADED`` with an
``InsufficientNumberOfReplicas`` health issue while the cluster has no
active node group with nodes and, when the cluster has a Kubernetes API
(``k8s/eks_bridge.py``), until that Deployment's pods are Ready; that is
computed when the add-on is read.

:data:`CATALOGUE` is the emulated DescribeAddonVersions answer: a few
realistic versions per add-on with their Kubernetes compatibilities and the
default version per Kubernetes version, owner (``aws``, or ``community`` for
``metrics-server``, an EKS community add-on), publisher and default namespace
(``amazon-cloudwatch`` for ``amazon-cloudwatch-observability``).
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import yaml

from .eks_common import (
    SUPPORTED_VERSIONS, EksUpdate, extras, get_cluster, in_use, invalid_parameter, not_found, paginate,
    record_update, require_active,
)
from .lifecycle import GONE, TRACKER, Timeline
from .protocols import Call

Handler = Callable[[Call, dict[str, Any]], dict[str, Any]]

RESOLVE_CONFLICTS = ("OVERWRITE", "NONE", "PRESERVE")
_ROLE_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:iam::\d{12}:role/.+$")
_VERSION = re.compile(r"^v(\d+)\.(\d+)\.(\d+)-eksbuild\.(\d+)$")
# Set by ``emulator.k8s.eks_bridge`` (while the clusters have a Kubernetes API): ``WORKLOAD_HEALTH(cluster,
# addon)`` says whether the add-on's Deployment has its pods Ready (None: no API runs for that cluster, so only
# "does it have nodes" counts); ``ON_DELETE(cluster, addon, preserve)`` is told of DeleteAddon.
WORKLOAD_HEALTH: Callable[[Any, Any], bool | None] | None = None
ON_DELETE: Callable[[Any, Any, bool], None] | None = None
DEGRADED_ISSUE = {
    "code": "InsufficientNumberOfReplicas",
    "message": "The add-on is unhealthy because it doesn't have the desired number of replicas.",
    "resourceIds": [],
}


def _range(first: str, last: str) -> tuple[str, ...]:
    """Supported Kubernetes versions from ``first`` to ``last`` (inclusive)."""
    versions = [v for v in SUPPORTED_VERSIONS if _minor(first) <= _minor(v) <= _minor(last)]
    return tuple(versions)


def _minor(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@dataclass(frozen=True)
class AddonVersion:
    """One version of an add-on: the cluster versions it supports and is the default for."""

    version: str
    cluster_versions: tuple[str, ...]
    default_for: tuple[str, ...] = ()

    def sort_key(self) -> tuple[int, ...]:
        match = _VERSION.match(self.version)
        return tuple(int(part) for part in match.groups()) if match else (0,)


@dataclass(frozen=True)
class AddonSpec:
    """An add-on of the catalogue."""

    name: str
    type: str
    versions: tuple[AddonVersion, ...]
    requires_iam_permissions: bool = False
    needs_nodes: bool = False  # runs a Deployment: DEGRADED without nodes
    owner: str = "aws"  # "community" for EKS community add-ons
    publisher: str = "eks"
    namespace: str = "kube-system"  # AddonInfo.defaultNamespace

    def find(self, version: str) -> AddonVersion | None:
        """The catalogue entry of ``version``, if any."""
        return next((v for v in self.versions if v.version == version), None)

    def default_version(self, cluster_version: str) -> str | None:
        """The default version for a cluster on ``cluster_version`` (else the newest compatible one)."""
        compatible = [v for v in self.versions if cluster_version in v.cluster_versions]
        for version in compatible:
            if cluster_version in version.default_for:
                return version.version
        return max(compatible, key=AddonVersion.sort_key).version if compatible else None

    def info(self, cluster_version: str | None = None) -> dict[str, Any] | None:
        """The ``AddonInfo`` shape (versions compatible with ``cluster_version`` only, if given)."""
        versions = [v for v in self.versions if cluster_version is None or cluster_version in v.cluster_versions]
        if not versions:
            return None
        return {
            "addonName": self.name,
            "type": self.type,
            "addonVersions": [
                {
                    "addonVersion": version.version,
                    "architecture": ["amd64", "arm64"],
                    "computeTypes": ["ec2"],
                    "compatibilities": [
                        {"clusterVersion": cv, "platformVersions": ["*"], "defaultVersion": cv in version.default_for}
                        for cv in sorted(version.cluster_versions, key=_minor, reverse=True)
                    ],
                    "requiresConfiguration": False,
                    "requiresIamPermissions": self.requires_iam_permissions,
                }
                for version in sorted(versions, key=AddonVersion.sort_key, reverse=True)
            ],
            "publisher": self.publisher,
            "owner": self.owner,
            "defaultNamespace": self.namespace,
        }


def _kube_proxy_versions() -> tuple[AddonVersion, ...]:
    builds = {
        "1.32": ("v1.32.6-eksbuild.8", "v1.32.9-eksbuild.2"),
        "1.33": ("v1.33.3-eksbuild.6", "v1.33.5-eksbuild.2"),
        "1.34": ("v1.34.0-eksbuild.4", "v1.34.2-eksbuild.1"),
        "1.35": ("v1.35.0-eksbuild.2",),
    }
    versions = []
    for cluster_version, names in builds.items():
        for index, name in enumerate(names):
            default = (cluster_version,) if index == len(names) - 1 else ()
            versions.append(AddonVersion(name, _range(cluster_version, cluster_version), default))
    return tuple(versions)


CATALOGUE: dict[str, AddonSpec] = {
    spec.name: spec
    for spec in (
        AddonSpec("vpc-cni", "networking", (
            AddonVersion("v1.19.6-eksbuild.7", _range("1.32", "1.33")),
            AddonVersion("v1.20.1-eksbuild.3", _range("1.32", "1.34"), _range("1.32", "1.32")),
            AddonVersion("v1.20.4-eksbuild.2", _range("1.32", "1.35"), _range("1.33", "1.34")),
            AddonVersion("v1.21.1-eksbuild.1", _range("1.32", "1.35"), _range("1.35", "1.35")),
        ), requires_iam_permissions=True),
        AddonSpec("coredns", "networking", (
            AddonVersion("v1.11.4-eksbuild.22", _range("1.32", "1.32"), _range("1.32", "1.32")),
            AddonVersion("v1.12.1-eksbuild.2", _range("1.32", "1.34"), _range("1.33", "1.33")),
            AddonVersion("v1.12.4-eksbuild.1", _range("1.32", "1.34"), _range("1.34", "1.34")),
            AddonVersion("v1.13.1-eksbuild.1", _range("1.34", "1.35"), _range("1.35", "1.35")),
        ), needs_nodes=True),
        AddonSpec("kube-proxy", "networking", _kube_proxy_versions()),
        AddonSpec("aws-ebs-csi-driver", "storage", (
            AddonVersion("v1.46.0-eksbuild.1", _range("1.32", "1.33")),
            AddonVersion("v1.50.1-eksbuild.1", _range("1.32", "1.35"), _range("1.32", "1.34")),
            AddonVersion("v1.53.0-eksbuild.1", _range("1.32", "1.35"), _range("1.35", "1.35")),
        ), requires_iam_permissions=True, needs_nodes=True),
        AddonSpec("eks-pod-identity-agent", "security", (
            AddonVersion("v1.3.8-eksbuild.2", _range("1.32", "1.34")),
            AddonVersion("v1.3.10-eksbuild.1", _range("1.32", "1.35"), _range("1.32", "1.35")),
        )),
        # an EKS community add-on: packaged and installed by EKS, supported by its upstream project
        AddonSpec("metrics-server", "observability", (
            AddonVersion("v0.7.2-eksbuild.3", _range("1.32", "1.34")),
            AddonVersion("v0.7.2-eksbuild.4", _range("1.32", "1.35"), _range("1.32", "1.33")),
            AddonVersion("v0.8.0-eksbuild.1", _range("1.32", "1.35"), _range("1.34", "1.35")),
        ), needs_nodes=True, owner="community"),
        # CloudWatch Container Insights (agent, Fluent Bit, the agent operator) in its own namespace
        AddonSpec("amazon-cloudwatch-observability", "observability", (
            AddonVersion("v4.4.0-eksbuild.1", _range("1.32", "1.34")),
            AddonVersion("v4.5.0-eksbuild.1", _range("1.32", "1.34")),
            AddonVersion("v4.6.0-eksbuild.1", _range("1.32", "1.35")),
            AddonVersion("v4.7.0-eksbuild.1", _range("1.32", "1.35"), _range("1.32", "1.35")),
        ), requires_iam_permissions=True, needs_nodes=True, namespace="amazon-cloudwatch"),
    )
}


class Addon:
    """One add-on installed on a cluster."""

    def __init__(self, cluster: Any, spec: AddonSpec, version: str, role_arn: str | None,
                 configuration_values: str | None, resolve_conflicts: str | None, tags: dict[str, str],
                 pod_identity_associations: list[str]) -> None:
        self.spec = spec
        self.name = spec.name
        self.cluster_name: str = cluster.name
        self.version = version
        self.service_account_role_arn = role_arn
        self.configuration_values = configuration_values
        self.resolve_conflicts = resolve_conflicts
        self.tags = dict(tags)
        self.pod_identity_associations = pod_identity_associations
        prefix = cluster.arn.rsplit(":cluster/", 1)[0]
        self.arn = f"{prefix}:addon/{cluster.name}/{spec.name}/{uuid.uuid4()}"
        self.created_at = time.time()
        self.modified_at = self.created_at
        ident = f"{cluster.name}/{spec.name}"
        self.timeline: Timeline = TRACKER.track("eks_addon", lambda: ident)
        self.timeline.begin("CREATING", "ACTIVE", TRACKER.seconds("eks_addon_create"))

    def status(self, cluster: Any) -> tuple[str, list[dict[str, Any]]]:
        """Current status and health issues (``DEGRADED`` without nodes for Deployment add-ons)."""
        status = self.timeline.state() or "CREATING"
        if status == "ACTIVE" and self.spec.needs_nodes and not self.workloads_ready(cluster):
            return "DEGRADED", [dict(DEGRADED_ISSUE)]
        return status, []

    def workloads_ready(self, cluster: Any) -> bool:
        """No nodes: not ready. With a Kubernetes API behind the cluster: its Deployment's pods are Ready."""
        if not has_nodes(cluster):
            return False
        hook = WORKLOAD_HEALTH
        ready = hook(cluster, self) if hook is not None else None
        return True if ready is None else ready

    def to_dict(self, cluster: Any) -> dict[str, Any]:
        """The ``Addon`` shape."""
        status, issues = self.status(cluster)
        return {
            "addonName": self.name,
            "clusterName": self.cluster_name,
            "status": status,
            "addonVersion": self.version,
            "health": {"issues": issues},
            "addonArn": self.arn,
            "createdAt": self.created_at,
            "modifiedAt": self.modified_at,
            "serviceAccountRoleArn": self.service_account_role_arn,
            "tags": dict(self.tags),
            "configurationValues": self.configuration_values,
            "podIdentityAssociations": list(self.pod_identity_associations),
        }


def has_nodes(cluster: Any) -> bool:
    """True if one of the cluster's node groups is up and has nodes."""
    for nodegroup in cluster.nodegroups.values():
        desired = (nodegroup.scaling_config or {}).get("desiredSize", 0)
        if nodegroup.status in ("ACTIVE", "UPDATING", "DEGRADED") and int(desired or 0) > 0:
            return True
    return False


def _get_addon(cluster: Any, name: str) -> Addon:
    addon = extras(cluster).addons.get(name)
    if addon is None:
        raise not_found(f"No addon: {name} found in cluster: {cluster.name}",
                        clusterName=cluster.name, addonName=name)
    return addon


def _check_version(spec: AddonSpec, version: str, cluster: Any) -> str:
    entry = spec.find(version)
    if entry is None or cluster.version not in entry.cluster_versions:
        raise invalid_parameter(f"Addon version specified is not supported: {spec.name} {version} is not "
                                f"compatible with Kubernetes {cluster.version}",
                                clusterName=cluster.name, addonName=spec.name)
    return version


def _check_role(role_arn: Any) -> str | None:
    if role_arn in (None, ""):
        return None
    if not isinstance(role_arn, str) or not _ROLE_ARN.match(role_arn):
        raise invalid_parameter(f"The serviceAccountRoleArn {role_arn} is not a valid IAM role ARN.")
    return role_arn


def _check_configuration(values: Any) -> str | None:
    """Keep ``configurationValues`` if it is a JSON or YAML mapping (as a string)."""
    if values in (None, ""):
        return None
    if not isinstance(values, str):
        raise invalid_parameter("configurationValues must be a string.")
    try:
        parsed = json.loads(values)
    except ValueError:
        try:
            parsed = yaml.safe_load(values)
        except yaml.YAMLError as exc:
            raise invalid_parameter(f"ConfigurationValue provided in request is not supported: "
                                    f"it is neither valid JSON nor YAML ({exc.__class__.__name__}).") from None
    if not isinstance(parsed, dict):
        raise invalid_parameter("ConfigurationValue provided in request is not supported: "
                                "it must be a JSON or YAML object.")
    return values


def _check_resolve_conflicts(value: Any) -> str | None:
    if value is not None and value not in RESOLVE_CONFLICTS:
        raise invalid_parameter(f"resolveConflicts must be one of [{', '.join(RESOLVE_CONFLICTS)}].")
    return value


def _pod_identity_arns(cluster: Any, associations: Any) -> list[str]:
    if not associations:
        return []
    prefix = cluster.arn.rsplit(":cluster/", 1)[0]
    arns = []
    for association in associations:
        if not isinstance(association, dict) or not association.get("serviceAccount"):
            raise invalid_parameter("Each pod identity association needs a serviceAccount and a roleArn.")
        _check_role(association.get("roleArn") or "-")
        arns.append(f"{prefix}:podidentityassociation/{cluster.name}/a-{secrets.token_hex(9)[:17]}")
    return arns


# -- handlers -----------------------------------------------------------------

def create_addon(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """CreateAddon."""
    cluster = get_cluster(call, params["clusterName"])
    name = params["addonName"]
    addons = extras(cluster).addons
    if name in addons:
        raise in_use("Addon already exists.", clusterName=cluster.name, addonName=name)
    require_active(cluster)
    spec = CATALOGUE.get(name)
    if spec is None or spec.default_version(cluster.version) is None:
        raise invalid_parameter(f"Addon {name} specified is not supported in {cluster.version} kubernetes version",
                                clusterName=cluster.name, addonName=name)
    version = _check_version(spec, params.get("addonVersion") or spec.default_version(cluster.version) or "",
                             cluster)
    addon = Addon(
        cluster, spec, version,
        role_arn=_check_role(params.get("serviceAccountRoleArn")),
        configuration_values=_check_configuration(params.get("configurationValues")),
        resolve_conflicts=_check_resolve_conflicts(params.get("resolveConflicts")),
        tags=params.get("tags") or {},
        pod_identity_associations=_pod_identity_arns(cluster, params.get("podIdentityAssociations")),
    )
    updates = extras(cluster).updates
    for update_id in [key for key, update in updates.items() if update.addon == name]:
        del updates[update_id]
    addons[name] = addon
    return {"addon": addon.to_dict(cluster)}


def describe_addon(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeAddon."""
    cluster = get_cluster(call, params["clusterName"])
    return {"addon": _get_addon(cluster, params["addonName"]).to_dict(cluster)}


def list_addons(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """ListAddons."""
    cluster = get_cluster(call, params["clusterName"])
    page, token = paginate(sorted(extras(cluster).addons.keys()), params)
    return {"addons": page, "nextToken": token}


def update_addon(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateAddon: version (no downgrade), IAM role, configuration values."""
    cluster = get_cluster(call, params["clusterName"])
    addon = _get_addon(cluster, params["addonName"])
    update_params: list[dict[str, str]] = []
    version = params.get("addonVersion")
    if version is not None:
        _check_version(addon.spec, version, cluster)
        new_entry, old_entry = addon.spec.find(version), addon.spec.find(addon.version)
        if new_entry and old_entry and new_entry.sort_key() < old_entry.sort_key():
            raise invalid_parameter(f"Updating addon {addon.name} from {addon.version} to an older version "
                                    f"({version}) is not supported.", clusterName=cluster.name, addonName=addon.name)
        update_params.append({"type": "AddonVersion", "value": version})
    role_given = "serviceAccountRoleArn" in params
    role = _check_role(params.get("serviceAccountRoleArn"))
    if role_given:
        update_params.append({"type": "ServiceAccountRoleArn", "value": role or ""})
    resolve = _check_resolve_conflicts(params.get("resolveConflicts"))
    if resolve is not None:
        update_params.append({"type": "ResolveConflicts", "value": resolve})
    config_given = "configurationValues" in params
    config = _check_configuration(params.get("configurationValues"))
    if config_given:
        update_params.append({"type": "ConfigurationValues", "value": config or ""})
    associations = None
    if "podIdentityAssociations" in params:
        associations = _pod_identity_arns(cluster, params["podIdentityAssociations"])
        update_params.append({"type": "PodIdentityAssociations", "value": json.dumps(associations)})
    status, _ = addon.status(cluster)
    if status not in ("ACTIVE", "DEGRADED", "UPDATE_FAILED", "CREATE_FAILED"):
        raise in_use(f"Addon {addon.name} can't be updated while in {status} status.",
                     clusterName=cluster.name, addonName=addon.name)
    require_active(cluster)
    if version is not None:
        addon.version = version
    if role_given:
        addon.service_account_role_arn = role
    if config_given:
        addon.configuration_values = config
    if resolve is not None:
        addon.resolve_conflicts = resolve
    if associations is not None:
        addon.pod_identity_associations = associations
    addon.modified_at = time.time()
    addon.timeline.begin("UPDATING", "ACTIVE", TRACKER.seconds("eks_addon_update"))
    return record_update(cluster, EksUpdate("AddonUpdate", update_params, "eks_addon_update", addon=addon.name))


def delete_addon(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteAddon (with ``preserve`` the add-on's Kubernetes objects stay, see ``k8s/eks_bridge.py``)."""
    cluster = get_cluster(call, params["clusterName"])
    addon = _get_addon(cluster, params["addonName"])
    if not addon.timeline.heading_to(GONE):
        addon.timeline.begin("DELETING", GONE, TRACKER.seconds("eks_addon_delete"))
        addon.modified_at = time.time()
        if ON_DELETE is not None:
            ON_DELETE(cluster, addon, bool(params.get("preserve")))
    return {"addon": addon.to_dict(cluster)}


def describe_addon_versions(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeAddonVersions: the catalogue, filtered."""
    cluster_version = params.get("kubernetesVersion")
    name = params.get("addonName")
    types, publishers, owners = params.get("types"), params.get("publishers"), params.get("owners")
    infos = []
    for spec in sorted(CATALOGUE.values(), key=lambda spec: spec.name):
        if name and spec.name != name:
            continue
        if types and spec.type not in types:
            continue
        if publishers and spec.publisher not in publishers:
            continue
        if owners and spec.owner not in owners:
            continue
        info = spec.info(cluster_version)
        if info is not None:
            infos.append(info)
    page, token = paginate(infos, params)
    return {"addons": page, "nextToken": token}


HANDLERS: dict[str, Handler] = {
    "CreateAddon": create_addon,
    "DescribeAddon": describe_addon,
    "ListAddons": list_addons,
    "UpdateAddon": update_addon,
    "DeleteAddon": delete_addon,
    "DescribeAddonVersions": describe_addon_versions,
}
