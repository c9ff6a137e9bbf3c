#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_upgrade_info
short_description: Plan and pre-check a Kubernetes version upgrade of an EKS cluster
version_added: 0.1.0
description:
  - Reads, concurrently, the cluster, its managed node groups, its add-ons and the add-on versions EKS lists as
    compatible with O(target_version) (C(DescribeAddonVersions)), and returns the upgrade plan (control plane, add-ons,
    node groups, from which version to which) with the problems that must stop the upgrade before any change.
  - "The pre-checks are EKS's rules: the control plane moves one minor version at a time and never down; every node
    group must run the control plane's current version before it moves; every add-on needs a version compatible with
    the target (a pinned one that is not is refused); the cluster and its node groups must be ACTIVE."
  - Makes no change; runs in check mode. Used by C(playbooks/upgrade.yml).
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  cluster_name:
    description: Name of the EKS cluster.
    type: str
    required: true
  target_version:
    description:
      - Kubernetes minor version to upgrade to, e.g. C("1.35").
      - The cluster's own version, or omitted (then the cluster's version is read), plans no control plane change
        (an AMI refresh, or what an interrupted upgrade left to do).
    type: str
  addons:
    description:
      - The add-ons the playbook manages, as M(llmhub.eks.eks_addon) takes them; only C(name) and C(version)
        (V(latest), the default, is the newest version compatible with the target; anything else is pinned) are read.
      - A list, or a dictionary of such lists keyed by the variable that declares them, so that a problem names the
        variable and the index (C(eks_addons_before_compute[1].version)).
    type: raw
    default: []
  nodegroup_releases:
    description: AMI release versions pinned in node group definitions, by node group name.
    type: dict
    default: {}
  fail_on_problems:
    description: Fail, listing every problem, when the pre-checks find one; otherwise they are returned.
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Pre-check the upgrade of the cluster to Kubernetes 1.35
  llmhub.eks.eks_upgrade_info:
    cluster_name: llm-analytics-hub-prod-eks
    target_version: "1.35"
    addons:
      eks_addons_before_compute:
        - name: vpc-cni
        - name: kube-proxy
          version: v1.35.0-eksbuild.2
  register: upgrade_plan
"""

RETURN = r"""
upgrade:
  description: The plan of the upgrade.
  returned: always
  type: dict
  contains:
    current_version:
      description: The cluster's Kubernetes version now.
      type: str
      sample: "1.34"
    target_version:
      description: The version asked for.
      type: str
      sample: "1.35"
    control_plane:
      description: C({from, to}) when the control plane moves, else null.
      type: dict
    addons:
      description: Each add-on with C(name), C(from) (installed version or null), C(to) and C(changes).
      type: list
      elements: dict
    nodegroups:
      description: Each node group with C(name), C(from), C(to), C(release_version), C(status) and C(changes).
      type: list
      elements: dict
    problems:
      description: What stops the upgrade, each naming the variable or the command that fixes it.
      type: list
      elements: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils.common import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_concurrently
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.eks import describe_cluster
from ansible_collections.llmhub.eks.plugins.module_utils.upgrade import minor
from ansible_collections.llmhub.eks.plugins.module_utils.upgrade import upgrade_plan


def read_nodegroups(eks, cluster_name):
    names = paginate(eks, "list_nodegroups", "nodegroups", clusterName=cluster_name)
    return run_concurrently(
        lambda name: eks.describe_nodegroup(aws_retry=True, clusterName=cluster_name, nodegroupName=name)["nodegroup"],
        names, "describe the node groups")


def read_addons(eks, cluster_name):
    names = paginate(eks, "list_addons", "addons", clusterName=cluster_name)
    found = run_concurrently(
        lambda name: eks.describe_addon(aws_retry=True, clusterName=cluster_name, addonName=name)["addon"],
        names, "describe the add-ons")
    return {addon["addonName"]: addon for addon in found}


def read_compatible(eks, names, target):
    def versions(name):
        addons = paginate(eks, "describe_addon_versions", "addons", addonName=name, kubernetesVersion=target)
        return [entry for addon in addons for entry in addon.get("addonVersions") or []]

    return dict(zip(names, run_concurrently(versions, names, "list the add-on versions for the target")))


def declared_addons(module, value):
    """[{name, version, where}] of the ``addons`` option, ``where`` naming the variable and index of each."""
    groups = value.items() if isinstance(value, dict) else [("addons", value)]
    declared = []
    for variable, specs in groups:
        if not isinstance(specs, list):
            module.fail_json(msg=f"addons: {variable} must be a list of add-ons, got {type(specs).__name__}")
        for index, spec in enumerate(specs):
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
                module.fail_json(msg=f"{variable}[{index}].name: required (the add-on name, e.g. vpc-cni)")
            declared.append({"name": spec["name"], "version": str(spec.get("version") or "latest"),
                             "where": f"{variable}[{index}]"})
    return declared


def inspect(module):
    params = module.params
    eks = retrying_client(module, "eks")
    cluster = describe_cluster(eks, params["cluster_name"])
    target = params["target_version"] or (cluster or {}).get("version") or ""
    nodegroups, installed = [], {}
    if cluster:
        nodegroups, installed = run_concurrently(
            lambda read: read(eks, params["cluster_name"]), [read_nodegroups, read_addons],
            "read the node groups and add-ons")
    names = sorted({spec["name"] for spec in params["addons"]} | set(installed))
    compatible = read_compatible(eks, names, target) if cluster and names else {}
    plan = upgrade_plan(cluster, target, nodegroups, installed, compatible, params["addons"],
                        params["nodegroup_releases"], variable="eks_version")
    if plan["problems"] and params["fail_on_problems"]:
        module.fail_json(msg=f"The upgrade of {params['cluster_name']} to Kubernetes {target or '?'} "
                             "cannot start (nothing was changed): " + "; ".join(plan["problems"]), upgrade=plan)
    module.exit_json(changed=False, upgrade=plan)


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        target_version=dict(type="str"),
        addons=dict(type="raw", default=[]),
        nodegroup_releases=dict(type="dict", default={}),
        fail_on_problems=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    module.params["addons"] = declared_addons(module, module.params["addons"])
    if module.params["target_version"] is not None and minor(module.params["target_version"]) is None:
        module.fail_json(msg=f"target_version: {module.params['target_version']!r} must be a Kubernetes minor version "
                             "such as '1.35'")
    run_module(module, inspect, module)


if __name__ == "__main__":
    main()
