#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_nodegroups
short_description: Reconcile the managed node groups of an EKS cluster in one call, concurrently
version_added: 0.1.0
description:
  - Creates, updates, replaces and deletes all listed EKS managed node groups of one cluster in a single module
    invocation. Node groups not listed are left alone.
  - Describes the cluster once and its node groups concurrently, then requests every missing node group at once (all
    create calls are made before anything is waited on), updates the others in place, and waits B(once) for all of
    them to be V(ACTIVE).
  - A cluster still C(CREATING) or C(UPDATING) is waited for (within O(wait_timeout), whatever O(wait) says) before
    any node group is changed, since EKS accepts node group changes only from an V(ACTIVE) cluster. For a cluster
    being created, roles, subnets and launch templates are looked up and the groups planned while AWS creates it, so
    the requests go out the moment it is V(ACTIVE); a playbook can request the cluster with
    O(llmhub.eks.eks_cluster#module:wait=false), do other work, then call this module. Any other cluster status
    fails.
  - In-place updates use C(UpdateNodegroupConfig) for scaling, labels and taints (sent as add-or-update and remove
    differences) and the update configuration, and C(UpdateNodegroupVersion) for a new launch template version or
    AMI release. A node group runs one EKS update at a time (the next waits for the previous one); different node
    groups update concurrently.
  - Instance types, capacity type, subnets, AMI type, node role, disk size and launch template (id) cannot change in
    place; such a change fails, before any change is made, with a message naming the node group and the setting.
    List the node group in O(recreate) to replace it.
  - Unless O(enforce_desired_size), a desired size that differs from O(nodegroups[].scaling.desired_size) but lies
    within [min_size, max_size] was set by the cluster autoscaler and is kept; it is reported in RV(desired_size_drift).
  - If a node group ends V(CREATE_FAILED) or V(DEGRADED), the others are still waited for; the failure names every
    failed node group with its health issues.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  cluster_name:
    description: Name of the EKS cluster.
    type: str
    required: true
  nodegroups:
    description:
      - The managed node groups handled by this call. With O(state=absent) only O(nodegroups[].name) is used.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Unique node group name.
        type: str
        required: true
      node_role:
        description: IAM role of the nodes, as role name or ARN. Required with O(state=present).
        type: str
      subnets:
        description:
          - Subnets of the nodes, as ids or C(Name) tags (looked up in the cluster's VPC). Required with
            O(state=present).
        type: list
        elements: str
      capacity_type:
        description: V(ON_DEMAND), V(SPOT) or V(CAPACITY_BLOCK).
        type: str
        default: ON_DEMAND
      instance_types:
        description: Instance types, at least one. Required with O(state=present).
        type: list
        elements: str
      ami_type:
        description: AMI type of the nodes.
        type: str
        default: AL2023_x86_64_STANDARD
      version:
        description:
          - Kubernetes minor version of the nodes, e.g. C("1.35"). When omitted a new node group gets the cluster's
            version and an existing one keeps its own (not managed).
          - A version newer than the group's is an in-place upgrade (C(UpdateNodegroupVersion)) - EKS replaces the
            nodes, draining each one with the Eviction API, so PodDisruptionBudgets are respected (see
            O(force_update)). It cannot be newer than the cluster's version nor older than the group's.
        type: str
      release_version:
        description:
          - AMI release version, e.g. C(1.35.0-20261118); when omitted a new node group gets the latest release
            for its Kubernetes version and an existing one keeps its own (not managed).
          - V(latest) is the latest release of the EKS optimized AMI for the group's AMI type and Kubernetes version,
            read from its public SSM parameter (e.g.
            C(/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/standard/recommended/release_version));
            a group on an older release is updated to it (the monthly AMI refresh), its nodes replaced as for
            O(nodegroups[].version).
        type: str
      scaling:
        description: Sizes of the node group. Required with O(state=present).
        type: dict
        suboptions:
          min_size:
            description: Minimum number of nodes (>= 0).
            type: int
          desired_size:
            description: Desired number of nodes, between O(nodegroups[].scaling.min_size) and
              O(nodegroups[].scaling.max_size).
            type: int
          max_size:
            description: Maximum number of nodes (>= 1).
            type: int
      labels:
        description: Kubernetes labels of the nodes; labels not listed are removed.
        type: dict
        default: {}
      taints:
        description: Kubernetes taints of the nodes; taints not listed are removed.
        type: list
        elements: dict
        default: []
        suboptions:
          key:
            description: Taint key. Required.
            type: str
          value:
            description: Taint value.
            type: str
          effect:
            description:
              - V(NO_SCHEDULE), V(NO_EXECUTE) or V(PREFER_NO_SCHEDULE) (the Kubernetes spelling V(NoSchedule)...
                is accepted too). Required.
            type: str
      update_config:
        description:
          - How many nodes may be unavailable during updates; one of the two. Defaults to O(nodegroups[].update_config.max_unavailable=1).
        type: dict
        suboptions:
          max_unavailable:
            description: Number of nodes (1-100).
            type: int
          max_unavailable_percentage:
            description: Percentage of nodes (1-100).
            type: int
      launch_template:
        description:
          - Launch template of the nodes (see M(llmhub.eks.ec2_launch_templates)).
          - Its version is updated in place; the template itself cannot change.
        type: dict
        suboptions:
          id:
            description: Template id (give the id or the name).
            type: str
          name:
            description: Template name (give the id or the name).
            type: str
          version:
            description: Version number, V($Latest) or V($Default); the template's default version when omitted.
            type: str
      disk_size:
        description: Root volume size in GiB; only without O(nodegroups[].launch_template).
        type: int
      tags:
        description: Tags of this node group, merged over O(tags).
        type: dict
  enforce_desired_size:
    description:
      - Whether a desired size changed outside this module (by the cluster autoscaler) within [min_size, max_size] is
        set back to O(nodegroups[].scaling.desired_size).
    type: bool
    default: false
  recreate:
    description:
      - Names of listed node groups to delete and create again from their definition in O(nodegroups) (node group
        recovery, the counterpart of C(terraform taint)), without touching the others. Every run with a name here
        replaces that node group again.
      - The named node groups are deleted concurrently; while EKS deletes them, the changes of the other node groups
        are requested; then one wait until all of them are gone (whatever O(wait) says; the C(llmhub.eks.progress)
        callback shows them), and they are created again. A named node group that does not exist is simply
        created.
      - In check mode they are reported in RV(recreated) and no change is requested; the diff shows the old ARN
        and, after the call, the new one.
      - A comma-separated string is accepted; blanks around names and repeats are dropped. Every name must be
        listed in O(nodegroups).
    type: list
    elements: str
    default: []
  force_update:
    description:
      - Version and AMI release updates (C(UpdateNodegroupVersion)) with C(force), which deletes pods that a
        PodDisruptionBudget keeps from being evicted instead of failing the update with C(PodEvictionFailure).
    type: bool
    default: false
  wait:
    description:
      - Whether to wait until every created or updated node group is V(ACTIVE) (and deleted ones are gone).
      - Listed node groups still C(CREATING) or C(UPDATING) from an earlier call with O(wait=false) are waited on too,
        so a second call with O(wait=true) is how a playbook waits for groups it requested earlier.
      - Successive updates of one node group and the replacement of a recreated one always wait for the previous step.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait in total.
    type: int
    default: 1800
  state:
    description: V(present) creates and updates the listed node groups; V(absent) deletes them.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
notes:
  - Tags of a node group are managed when O(tags) or O(nodegroups[].tags) is given.
  - In check mode a missing cluster, node role, subnet or launch template (about to be created by an earlier task)
    does not fail; the node groups are reported as to be created, with V((known after apply\)) for what AWS assigns
    (ARN, status, Kubernetes and AMI release versions, the id and version of a planned launch template).
"""

EXAMPLES = r"""
# The nodegroups role's three groups, in the private subnets of the vpc role, with the
# node role of the iam role and the launch templates of llmhub.eks.ec2_launch_templates.
- name: System, application (spot) and database (tainted) node groups, created together
  llmhub.eks.eks_nodegroups:
    cluster_name: llm-analytics-hub-prod-eks
    tags:
      Project: llm-analytics-hub
      llmhub.io/cluster: llm-analytics-hub-prod-eks
    nodegroups:
      - name: system
        node_role: llm-analytics-hub-prod-eks-node-role
        subnets: "{{ private_subnets }}"
        instance_types: [m5.xlarge]
        scaling: {min_size: 2, desired_size: 3, max_size: 4}
        labels: {role: system}
        launch_template: {name: llm-analytics-hub-prod-eks-system, version: "1"}
      - name: application
        node_role: llm-analytics-hub-prod-eks-node-role
        subnets: "{{ private_subnets }}"
        capacity_type: SPOT
        instance_types: [m5.2xlarge, m5a.2xlarge, m5n.2xlarge]
        scaling: {min_size: 3, desired_size: 5, max_size: 10}
        labels: {role: application}
        launch_template: {name: llm-analytics-hub-prod-eks-application}
      - name: database
        node_role: llm-analytics-hub-prod-eks-node-role
        subnets: "{{ private_subnets }}"
        instance_types: [r5.2xlarge]
        scaling: {min_size: 3, desired_size: 4, max_size: 6}
        labels: {role: database}
        taints:
          - {key: workload, value: database, effect: NO_SCHEDULE}
        launch_template: {name: llm-analytics-hub-prod-eks-database}
  vars:
    private_subnets:
      - llm-analytics-hub-prod-eks-private-us-east-1a
      - llm-analytics-hub-prod-eks-private-us-east-1b
      - llm-analytics-hub-prod-eks-private-us-east-1c
  register: nodegroups_result

- name: Replace the application node group, leaving the others as they are (the role's nodegroups_recreate)
  llmhub.eks.eks_nodegroups:
    cluster_name: llm-analytics-hub-prod-eks
    recreate: [application]
    nodegroups: >-
      {{ nodegroups_plan.nodegroups
         | llmhub.eks.nodegroups_placed(nodegroups_private_subnets, nodegroups_templates_result.launch_templates_by_name) }}

- name: Delete the node groups
  llmhub.eks.eks_nodegroups:
    cluster_name: llm-analytics-hub-prod-eks
    state: absent
    nodegroups: [{name: system}, {name: application}, {name: database}]
"""

RETURN = r"""
nodegroups:
  description:
    - The listed node groups after the call, in the order given (planned values in check mode; empty for
      O(state=absent)).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Node group name.
      type: str
    arn:
      description: Node group ARN (V((known after apply\)) in check mode for a node group not created yet).
      type: str
    status:
      description: Status, e.g. V(ACTIVE) (V((known after apply\)) for a planned node group).
      type: str
    capacity_type:
      description: V(ON_DEMAND), V(SPOT) or V(CAPACITY_BLOCK).
      type: str
    instance_types:
      description: Instance types.
      type: list
      elements: str
    ami_type:
      description: AMI type.
      type: str
    node_role:
      description: Node role ARN.
      type: str
    subnets:
      description: Subnet ids, sorted.
      type: list
      elements: str
    scaling:
      description: C(min_size), C(desired_size), C(max_size).
      type: dict
      sample: {"min_size": 2, "desired_size": 3, "max_size": 4}
    labels:
      description: Kubernetes labels.
      type: dict
    taints:
      description: Taints (C(key), C(value), C(effect)), sorted by key and effect.
      type: list
      elements: dict
    update_config:
      description: C(max_unavailable) or C(max_unavailable_percentage).
      type: dict
    launch_template:
      description:
        - C(id), C(name) and C(version) of the launch template, or C(null).
        - In check mode the C(id) and C(version) of a template not created yet are V((known after apply\)).
      type: dict
    disk_size:
      description: Root volume size when the node group has no launch template.
      type: int
    release_version:
      description: AMI release version.
      type: str
    version:
      description: Kubernetes version of the nodes.
      type: str
    health_issues:
      description: 'Health issues reported by EKS, each as C(CODE: message).'
      type: list
      elements: str
    tags:
      description: Tags of the node group.
      type: dict
created:
  description: Names of the node groups created (or that would be).
  returned: always
  type: list
  elements: str
updated:
  description: Names of the node groups updated in place (or that would be).
  returned: always
  type: list
  elements: str
deleted:
  description: Names of the node groups deleted (or that would be).
  returned: always
  type: list
  elements: str
recreated:
  description: Names of the node groups deleted and created again (or that would be).
  returned: always
  type: list
  elements: str
desired_size_drift:
  description:
    - Node groups whose desired size differs from O(nodegroups[].scaling.desired_size) within [min_size, max_size]
      and was kept (O(enforce_desired_size=false)), with both sizes.
  returned: always
  type: dict
  sample: {"application": {"desired_size": 5, "current_desired_size": 7}}
"""

import time
import uuid
from functools import partial

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing library.

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.llmhub.eks.plugins.module_utils.common import fill_unknown
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_concurrently
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.common import wait_for_set
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.eks import FAILED_UPDATE_STATUSES
from ansible_collections.llmhub.eks.plugins.module_utils.eks import UnresolvedReferences
from ansible_collections.llmhub.eks.plugins.module_utils.eks import describe_cluster
from ansible_collections.llmhub.eks.plugins.module_utils.eks import eks_client
from ansible_collections.llmhub.eks.plugins.module_utils.eks import resolve_role_arn
from ansible_collections.llmhub.eks.plugins.module_utils.eks import wait_for_cluster_status
from ansible_collections.llmhub.eks.plugins.module_utils.eks_versions import parse_version as minor_of
from ansible_collections.llmhub.eks.plugins.module_utils.nodegroups import describe_nodegroup
from ansible_collections.llmhub.eks.plugins.module_utils.nodegroups import failure_reason
from ansible_collections.llmhub.eks.plugins.module_utils.nodegroups import find_launch_templates
from ansible_collections.llmhub.eks.plugins.module_utils.nodegroups import immutable_changes
from ansible_collections.llmhub.eks.plugins.module_utils.nodegroups import ami_release_parameter
from ansible_collections.llmhub.eks.plugins.module_utils.nodegroups import labels_change
from ansible_collections.llmhub.eks.plugins.module_utils.nodegroups import nodegroup_view
from ansible_collections.llmhub.eks.plugins.module_utils.nodegroups import resolve_subnets_in_vpc
from ansible_collections.llmhub.eks.plugins.module_utils.nodegroups import scaling_change
from ansible_collections.llmhub.eks.plugins.module_utils.nodegroups import taints_change
from ansible_collections.llmhub.eks.plugins.module_utils.nodegroups import update_config_change
from ansible_collections.llmhub.eks.plugins.module_utils.nodegroups import update_config_target
from ansible_collections.llmhub.eks.plugins.module_utils.nodegroups import validate_nodegroups
from ansible_collections.llmhub.eks.plugins.module_utils.nodegroups import version_change
from ansible_collections.llmhub.eks.plugins.module_utils.nodegroups import wanted_taints

DIFF_KEYS = ("capacity_type", "instance_types", "ami_type", "node_role", "subnets", "scaling", "labels", "taints",
             "update_config", "launch_template", "disk_size", "release_version", "tags")
RETURN_KEYS = ("name", "arn", "status", "capacity_type", "instance_types", "ami_type", "node_role", "subnets",
               "scaling", "labels", "taints", "update_config", "launch_template", "disk_size", "release_version",
               "version", "health_issues", "tags")


class Run:
    """What one invocation works with: the module, its clients, the cluster and the time left."""

    def __init__(self, module):
        self.module = module
        self.cluster_name = module.params["cluster_name"]
        self.eks = eks_client(module)
        self.deadline = time.monotonic() + module.params["wait_timeout"]
        self.cluster_version = None
        self.force_update = module.params["force_update"]

    def remaining(self):
        return max(1.0, self.deadline - time.monotonic())

    def describe(self, name):
        return describe_nodegroup(self.eks, self.cluster_name, name)


def _error_text(error):
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        return f"{response['Error'].get('Code')}: {response['Error'].get('Message')}"
    return str(error)


# --------------------------------------------------------------------------- reading


def current_nodegroups(run, names):
    """{name: describe_nodegroup} of the listed node groups that exist (one list, then describes in parallel)."""
    listed = paginate(run.eks, "list_nodegroups", "nodegroups", clusterName=run.cluster_name)
    wanted = [name for name in names if name in set(listed)]
    found = run_concurrently(run.describe, wanted, "describe node groups")
    return {name: nodegroup for name, nodegroup in zip(wanted, found) if nodegroup is not None}


def wanted_tags(module, spec):
    if module.params.get("tags") is None and spec.get("tags") is None:
        return None
    tags = dict(module.params.get("tags") or {})
    tags.update(spec.get("tags") or {})
    return {str(k): str(v) for k, v in tags.items()}


def resolve_roles(run, specs, lenient):
    """{role reference: ARN}; in check mode (lenient) a missing role keeps its name."""
    iam = retrying_client(run.module, "iam")
    paths = {}
    for index, spec in enumerate(specs):
        paths.setdefault(spec["node_role"], f"nodegroups[{index}].node_role")

    def resolve(reference):
        try:
            return resolve_role_arn(iam, reference, option=paths[reference])
        except UnresolvedReferences:
            if lenient:
                return reference
            raise

    return dict(zip(paths, run_concurrently(resolve, list(paths), "resolve node roles")))


def resolve_subnets(run, specs, cluster, lenient):
    """{subnet reference: id} in the cluster's VPC; references as given when that cannot be known (check mode)."""
    references = {f"nodegroups[{index}].subnets": spec["subnets"] for index, spec in enumerate(specs)}
    vpc_id = ((cluster or {}).get("resourcesVpcConfig") or {}).get("vpcId")
    if not vpc_id:
        return {ref: ref for refs in references.values() for ref in refs}
    try:
        return resolve_subnets_in_vpc(retrying_client(run.module, "ec2"), references, vpc_id)
    except AnsibleAWSError:
        if lenient:
            return {ref: ref for refs in references.values() for ref in refs}
        raise


def resolve_templates(run, specs, lenient):
    """{index: {"id", "name", "version"}} of the launch template of each node group that has one."""
    given = {index: spec["launch_template"] for index, spec in enumerate(specs) if spec.get("launch_template")}
    if not given:
        return {}
    by_name, by_id = find_launch_templates(
        retrying_client(run.module, "ec2"),
        names=[t["name"] for t in given.values() if t.get("name")],
        ids=[t["id"] for t in given.values() if t.get("id")],
    )
    resolved, problems = {}, []
    for index, reference in given.items():
        template = by_id.get(reference.get("id")) if reference.get("id") else by_name.get(reference.get("name"))
        version = reference.get("version")
        if template is None:
            if not lenient:
                problems.append(f"nodegroups[{index}].launch_template: no launch template "
                                f"{reference.get('id') or reference.get('name')!r}; create it first "
                                "(llmhub.eks.ec2_launch_templates)")
            resolved[index] = {"id": reference.get("id"), "name": reference.get("name"),
                               "version": None if version in (None, "$Latest", "$Default") else str(int(version))}
            continue
        if version in (None, "$Default"):
            version = template["DefaultVersionNumber"]
        elif version == "$Latest":
            version = template["LatestVersionNumber"]
        resolved[index] = {"id": template["LaunchTemplateId"], "name": template["LaunchTemplateName"],
                           "version": str(int(version))}
    if problems:
        raise AnsibleAWSError(message="; ".join(problems))
    return resolved


# --------------------------------------------------------------------------- planning


def target_of(spec, roles, subnets, template, current):
    """The resolved wanted values of one node group (for the immutable check, creation and the diff)."""
    role = roles.get(spec["node_role"], spec["node_role"])
    if current and not role.startswith("arn:") and str(current.get("nodeRole", "")).endswith(f"/{role}"):
        role = current["nodeRole"]  # check mode: a role name that could not be resolved, same role
    subnet_ids = [subnets.get(ref, ref) for ref in spec["subnets"]]
    return {
        "instance_types": list(spec["instance_types"]),
        "capacity_type": spec["capacity_type"],
        "subnets": list(dict.fromkeys(subnet_ids)),
        "ami_type": spec["ami_type"],
        "node_role": role,
        "disk_size": None if template else spec.get("disk_size"),
        "launch_template": (template.get("id") or template.get("name")) if template else None,
        "template": template,
    }


def plan_group(run, index, spec, current, target):
    """What one node group needs: a dict with action (create, recreate, update or None) and the payloads."""
    module = run.module
    name = spec["name"]
    plan = {"index": index, "spec": spec, "current": current, "target": target, "tags": wanted_tags(module, spec),
            "config": None, "version": None, "tags_set": {}, "tags_unset": [], "drift": None, "problems": [],
            "purge": module.params["purge_tags"]}
    if name in module.params["recreate"]:
        plan["action"] = "recreate" if current else "create"
        return plan
    if current is None:
        plan["action"] = "create"
        return plan
    if current.get("status") == "DELETING":
        plan["action"] = "recreate"  # finish the deletion, then create it
        return plan
    where = f"nodegroups[{index}] ({name})"
    if current.get("status") == "CREATE_FAILED":
        plan["problems"].append(f"{where}: status CREATE_FAILED ({failure_reason(current)}); it cannot be updated")
    for field, have, want in immutable_changes(current, target):
        plan["problems"].append(f"{where}: {field} {have} -> {want}")
    scaling, plan["drift"] = scaling_change(current.get("scalingConfig"), spec["scaling"],
                                            module.params["enforce_desired_size"])
    config = {
        "scalingConfig": scaling,
        "labels": labels_change(current.get("labels"), spec.get("labels")),
        "taints": taints_change(current.get("taints"), wanted_taints(spec.get("taints"))),
        "updateConfig": update_config_change(current.get("updateConfig"), spec.get("update_config")),
    }
    plan["config"] = {key: value for key, value in config.items() if value} or None
    template = target.get("template") or {}
    version = spec.get("version")
    if version is not None and version != current.get("version"):
        cluster_version = run.cluster_version or version
        if minor_of(version) > minor_of(cluster_version) and not module.check_mode:
            # (in check mode an earlier task of the run would have upgraded the control plane)
            plan["problems"].append(f"{where}: version {version} is newer than the cluster's {cluster_version}; "
                                    "upgrade the control plane first")
        elif current.get("version") and minor_of(version) < minor_of(current["version"]):
            plan["problems"].append(f"{where}: version {version} is older than the node group's "
                                    f"{current['version']}; EKS cannot downgrade nodes")
    plan["version"] = version_change(current, template.get("version"), spec.get("release_version"), version)
    if plan["tags"] is not None:
        plan["tags_set"], plan["tags_unset"] = compare_aws_tags(current.get("tags") or {}, plan["tags"],
                                                                purge_tags=module.params["purge_tags"])
    changed = plan["config"] or plan["version"] or plan["tags_set"] or plan["tags_unset"]
    plan["action"] = "update" if changed else None
    return plan


def planned_view(plan, check_mode=False):
    """The node group as it will be after the call (for check mode and the diff).

    In check mode what AWS assigns to a node group it would create, and the id and version of a launch template not
    created yet, are KNOWN_AFTER_APPLY.
    """
    view = _planned_view(plan)
    if not check_mode:
        return view
    if plan["action"] in ("create", "recreate"):
        view = fill_unknown(view, ("arn", "status", "version", "release_version"))
    if view.get("launch_template"):
        view["launch_template"] = fill_unknown(view["launch_template"], ("id", "version"))
    return view


def _planned_view(plan):
    spec, target, current = plan["spec"], plan["target"], plan["current"]
    replaced = plan["action"] in ("create", "recreate")
    before = nodegroup_view(current) if current and not replaced else {}
    scaling = dict(spec["scaling"])
    if plan["drift"]:
        scaling["desired_size"] = plan["drift"]["current_desired_size"]
    update = update_config_target(spec.get("update_config"))
    template = target.get("template")
    tags = plan["tags"]
    if tags is None:
        tags = before.get("tags", {})
    elif before and not plan["purge"]:
        tags = {**before.get("tags", {}), **tags}
    elif before:
        tags = {**{k: v for k, v in before.get("tags", {}).items() if k.startswith("aws:")}, **tags}
    view = {
        "name": spec["name"],
        "arn": before.get("arn"),
        "status": before.get("status"),
        "capacity_type": spec["capacity_type"],
        "instance_types": list(spec["instance_types"]),
        "ami_type": spec["ami_type"],
        "node_role": target["node_role"],
        "subnets": sorted(target["subnets"]),
        "scaling": {"min_size": scaling["min_size"], "desired_size": scaling["desired_size"],
                    "max_size": scaling["max_size"]},
        "labels": {str(k): str(v) for k, v in (spec.get("labels") or {}).items()},
        "taints": sorted(wanted_taints(spec.get("taints")), key=lambda t: (t["key"], t["effect"])),
        "update_config": {"max_unavailable": update.get("maxUnavailable"),
                          "max_unavailable_percentage": update.get("maxUnavailablePercentage")},
        "launch_template": dict(template) if template else None,
        "disk_size": None if template else (spec.get("disk_size") or before.get("disk_size")),
        "release_version": spec.get("release_version") or before.get("release_version"),
        "version": spec.get("version") or before.get("version"),
        "health_issues": before.get("health_issues", []),
        "tags": tags,
    }
    return view


# --------------------------------------------------------------------------- doing


def create_params(run, plan):
    spec, target = plan["spec"], plan["target"]
    scaling = spec["scaling"]
    params = dict(
        clusterName=run.cluster_name,
        nodegroupName=spec["name"],
        scalingConfig={"minSize": scaling["min_size"], "maxSize": scaling["max_size"],
                       "desiredSize": scaling["desired_size"]},
        subnets=target["subnets"],
        instanceTypes=target["instance_types"],
        amiType=target["ami_type"],
        nodeRole=target["node_role"],
        capacityType=target["capacity_type"],
        updateConfig=update_config_target(spec.get("update_config")),
        clientRequestToken=str(uuid.uuid4()),
    )
    labels = {str(k): str(v) for k, v in (spec.get("labels") or {}).items()}
    if labels:
        params["labels"] = labels
    taints = wanted_taints(spec.get("taints"))
    if taints:
        params["taints"] = taints
    if plan["tags"]:
        params["tags"] = plan["tags"]
    template = target.get("template")
    if template:
        params["launchTemplate"] = {"id": template["id"], "version": template["version"]}
    elif spec.get("disk_size"):
        params["diskSize"] = spec["disk_size"]
    if spec.get("release_version"):
        params["releaseVersion"] = spec["release_version"]
    if spec.get("version"):
        params["version"] = spec["version"]
    return params


def settle(run, name, update_id=None, description="node group to become ACTIVE"):
    """Wait until one node group is ACTIVE (and ``update_id``, if given, Successful)."""
    return wait_all(run, {name: update_id}, description)


def wait_all(run, updates, description="node groups to become ACTIVE"):
    """Wait once for every node group in ``updates`` ({name: last update id or None}); returns {name: node group}.

    Polls all pending node groups each round (their describe calls in parallel);
    a failed node group does not stop the wait for the others.
    """

    def read(name):
        nodegroup = run.describe(name)
        update = None
        if nodegroup is not None and updates.get(name):
            update = run.eks.describe_update(aws_retry=True, name=run.cluster_name, nodegroupName=name,
                                             updateId=updates[name])["update"]
        return {"nodegroup": nodegroup, "update": update}

    def fetch(names):
        found = run_concurrently(read, names, "describe node groups")
        return {name: state for name, state in zip(names, found) if state["nodegroup"] is not None}

    def ready(state):
        update = state["update"]
        return state["nodegroup"].get("status") == "ACTIVE" and (update is None or update["status"] == "Successful")

    def failed(state):
        update = state["update"]
        if update is not None and update.get("status") in FAILED_UPDATE_STATUSES:
            errors = "; ".join(f"{e.get('errorCode')}: {e.get('errorMessage')}" for e in update.get("errors") or [])
            return f"{update.get('type')} {update['status']}" + (f" ({errors})" if errors else "")
        return failure_reason(state["nodegroup"])

    final = wait_for_set(fetch, list(updates), ready, failed, run.remaining(), description)
    return {name: state["nodegroup"] for name, state in final.items()}


def wait_gone(run, names, description="node groups to be deleted"):
    def fetch(pending):
        found = run_concurrently(run.describe, pending, "describe node groups")
        return {name: nodegroup or {"status": "gone"} for name, nodegroup in zip(pending, found)}

    def failed(nodegroup):
        return failure_reason(nodegroup) if nodegroup.get("status") == "DELETE_FAILED" else None

    wait_for_set(fetch, names, lambda n: n.get("status") == "gone", failed, run.remaining(), description)


def delete(run, name):
    try:
        run.eks.delete_nodegroup(aws_retry=True, clusterName=run.cluster_name, nodegroupName=name)
    except is_boto3_error_code("ResourceNotFoundException"):
        pass


def request_deletions(run, plans):
    """Delete the node groups of ``plans`` (action recreate) concurrently; returns {name: error} of failed calls."""
    doomed = [plan for plan in plans if plan["current"].get("status") != "DELETING"]
    outcomes = run_concurrently(lambda plan: attempt(run, plan, lambda _run, p: delete(_run, p["spec"]["name"])),
                                doomed, "delete node groups to recreate", label=lambda p: p["spec"]["name"])
    return {plan["spec"]["name"]: error for plan, (_none, error) in zip(doomed, outcomes) if error}


def wait_deleted(run, names):
    """Wait once until the node groups ``names`` are gone (the progress callback shows all of them).

    Returns {name: error} of those still there when the wait failed (DELETE_FAILED, timeout).
    """
    try:
        wait_gone(run, names, "node groups to be deleted before they are created again")
    except AnsibleAWSError as e:
        left = run_concurrently(run.describe, names, "describe node groups")
        return {name: e.message for name, nodegroup in zip(names, left) if nodegroup is not None}
    return {}


def execute(run, plan):
    """Carry out one node group's plan; returns the id of its last EKS update (None for creates).

    A node group to recreate is gone by now (request_deletions, wait_deleted): it is created like a new one.
    """
    name = plan["spec"]["name"]
    action = plan["action"]
    if action in ("create", "recreate"):
        run.eks.create_nodegroup(aws_retry=True, **create_params(run, plan))
        return None
    arn = plan["current"]["nodegroupArn"]
    if plan["tags_unset"]:
        run.eks.untag_resource(aws_retry=True, resourceArn=arn, tagKeys=plan["tags_unset"])
    if plan["tags_set"]:
        run.eks.tag_resource(aws_retry=True, resourceArn=arn, tags=plan["tags_set"])
    last = None
    if (plan["config"] or plan["version"]) and plan["current"].get("status") in ("CREATING", "UPDATING"):
        settle(run, name, description=f"node group {name} to finish its current change")
    if plan["config"]:
        last = run.eks.update_nodegroup_config(aws_retry=True, clusterName=run.cluster_name, nodegroupName=name,
                                               **plan["config"])["update"]["id"]
    if plan["version"]:
        if last:
            settle(run, name, last, description=f"the configuration update of node group {name}")
        force = {"force": True} if run.force_update else {}
        last = run.eks.update_nodegroup_version(aws_retry=True, clusterName=run.cluster_name, nodegroupName=name,
                                                **plan["version"], **force)["update"]["id"]
    return last


def attempt(run, plan, step=execute):
    """(last update id, None) or (None, error text): every node group's work runs to its end."""
    try:
        return step(run, plan), None
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, AnsibleAWSError) as e:
        return None, _error_text(e)


# --------------------------------------------------------------------------- states


def resolve_latest_releases(run, specs, current):
    """``specs`` with every ``release_version: latest`` replaced by the release its public SSM parameter names.

    The release is that of the group's AMI type for the Kubernetes version it will run: O(nodegroups[].version),
    else its current version, else the cluster's. Parameters are read once each, concurrently.
    """
    wanted = {}
    for spec in specs:
        if spec.get("release_version") == "latest":
            version = spec.get("version") or (current.get(spec["name"]) or {}).get("version") or run.cluster_version
            wanted[spec["name"]] = ami_release_parameter(spec["ami_type"], version)
    if not wanted:
        return specs
    ssm = retrying_client(run.module, "ssm")
    names = sorted(set(wanted.values()))

    def read(name):
        try:
            return ssm.get_parameter(aws_retry=True, Name=name)["Parameter"]["Value"]
        except is_boto3_error_code("ParameterNotFound"):
            return None

    found = dict(zip(names, run_concurrently(read, names, "read the latest AMI releases")))
    missing = sorted({name for name in names if found[name] is None})
    if missing:
        run.module.fail_json(msg=f"nodegroups: there is no AMI release for {', '.join(missing)} (the public SSM "
                                 "parameter of the AMI type and Kubernetes version); give release_version explicitly")
    return [{**spec, "release_version": found[wanted[spec["name"]]]} if spec["name"] in wanted else spec
            for spec in specs]


def wait_until_cluster_active(run):
    try:
        return wait_for_cluster_status(run.eks, run.cluster_name, "ACTIVE", timeout=run.remaining())
    except AnsibleAWSError as e:
        run.module.fail_json(msg=f"cluster_name: {e.message}; node groups can only be changed while the cluster "
                                 "is ACTIVE")


def resolved_or_message(resolve):
    """(references, None), or (None, message) when a reference names nothing (errors of AWS propagate)."""
    try:
        return resolve(), None
    except AnsibleAWSError as e:
        if e.exception is not None:
            raise
        return None, e.message


def ensure_present(run):
    module = run.module
    specs = module.params["nodegroups"]
    cluster = describe_cluster(run.eks, run.cluster_name)
    if cluster is None and not module.check_mode:
        module.fail_json(msg=f"cluster_name: there is no EKS cluster {run.cluster_name!r} in {module.region}; create "
                             "it first (llmhub.eks.eks_cluster)")
    status = (cluster or {}).get("status")
    if status == "UPDATING" and not module.check_mode:
        # The update may change what the node groups are planned against (the cluster version): wait, then read.
        cluster = wait_until_cluster_active(run)
    elif status not in (None, "ACTIVE", "CREATING") and not module.check_mode:
        module.fail_json(msg=f"cluster_name: the cluster {run.cluster_name} is {status}; node groups "
                             "can only be changed while it is ACTIVE (wait for the cluster, then run again)")
    lenient = module.check_mode
    run.cluster_version = (cluster or {}).get("version")
    current = current_nodegroups(run, [spec["name"] for spec in specs]) if cluster else {}
    specs = resolve_latest_releases(run, specs, current)
    resolvers = [("node roles", partial(resolve_roles, run, specs, lenient)),
                 ("subnets", partial(resolve_subnets, run, specs, cluster, lenient)),
                 ("launch templates", partial(resolve_templates, run, specs, lenient))]
    outcomes = run_concurrently(lambda resolver: resolved_or_message(resolver[1]), resolvers,
                                "resolve node group references", label=lambda resolver: resolver[0])
    unresolved = [message for _references, message in outcomes if message]
    if unresolved:
        module.fail_json(msg="; ".join(unresolved))
    references = [found for found, _message in outcomes]
    roles, subnets, templates = references
    plans = []
    for index, spec in enumerate(specs):
        target = target_of(spec, roles, subnets, templates.get(index), current.get(spec["name"]))
        plans.append(plan_group(run, index, spec, current.get(spec["name"]), target))
    problems = [problem for plan in plans for problem in plan["problems"]]
    if problems:
        examples = sorted({plan["spec"]["name"] for plan in plans if plan["problems"]})
        module.fail_json(msg="These node group settings cannot change in place: " + "; ".join(problems)
                             + f". To replace the node group (new nodes, workloads rescheduled), list it in recreate, "
                             f"e.g. recreate: {examples}; or keep the current values.")

    result = dict(
        changed=any(plan["action"] for plan in plans),
        created=[p["spec"]["name"] for p in plans if p["action"] == "create"],
        updated=[p["spec"]["name"] for p in plans if p["action"] == "update"],
        recreated=[p["spec"]["name"] for p in plans if p["action"] == "recreate"],
        deleted=[],
        desired_size_drift={p["spec"]["name"]: p["drift"] for p in plans if p["drift"]},
    )
    result["diff"] = dict(
        before={p["spec"]["name"]: diff_view(nodegroup_view(p["current"]), p) for p in plans if p["current"]},
        after={p["spec"]["name"]: diff_view(planned_view(p, module.check_mode), p) for p in plans},
    )
    if module.check_mode:
        result["nodegroups"] = [_pick(planned_view(p, True), RETURN_KEYS) for p in plans]
        module.exit_json(**result)

    active = [plan for plan in plans if plan["action"]]
    if active and status == "CREATING":
        # Everything above was read and planned while AWS creates the cluster; EKS accepts node group changes
        # only from an ACTIVE cluster, so the requests go out the moment it is.
        wait_until_cluster_active(run)
    # Node groups to recreate are all deleted together; the other node groups' changes are requested while EKS
    # deletes them; one wait until all are gone; then they are created again.
    recreating = [plan for plan in active if plan["action"] == "recreate"]
    errors = request_deletions(run, recreating)
    others = [plan for plan in active if plan["action"] != "recreate"]
    outcomes = run_concurrently(lambda plan: attempt(run, plan), others, "change node groups",
                                label=lambda p: p["spec"]["name"])
    deleted = [plan["spec"]["name"] for plan in recreating if plan["spec"]["name"] not in errors]
    if deleted:
        errors.update(wait_deleted(run, deleted))
    again = [plan for plan in recreating if plan["spec"]["name"] not in errors]
    outcomes += run_concurrently(lambda plan: attempt(run, plan), again, "create node groups again",
                                 label=lambda p: p["spec"]["name"])
    requested = others + again
    errors.update({plan["spec"]["name"]: error for plan, (_update, error) in zip(requested, outcomes) if error})
    pending = {plan["spec"]["name"]: update for plan, (update, error) in zip(requested, outcomes) if not error}
    if module.params["wait"]:
        # Unchanged groups still settling (created or updated by an earlier call with wait=false) are waited on too.
        pending.update({plan["spec"]["name"]: None for plan in plans
                        if not plan["action"] and (plan["current"] or {}).get("status") in ("CREATING", "UPDATING")})
    final, wait_error = {}, None
    if pending and module.params["wait"]:
        try:
            final = wait_all(run, pending)
        except AnsibleAWSError as e:
            wait_error = e.message
    elif pending:
        final = dict(zip(pending, run_concurrently(run.describe, list(pending), "describe node groups")))
    views = []
    for plan in plans:
        name = plan["spec"]["name"]
        nodegroup = final.get(name) or (plan["current"] if name not in pending and name not in errors else None)
        if nodegroup is None:
            nodegroup = run.describe(name)
        views.append(_pick(nodegroup_view(nodegroup), RETURN_KEYS) if nodegroup else {"name": name})
    result["nodegroups"] = views
    for plan, view in zip(plans, views):
        if plan["action"] == "recreate" and view.get("arn"):
            result["diff"]["after"][view["name"]] = diff_view(view, plan)  # the new node group, as AWS made it
    if errors or wait_error:
        details = [f"{name}: {error}" for name, error in errors.items()] + ([wait_error] if wait_error else [])
        module.fail_json(msg=f"Node groups of {run.cluster_name} failed: {'; '.join(details)}", **result)
    module.exit_json(**result)


def ensure_absent(run):
    module = run.module
    names = [spec["name"] for spec in module.params["nodegroups"]]
    cluster = describe_cluster(run.eks, run.cluster_name)
    current = current_nodegroups(run, names) if cluster else {}
    doomed = [name for name in names if name in current]
    result = dict(changed=bool(doomed), nodegroups=[], created=[], updated=[], recreated=[], deleted=doomed,
                  desired_size_drift={})
    result["diff"] = dict(before={name: _pick(nodegroup_view(current[name]), DIFF_KEYS) for name in doomed},
                          after={})
    if module.check_mode or not doomed:
        module.exit_json(**result)
    calls = [name for name in doomed if current[name].get("status") != "DELETING"]
    run_concurrently(lambda name: delete(run, name), calls, "delete node groups")
    if module.params["wait"]:
        wait_gone(run, doomed)
    module.exit_json(**result)


def _pick(view, keys):
    return {key: view.get(key) for key in keys}


def diff_view(view, plan):
    """What ``--diff`` shows of one node group; with its ARN when it is recreated (the old one, then the new one)."""
    return _pick(view, (("arn",) if plan["action"] == "recreate" else ()) + DIFF_KEYS)


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        nodegroups=dict(
            type="list",
            elements="dict",
            required=True,
            options=dict(
                name=dict(type="str", required=True),
                node_role=dict(type="str"),
                subnets=dict(type="list", elements="str"),
                capacity_type=dict(type="str", default="ON_DEMAND"),
                instance_types=dict(type="list", elements="str"),
                ami_type=dict(type="str", default="AL2023_x86_64_STANDARD"),
                version=dict(type="str"),
                release_version=dict(type="str"),
                scaling=dict(
                    type="dict",
                    options=dict(
                        min_size=dict(type="int"),
                        desired_size=dict(type="int"),
                        max_size=dict(type="int"),
                    ),
                ),
                labels=dict(type="dict", default={}),
                taints=dict(
                    type="list",
                    elements="dict",
                    default=[],
                    options=dict(
                        key=dict(type="str", no_log=False),
                        value=dict(type="str"),
                        effect=dict(type="str"),
                    ),
                ),
                update_config=dict(
                    type="dict",
                    options=dict(
                        max_unavailable=dict(type="int"),
                        max_unavailable_percentage=dict(type="int"),
                    ),
                ),
                launch_template=dict(
                    type="dict",
                    options=dict(
                        id=dict(type="str"),
                        name=dict(type="str"),
                        version=dict(type="str"),
                    ),
                ),
                disk_size=dict(type="int"),
                tags=dict(type="dict"),
            ),
        ),
        enforce_desired_size=dict(type="bool", default=False),
        force_update=dict(type="bool", default=False),
        recreate=dict(type="list", elements="str", default=[]),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    # "system, database" is split on commas by the list type; blanks around names and repeats are dropped.
    module.params["recreate"] = list(dict.fromkeys(name.strip() for name in module.params["recreate"] if name.strip()))
    problems = validate_nodegroups(module.params["nodegroups"], module.params["recreate"], module.params["state"])
    if problems:
        module.fail_json(msg="Invalid node group input: " + "; ".join(problems))
    run = Run(module)
    handler = ensure_present if module.params["state"] == "present" else ensure_absent
    run_module(module, handler, run)


if __name__ == "__main__":
    main()
