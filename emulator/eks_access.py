"""EKS access entries and access policies, which moto does not implement.

Access entries live in :class:`~emulator.eks_common.ClusterExtras`
(``access_entries``, keyed by principal ARN), so they vanish with their
cluster. Like real EKS:

* every access-entry operation needs a cluster whose authentication mode
  includes ``API`` (``API`` or ``API_AND_CONFIG_MAP``);
* a cluster created with ``bootstrapClusterCreatorAdminPermissions`` (the
  default) gets an entry for its creator, associated with
  ``AmazonEKSClusterAdminPolicy``. It is created lazily, on the first
  access-entry call once the authentication mode allows access entries;
* a managed node group gets an ``EC2_LINUX`` (``EC2_WINDOWS`` for Windows
  AMIs) entry for its node role (see :func:`ensure_node_entry`);
* a principal of the caller's account must exist in moto's IAM; usernames
  and groups can't use Kubernetes' reserved prefixes; only ``STANDARD``
  entries take usernames, groups and access policies.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

from .eks_common import extras, get_cluster, in_use, invalid_parameter, invalid_request, not_found, paginate
from .protocols import Call

POLICY_ARN_PREFIX = "arn:aws:eks::aws:cluster-access-policy/"
ACCESS_POLICIES = (
    "AmazonEKSAdminPolicy",
    "AmazonEKSAdminViewPolicy",
    "AmazonEKSClusterAdminPolicy",
    "AmazonEKSEditPolicy",
    "AmazonEKSViewPolicy",
)
CLUSTER_ADMIN_POLICY = POLICY_ARN_PREFIX + "AmazonEKSClusterAdminPolicy"

ENTRY_TYPES = ("STANDARD", "EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "EC2", "HYBRID_LINUX", "HYPERPOD_LINUX")
NODE_USERNAMES = {
    "EC2_LINUX": "system:node:{{EC2PrivateDNSName}}",
    "EC2_WINDOWS": "system:node:{{EC2PrivateDNSName}}",
    "EC2": "system:node:{{EC2PrivateDNSName}}",
    "FARGATE_LINUX": "system:node:{{SessionName}}",
    "HYBRID_LINUX": "system:node:{{SessionName}}",
    "HYPERPOD_LINUX": "system:node:{{SessionName}}",
}
RESERVED_USERNAME_PREFIXES = ("system:", "eks:", "aws:", "amazon:", "iam:")

_PRINCIPAL = re.compile(r"^arn:(aws[a-zA-Z-]*):(iam|sts)::(\d{12}):(role|user)/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)$")
_ASSUMED_ROLE = re.compile(r"^arn:(aws[a-zA-Z-]*):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/[^/]+$")
_BOOTSTRAP_FLAG = "_emulator_bootstrap_creator"
_CREATOR_ADMIN = "_emulator_creator_admin"


class AssociatedPolicy:
    """An access policy associated with an access entry, with its scope."""

    def __init__(self, policy_arn: str, scope: dict[str, Any]) -> None:
        self.policy_arn = policy_arn
        self.scope = scope
        self.associated_at = time.time()
        self.modified_at = self.associated_at

    def to_dict(self) -> dict[str, Any]:
        """The ``AssociatedAccessPolicy`` shape."""
        return {
            "policyArn": self.policy_arn,
            "accessScope": dict(self.scope),
            "associatedAt": self.associated_at,
            "modifiedAt": self.modified_at,
        }


class AccessEntry:
    """One EKS access entry (``AccessEntry`` shape) and its associated policies."""

    def __init__(self, cluster: Any, principal_arn: str, entry_type: str, username: str | None,
                 groups: list[str], tags: dict[str, str], created_at: float | None = None) -> None:
        match = _PRINCIPAL.match(principal_arn)
        if match is None:  # callers validate first
            raise invalid_parameter(f"The principalArn {principal_arn} is not a valid IAM principal ARN.")
        _, _, account, kind, name = match.groups()
        self.cluster_name: str = cluster.name
        self.principal_arn = principal_arn
        self.type = entry_type
        self.username = username or default_username(principal_arn, entry_type)
        self.kubernetes_groups = list(groups)
        self.tags = dict(tags)
        self.created_at = time.time() if created_at is None else created_at
        self.modified_at = self.created_at
        prefix = cluster.arn.rsplit(":cluster/", 1)[0]
        self.arn = f"{prefix}:access-entry/{cluster.name}/{kind}/{account}/{name}/{uuid.uuid4()}"
        self.policies: dict[str, AssociatedPolicy] = {}

    def to_dict(self) -> dict[str, Any]:
        """The ``AccessEntry`` shape."""
        return {
            "clusterName": self.cluster_name,
            "principalArn": self.principal_arn,
            "kubernetesGroups": list(self.kubernetes_groups),
            "accessEntryArn": self.arn,
            "createdAt": self.created_at,
            "modifiedAt": self.modified_at,
            "tags": dict(self.tags),
            "username": self.username,
            "type": self.type,
        }


def default_username(principal_arn: str, entry_type: str) -> str:
    """The Kubernetes username EKS picks when the caller gives none."""
    if entry_type in NODE_USERNAMES:
        return NODE_USERNAMES[entry_type]
    match = _PRINCIPAL.match(principal_arn)
    if match and match.group(4) == "role":
        partition, _, account, _, name = match.groups()
        return f"arn:{partition}:sts::{account}:assumed-role/{name}/{{{{SessionName}}}}"
    return principal_arn


def caller_principal(account: str, region: str, access_key: str) -> str:
    """The IAM principal EKS records as a cluster's creator.

    moto's STS identity for the access key; an assumed-role session becomes
    its role ARN, as EKS does.
    """
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    partition = get_partition(region)
    arn = f"arn:{partition}:sts::{account}:user/moto"  # moto's identity for unknown access keys
    assumed = sts_backends[account][partition].get_assumed_role_from_access_key(access_key)
    if assumed is not None:
        arn = assumed.arn
    else:
        # Same lookup as moto's GetCallerIdentity, without instantiating an IAM backend
        # (slow: it loads the managed policies) when none exists: then no IAM user does either.
        account_backends = dict.get(iam_backends, account)
        iam = dict.get(account_backends, partition) if account_backends is not None else None
        user = iam.get_user_from_access_key_id(access_key) if iam is not None else None
        if user is not None:
            arn = user.arn
    return canonical_arn(arn)


def canonical_arn(arn: str) -> str:
    """An STS assumed-role ARN as its IAM role's ARN (without a path, as EKS's authenticator does)."""
    match = _ASSUMED_ROLE.match(arn)
    if match:
        return f"arn:{match.group(1)}:iam::{match.group(2)}:role/{match.group(3)}"
    return arn


def principal_exists(account: str, arn: str) -> bool:
    """False if ``arn`` is an IAM role or user of ``account`` that moto's IAM does not know.

    Principals of other accounts (and moto's default ``sts`` identity) can't
    be checked and count as existing.
    """
    from moto.iam.models import iam_backends

    match = _PRINCIPAL.match(arn)
    if match is None:
        return False
    partition, service, principal_account, kind, name = match.groups()
    if service != "iam" or principal_account != account:
        return True
    iam = iam_backends[account][partition]
    try:
        if kind == "role":
            iam.get_role_by_arn(arn)
        else:
            iam.get_user(name)
    except Exception:  # noqa: BLE001 - moto raises its NoSuchEntity errors
        return False
    return True


def register_creator(cluster: Any, principal_arn: str, bootstrap: bool) -> None:
    """Remember a new cluster's creator; its admin entry is created lazily."""
    extras(cluster).creator_arn = principal_arn
    cluster.__dict__[_BOOTSTRAP_FLAG] = bool(bootstrap)
    cluster.__dict__[_CREATOR_ADMIN] = bool(bootstrap)


def creator_admin(cluster: Any) -> str | None:
    """The creator's principal ARN if it was given admin permissions (``bootstrapClusterCreatorAdminPermissions``).

    In ``CONFIG_MAP`` mode EKS maps it to ``kubernetes-admin`` in ``system:masters``
    without showing it anywhere; with access entries it is the creator's entry.
    """
    if not cluster.__dict__.get(_CREATOR_ADMIN):
        return None
    return extras(cluster).creator_arn


def entries_for_authentication(cluster: Any) -> dict[str, AccessEntry]:
    """The access entries the cluster's authenticator consults ({} in ``CONFIG_MAP`` mode).

    Creates the creator's admin entry first if it is still due (it is created lazily).
    """
    if authentication_mode(cluster) == "CONFIG_MAP":
        return {}
    _bootstrap(cluster)
    return dict(extras(cluster).access_entries)


def authentication_mode(cluster: Any) -> str:
    """The cluster's ``accessConfig.authenticationMode`` (``CONFIG_MAP`` if unset)."""
    config = getattr(cluster, "access_config", None) or {}
    return config.get("authenticationMode") or "CONFIG_MAP"


def _bootstrap(cluster: Any) -> None:
    """Create the creator's admin entry once access entries are enabled."""
    if not cluster.__dict__.get(_BOOTSTRAP_FLAG) or authentication_mode(cluster) == "CONFIG_MAP":
        return
    cluster.__dict__[_BOOTSTRAP_FLAG] = False
    creator = extras(cluster).creator_arn
    entries = extras(cluster).access_entries
    if not creator or creator in entries or not _PRINCIPAL.match(creator):
        return
    created = None
    if isinstance(cluster.created_at, datetime):  # moto's naive UTC datetime
        created = cluster.created_at.replace(tzinfo=cluster.created_at.tzinfo or timezone.utc).timestamp()
    entry = AccessEntry(cluster, creator, "STANDARD", None, [], {}, created_at=created)
    policy = AssociatedPolicy(CLUSTER_ADMIN_POLICY, {"type": "cluster", "namespaces": []})
    policy.associated_at = policy.modified_at = entry.created_at
    entry.policies[CLUSTER_ADMIN_POLICY] = policy
    entries[creator] = entry


def ensure_node_entry(cluster: Any, role_arn: str, windows: bool = False) -> None:
    """Give a managed node group's role an EC2 access entry, as EKS does."""
    if authentication_mode(cluster) == "CONFIG_MAP" or not _PRINCIPAL.match(role_arn or ""):
        return
    _bootstrap(cluster)
    entries = extras(cluster).access_entries
    if role_arn not in entries:
        entry_type = "EC2_WINDOWS" if windows else "EC2_LINUX"
        entry = AccessEntry(cluster, role_arn, entry_type, None, ["system:nodes"], {})
        entries[role_arn] = entry


def _cluster(call: Call, params: dict[str, Any], mutating: bool = False) -> Any:
    """The cluster of an access-entry call, checked for access-entry support."""
    cluster = get_cluster(call, params["clusterName"])
    if mutating and cluster.status in ("CREATING", "DELETING", "FAILED"):
        raise invalid_request(
            f"Cluster '{cluster.name}' is not in ACTIVE status (current status: {cluster.status})",
            clusterName=cluster.name,
        )
    if authentication_mode(cluster) == "CONFIG_MAP":
        raise invalid_request(
            "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] "
            "to perform this operation.",
            clusterName=cluster.name,
        )
    _bootstrap(cluster)
    return cluster


def _entry(cluster: Any, principal_arn: str) -> AccessEntry:
    entry = extras(cluster).access_entries.get(principal_arn)
    if entry is None:
        raise not_found(
            f"The specified access entry resource is not found for principal {principal_arn} "
            f"in cluster {cluster.name}.",
            clusterName=cluster.name,
        )
    return entry


def _validate_groups(groups: Any) -> list[str]:
    if groups is None:
        return []
    if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
        raise invalid_parameter("kubernetesGroups must be a list of non-empty strings.")
    for group in groups:
        if group.startswith("system:"):
            raise invalid_parameter(f"The kubernetes group {group} is not valid: groups may not start with "
                                    "'system:'.")
    return list(dict.fromkeys(groups))


def _validate_username(username: Any) -> str | None:
    if username is None:
        return None
    if not isinstance(username, str) or not username:
        raise invalid_parameter("username must be a non-empty string.")
    if username.startswith(RESERVED_USERNAME_PREFIXES):
        raise invalid_parameter(
            f"The username {username} is not valid: it may not start with "
            + ", ".join(repr(p) for p in RESERVED_USERNAME_PREFIXES) + "."
        )
    return username


def _validate_policy_arn(policy_arn: str) -> str:
    if not policy_arn.startswith(POLICY_ARN_PREFIX):
        raise invalid_parameter(f"The policyArn {policy_arn} is not a valid EKS access policy ARN.")
    if policy_arn[len(POLICY_ARN_PREFIX):] not in ACCESS_POLICIES:
        raise not_found(f"The access policy {policy_arn} was not found.")
    return policy_arn


def _validate_scope(scope: Any) -> dict[str, Any]:
    if not isinstance(scope, dict) or scope.get("type") not in ("cluster", "namespace"):
        raise invalid_parameter("accessScope.type must be one of [cluster, namespace].")
    namespaces = scope.get("namespaces") or []
    if not isinstance(namespaces, list) or not all(isinstance(n, str) and n for n in namespaces):
        raise invalid_parameter("accessScope.namespaces must be a list of non-empty strings.")
    if scope["type"] == "cluster" and namespaces:
        raise invalid_parameter("Namespaces can't be specified when the access scope type is cluster.")
    if scope["type"] == "namespace" and not namespaces:
        raise invalid_parameter("At least one namespace must be specified when the access scope type is namespace.")
    return {"type": scope["type"], "namespaces": list(dict.fromkeys(namespaces))}


# -- handlers -----------------------------------------------------------------

def create_access_entry(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """CreateAccessEntry."""
    cluster = _cluster(call, params, mutating=True)
    principal = params["principalArn"]
    if not _PRINCIPAL.match(principal):
        raise invalid_parameter(f"The principalArn {principal} is not a valid IAM role or user ARN.")
    if not principal_exists(call.account, principal):
        raise invalid_parameter(f"The specified principalArn is invalid: invalid principal {principal}.")
    entry_type = params.get("type") or "STANDARD"
    if entry_type not in ENTRY_TYPES:
        raise invalid_parameter(f"The access entry type {entry_type} is not valid; expected one of "
                                f"[{', '.join(ENTRY_TYPES)}].")
    groups = _validate_groups(params.get("kubernetesGroups"))
    username = _validate_username(params.get("username"))
    if entry_type != "STANDARD":
        if ":role/" not in principal:
            raise invalid_parameter(f"An access entry of type {entry_type} requires an IAM role principal.")
        if groups or username:
            raise invalid_parameter(
                f"kubernetesGroups and username can't be specified for an access entry of type {entry_type}."
            )
        groups = ["system:nodes"] if entry_type in NODE_USERNAMES else []
    entries = extras(cluster).access_entries
    if principal in entries:
        raise in_use("The specified access entry resource is already in use on this cluster.",
                     clusterName=cluster.name)
    entry = AccessEntry(cluster, principal, entry_type, username, groups, params.get("tags") or {})
    entries[principal] = entry
    return {"accessEntry": entry.to_dict()}


def describe_access_entry(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeAccessEntry."""
    cluster = _cluster(call, params)
    return {"accessEntry": _entry(cluster, params["principalArn"]).to_dict()}


def list_access_entries(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """ListAccessEntries (optionally those associated with ``associatedPolicyArn``)."""
    cluster = _cluster(call, params)
    entries = list(extras(cluster).access_entries.values())
    policy = params.get("associatedPolicyArn")
    if policy:
        _validate_policy_arn(policy)
        entries = [entry for entry in entries if policy in entry.policies]
    page, token = paginate(sorted(entry.principal_arn for entry in entries), params)
    return {"accessEntries": page, "nextToken": token}


def update_access_entry(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateAccessEntry: kubernetesGroups and username of a STANDARD entry."""
    cluster = _cluster(call, params, mutating=True)
    entry = _entry(cluster, params["principalArn"])
    changes_groups = "kubernetesGroups" in params
    changes_username = params.get("username") is not None
    if entry.type != "STANDARD" and (changes_groups or changes_username):
        raise invalid_parameter(
            f"kubernetesGroups and username can't be updated for an access entry of type {entry.type}."
        )
    if changes_groups:
        entry.kubernetes_groups = _validate_groups(params.get("kubernetesGroups"))
    if changes_username:
        entry.username = _validate_username(params["username"]) or entry.username
    entry.modified_at = time.time()
    return {"accessEntry": entry.to_dict()}


def delete_access_entry(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteAccessEntry (its policy associations go with it)."""
    cluster = _cluster(call, params, mutating=True)
    entry = _entry(cluster, params["principalArn"])
    del extras(cluster).access_entries[entry.principal_arn]
    return {}


def associate_access_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """AssociateAccessPolicy; associating an associated policy again replaces its scope."""
    cluster = _cluster(call, params, mutating=True)
    entry = _entry(cluster, params["principalArn"])
    policy_arn = _validate_policy_arn(params["policyArn"])
    scope = _validate_scope(params.get("accessScope"))
    if entry.type != "STANDARD":
        raise invalid_parameter(f"Access policies can't be associated with an access entry of type {entry.type}.")
    policy = entry.policies.get(policy_arn)
    if policy is None:
        policy = entry.policies[policy_arn] = AssociatedPolicy(policy_arn, scope)
    else:
        policy.scope = scope
        policy.modified_at = time.time()
    return {
        "clusterName": cluster.name,
        "principalArn": entry.principal_arn,
        "associatedAccessPolicy": policy.to_dict(),
    }


def disassociate_access_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """DisassociateAccessPolicy."""
    cluster = _cluster(call, params, mutating=True)
    entry = _entry(cluster, params["principalArn"])
    policy_arn = params["policyArn"]
    if policy_arn not in entry.policies:
        raise not_found(f"The access policy {policy_arn} is not associated with access entry "
                        f"{entry.principal_arn}.", clusterName=cluster.name)
    del entry.policies[policy_arn]
    return {}


def list_associated_access_policies(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """ListAssociatedAccessPolicies."""
    cluster = _cluster(call, params)
    entry = _entry(cluster, params["principalArn"])
    policies = [entry.policies[arn].to_dict() for arn in sorted(entry.policies)]
    page, token = paginate(policies, params)
    return {
        "clusterName": cluster.name,
        "principalArn": entry.principal_arn,
        "associatedAccessPolicies": page,
        "nextToken": token,
    }


def list_access_policies(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """ListAccessPolicies: the catalogue of EKS access policies."""
    policies = [{"name": name, "arn": POLICY_ARN_PREFIX + name} for name in ACCESS_POLICIES]
    page, token = paginate(policies, params)
    return {"accessPolicies": page, "nextToken": token}


HANDLERS: dict[str, Callable[[Call, dict[str, Any]], dict[str, Any]]] = {
    "CreateAccessEntry": create_access_entry,
    "DescribeAccessEntry": describe_access_entry,
    "ListAccessEntries": list_access_entries,
    "UpdateAccessEntry": update_access_entry,
    "DeleteAccessEntry": delete_access_entry,
    "AssociateAccessPolicy": associate_access_policy,
    "DisassociateAccessPolicy": disassociate_access_policy,
    "ListAssociatedAccessPolicies": list_associated_access_policies,
    "ListAccessPolicies": list_access_policies,
}
