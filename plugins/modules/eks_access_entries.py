#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_access_entries
short_description: Reconcile the access entries and access policies of an EKS cluster in one call
version_added: 0.1.0
description:
  - Manages who can reach the Kubernetes API of an EKS cluster through EKS access entries (the API
    authentication mode), as one set; neither amazon.aws nor community.aws has an access entry module.
  - Lists the cluster's access entries once, describes each with its associated access policies concurrently, then
    creates, updates and deletes entries and associates and disassociates policies concurrently. A changed access
    scope re-associates the policy.
  - With O(purge=true) entries that are not listed are deleted, except node entries (types C(EC2_LINUX),
    C(EC2_WINDOWS), C(FARGATE_LINUX), C(HYBRID_LINUX), C(EC2), C(HYPERPOD_LINUX)) that EKS creates for node roles,
    the principals in O(keep_principals), and the principal running the module (so it cannot lock itself out).
  - The cluster's authentication mode must be C(API) or C(API_AND_CONFIG_MAP).
  - The list is validated (principal ARNs, duplicates, policy names, scopes, usernames) before any AWS call.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  cluster_name:
    description: Name of the EKS cluster.
    type: str
    required: true
  access_entries:
    description: The access entries of the cluster managed by this call.
    type: list
    elements: dict
    required: true
    suboptions:
      principal_arn:
        description: ARN of the IAM role or user, e.g. C(arn:aws:iam::123456789012:role/platform-admins).
        type: str
        required: true
      type:
        description:
          - Entry type. Only C(STANDARD) entries take O(access_entries[].kubernetes_groups),
            O(access_entries[].username) and O(access_entries[].access_policies); the others are for node roles.
          - The type of an existing entry cannot change.
        type: str
        default: STANDARD
        choices: [STANDARD, EC2_LINUX, EC2_WINDOWS, FARGATE_LINUX, HYBRID_LINUX, EC2, HYPERPOD_LINUX]
      kubernetes_groups:
        description: Kubernetes groups of the entry (for RBAC bindings); exactly these, none when omitted.
        type: list
        elements: str
      username:
        description:
          - Kubernetes username. When omitted EKS picks one on creation and an existing one is left as is.
          - Cannot start with C(system:), C(eks:), C(aws:), C(amazon:) or C(iam:).
        type: str
      access_policies:
        description: The access policies associated with the entry; exactly these, none when omitted.
        type: list
        elements: dict
        suboptions:
          policy:
            description:
              - An access policy name such as C(AmazonEKSClusterAdminPolicy), C(AmazonEKSAdminPolicy),
                C(AmazonEKSEditPolicy) or C(AmazonEKSViewPolicy) (it becomes
                C(arn:aws:eks::aws:cluster-access-policy/<name>)), or a full access policy ARN.
            type: str
            required: true
          access_scope:
            description: Where the policy applies.
            type: dict
            suboptions:
              type:
                description: V(cluster) for the whole cluster, V(namespace) for O(access_entries[].access_policies[].access_scope.namespaces).
                type: str
                choices: [cluster, namespace]
                default: cluster
              namespaces:
                description: The namespaces, required with V(namespace).
                type: list
                elements: str
      tags:
        description: Tags of this entry, merged over O(tags).
        type: dict
  purge:
    description:
      - Delete the cluster's access entries that are not listed (except node entries, O(keep_principals) and the
        caller's own entry). Only with O(state=present).
    type: bool
    default: true
  keep_principals:
    description: Principal ARNs whose entries are never purged (e.g. a break-glass role managed elsewhere).
    type: list
    elements: str
    default: []
  state:
    description: V(present) reconciles the set; V(absent) deletes the listed entries only.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Tags are only managed when O(tags) or O(access_entries[].tags) is given.
  - In check mode against a cluster that does not exist yet (or still uses the C(CONFIG_MAP) authentication mode),
    every listed entry is reported as created.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Cluster access for the platform team, developers and auditors
  llmhub.eks.eks_access_entries:
    cluster_name: llm-analytics-hub-prod-eks
    keep_principals:
      - arn:aws:iam::123456789012:role/break-glass
    access_entries:
      - principal_arn: arn:aws:iam::123456789012:role/platform-admins
        access_policies:
          - policy: AmazonEKSClusterAdminPolicy
      - principal_arn: arn:aws:iam::123456789012:role/developers
        kubernetes_groups: [developers]
        access_policies:
          - policy: AmazonEKSEditPolicy
            access_scope:
              type: namespace
              namespaces: [llm-apps, batch]
      - principal_arn: arn:aws:iam::123456789012:user/auditor
        access_policies:
          - policy: arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy

- name: Remove one entry, leave the others alone
  llmhub.eks.eks_access_entries:
    cluster_name: llm-analytics-hub-prod-eks
    state: absent
    access_entries:
      - principal_arn: arn:aws:iam::123456789012:user/auditor
"""

RETURN = r"""
access_entries:
  description:
    - Every access entry of the cluster after the call, sorted by principal (empty for O(state=absent)).
    - In check mode, entries that would be created have V((known after apply\)) as RV(access_entries[].access_entry_arn) (and as
      RV(access_entries[].username) when EKS picks it).
  returned: always
  type: list
  elements: dict
  contains:
    principal_arn:
      description: IAM principal of the entry.
      type: str
      sample: arn:aws:iam::123456789012:role/platform-admins
    type:
      description: Entry type.
      type: str
      sample: STANDARD
    kubernetes_groups:
      description: Kubernetes groups, sorted.
      type: list
      elements: str
    username:
      description: Kubernetes username.
      type: str
    access_policies:
      description: Associated access policies.
      type: list
      elements: dict
      contains:
        policy_arn:
          description: Access policy ARN.
          type: str
          sample: arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy
        access_scope:
          description: Scope, C(type) and sorted C(namespaces).
          type: dict
          sample: {"type": "namespace", "namespaces": ["llm-apps"]}
    access_entry_arn:
      description: ARN of the entry.
      type: str
    tags:
      description: Tags of the entry.
      type: dict
created:
  description: Principals whose entries were created (or would be in check mode).
  returned: always
  type: list
  elements: str
updated:
  description: Principals whose entries, policies or tags changed.
  returned: always
  type: list
  elements: str
deleted:
  description: Principals whose entries were deleted.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.llmhub.eks.plugins.module_utils.common import KNOWN_AFTER_APPLY
from ansible_collections.llmhub.eks.plugins.module_utils.common import planned
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_concurrently
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import ENTRY_TYPES
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import NODE_ENTRY_TYPES
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import access_policy_arn
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import describe_cluster
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import eks_client
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import entry_changes
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import entry_view
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import has_changes
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import principal_problem
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import same_principal
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import scope_problem
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import username_problem
from ansible_collections.llmhub.eks.plugins.module_utils.eks_addons import wanted_policies

DIFF_KEYS = ("type", "kubernetes_groups", "username", "access_policies", "tags")


def validate(module):
    """Everything that can be checked without AWS; fails naming the option."""
    problems = []
    seen = {}
    for index, entry in enumerate(module.params["access_entries"]):
        where = f"access_entries[{index}]"
        arn = entry["principal_arn"] or ""
        problem = principal_problem(arn)
        if problem:
            problems.append(f"{where}.principal_arn: {arn!r} {problem}")
        elif arn in seen:
            problems.append(f"{where}.principal_arn: {arn} is listed twice (also access_entries[{seen[arn]}])")
        else:
            seen[arn] = index
        if entry["type"] != "STANDARD":
            for key in ("kubernetes_groups", "username", "access_policies"):
                if entry[key]:
                    problems.append(f"{where}.{key} can't be set on a {entry['type']} entry (only STANDARD entries)")
            if entry["type"] in NODE_ENTRY_TYPES and ":role/" not in arn:
                problems.append(f"{where}.principal_arn: a {entry['type']} entry needs an IAM role")
        problem = username_problem(entry["username"])
        if problem:
            problems.append(f"{where}.username: {entry['username']!r} {problem}")
        if any(not group for group in entry["kubernetes_groups"] or []):
            problems.append(f"{where}.kubernetes_groups: group names must not be empty")
        policies = {}
        for number, policy in enumerate(entry["access_policies"] or []):
            at = f"{where}.access_policies[{number}]"
            try:
                policy_arn = access_policy_arn(policy["policy"] or "")
            except ValueError as e:
                problems.append(f"{at}.policy: {e}")
                continue
            if policy_arn in policies:
                problems.append(f"{at}.policy: {policy['policy']} is listed twice (also access_policies"
                                f"[{policies[policy_arn]}])")
            policies[policy_arn] = number
            problem = scope_problem(policy["access_scope"])
            if problem:
                problems.append(f"{at}.access_scope: {problem}")
    for number, arn in enumerate(module.params["keep_principals"]):
        if not (arn or "").startswith("arn:"):
            problems.append(f"keep_principals[{number}]: {arn!r} is not an ARN")
    if problems:
        module.fail_json(msg="Invalid access_entries: " + "; ".join(problems))


def planned_view(entry, tags):
    """The view of an entry that would be created (check mode) from its option: what EKS assigns (its ARN, the
    username it picks when none is given) is KNOWN_AFTER_APPLY; a create fills them from EKS's answer."""
    return {
        "principal_arn": entry["principal_arn"],
        "type": entry["type"],
        "kubernetes_groups": sorted(set(entry["kubernetes_groups"] or [])),
        "username": planned(entry["username"]),
        "access_policies": [
            {"policy_arn": arn, "access_scope": scope} for arn, scope in sorted(wanted_policies(entry).items())
        ],
        "access_entry_arn": KNOWN_AFTER_APPLY,
        "tags": tags or {},
    }


def diff_of(views):
    return {view["principal_arn"]: {key: view.get(key) for key in DIFF_KEYS} for view in views}


class EntrySet:
    """The access entries of one cluster: what exists, what is wanted, and the calls between them."""

    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.cluster_name = module.params["cluster_name"]
        self.wanted = module.params["access_entries"]

    def wanted_tags(self, entry):
        common, own = self.module.params["tags"], entry["tags"]
        if common is None and own is None:
            return None
        return {**(common or {}), **(own or {})}

    # -- reading ------------------------------------------------------------------------------------

    def describe(self, principal):
        """(entry, associated policies) of one principal, or None if it vanished meanwhile."""
        try:
            entry = self.client.describe_access_entry(aws_retry=True, clusterName=self.cluster_name,
                                                      principalArn=principal)["accessEntry"]
            associated = paginate(self.client, "list_associated_access_policies", "associatedAccessPolicies",
                                  clusterName=self.cluster_name, principalArn=principal)
        except is_boto3_error_code("ResourceNotFoundException"):
            return None
        return entry, associated

    def current(self):
        principals = paginate(self.client, "list_access_entries", "accessEntries", clusterName=self.cluster_name)
        described = run_concurrently(self.describe, principals, "describe access entries")
        return {principal: found for principal, found in zip(principals, described) if found is not None}

    def caller(self):
        return retrying_client(self.module, "sts").get_caller_identity(aws_retry=True)["Arn"]

    def known_policies(self):
        return {p["arn"] for p in paginate(self.client, "list_access_policies", "accessPolicies")}

    # -- changing -----------------------------------------------------------------------------------

    def associate(self, principal, policies):
        for arn, scope in sorted(policies.items()):
            access_scope = {"type": scope["type"]}
            if scope["type"] == "namespace":
                access_scope["namespaces"] = scope["namespaces"]
            self.client.associate_access_policy(aws_retry=True, clusterName=self.cluster_name, principalArn=principal,
                                                policyArn=arn, accessScope=access_scope)

    def create(self, plan):
        entry = plan["entry"]
        params = dict(clusterName=self.cluster_name, principalArn=entry["principal_arn"], type=entry["type"])
        if entry["type"] == "STANDARD":
            if entry["kubernetes_groups"]:
                params["kubernetesGroups"] = list(dict.fromkeys(entry["kubernetes_groups"]))
            if entry["username"]:
                params["username"] = entry["username"]
        if plan["tags"]:
            params["tags"] = plan["tags"]
        try:
            created = self.client.create_access_entry(aws_retry=True, **params)["accessEntry"]
        except is_boto3_error_code("ResourceInUseException"):
            # A retried create whose first attempt went through: it exists now.
            created = self.client.describe_access_entry(aws_retry=True, clusterName=self.cluster_name,
                                                        principalArn=entry["principal_arn"])["accessEntry"]
        self.associate(entry["principal_arn"], plan["changes"]["associate"])
        return created

    def update(self, plan):
        principal = plan["principal"]
        changes = plan["changes"]
        response = None
        if changes["update"]:
            response = self.client.update_access_entry(aws_retry=True, clusterName=self.cluster_name,
                                                       principalArn=principal, **changes["update"])["accessEntry"]
        for arn in changes["disassociate"]:
            try:
                self.client.disassociate_access_policy(aws_retry=True, clusterName=self.cluster_name,
                                                       principalArn=principal, policyArn=arn)
            except is_boto3_error_code("ResourceNotFoundException"):
                pass  # already gone
        self.associate(principal, changes["associate"])
        arn = plan["current"][0]["accessEntryArn"]
        if plan["untag"]:
            self.client.untag_resource(aws_retry=True, resourceArn=arn, tagKeys=list(plan["untag"]))
        if plan["tag"]:
            self.client.tag_resource(aws_retry=True, resourceArn=arn, tags=plan["tag"])
        return response

    def delete(self, plan):
        try:
            self.client.delete_access_entry(aws_retry=True, clusterName=self.cluster_name,
                                            principalArn=plan["principal"])
        except is_boto3_error_code("ResourceNotFoundException"):
            pass  # already gone
        return None

    def apply(self, plan):
        return getattr(self, plan["action"])(plan)


def require_cluster(module, client):
    """The cluster if access entries can be managed on it, None if check mode may plan without it."""
    name = module.params["cluster_name"]
    cluster = describe_cluster(client, name)
    if cluster is None:
        if module.check_mode or module.params["state"] == "absent":
            return None
        module.fail_json(msg=f"cluster_name: EKS cluster {name} does not exist; create it first (the eks role) or fix "
                         "cluster_name")
    if module.params["state"] == "absent" and cluster["status"] == "DELETING":
        return None
    if cluster["status"] not in ("ACTIVE", "UPDATING"):
        module.fail_json(msg=f"cluster_name: EKS cluster {name} is {cluster['status']}; access entries need an ACTIVE "
                         "cluster (wait until it is ACTIVE and run again)")
    mode = (cluster.get("accessConfig") or {}).get("authenticationMode") or "CONFIG_MAP"
    if mode == "CONFIG_MAP":
        if module.check_mode and module.params["state"] == "present":
            module.warn(f"EKS cluster {name} uses the CONFIG_MAP authentication mode; the access entries are planned as "
                        "if it allowed them (the eks role switches it to API_AND_CONFIG_MAP)")
            return None
        module.fail_json(msg=f"cluster_name: EKS cluster {name} uses the CONFIG_MAP authentication mode; access entries "
                         "need API or API_AND_CONFIG_MAP (set eks_authentication_mode and apply the eks role, i.e. "
                         "UpdateClusterConfig accessConfig.authenticationMode)")
    return cluster


def plan_present(module, entry_set, current):
    """Plans (create/update/delete) and problems found comparing the wanted set with ``current``."""
    plans, problems = [], []
    listed = set()
    for index, entry in enumerate(entry_set.wanted):
        principal = entry["principal_arn"]
        listed.add(principal)
        tags = entry_set.wanted_tags(entry)
        found = current.get(principal)
        if found is None:
            changes = {"update": {}, "associate": wanted_policies(entry), "disassociate": []}
            plans.append({"action": "create", "principal": principal, "entry": entry, "tags": tags,
                          "changes": changes, "index": index})
            continue
        existing, associated = found
        if (existing.get("type") or "STANDARD") != entry["type"]:
            problems.append(f"access_entries[{index}].type: {principal} exists as a {existing.get('type')} entry, "
                            f"not {entry['type']}; the type can't change in place (delete the entry first)")
            continue
        changes = entry_changes(entry, existing, associated)
        tag, untag = {}, []
        if tags is not None:
            tag, untag = compare_aws_tags(existing.get("tags") or {}, tags, purge_tags=module.params["purge_tags"])
        if has_changes(changes) or tag or untag:
            plans.append({"action": "update", "principal": principal, "entry": entry, "current": found,
                          "changes": changes, "tag": tag, "untag": untag, "index": index})
    if module.params["purge"]:
        candidates = [
            principal for principal, (existing, _associated) in sorted(current.items())
            if principal not in listed
            and (existing.get("type") or "STANDARD") not in NODE_ENTRY_TYPES
            and principal not in module.params["keep_principals"]
        ]
        caller = entry_set.caller() if candidates else None
        for principal in candidates:
            if same_principal(principal, caller):
                continue  # never lock the caller out of the cluster
            plans.append({"action": "delete", "principal": principal, "current": current[principal]})
    return plans, problems


def check_policies(entry_set, plans, problems):
    """Unknown access policies fail before any change, naming the option."""
    wanted = [(plan, arn) for plan in plans if plan["action"] != "delete" for arn in plan["changes"]["associate"]]
    if not wanted:
        return
    known = entry_set.known_policies()
    for plan, arn in wanted:
        if arn not in known:
            policies = plan["entry"]["access_policies"] or []
            number = next((n for n, p in enumerate(policies) if access_policy_arn(p["policy"]) == arn), 0)
            problems.append(f"access_entries[{plan['index']}].access_policies[{number}].policy: {arn} is not an EKS "
                            f"access policy (known: {', '.join(sorted(known))})")


def after_view(plan, response):
    """The view of a created or updated entry once its calls are made (or planned)."""
    entry = plan["entry"]
    if plan["action"] == "create":
        view = planned_view(entry, plan["tags"])
        if response is not None:
            view.update(username=response.get("username"), access_entry_arn=response.get("accessEntryArn"),
                        kubernetes_groups=sorted(response.get("kubernetesGroups") or []),
                        tags=response.get("tags") or {})
        return view
    existing, associated = plan["current"]
    view = entry_view(existing, associated)
    if entry["type"] == "STANDARD":
        view["kubernetes_groups"] = sorted(set(entry["kubernetes_groups"] or []))
        view["access_policies"] = planned_view(entry, None)["access_policies"]
        if entry["username"] is not None:
            view["username"] = entry["username"]
    tags = dict(view["tags"])
    for key in plan["untag"]:
        tags.pop(key, None)
    tags.update(plan["tag"])
    view["tags"] = tags
    return view


def ensure_present(module, client):
    entry_set = EntrySet(module, client)
    cluster = require_cluster(module, client)
    current = entry_set.current() if cluster is not None else {}
    plans, problems = plan_present(module, entry_set, current)
    check_policies(entry_set, plans, problems)
    if problems:
        module.fail_json(msg=f"Cannot reconcile the access entries of cluster {entry_set.cluster_name}: "
                         + "; ".join(problems))
    responses = [None] * len(plans)
    if not module.check_mode:
        responses = run_concurrently(entry_set.apply, plans, "reconcile access entries", label=lambda p: p["principal"])
    before = {principal: entry_view(*found) for principal, found in current.items()}
    after = dict(before)
    for plan, response in zip(plans, responses):
        if plan["action"] == "delete":
            after.pop(plan["principal"], None)
        else:
            after[plan["principal"]] = after_view(plan, response)
    result = dict(
        changed=bool(plans),
        access_entries=[after[principal] for principal in sorted(after)],
        created=[p["principal"] for p in plans if p["action"] == "create"],
        updated=[p["principal"] for p in plans if p["action"] == "update"],
        deleted=[p["principal"] for p in plans if p["action"] == "delete"],
    )
    result["diff"] = dict(before=diff_of(before.values()), after=diff_of(after.values()))
    module.exit_json(**result)


def ensure_absent(module, client):
    entry_set = EntrySet(module, client)
    cluster = require_cluster(module, client)
    listed = [entry["principal_arn"] for entry in entry_set.wanted]
    existing = {}
    if cluster is not None:
        present = set(paginate(client, "list_access_entries", "accessEntries", clusterName=entry_set.cluster_name))
        targets = [principal for principal in listed if principal in present]
        found = run_concurrently(entry_set.describe, targets, "describe access entries")
        existing = {principal: item for principal, item in zip(targets, found) if item is not None}
    plans = [{"action": "delete", "principal": principal} for principal in existing]
    if not module.check_mode:
        run_concurrently(entry_set.apply, plans, "delete access entries", label=lambda p: p["principal"])
    result = dict(changed=bool(plans), access_entries=[], created=[], updated=[], deleted=list(existing))
    result["diff"] = dict(before=diff_of(entry_view(*item) for item in existing.values()), after={})
    module.exit_json(**result)


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        access_entries=dict(
            type="list",
            elements="dict",
            required=True,
            options=dict(
                principal_arn=dict(type="str", required=True),
                type=dict(type="str", default="STANDARD", choices=list(ENTRY_TYPES)),
                kubernetes_groups=dict(type="list", elements="str"),
                username=dict(type="str"),
                access_policies=dict(
                    type="list",
                    elements="dict",
                    options=dict(
                        policy=dict(type="str", required=True),
                        access_scope=dict(
                            type="dict",
                            options=dict(
                                type=dict(type="str", choices=["cluster", "namespace"], default="cluster"),
                                namespaces=dict(type="list", elements="str"),
                            ),
                        ),
                    ),
                ),
                tags=dict(type="dict"),
            ),
        ),
        purge=dict(type="bool", default=True),
        keep_principals=dict(type="list", elements="str", default=[]),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    validate(module)
    client = eks_client(module)
    handler = ensure_present if module.params["state"] == "present" else ensure_absent
    run_module(module, handler, module, client)


if __name__ == "__main__":
    main()
