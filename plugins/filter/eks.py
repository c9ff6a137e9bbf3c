# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers of the ``eks`` role: principals, access entries, add-on phases, validation."""

from __future__ import annotations

import ipaddress
import re

from ansible.errors import AnsibleFilterError

from ansible_collections.llmhub.eks.plugins.module_utils.eks_versions import NEWEST_VERSION
from ansible_collections.llmhub.eks.plugins.module_utils.eks_versions import OLDEST_VERSION
from ansible_collections.llmhub.eks.plugins.module_utils.eks_versions import parse_version
from ansible_collections.llmhub.eks.plugins.plugin_utils import validation

LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
# The Kubernetes versions EKS offers, as the eks_cluster module takes them.
MIN_VERSION = parse_version(OLDEST_VERSION)
MAX_VERSION = parse_version(NEWEST_VERSION)
VERSION = re.compile(r"^1\.(\d{1,2})$")
ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"
ASSUMED_ROLE = re.compile(r"^arn:(?P<partition>[^:]+):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/[^/]+$")
KNOWN_ADDONS = ("vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver", "eks-pod-identity-agent",
                "aws-efs-csi-driver", "snapshot-controller", "amazon-cloudwatch-observability",
                "aws-guardduty-agent", "adot", "aws-mountpoint-s3-csi-driver", "metrics-server")


def _fail(variable, message):
    raise AnsibleFilterError(f"{variable}: {message}")


def iam_principal_arn(caller_arn):
    """The IAM principal behind a caller ARN (an assumed-role session becomes its role)."""
    match = ASSUMED_ROLE.match(caller_arn or "")
    if match:
        return f"arn:{match['partition']}:iam::{match['account']}:role/{match['role']}"
    return caller_arn


IAM_PRINCIPAL = re.compile(r"^arn:[^:]+:iam::\d{12}:(role|user)/.+")


def eks_access_entry_list(entries, deployer_arn=None):
    """``eks_access_entries`` plus the deploying principal as cluster admin (unless already listed).

    A caller that is no IAM role or user (a federated or root session) is not
    added: the cluster creator's bootstrap admin entry covers it.
    """
    entries = list(entries or [])
    listed = {entry.get("principal_arn") for entry in entries}
    deployer = iam_principal_arn(deployer_arn) if deployer_arn else None
    if deployer and IAM_PRINCIPAL.match(deployer) and deployer not in listed:
        entries.append({
            "principal_arn": deployer,
            "access_policies": [{"policy": ADMIN_POLICY, "access_scope": {"type": "cluster"}}],
        })
    return entries


ADDON_KEYS = ("name", "version", "service_account_role", "service_account_role_arn", "configuration_values",
              "resolve_conflicts", "preserve_on_delete", "tags")
ACCESS_ENTRY_KEYS = ("principal_arn", "type", "kubernetes_groups", "username", "access_policies", "tags")
ACCESS_POLICY_KEYS = ("policy", "access_scope")
ACCESS_SCOPE_KEYS = ("type", "namespaces")
IRSA_ROLE_KEYS = ("name", "service_accounts", "managed_policies", "inline_policies", "description",
                  "max_session_duration", "tags")


def _check_irsa_roles(roles):
    for index, role in enumerate(roles or []):
        where = f"eks_irsa_roles[{index}]"
        validation.check_keys(where, role, IRSA_ROLE_KEYS)
        validation.check_iam_role_name(f"{where}.name", role.get("name"))
        for account_index, account in enumerate(role.get("service_accounts") or []):
            validation.check_keys(f"{where}.service_accounts[{account_index}]", account, ("namespace", "name"))


def _check_access_entries(entries):
    for index, entry in enumerate(entries or []):
        where = f"eks_access_entries[{index}]"
        validation.check_keys(where, entry, ACCESS_ENTRY_KEYS)
        for policy_index, policy in enumerate(entry.get("access_policies") or []):
            spot = f"{where}.access_policies[{policy_index}]"
            validation.check_keys(spot, policy, ACCESS_POLICY_KEYS)
            if policy.get("access_scope") is not None:
                validation.check_keys(f"{spot}.access_scope", policy["access_scope"], ACCESS_SCOPE_KEYS)


def eks_validate_settings(settings):
    """Check the eks role's variables before any AWS call; errors name the variable. Returns settings."""
    validation.check_cluster_name("eks_cluster_name", settings.get("eks_cluster_name", ""))
    if "eks_aws_region" in settings:
        validation.check_region("eks_aws_region", settings["eks_aws_region"])
    for variable in ("eks_cluster_role_name", "eks_node_role_name"):
        if variable in settings:
            validation.check_iam_role_name(variable, settings[variable])
    if "eks_wait_timeout" in settings:
        validation.check_int("eks_wait_timeout", settings["eks_wait_timeout"], minimum=1, what=" seconds")
    if "eks_log_retention_days" in settings:
        validation.check_log_retention("eks_log_retention_days", settings["eks_log_retention_days"])
    _check_irsa_roles(settings.get("eks_irsa_roles"))
    version = str(settings.get("eks_version", ""))
    match = VERSION.match(version)
    if not match:
        _fail("eks_version", f"{version!r} must look like 1.35")
    if (1, int(match.group(1))) < MIN_VERSION:
        _fail("eks_version", f"{version} is below the minimum supported 1.{MIN_VERSION[1]}"
              " (the oldest version EKS still offers)")
    if (1, int(match.group(1))) > MAX_VERSION:
        _fail("eks_version", f"{version} is newer than 1.{MAX_VERSION[1]}, the newest version this collection supports")
    cidrs = settings.get("eks_public_access_cidrs") or []
    if settings.get("eks_endpoint_public_access") and not cidrs:
        _fail("eks_public_access_cidrs", "must list at least one CIDR while eks_endpoint_public_access is true"
              " (the networks allowed to reach the public API endpoint), or set eks_endpoint_public_access: false")
    if not settings.get("eks_endpoint_public_access") and not settings.get("eks_endpoint_private_access"):
        _fail("eks_endpoint_private_access", "the API endpoint needs private or public access (both are false)")
    for cidr in cidrs:
        try:
            ipaddress.ip_network(cidr, strict=True)
        except (TypeError, ValueError) as exc:
            _fail("eks_public_access_cidrs", f"{cidr!r} is not a valid CIDR ({exc})")
        if ipaddress.ip_network(cidr).prefixlen == 0 and not settings.get("eks_allow_public_endpoint_anywhere"):
            _fail("eks_public_access_cidrs", f"{cidr} opens the public API endpoint to the whole internet; name the"
                  " networks that need it, or set eks_allow_public_endpoint_anywhere: true")
    unknown = [t for t in settings.get("eks_log_types") or [] if t not in LOG_TYPES]
    if unknown:
        _fail("eks_log_types", f"unknown log types {unknown}; choose from {list(LOG_TYPES)}")
    for variable in ("eks_addons_before_compute", "eks_addons_after_compute"):
        names = []
        for index, addon in enumerate(settings.get(variable) or []):
            validation.check_keys(f"{variable}[{index}]", addon, ADDON_KEYS)
            name = addon.get("name")
            if name not in KNOWN_ADDONS:
                _fail(f"{variable}[{index}].name", f"unknown add-on {name!r}; EKS add-ons are {list(KNOWN_ADDONS)}")
            if name in names:
                _fail(f"{variable}[{index}].name", f"{name} is listed twice")
            names.append(name)
    _check_access_entries(settings.get("eks_access_entries"))
    for index, entry in enumerate(settings.get("eks_access_entries") or []):
        arn = entry.get("principal_arn", "")
        if not re.match(r"^arn:[^:]+:iam::\d{12}:(role|user)/.+", arn):
            _fail(f"eks_access_entries[{index}].principal_arn", f"{arn!r} is not an IAM role or user ARN")
    return settings


def eks_named_items(names):
    """``[a, b]`` -> ``[{"name": a}, {"name": b}]`` (the item lists that state=absent takes)."""
    return [{"name": name} for name in names or []]


def eks_addon_versions(addons):
    """``eks_addon`` results -> ``["vpc-cni v1.19.5-eksbuild.1", ...]`` for the run summary."""
    return [f"{addon['name']} {addon.get('version') or '?'}" for addon in addons or []]


def _cell(value):
    return "-" if value in (None, "") else str(value).replace("|", "\\|")


def eks_upgrade_report_markdown(before, after=None, check_mode=False):
    """The ``upgrade`` of llmhub.eks.eks_upgrade_info before the run (the plan) and, when given, after it, as Markdown.

    One row per component (control plane, each add-on, each node group) with its version before, the version planned
    and, after the run, the version read back; then the problems the pre-checks found.
    """
    before = before or {}
    target = before.get("target_version")
    title = f"# Upgrade of {before.get('cluster') or 'the cluster'} to Kubernetes {target}"
    mode = ("check mode: what upgrade.yml would do" if check_mode
            else "the plan (before any change)" if after is None else "done")
    lines = [title, "", f"Status: {mode}.", ""]
    after_addons = {a["name"]: a for a in (after or {}).get("addons") or []}
    after_groups = {g["name"]: g for g in (after or {}).get("nodegroups") or []}
    header = "| component | before | planned |" + (" after |" if after is not None else "")
    lines += [header, "|---|---|---|" + ("---|" if after is not None else "")]

    def row(name, was, planned, now=None):
        cells = [name, _cell(was), _cell(planned)] + ([_cell(now)] if after is not None else [])
        lines.append("| " + " | ".join(cells) + " |")

    plane = before.get("control_plane") or {}
    row("control plane", before.get("current_version"), plane.get("to") or before.get("current_version"),
        (after or {}).get("current_version"))
    for addon in before.get("addons") or []:
        now = after_addons.get(addon["name"], {})
        row(f"add-on {addon['name']}", addon.get("from"), addon.get("to"), now.get("from"))
    for group in before.get("nodegroups") or []:
        now = after_groups.get(group["name"], {})
        was = f"{group.get('from')} ({group.get('release_version')})" if group.get("release_version") else group.get(
            "from")
        current = (f"{now.get('from')} ({now.get('release_version')})" if now.get("release_version")
                   else now.get("from"))
        row(f"node group {group['name']}", was, f"{group.get('to')} (latest AMI release)", current)
    problems = before.get("problems") or []
    if problems:
        lines += ["", "Problems found before any change (nothing was changed):", ""]
        lines += [f"- {problem}" for problem in problems]
    return "\n".join(lines) + "\n"


class FilterModule:
    """EKS role filters."""

    def filters(self):
        return {
            "iam_principal_arn": iam_principal_arn,
            "eks_access_entry_list": eks_access_entry_list,
            "eks_validate_settings": eks_validate_settings,
            "eks_named_items": eks_named_items,
            "eks_addon_versions": eks_addon_versions,
            "eks_upgrade_report_markdown": eks_upgrade_report_markdown,
        }
