# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of the EKS add-on and access-entry modules (no AWS calls).

Kept apart from the modules so it can be unit tested: add-on version
selection from a DescribeAddonVersions answer, semantic comparison of
add-on configuration values, access policy names and scopes, and the
difference between a wanted access entry and the one EKS has.
"""

from __future__ import annotations

import json
import re

from ansible.module_utils.common.yaml import HAS_YAML
from ansible.module_utils.common.yaml import yaml_load

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

from ansible_collections.llmhub.eks.plugins.module_utils.common import KNOWN_AFTER_APPLY
from ansible_collections.llmhub.eks.plugins.module_utils.common import paginate  # noqa: F401 pylint: disable=unused-import
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_concurrently
from ansible_collections.llmhub.eks.plugins.module_utils.eks import describe_cluster  # noqa: F401 pylint: disable=unused-import
from ansible_collections.llmhub.eks.plugins.module_utils.eks import eks_client  # noqa: F401 pylint: disable=unused-import

ACCESS_POLICY_ARN_PREFIX = "arn:aws:eks::aws:cluster-access-policy/"
NODE_ENTRY_TYPES = ("EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "HYBRID_LINUX", "EC2", "HYPERPOD_LINUX")
ENTRY_TYPES = ("STANDARD",) + NODE_ENTRY_TYPES
RESERVED_USERNAME_PREFIXES = ("system:", "eks:", "aws:", "amazon:", "iam:")
# Add-on states that are not a verdict yet: wait for them to end.
SETTLING_STATES = ("CREATING", "UPDATING", "DELETING")
ROLE_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
PRINCIPAL_ARN = re.compile(r"^arn:(aws[a-zA-Z-]*):iam::(\d{12}):(role|user)/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)$")
ASSUMED_ROLE_ARN = re.compile(r"^arn:(aws[a-zA-Z-]*):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/[^/]+$")
POLICY_NAME = re.compile(r"^[A-Za-z0-9]+$")
POLICY_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:eks::aws:cluster-access-policy/[A-Za-z0-9]+$")


# -- AWS plumbing shared by both modules ------------------------------------------------------------

def active_nodegroups(client, cluster_name):
    """Names of the cluster's node groups that are ACTIVE (or updating, hence up)."""
    names = paginate(client, "list_nodegroups", "nodegroups", clusterName=cluster_name)

    def status(name):
        try:
            return client.describe_nodegroup(aws_retry=True, clusterName=cluster_name, nodegroupName=name)[
                "nodegroup"
            ]["status"]
        except is_boto3_error_code("ResourceNotFoundException"):
            return None

    statuses = run_concurrently(status, names, "describe node groups")
    return [name for name, state in zip(names, statuses) if state in ("ACTIVE", "UPDATING")]


# -- add-on versions ---------------------------------------------------------------------------------


def version_key(version):
    """Sort key of an add-on version such as ``v1.19.2-eksbuild.1`` (numeric parts compared as numbers)."""
    return tuple(int(part) for part in re.findall(r"\d+", version or ""))


def compatible_versions(addon_info, kubernetes_version):
    """Versions of one DescribeAddonVersions ``addons[]`` entry usable on ``kubernetes_version``, newest first."""
    found = []
    for entry in addon_info.get("addonVersions") or []:
        clusters = [c.get("clusterVersion") for c in entry.get("compatibilities") or []]
        if kubernetes_version in clusters:
            found.append(entry["addonVersion"])
    return sorted(set(found), key=version_key, reverse=True)


def default_version(addon_info, kubernetes_version):
    """The version EKS marks as default for ``kubernetes_version``, if any."""
    for entry in addon_info.get("addonVersions") or []:
        for compatibility in entry.get("compatibilities") or []:
            if compatibility.get("clusterVersion") == kubernetes_version and compatibility.get("defaultVersion"):
                return entry["addonVersion"]
    return None


def select_version(addon_infos, name, wanted, kubernetes_version):
    """Resolve ``wanted`` (``latest`` or a pinned version) for add-on ``name``.

    ``addon_infos`` is DescribeAddonVersions' ``addons`` list. Returns
    ``(version, None)`` or ``(None, problem)`` where problem says what is wrong.
    """
    info = next((a for a in addon_infos if a.get("addonName") == name), None)
    if info is None:
        return None, f"{name} is not an EKS add-on known to DescribeAddonVersions"
    versions = compatible_versions(info, kubernetes_version)
    if not versions:
        return None, f"{name} has no version compatible with Kubernetes {kubernetes_version}"
    if wanted in (None, "", "latest"):
        return versions[0], None
    if wanted in versions:
        return wanted, None
    return None, (
        f"{name} {wanted} is not compatible with Kubernetes {kubernetes_version}; compatible versions: "
        + ", ".join(versions)
    )


def is_downgrade(current, wanted):
    """EKS refuses to update an add-on to an older version."""
    return bool(current and wanted and version_key(wanted) < version_key(current))


# -- configuration values ----------------------------------------------------------------------------


def parse_configuration(value):
    """``configuration_values`` (dict, JSON or YAML string, or empty) as a dict; ValueError if it is not one."""
    if value is None:
        return None
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a dict or a JSON/YAML string, got {type(value).__name__}")
    if not value.strip():
        return {}
    try:
        parsed = json.loads(value)
    except ValueError:
        if not HAS_YAML:
            raise ValueError("not valid JSON (and PyYAML is missing to read YAML)") from None
        try:
            parsed = yaml_load(value)
        except Exception as e:  # yaml.YAMLError; yaml may be absent at import time
            raise ValueError(f"neither valid JSON nor YAML: {e}") from None
    if parsed is None:
        return {}
    if not isinstance(parsed, dict):
        raise ValueError(f"must be a mapping (JSON object), got {type(parsed).__name__}")
    return parsed


def configuration_string(values):
    """What is sent as ``configurationValues``: canonical JSON of the mapping."""
    return json.dumps(values, sort_keys=True, separators=(",", ":"))


def current_configuration(addon):
    """An existing add-on's configuration as a dict (empty if none or unreadable)."""
    try:
        return parse_configuration(addon.get("configurationValues")) or {}
    except ValueError:
        return {"_unparsable": addon.get("configurationValues")}


# -- IAM roles ---------------------------------------------------------------------------------------


def role_reference_problem(value):
    """None if ``value`` is an IAM role name or ARN, else what is wrong with it."""
    if value.startswith("arn:"):
        return None if ROLE_ARN.match(value) else "is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)"
    return None if ROLE_NAME.match(value) else "is not a valid IAM role name"


def planned_role_arn(name, cluster_arn):
    """The ARN a role named ``name`` would have in the cluster's account (check mode planning); KNOWN_AFTER_APPLY
    when the account is not known (no cluster yet)."""
    parts = (cluster_arn or "").split(":")
    if len(parts) <= 4 or not parts[4]:
        return KNOWN_AFTER_APPLY
    return f"arn:{parts[1]}:iam::{parts[4]}:role/{name}"


# -- access entries ----------------------------------------------------------------------------------


def access_policy_arn(policy):
    """An access policy name (``AmazonEKSViewPolicy``) or ARN -> its ARN; ValueError if it is neither."""
    if POLICY_ARN.match(policy):
        return policy
    if POLICY_NAME.match(policy):
        return ACCESS_POLICY_ARN_PREFIX + policy
    raise ValueError(
        f"{policy!r} is neither an access policy name (e.g. AmazonEKSViewPolicy) nor an access policy ARN "
        f"({ACCESS_POLICY_ARN_PREFIX}<name>)"
    )


def normalise_scope(scope):
    """An access scope as EKS reports it: ``{"type": ..., "namespaces": sorted unique}``."""
    scope = scope or {}
    scope_type = scope.get("type") or "cluster"
    namespaces = sorted(set(scope.get("namespaces") or []))
    return {"type": scope_type, "namespaces": namespaces}


def scope_problem(scope):
    """None if the (user given) scope is valid, else the problem."""
    scope = normalise_scope(scope)
    if scope["type"] == "namespace" and not scope["namespaces"]:
        return "type namespace needs at least one namespace in namespaces"
    if scope["type"] == "cluster" and scope["namespaces"]:
        return "namespaces can only be given with type namespace"
    return None


def principal_problem(arn):
    """None if ``arn`` is an IAM role or user ARN, else the problem."""
    if PRINCIPAL_ARN.match(arn or ""):
        return None
    return "is not an IAM role or user ARN (arn:aws:iam::<account>:role/<name> or ...:user/<name>)"


def username_problem(username):
    if username is not None and username.startswith(RESERVED_USERNAME_PREFIXES):
        return "can't start with " + ", ".join(RESERVED_USERNAME_PREFIXES)
    return None


def caller_principal(caller_arn):
    """The IAM principal of an STS caller ARN (an assumed-role session becomes its role)."""
    match = ASSUMED_ROLE_ARN.match(caller_arn or "")
    if match:
        partition, account, role = match.groups()
        return f"arn:{partition}:iam::{account}:role/{role}"
    return caller_arn


def same_principal(entry_arn, caller_arn):
    """True if an access entry's principal is the caller (roles compared by account and name, paths ignored)."""
    if not caller_arn:
        return False
    caller = caller_principal(caller_arn)
    if entry_arn == caller:
        return True
    entry, wanted = PRINCIPAL_ARN.match(entry_arn or ""), PRINCIPAL_ARN.match(caller or "")
    if entry and wanted:
        return entry.group(2, 3, 4) == wanted.group(2, 3, 4)
    return False


def wanted_policies(entry):
    """{policy_arn: normalised scope} of a wanted entry (names already validated)."""
    return {
        access_policy_arn(p["policy"]): normalise_scope(p.get("access_scope")) for p in entry.get("access_policies") or []
    }


def current_policies(associated):
    """{policy_arn: normalised scope} of ListAssociatedAccessPolicies' answer."""
    return {p["policyArn"]: normalise_scope(p.get("accessScope")) for p in associated or []}


def entry_changes(wanted, current, current_associated):
    """What to change on an existing entry to reach ``wanted`` (a module option entry).

    Returns a dict with ``update`` (UpdateAccessEntry parameters, empty if
    nothing), ``associate`` ({arn: scope} to (re)associate, covering scope
    changes) and ``disassociate`` (list of ARNs).
    """
    changes = {"update": {}, "associate": {}, "disassociate": []}
    if (wanted.get("type") or "STANDARD") != "STANDARD":
        return changes
    groups = wanted.get("kubernetes_groups") or []
    if sorted(set(groups)) != sorted(set(current.get("kubernetesGroups") or [])):
        changes["update"]["kubernetesGroups"] = list(dict.fromkeys(groups))
    username = wanted.get("username")
    if username is not None and username != current.get("username"):
        changes["update"]["username"] = username
    want = wanted_policies(wanted)
    have = current_policies(current_associated)
    changes["associate"] = {arn: scope for arn, scope in want.items() if have.get(arn) != scope}
    changes["disassociate"] = sorted(arn for arn in have if arn not in want)
    return changes


def has_changes(changes):
    return bool(changes["update"] or changes["associate"] or changes["disassociate"])


def entry_view(entry, associated):
    """The module's view of an access entry (return value and diff)."""
    return {
        "principal_arn": entry["principalArn"],
        "type": entry.get("type") or "STANDARD",
        "kubernetes_groups": sorted(entry.get("kubernetesGroups") or []),
        "username": entry.get("username"),
        "access_policies": [
            {"policy_arn": arn, "access_scope": scope} for arn, scope in sorted(current_policies(associated).items())
        ],
        "access_entry_arn": entry.get("accessEntryArn"),
        "tags": entry.get("tags") or {},
    }
