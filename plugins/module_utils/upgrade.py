# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of a Kubernetes version upgrade of an EKS cluster, and its pre-checks (llmhub.eks.eks_upgrade_info).

Pure: it takes what EKS answered (the cluster, its node groups, its add-ons, and the add-on versions
``DescribeAddonVersions`` lists as compatible with the target version) and returns the plan with the problems that
must stop the upgrade before any change, each naming the variable or the command that fixes it.

The rules are EKS's (https://docs.aws.amazon.com/eks/latest/userguide/update-cluster.html):

* the control plane moves one minor version per update, never down;
* before the control plane moves, the managed node groups must run its current version (a group left behind by an
  earlier upgrade is finished first);
* every add-on must have a version compatible with the target: a pinned version that is not is refused here rather
  than after the control plane moved.
"""

from __future__ import annotations

import re

from ansible_collections.llmhub.eks.plugins.module_utils.eks import upgrade_error
from ansible_collections.llmhub.eks.plugins.module_utils.eks_versions import parse_version as minor

SETTLED_NODEGROUP_STATUSES = ("ACTIVE",)


def compatible_versions(addon_versions, target):
    """The add-on versions of a DescribeAddonVersions answer compatible with ``target``, newest first."""
    found = []
    for entry in addon_versions or []:
        if any(c.get("clusterVersion") == target for c in entry.get("compatibilities") or []):
            found.append(entry["addonVersion"])
    return sorted(set(found), key=_version_key, reverse=True)


def _version_key(version):
    return tuple(int(part) for part in re.findall(r"\d+", str(version)))


def upgrade_plan(cluster, target, nodegroups, installed_addons, addon_versions, declared_addons,
                 pinned_releases=None, variable="eks_version"):
    """The upgrade of ``cluster`` to ``target``: what moves, and the problems that stop it.

    ``cluster``: DescribeCluster's ``cluster`` (or None); ``nodegroups``: DescribeNodegroup answers;
    ``installed_addons``: {name: DescribeAddon's ``addon``}; ``addon_versions``: {name: DescribeAddonVersions'
    ``addonVersions`` for ``target``}; ``declared_addons``: [{name, version, where}] the roles manage (``latest``
    or a pinned version; ``where`` names the variable and index, ``addons[i]`` when absent); ``pinned_releases``:
    {node group: release_version pinned in its definition}.
    """
    problems = []
    plan = {"cluster": (cluster or {}).get("name"), "current_version": None, "target_version": target, "control_plane": None, "addons": [],
            "nodegroups": [], "problems": problems}
    if minor(target) is None:
        problems.append(f"{variable}: {target!r} must be a Kubernetes minor version such as '1.35'")
        return plan
    if not cluster:
        problems.append("the cluster does not exist: build it with site.yml (make apply) first")
        return plan
    current = cluster.get("version")
    plan["current_version"] = current
    if cluster.get("status") != "ACTIVE":
        problems.append(f"the cluster is {cluster.get('status')}: wait until it is ACTIVE, then run upgrade.yml again")
    upgrading = False
    refused = upgrade_error(current, target, option=variable)  # the rule eks_cluster applies
    if refused:
        problems.append(refused)
    elif target != current:
        upgrading = True
        plan["control_plane"] = {"from": current, "to": target}
    if problems and not upgrading and target != current:
        return plan  # the target itself is refused: what would follow it is not planned

    for group in sorted(nodegroups or [], key=lambda g: g.get("nodegroupName", "")):
        name, version = group.get("nodegroupName"), group.get("version")
        status = group.get("status")
        if status not in SETTLED_NODEGROUP_STATUSES:
            problems.append(f"node group {name} is {status}: wait until it is ACTIVE (or fix it), then run "
                            "upgrade.yml again")
        if upgrading and minor(version) and minor(version) < minor(current):
            problems.append(f"node group {name} runs Kubernetes {version} and the control plane {current}: EKS "
                            f"upgrades the control plane only once every node group runs its version; finish the "
                            f"earlier upgrade first (upgrade.yml with -e {variable}={current})")
        pinned = (pinned_releases or {}).get(name)
        if pinned and minor(target) and not str(pinned).startswith(target + "."):
            problems.append(f"nodegroups_definitions ({name}).release_version pins {pinned}, an AMI release of "
                            f"another Kubernetes version than {target}: remove it (the latest release is used) or "
                            f"set a {target} release")
        plan["nodegroups"].append({"name": name, "from": version, "to": target if minor(target) else version,
                                   "release_version": group.get("releaseVersion"), "status": status,
                                   "changes": version != target})

    declared = {spec["name"]: (spec.get("where") or f"addons[{index}]", spec.get("version") or "latest")
                for index, spec in enumerate(declared_addons or [])}
    for name in sorted(set(declared) | set(installed_addons or {})):
        installed = (installed_addons or {}).get(name) or {}
        have = installed.get("addonVersion")
        compatible = compatible_versions((addon_versions or {}).get(name), target)
        where, wanted = declared.get(name, (None, None))
        if wanted is None:
            # Installed by someone else: the eks role leaves it alone, but an incompatible one breaks after the
            # control plane moves.
            if upgrading and have and have not in compatible:
                problems.append(f"add-on {name} {have} (not managed by the eks role) is not compatible with "
                                f"Kubernetes {target}: update it to one of {compatible[:3] or 'none'} or delete it "
                                "before upgrading")
            continue
        if wanted == "latest":
            if not compatible:
                problems.append(f"{where} ({name}): EKS lists no version compatible with "
                                f"Kubernetes {target}")
                continue
            to = compatible[0]
            if have and _version_key(have) > _version_key(to):
                to = have
        else:
            if wanted not in compatible:
                problems.append(f"{where}.version: {name} {wanted} is not compatible with "
                                f"Kubernetes {target}; set it to latest or to one of {compatible[:3] or 'none'}")
                continue
            to = wanted
        plan["addons"].append({"name": name, "from": have, "to": to, "changes": have != to})
    return plan
