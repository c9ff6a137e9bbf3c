#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_addon
short_description: Reconcile a set of EKS managed add-ons of one cluster in one call
version_added: 0.1.0
description:
  - Creates, updates and deletes all listed EKS managed add-ons of one cluster in a single module invocation
    (neither amazon.aws nor community.aws has an EKS add-on module).
  - Describes the cluster once (it must be C(ACTIVE)) and every listed add-on concurrently, resolves each
    O(addons[].version) against C(DescribeAddonVersions) for the cluster's Kubernetes version, then requests every
    create and update concurrently before waiting once for all of them.
  - An update changes the version, the service account role and the configuration values in place
    (C(UpdateAddon)); tags are changed with C(TagResource)/C(UntagResource) on the add-on ARN.
  - Add-ons that run pods (C(coredns), C(aws-ebs-csi-driver)) are C(DEGRADED) until the cluster has nodes. With
    O(wait=true), an add-on that settles C(DEGRADED), C(CREATE_FAILED) or C(UPDATE_FAILED) fails the task with its
    health issues, saying so when the cluster has no C(ACTIVE) node group. Transient states
    (C(CREATING), C(UPDATING)) are waited out before deciding; so is C(DEGRADED) with only
    C(InsufficientNumberOfReplicas) on a cluster with an C(ACTIVE) node group (the add-on's pods are starting), up
    to O(wait_timeout).
  - An add-on still C(CREATING), C(UPDATING) or C(DELETING) from an earlier run is waited for before it is changed.
  - The list is validated (names, conflict resolution, configuration values, role references) before any AWS call.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  cluster_name:
    description: Name of the EKS cluster.
    type: str
    required: true
  addons:
    description: The add-ons managed by this call.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Add-on name as known to C(DescribeAddonVersions), e.g. C(vpc-cni), C(coredns), C(kube-proxy).
        type: str
        required: true
      version:
        description:
          - V(latest) is the newest version compatible with the cluster's Kubernetes version (an installed add-on is
            upgraded when a newer compatible version appears).
          - Any other value is a pinned version, e.g. C(v1.19.2-eksbuild.1); it must be compatible with the cluster's
            Kubernetes version. EKS cannot downgrade an add-on.
        type: str
        default: latest
      service_account_role:
        description:
          - IAM role (name or ARN) for the add-on's service account (IRSA), e.g. for C(aws-ebs-csi-driver).
          - A name is resolved to its ARN with C(iam:GetRole). When omitted, the add-on's current role is left as is.
        type: str
        aliases: [service_account_role_arn]
      configuration_values:
        description:
          - Add-on configuration, as a dict or a JSON or YAML string of a mapping. Compared semantically with the
            current configuration; sent as JSON.
          - When omitted, the current configuration is left as is; V({}) removes any configuration.
        type: raw
      resolve_conflicts:
        description: How EKS resolves conflicts with fields changed outside EKS when creating or updating.
        type: str
        choices: [NONE, OVERWRITE, PRESERVE]
        default: OVERWRITE
      preserve_on_delete:
        description: With O(state=absent), keep the add-on's Kubernetes resources on the cluster.
        type: bool
        default: false
      tags:
        description: Tags of this add-on, merged over O(tags).
        type: dict
  defer_without_nodes:
    description:
      - Names of add-ons of O(addons) that run pods (C(coredns), C(aws-ebs-csi-driver)) and are left alone, neither
        created nor changed, while the cluster has no C(ACTIVE) node group; they are returned in RV(deferred).
      - The eks role sets it when it runs without the nodegroups role (C(--tags eks) before C(--tags nodegroups)),
        so the control plane is finished and those add-ons follow with the node groups instead of failing
        C(DEGRADED).
    type: list
    elements: str
    default: []
  wait:
    description:
      - Wait for every created or updated add-on (and every listed one not C(ACTIVE)) to settle, then fail unless all
        are C(ACTIVE). With O(state=absent), wait until the add-ons are gone.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the whole set.
    type: int
    default: 1200
  state:
    description: V(present) creates and updates the listed add-ons; V(absent) deletes them.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Tags are only managed when O(tags) or O(addons[].tags) is given; O(purge_tags) then removes other tags.
  - In check mode against a cluster that does not exist yet, every add-on is reported as created with its
    version as given.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Networking add-ons, before node groups exist
  llmhub.eks.eks_addon:
    cluster_name: llm-analytics-hub-prod-eks
    tags:
      Project: llm-analytics-hub
      llmhub.io/cluster: llm-analytics-hub-prod-eks
    addons:
      - name: vpc-cni
        configuration_values:
          env:
            ENABLE_PREFIX_DELEGATION: "true"
            WARM_PREFIX_TARGET: "1"
      - name: kube-proxy
      - name: eks-pod-identity-agent

- name: Add-ons that run pods, once node groups are ACTIVE
  llmhub.eks.eks_addon:
    cluster_name: llm-analytics-hub-prod-eks
    addons:
      - name: coredns
        version: v1.11.3-eksbuild.2
        configuration_values: '{"replicaCount": 3}'
      - name: aws-ebs-csi-driver
        service_account_role: llm-analytics-hub-prod-eks-ebs-csi-driver

- name: Remove an add-on, keeping what it runs
  llmhub.eks.eks_addon:
    cluster_name: llm-analytics-hub-prod-eks
    state: absent
    addons:
      - name: eks-pod-identity-agent
        preserve_on_delete: true
"""

RETURN = r"""
addons:
  description:
    - The listed add-ons as they are after the call, in the order given (empty for O(state=absent)).
    - In check mode, add-ons that would be created have V((known after apply\)) as RV(addons[].arn) and RV(addons[].status).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Add-on name.
      type: str
      sample: coredns
    version:
      description: Installed (or planned) version.
      type: str
      sample: v1.11.3-eksbuild.2
    status:
      description: Add-on status (C(ACTIVE), C(CREATING), C(UPDATING), C(DEGRADED), ...).
      type: str
      sample: ACTIVE
    arn:
      description: Add-on ARN.
      type: str
    service_account_role_arn:
      description: IAM role of the add-on's service account, if any.
      type: str
    configuration_values:
      description: Configuration values as a dict.
      type: dict
    health_issues:
      description: Health issues EKS reports.
      type: list
      elements: dict
      contains:
        code:
          description: Issue code.
          type: str
          sample: InsufficientNumberOfReplicas
        message:
          description: Issue description.
          type: str
        resource_ids:
          description: Affected resources.
          type: list
          elements: str
    tags:
      description: Tags of the add-on.
      type: dict
created:
  description: Names of the add-ons created (or that would be in check mode).
  returned: always
  type: list
  elements: str
updated:
  description: Names of the add-ons updated (version, role, configuration or tags).
  returned: always
  type: list
  elements: str
deleted:
  description: Names of the add-ons deleted.
  returned: always
  type: list
  elements: str
deferred:
  description: Names of the add-ons of O(defer_without_nodes) left alone because the cluster has no ACTIVE node group.
  returned: when state is present
  type: list
  elements: str
  sample: ["coredns", "aws-ebs-csi-driver"]
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.llmhub.eks.plugins.module_utils.common import KNOWN_AFTER_APPLY
from ansible_collections.llmhub.eks.plugins.module_utils.common import planned
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_concurrently
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.common import wait_for_set
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import SETTLING_STATES
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import active_nodegroups
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import configuration_string
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import current_configuration
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import describe_cluster
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import eks_client
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import is_downgrade
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import parse_configuration
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import planned_role_arn
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import role_reference_problem
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import select_version

GONE = "GONE"
REPLICAS_ISSUE = "InsufficientNumberOfReplicas"
NO_NODES_HINT = (
    "the cluster has no ACTIVE node group; create node groups first "
    "(site.yml runs coredns/aws-ebs-csi-driver after the nodegroups role)"
)


def validate(module):
    """Everything that can be checked without AWS; fails naming the option. Returns parsed configurations."""
    problems = []
    seen = {}
    configurations = []
    for index, addon in enumerate(module.params["addons"]):
        where = f"addons[{index}]"
        name = (addon["name"] or "").strip()
        if not name:
            problems.append(f"{where}.name must not be empty")
        elif name in seen:
            problems.append(f"{where}.name: {name} is listed twice (also addons[{seen[name]}])")
        else:
            seen[name] = index
        if not (addon["version"] or "").strip():
            problems.append(f"{where}.version must not be empty (use latest or a version such as v1.19.2-eksbuild.1)")
        role = addon["service_account_role"]
        if role is not None:
            problem = role_reference_problem(role)
            if problem:
                problems.append(f"{where}.service_account_role: {role!r} {problem}")
        try:
            configurations.append(parse_configuration(addon["configuration_values"]))
        except ValueError as e:
            configurations.append(None)
            problems.append(f"{where}.configuration_values ({name or 'unnamed'}): {e}")
    if problems:
        module.fail_json(msg="Invalid addons: " + "; ".join(problems))
    return configurations


def addon_view(addon):
    """The module's view of a DescribeAddon answer."""
    return {
        "name": addon["addonName"],
        "version": addon.get("addonVersion"),
        "status": addon.get("status"),
        "arn": addon.get("addonArn"),
        "service_account_role_arn": addon.get("serviceAccountRoleArn"),
        "configuration_values": current_configuration(addon),
        "health_issues": [
            {"code": i.get("code"), "message": i.get("message"), "resource_ids": i.get("resourceIds") or []}
            for i in (addon.get("health") or {}).get("issues") or []
        ],
        "tags": addon.get("tags") or {},
    }


def diff_entry(view):
    return {key: view.get(key) for key in ("version", "service_account_role_arn", "configuration_values", "tags")}


class AddonSet:
    """The listed add-ons of one cluster: what exists, what is wanted, and the calls between them."""

    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.cluster_name = module.params["cluster_name"]
        self.specs = module.params["addons"]
        self._iam = None

    @property
    def iam(self):
        if self._iam is None:
            self._iam = retrying_client(self.module, "iam")
        return self._iam

    # -- reading ------------------------------------------------------------------------------------

    def describe(self, name):
        try:
            return self.client.describe_addon(aws_retry=True, clusterName=self.cluster_name, addonName=name)["addon"]
        except is_boto3_error_code("ResourceNotFoundException"):
            return None

    def describe_many(self, names):
        found = run_concurrently(self.describe, names, "describe add-ons")
        return dict(zip(names, found))

    def versions(self, name, kubernetes_version):
        infos = paginate(self.client, "describe_addon_versions", "addons", addonName=name,
                         kubernetesVersion=kubernetes_version)
        if not infos:  # unknown, or known without a compatible version: tell which
            infos = paginate(self.client, "describe_addon_versions", "addons", addonName=name)
        return infos

    def role_arn(self, reference, cluster_arn):
        """(arn, problem) of a role name or ARN."""
        if reference is None or reference.startswith("arn:"):
            return reference, None
        try:
            return self.iam.get_role(aws_retry=True, RoleName=reference)["Role"]["Arn"], None
        except is_boto3_error_code("NoSuchEntity"):
            if self.module.check_mode:  # planned: the role is created earlier in the same run
                return planned_role_arn(reference, cluster_arn), None
            return None, f"IAM role {reference} does not exist"

    def inspect(self, spec, cluster):
        """Current state, resolved version and role of one listed add-on."""
        current = self.describe(spec["name"])
        infos = self.versions(spec["name"], cluster["version"])
        role, role_problem = self.role_arn(spec["service_account_role"], cluster.get("arn"))
        return current, infos, role, role_problem

    # -- waiting ------------------------------------------------------------------------------------

    def fetch(self, names):
        found = self.describe_many(names)
        return {name: (addon if addon is not None else {"addonName": name, "status": GONE}) for name, addon in found.items()}

    def wait_settled(self, names, description, pods_starting=False):
        """Wait until no add-on of ``names`` is changing.

        With ``pods_starting`` (the cluster has nodes), an add-on C(DEGRADED) only for too few ready replicas is
        still starting its pods (EKS reports that while they are scheduled and pulled) and is waited for too.
        """
        def settled(addon):
            if addon["status"] in SETTLING_STATES:
                return False
            return not (pods_starting and starting_pods(addon))

        return wait_for_set(
            self.fetch,
            names,
            is_ready=settled,
            failure_reason=lambda a: None,
            timeout=self.module.params["wait_timeout"],
            description=description,
        )

    def wait_gone(self, names):
        def failure(addon):
            if addon["status"] == "DELETE_FAILED":
                issues = "; ".join(i["message"] for i in addon_view(addon)["health_issues"])
                return f"DELETE_FAILED {issues}".strip()
            return None

        wait_for_set(
            self.fetch,
            names,
            is_ready=lambda a: a["status"] == GONE,
            failure_reason=failure,
            timeout=self.module.params["wait_timeout"],
            description=f"add-ons of {self.cluster_name} to be deleted",
        )

    # -- planning -----------------------------------------------------------------------------------

    def wanted_tags(self, spec):
        common, own = self.module.params["tags"], spec["tags"]
        if common is None and own is None:
            return None
        tags = dict(common or {})
        tags.update(own or {})
        return tags

    def plan(self, cluster, configurations):
        """One plan per listed add-on: what exists, what it should be, what to call."""
        inspected = run_concurrently(
            lambda spec: self.inspect(spec, cluster), self.specs, "inspect add-ons", label=lambda s: s["name"]
        )
        problems, resolved = [], []
        for index, (spec, (_current, infos, role, role_problem)) in enumerate(zip(self.specs, inspected)):
            version, problem = select_version(infos, spec["name"], spec["version"], cluster["version"])
            if problem:
                problems.append(f"addons[{index}].{'version' if infos else 'name'}: {problem}")
            if role_problem:
                problems.append(f"addons[{index}].service_account_role: {role_problem}")
            resolved.append((version, role))
        self.fail_on(problems)
        current = {spec["name"]: found for spec, (found, _infos, _role, _problem) in zip(self.specs, inspected)}
        settling = [name for name, found in current.items() if found is not None and found["status"] in SETTLING_STATES]
        if settling and not self.module.check_mode:
            # An add-on left creating/updating/deleting by an earlier run: let it finish before changing it.
            settled = self.wait_settled(settling, f"add-ons of {self.cluster_name} to finish their current change")
            current.update({name: (None if found["status"] == GONE else found) for name, found in settled.items()})
        plans = []
        for index, (spec, config, (version, role)) in enumerate(zip(self.specs, configurations, resolved)):
            found = current[spec["name"]]
            if found is not None and is_downgrade(found.get("addonVersion"), version):
                if spec["version"] == "latest":
                    version = found["addonVersion"]  # newer than any listed version: keep it
                else:
                    problems.append(
                        f"addons[{index}].version: {spec['name']} is at {found['addonVersion']}; EKS cannot "
                        f"downgrade it to {version} (pin {found['addonVersion']} or newer, or delete the add-on)"
                    )
                    continue
            plans.append(self.plan_one(spec, config, found, version, role))
        self.fail_on(problems)
        return plans

    def fail_on(self, problems):
        if problems:
            self.module.fail_json(msg=f"Cannot reconcile the add-ons of cluster {self.cluster_name}: "
                                  + "; ".join(problems))

    def plan_one(self, spec, config, current, version, role):
        tags = self.wanted_tags(spec)
        plan = {"spec": spec, "current": current, "version": version, "config": config, "role": role, "tags": tags,
                "update": {}, "tag": {}, "untag": []}
        before = addon_view(current) if current is not None else None
        if current is None:
            plan["action"] = "create"
            unknown = planned(None, self.module.check_mode)  # the create's answer fills these outside check mode
            after = {"name": spec["name"], "version": version, "status": unknown, "arn": unknown,
                     "service_account_role_arn": role, "configuration_values": config or {}, "health_issues": [],
                     "tags": tags or {}}
        else:
            update = {}
            if version != current.get("addonVersion"):
                update["addonVersion"] = version
            if role is not None and role != current.get("serviceAccountRoleArn"):
                update["serviceAccountRoleArn"] = role
            if config is not None and config != before["configuration_values"]:
                update["configurationValues"] = configuration_string(config)
            if tags is not None:
                plan["tag"], plan["untag"] = compare_aws_tags(before["tags"], tags,
                                                              purge_tags=self.module.params["purge_tags"])
            plan["update"] = update
            plan["action"] = "update" if (update or plan["tag"] or plan["untag"]) else None
            after = dict(before)
            after.update({
                "version": version,
                "service_account_role_arn": role if role is not None else before["service_account_role_arn"],
                "configuration_values": config if config is not None else before["configuration_values"],
                "tags": tags if tags is not None and self.module.params["purge_tags"] else
                {**before["tags"], **(tags or {})},
            })
        plan["before"], plan["after"] = before, after
        return plan

    # -- changing -----------------------------------------------------------------------------------

    def create(self, plan):
        spec = plan["spec"]
        params = dict(clusterName=self.cluster_name, addonName=spec["name"], addonVersion=plan["version"],
                      resolveConflicts=spec["resolve_conflicts"])
        if plan["role"]:
            params["serviceAccountRoleArn"] = plan["role"]
        if plan["config"]:
            params["configurationValues"] = configuration_string(plan["config"])
        if plan["tags"]:
            params["tags"] = plan["tags"]
        try:
            return self.client.create_addon(aws_retry=True, **params)["addon"]
        except is_boto3_error_code("ResourceInUseException"):
            # A retried create whose first attempt went through: it exists now.
            return self.describe(spec["name"])

    def update(self, plan):
        spec = plan["spec"]
        if plan["update"]:
            self.client.update_addon(aws_retry=True, clusterName=self.cluster_name, addonName=spec["name"],
                                     resolveConflicts=spec["resolve_conflicts"], **plan["update"])
        arn = plan["current"]["addonArn"]
        if plan["untag"]:
            self.client.untag_resource(aws_retry=True, resourceArn=arn, tagKeys=list(plan["untag"]))
        if plan["tag"]:
            self.client.tag_resource(aws_retry=True, resourceArn=arn, tags=plan["tag"])
        return None

    def apply(self, plan):
        return self.create(plan) if plan["action"] == "create" else self.update(plan)

    def unhealthy_message(self, views):
        bad = [view for view in views if view["status"] != "ACTIVE"]
        if not bad:
            return None
        no_nodes = not active_nodegroups(self.client, self.cluster_name)
        parts = []
        for view in bad:
            text = f"{view['name']} is {view['status']}"
            if no_nodes:
                text += f": {NO_NODES_HINT}"
            issues = "; ".join(f"{i['code']}: {i['message']}" for i in view["health_issues"])
            if issues:
                text += f" (health issues: {issues})"
            parts.append(text)
        return f"Add-ons of cluster {self.cluster_name} are not healthy: " + " | ".join(parts)


def require_cluster(module, client, absent_ok):
    cluster_name = module.params["cluster_name"]
    cluster = describe_cluster(client, cluster_name)
    if cluster is None:
        if absent_ok:
            return None
        module.fail_json(msg=f"cluster_name: EKS cluster {cluster_name} does not exist; create it first "
                         "(the eks role) or fix cluster_name")
    return cluster


def starting_pods(addon):
    """True for an add-on C(DEGRADED) only because its Deployment has too few ready replicas."""
    issues = (addon.get("health") or {}).get("issues") or []
    return addon["status"] == "DEGRADED" and bool(issues) and all(i.get("code") == REPLICAS_ISSUE for i in issues)


def defer_without_nodes(module, client, configurations):
    """Leave out the add-ons of ``defer_without_nodes`` while the cluster has no ACTIVE node group.

    Returns the configurations of the add-ons kept and the names deferred.
    """
    names = set(module.params["defer_without_nodes"] or [])
    if not names or active_nodegroups(client, module.params["cluster_name"]):
        return configurations, []
    kept = [(addon, config) for addon, config in zip(module.params["addons"], configurations)
            if addon["name"] not in names]
    deferred = [addon["name"] for addon in module.params["addons"] if addon["name"] in names]
    module.params["addons"] = [addon for addon, _config in kept]
    return [config for _addon, config in kept], deferred


def ensure_present(module, client, configurations):
    cluster = require_cluster(module, client, absent_ok=module.check_mode)
    deferred = []
    if cluster is not None and cluster["status"] == "ACTIVE":
        configurations, deferred = defer_without_nodes(module, client, configurations)
    addon_set = AddonSet(module, client)
    if cluster is None:  # check mode before the cluster exists: everything would be created
        created = [spec["name"] for spec in addon_set.specs]
        roles = run_concurrently(lambda spec: addon_set.role_arn(spec["service_account_role"], None)[0],
                                 addon_set.specs, "resolve service account roles", label=lambda s: s["name"])
        views = [{"name": spec["name"], "version": spec["version"], "status": KNOWN_AFTER_APPLY,
                  "arn": KNOWN_AFTER_APPLY, "service_account_role_arn": role, "configuration_values": config or {},
                  "health_issues": [], "tags": addon_set.wanted_tags(spec) or {}}
                 for spec, config, role in zip(addon_set.specs, configurations, roles)]
        result = dict(changed=True, addons=views, created=created, updated=[], deleted=[], deferred=[])
        result["diff"] = dict(before={}, after={v["name"]: diff_entry(v) for v in views})
        module.exit_json(**result)
    if cluster["status"] != "ACTIVE":
        module.fail_json(msg=f"cluster_name: EKS cluster {cluster['name']} is {cluster['status']}; add-ons need an "
                         "ACTIVE cluster (wait until it is ACTIVE and run again)")
    plans = addon_set.plan(cluster, configurations)
    todo = [plan for plan in plans if plan["action"]]
    created = [plan["spec"]["name"] for plan in todo if plan["action"] == "create"]
    updated = [plan["spec"]["name"] for plan in todo if plan["action"] == "update"]
    views = {plan["spec"]["name"]: plan["after"] for plan in plans}
    if not module.check_mode:
        responses = run_concurrently(addon_set.apply, todo, "create or update add-ons",
                                     label=lambda p: p["spec"]["name"])
        for plan, response in zip(todo, responses):
            if response is not None:
                views[plan["spec"]["name"]] = addon_view(response)
            elif plan["update"]:
                views[plan["spec"]["name"]]["status"] = "UPDATING"
        changing = [plan["spec"]["name"] for plan in todo if plan["action"] == "create" or plan["update"]]
        not_active = [name for name, view in views.items() if view["status"] != "ACTIVE"]
        pending = list(dict.fromkeys(changing + not_active))
        if module.params["wait"] and pending:
            final = addon_set.wait_settled(pending, f"add-ons of {addon_set.cluster_name}",
                                           pods_starting=bool(active_nodegroups(client, addon_set.cluster_name)))
            for name, addon in final.items():
                if addon["status"] != GONE:
                    views[name] = addon_view(addon)
    result = dict(
        changed=bool(todo),
        addons=[views[spec["name"]] for spec in addon_set.specs],
        created=created,
        updated=updated,
        deleted=[],
        deferred=deferred,
    )
    result["diff"] = dict(
        before={plan["spec"]["name"]: diff_entry(plan["before"]) for plan in plans if plan["before"]},
        after={plan["spec"]["name"]: diff_entry(plan["after"]) for plan in plans},
    )
    if module.params["wait"] and not module.check_mode:
        message = addon_set.unhealthy_message(result["addons"])
        if message:
            result.pop("diff", None)
            module.fail_json(msg=message, **result)
    module.exit_json(**result)


def ensure_absent(module, client, _configurations):
    addon_set = AddonSet(module, client)
    cluster = require_cluster(module, client, absent_ok=True)
    names = [spec["name"] for spec in addon_set.specs]
    found = addon_set.describe_many(names) if cluster is not None and cluster["status"] != "DELETING" else {}
    existing = {name: addon for name, addon in found.items() if addon is not None}
    to_delete = [name for name, addon in existing.items() if addon["status"] != "DELETING"]
    preserve = {spec["name"]: spec["preserve_on_delete"] for spec in addon_set.specs}
    if not module.check_mode:
        def delete(name):
            try:
                client.delete_addon(aws_retry=True, clusterName=addon_set.cluster_name, addonName=name,
                                    preserve=preserve[name])
            except is_boto3_error_code("ResourceNotFoundException"):
                pass  # deleted meanwhile

        run_concurrently(delete, to_delete, "delete add-ons")
        if module.params["wait"] and existing:
            addon_set.wait_gone(list(existing))
    result = dict(changed=bool(to_delete), addons=[], created=[], updated=[], deleted=to_delete)
    result["diff"] = dict(before={name: diff_entry(addon_view(addon)) for name, addon in existing.items()},
                          after={})
    module.exit_json(**result)


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        addons=dict(
            type="list",
            elements="dict",
            required=True,
            options=dict(
                name=dict(type="str", required=True),
                version=dict(type="str", default="latest"),
                service_account_role=dict(type="str", aliases=["service_account_role_arn"]),
                configuration_values=dict(type="raw"),
                resolve_conflicts=dict(type="str", choices=["NONE", "OVERWRITE", "PRESERVE"], default="OVERWRITE"),
                preserve_on_delete=dict(type="bool", default=False),
                tags=dict(type="dict"),
            ),
        ),
        defer_without_nodes=dict(type="list", elements="str", default=[]),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1200),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    configurations = validate(module)
    client = eks_client(module)
    handler = ensure_present if module.params["state"] == "present" else ensure_absent
    run_module(module, handler, module, client, configurations)


if __name__ == "__main__":
    main()
