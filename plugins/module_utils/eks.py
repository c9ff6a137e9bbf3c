# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""EKS helpers shared by the cluster, node group, add-on and backup modules.

Three kinds of pieces live here:

* pure rules of EKS, testable without AWS: Kubernetes version format and the
  one-minor-at-a-time upgrade rule, the order of authentication modes, the
  control plane log types and how EKS renders them, a normalised, comparable
  view of a cluster;
* lookups turning what a user writes (names, Name tags, aliases) into what the
  EKS API wants (ids and ARNs), each in one describe call, raising
  :class:`UnresolvedReferences` that names the option and every missing value;
* waiters built on :func:`common.wait_for_set`: cluster status, cluster gone,
  one EKS update finished.
"""

from __future__ import annotations

import re
import time

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import wait_for_set
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import name_of
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.eks_versions import NEWEST_VERSION  # noqa: F401 pylint: disable=unused-import
from ansible_collections.llmhub.eks.plugins.module_utils.eks_versions import OLDEST_VERSION  # noqa: F401 pylint: disable=unused-import
from ansible_collections.llmhub.eks.plugins.module_utils.eks_versions import parse_version  # noqa: F401 pylint: disable=unused-import
from ansible_collections.llmhub.eks.plugins.module_utils.eks_versions import version_error  # noqa: F401 pylint: disable=unused-import

# Control plane log types, in the order EKS lists them.
LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
# Authentication modes in the only order EKS lets a cluster move through them.
AUTHENTICATION_MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")
# Statuses a cluster passes through on its own; anything else is settled.
TRANSIENT_CLUSTER_STATUSES = ("CREATING", "UPDATING", "DELETING", "PENDING")
# Terminal statuses of an EKS update other than Successful.
FAILED_UPDATE_STATUSES = ("Failed", "Cancelled")

CLUSTER_NAME_PATTERN = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")


class UnresolvedReferences(AnsibleAWSError):
    """Some references of an option (names, ids, aliases) match nothing, or more than one thing."""

    def __init__(self, option, missing, what, hint=""):
        self.option = option
        self.missing = list(missing)
        message = f"{option}: no {what} found for {self.missing}"
        if hint:
            message += f"; {hint}"
        super().__init__(message=message)


def eks_client(module):
    return retrying_client(module, "eks")


# -- Kubernetes versions ---------------------------------------------------------------

def next_minor(version):
    major, minor = parse_version(version)
    return f"{major}.{minor + 1}"


def upgrade_error(current, wanted, option="version"):
    """Why an in-place move from ``current`` to ``wanted`` is impossible, or None (same version or one minor up)."""
    if parse_version(current) is None or parse_version(wanted) is None or current == wanted:
        return None
    current_v, wanted_v = parse_version(current), parse_version(wanted)
    if wanted_v < current_v:
        return (f"{option}: the cluster runs Kubernetes {current}; EKS cannot downgrade it to {wanted}."
                f" Set {option} to {current} (or newer by one minor version).")
    if wanted_v != parse_version(next_minor(current)):
        return (f"{option}: the cluster runs Kubernetes {current}; EKS upgrades one minor version at a time,"
                f" so it cannot go to {wanted} directly. Upgrade to the next minor first: set {option} to"
                f" {next_minor(current)}, apply, and repeat until {wanted}.")
    return None


# -- authentication modes --------------------------------------------------------------

def authentication_mode_steps(current, wanted, option="authentication_mode"):
    """The UpdateClusterConfig steps from ``current`` to ``wanted`` mode: ([modes...], error or None).

    EKS only moves forward, one step at a time: CONFIG_MAP -> API_AND_CONFIG_MAP -> API.
    """
    current = current or AUTHENTICATION_MODES[0]
    if current == wanted:
        return [], None
    if current not in AUTHENTICATION_MODES or wanted not in AUTHENTICATION_MODES:
        return [], f"{option}: unknown authentication mode {wanted if current in AUTHENTICATION_MODES else current}"
    start, end = AUTHENTICATION_MODES.index(current), AUTHENTICATION_MODES.index(wanted)
    if end < start:
        allowed = " or ".join(AUTHENTICATION_MODES[start:])
        return [], (f"{option}: the cluster uses {current}; EKS cannot switch it back to {wanted}"
                    f" (modes only move {' -> '.join(AUTHENTICATION_MODES)}). Set {option} to {allowed}.")
    return list(AUTHENTICATION_MODES[start + 1:end + 1]), None


# -- logging ---------------------------------------------------------------------------

def enabled_log_types(logging):
    """Sorted enabled log types of a cluster's ``logging`` (later groups win, as in EKS)."""
    state = {}
    for setup in (logging or {}).get("clusterLogging") or []:
        for log_type in setup.get("types") or []:
            state[log_type] = bool(setup.get("enabled"))
    return sorted(log_type for log_type, enabled in state.items() if enabled)


def logging_config(enabled):
    """The ``logging`` parameter enabling exactly ``enabled`` and disabling the other types."""
    enabled = set(enabled)
    groups = []
    on = [log_type for log_type in LOG_TYPES if log_type in enabled]
    off = [log_type for log_type in LOG_TYPES if log_type not in enabled]
    if on:
        groups.append({"types": on, "enabled": True})
    if off:
        groups.append({"types": off, "enabled": False})
    return {"clusterLogging": groups}


# -- a comparable view of a cluster ---------------------------------------------------

def encryption_key_arn(cluster):
    """The KMS key encrypting the cluster's secrets, or None."""
    for config in (cluster or {}).get("encryptionConfig") or []:
        if "secrets" in (config.get("resources") or []):
            return (config.get("provider") or {}).get("keyArn")
    return None


def cluster_view(cluster):
    """The settings of a describe_cluster result that a module compares and shows in a diff (sorted lists)."""
    if not cluster:
        return {}
    vpc = cluster.get("resourcesVpcConfig") or {}
    return {
        "version": cluster.get("version"),
        "role_arn": cluster.get("roleArn"),
        "subnet_ids": sorted(vpc.get("subnetIds") or []),
        "security_group_ids": sorted(vpc.get("securityGroupIds") or []),
        "endpoint_private_access": bool(vpc.get("endpointPrivateAccess")),
        "endpoint_public_access": bool(vpc.get("endpointPublicAccess")),
        "public_access_cidrs": sorted(vpc.get("publicAccessCidrs") or []),
        "encryption_key_arn": encryption_key_arn(cluster),
        "logging": enabled_log_types(cluster.get("logging")),
        "authentication_mode": (cluster.get("accessConfig") or {}).get("authenticationMode") or "CONFIG_MAP",
        "service_ipv4_cidr": (cluster.get("kubernetesNetworkConfig") or {}).get("serviceIpv4Cidr"),
        "tags": dict(cluster.get("tags") or {}),
    }


# -- describe and wait -----------------------------------------------------------------

def describe_cluster(client, name):
    """The cluster ``name`` as describe_cluster returns it, or None if there is none."""
    try:
        return client.describe_cluster(aws_retry=True, name=name)["cluster"]
    except is_boto3_error_code("ResourceNotFoundException"):
        return None


def _failed_cluster(cluster):
    if cluster.get("status") == "FAILED":
        issues = "; ".join(f"{i.get('code')}: {i.get('message')}" for i in (cluster.get("health") or {}).get("issues") or [])
        return f"status FAILED{' (' + issues + ')' if issues else ''}"
    return None


def wait_for_cluster_status(client, name, status="ACTIVE", timeout=1800, sleep=time.sleep):
    """Wait until the cluster is in ``status``; fails naming the status if it becomes FAILED or vanishes."""

    def fetch(names):
        cluster = describe_cluster(client, names[0])
        return {names[0]: cluster if cluster is not None else {"status": "gone"}}

    def failure(cluster):
        if cluster.get("status") == "gone":
            return "the cluster no longer exists"
        return _failed_cluster(cluster)

    return wait_for_set(fetch, [name], lambda c: c.get("status") == status, failure, timeout,
                        f"EKS cluster to become {status}", sleep=sleep)[name]


def wait_for_cluster_deleted(client, name, timeout=1800, sleep=time.sleep):
    """Wait until describe_cluster answers ResourceNotFoundException."""

    def fetch(names):
        cluster = describe_cluster(client, names[0])
        return {names[0]: cluster if cluster is not None else {"status": "gone"}}

    wait_for_set(fetch, [name], lambda c: c.get("status") == "gone", _failed_cluster, timeout,
                 "EKS cluster to be deleted", sleep=sleep)


def wait_for_update(client, cluster_name, update_id, timeout=1800, nodegroup_name=None, addon_name=None,
                    sleep=time.sleep):
    """Wait until an EKS update (of the cluster, or of one node group or add-on) is Successful; returns it."""
    params = dict(name=cluster_name, updateId=update_id)
    if nodegroup_name:
        params["nodegroupName"] = nodegroup_name
    if addon_name:
        params["addonName"] = addon_name

    def fetch(ids):
        return {ids[0]: client.describe_update(aws_retry=True, **params)["update"]}

    def failure(update):
        if update.get("status") in FAILED_UPDATE_STATUSES:
            errors = "; ".join(f"{e.get('errorCode')}: {e.get('errorMessage')}" for e in update.get("errors") or [])
            return f"{update.get('type')} {update['status']}{' (' + errors + ')' if errors else ''}"
        return None

    return wait_for_set(fetch, [update_id], lambda u: u.get("status") == "Successful", failure, timeout,
                        f"EKS update of {cluster_name}", sleep=sleep)[update_id]


# -- references ------------------------------------------------------------------------

def _is_id(reference, prefix):
    return str(reference).startswith(prefix)


def resolve_subnets(ec2, references, option="subnets"):
    """Subnets for ids or Name tags, in the order given, all in one VPC.

    One describe_subnets call per kind of reference used (ids, names). A Name
    tag found in several VPCs is taken in the VPC the other references agree on.
    """
    references = list(dict.fromkeys(references))
    ids = [r for r in references if _is_id(r, "subnet-")]
    names = [r for r in references if not _is_id(r, "subnet-")]
    found = []
    if ids:
        found += paginate(ec2, "describe_subnets", "Subnets", Filters=[{"Name": "subnet-id", "Values": ids}])
    if names:
        found += paginate(ec2, "describe_subnets", "Subnets", Filters=[{"Name": "tag:Name", "Values": names}])
    candidates = {}
    for reference in references:
        candidates[reference] = [s for s in found if reference in (s["SubnetId"], name_of(s))]
    missing = [r for r, matches in candidates.items() if not matches]
    if missing:
        raise UnresolvedReferences(option, missing, "subnet with that id or Name tag")
    vpcs = None
    for matches in candidates.values():
        here = {s["VpcId"] for s in matches}
        vpcs = here if vpcs is None else vpcs & here
    if not vpcs:
        spread = {r: sorted({s["VpcId"] for s in m}) for r, m in candidates.items()}
        raise AnsibleAWSError(message=f"{option}: the subnets of a cluster must all be in one VPC; found {spread}")
    if len(vpcs) > 1:
        raise AnsibleAWSError(
            message=f"{option}: the Name tags {references} match subnets in several VPCs {sorted(vpcs)}; give subnet ids"
        )
    vpc_id = vpcs.pop()
    resolved = []
    for reference in references:
        resolved.append(next(s for s in candidates[reference] if s["VpcId"] == vpc_id))
    return list({s["SubnetId"]: s for s in resolved}.values())


def resolve_security_groups(ec2, references, vpc_id, option="security_groups"):
    """Security groups of ``vpc_id`` for ids, group names or Name tags, in the order given (one describe call)."""
    references = list(dict.fromkeys(references or []))
    if not references:
        return []
    groups = paginate(ec2, "describe_security_groups", "SecurityGroups", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    resolved, missing = [], []
    for reference in references:
        matches = [g for g in groups if reference in (g["GroupId"], g.get("GroupName"))]
        matches = matches or [g for g in groups if name_of(g) == reference]
        if len(matches) == 1:
            resolved.append(matches[0])
        else:
            missing.append(reference)
    if missing:
        raise UnresolvedReferences(option, missing, f"single security group of {vpc_id} with that id, group name or Name tag")
    return list({g["GroupId"]: g for g in resolved}.values())


def resolve_role_arn(iam, role, option="role"):
    """An IAM role ARN for a role name or ARN (an ARN is taken as given, without a call)."""
    if str(role).startswith("arn:"):
        return role
    try:
        return iam.get_role(aws_retry=True, RoleName=role)["Role"]["Arn"]
    except is_boto3_error_code("NoSuchEntity"):
        raise UnresolvedReferences(option, [role], "IAM role with that name", "create it first or give its ARN") from None


def resolve_kms_key_arn(kms, key, option="encryption_key", planned=False):
    """The ARN of an enabled KMS key given by key id, key ARN, alias name (alias/...) or alias ARN. ``planned``
    (check mode) also takes a disabled key or one pending deletion: the kms_key step before would revive it (a
    destroyed platform's key is adopted again), but in check mode it only said so."""
    try:
        metadata = kms.describe_key(aws_retry=True, KeyId=key)["KeyMetadata"]
    except is_boto3_error_code("NotFoundException"):
        raise UnresolvedReferences(option, [key], "KMS key with that id, ARN or alias") from None
    if metadata.get("KeyState", "Enabled") != "Enabled" and not (
            planned and metadata.get("KeyState") in ("Disabled", "PendingDeletion")):
        raise AnsibleAWSError(message=f"{option}: the KMS key {metadata['Arn']} is {metadata['KeyState']}; use an enabled key")
    return metadata["Arn"]
