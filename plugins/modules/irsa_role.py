#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: irsa_role
short_description: Reconcile the IAM roles of Kubernetes service accounts (IRSA) of an EKS cluster
version_added: 0.1.0
description:
  - Creates, updates and deletes a set of IAM roles for service accounts (IRSA) in one invocation.
  - Each role's trust policy is built from the cluster's OIDC issuer and the role's service accounts; it lets
    exactly those service accounts assume the role with C(sts:AssumeRoleWithWebIdentity), for the given audience.
  - The trust policy is updated when the issuer or the service accounts change; the managed and inline policies,
    description and tags are reconciled like M(llmhub.eks.iam_roles) does, concurrently across roles.
  - The issuer comes from O(cluster_name) (C(identity.oidc.issuer) of the EKS cluster) or O(oidc_issuer). The
    account and partition come from STS. The IAM OIDC provider of the issuer must exist
    (M(llmhub.eks.iam_oidc_provider)); outside check mode a missing one fails the run before any role is changed.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  cluster_name:
    description:
      - EKS cluster whose OIDC issuer the roles trust.
      - In check mode a cluster that does not exist yet is reported with a warning; the trust policies then name
        V((known after apply\)) as the OIDC provider (and the issuer of their condition keys).
    type: str
  oidc_issuer:
    description:
      - OIDC issuer URL (C(https://...)) the roles trust, instead of looking it up from O(cluster_name).
      - In check mode V((known after apply\)), the RV(llmhub.eks.eks_cluster#module:oidc_issuer) of a cluster that
        would be created, plans the roles with V((known after apply\)) as the OIDC provider of their trust policies.
    type: str
  audience:
    description: Audience (C(aud)) of the service account tokens.
    type: str
    default: sts.amazonaws.com
  roles:
    description: The IRSA roles managed by this call.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Role name (1-64 characters, letters, digits and C(+=,.@_-)), unique in the list.
        type: str
        required: true
      service_accounts:
        description: The Kubernetes service accounts allowed to assume the role (at least one with O(state=present)).
        type: list
        elements: dict
        suboptions:
          namespace:
            description: Namespace of the service account (a DNS-1123 label).
            type: str
            required: true
          name:
            description: Name of the service account (a DNS-1123 subdomain).
            type: str
            required: true
      path:
        description:
          - Path of the role, V(/) when a role is created without it. IAM cannot move a role.
        type: str
      description:
        description: Description of the role. Left as it is when omitted.
        type: str
      managed_policies:
        description:
          - Managed policies to attach, as ARNs or AWS managed policy names (C(AmazonEBSCSIDriverPolicy),
            C(service-role/AmazonEBSCSIDriverPolicy)).
          - With O(purge_policies=true), attached policies not listed are detached. Left alone when omitted.
        type: list
        elements: str
      inline_policies:
        description:
          - Inline policies, as a dict of policy name to document (a dict or a JSON string).
          - With O(purge_policies=true), inline policies not listed are deleted. Left alone when omitted.
        type: dict
      max_session_duration:
        description: Maximum session duration in seconds (3600-43200). Left as it is when omitted.
        type: int
      tags:
        description: Tags of this role only, merged over O(tags).
        type: dict
  purge_policies:
    description: Detach managed policies and delete inline policies that are not listed (for the roles that list them).
    type: bool
    default: true
  state:
    description:
      - V(present) creates and updates the listed roles; V(absent) deletes them with their policies.
      - With O(state=absent) only O(roles[].name) is used and no issuer is needed.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
# Two of the eks role's IRSA roles (eks_irsa_roles); the policy file is the eks role's (policy_values: partition,
# region, account_id, cluster_name, secrets_path, as the role's eks_policy_values).
- name: IRSA roles of the cluster controllers
  llmhub.eks.irsa_role:
    cluster_name: llm-analytics-hub-prod-eks
    tags:
      Project: llm-analytics-hub
      llmhub.io/cluster: llm-analytics-hub-prod-eks
    roles:
      - name: llm-analytics-hub-prod-eks-ebs-csi-driver
        service_accounts:
          - {namespace: kube-system, name: ebs-csi-controller-sa}
        managed_policies:
          - service-role/AmazonEBSCSIDriverPolicy
      - name: llm-analytics-hub-prod-eks-aws-load-balancer-controller
        service_accounts:
          - {namespace: kube-system, name: aws-load-balancer-controller}
        inline_policies:
          aws-load-balancer-controller: >-
            {{ lookup('llmhub.eks.policy_document', 'aws-load-balancer-controller-policy.json', values=policy_values) }}
  register: eks_irsa_result

- name: Annotate the service account with its role
  ansible.builtin.debug:
    msg: "eks.amazonaws.com/role-arn: {{ eks_irsa_result.role_arns['llm-analytics-hub-prod-eks-ebs-csi-driver'] }}"

- name: Delete them
  llmhub.eks.irsa_role:
    state: absent
    roles:
      - name: llm-analytics-hub-prod-eks-ebs-csi-driver
      - name: llm-analytics-hub-prod-eks-aws-load-balancer-controller
"""

RETURN = r"""
roles:
  description: The listed roles after the call, in the order given (empty for O(state=absent)).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Role name.
      type: str
    arn:
      description: Role ARN (V((known after apply\)) in check mode for a role that would be created).
      type: str
      sample: arn:aws:iam::123456789012:role/llm-analytics-hub-prod-eks-ebs-csi-driver
    role_id:
      description: Unique id of the role (V((known after apply\)) in check mode for a role that would be created).
      type: str
    path:
      description: Path of the role.
      type: str
    managed_policies:
      description: ARNs of the attached managed policies, sorted.
      type: list
      elements: str
    inline_policies:
      description: Names of the inline policies, sorted.
      type: list
      elements: str
    instance_profile_arn:
      description: Always V(null) (IRSA roles have no instance profile); kept for the shape of M(llmhub.eks.iam_roles).
      type: str
role_arns:
  description: Role ARNs by name (V((known after apply\)) in check mode for roles that would be created), for the
    service account annotation C(eks.amazonaws.com/role-arn).
  returned: always
  type: dict
  sample: {"llm-analytics-hub-prod-eks-ebs-csi-driver": "arn:aws:iam::123456789012:role/llm-analytics-hub-prod-eks-ebs-csi-driver"}
instance_profile_arns:
  description: Always empty; kept for the shape of M(llmhub.eks.iam_roles).
  returned: always
  type: dict
created:
  description: Names of the roles created (or that would be in check mode).
  returned: always
  type: list
  elements: str
updated:
  description: Names of the existing roles changed (or that would be in check mode).
  returned: always
  type: list
  elements: str
deleted:
  description: Names of the roles deleted (or that would be in check mode).
  returned: always
  type: list
  elements: str
actions:
  description: What was done (or would be in check mode), one entry per role and change.
  returned: always
  type: list
  elements: str
oidc_provider_arn:
  description: ARN of the IAM OIDC provider the trust policies name (V(null) with O(state=absent), V((known after apply\))
    when the issuer is not known yet in check mode).
  returned: always
  type: str
  sample: arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE
issuer:
  description: The OIDC issuer URL (V(null) with O(state=absent), V((known after apply\)) when not known yet in check mode).
  returned: always
  type: str
  sample: https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE
"""

import re

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.iam import get_aws_account_info
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils.common import KNOWN_AFTER_APPLY
from ansible_collections.llmhub.eks.plugins.module_utils.common import known_option
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.iam import COMMON_ARGUMENT_SPEC
from ansible_collections.llmhub.eks.plugins.module_utils.iam import ROLE_ARGUMENT_SPEC
from ansible_collections.llmhub.eks.plugins.module_utils.iam import reconcile_roles
from ansible_collections.llmhub.eks.plugins.module_utils.iam import remove_roles
from ansible_collections.llmhub.eks.plugins.module_utils.iam import role_spec
from ansible_collections.llmhub.eks.plugins.module_utils.iam import validate_roles
from ansible_collections.llmhub.eks.plugins.module_utils.policy import build_irsa_trust_policy
from ansible_collections.llmhub.eks.plugins.module_utils.policy import issuer_problem
from ansible_collections.llmhub.eks.plugins.module_utils.policy import oidc_provider_arn

DNS1123_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*")


def validate(params):
    """Every problem of the input, naming its option; no AWS call."""
    state = params["state"]
    roles = params["roles"]
    problems = validate_roles(roles, state, require_trust=False)
    if state == "absent":
        return problems
    if params["oidc_issuer"] not in (None, KNOWN_AFTER_APPLY):  # KNOWN_AFTER_APPLY: the issuer of a planned cluster
        problem = issuer_problem(params["oidc_issuer"])
        if problem:
            problems.append(f"oidc_issuer: {problem}")
    if not params["audience"]:
        problems.append("audience: must not be empty (e.g. sts.amazonaws.com)")
    for index, role in enumerate(roles):
        accounts = role.get("service_accounts") or []
        if not accounts:
            problems.append(f"roles[{index}].service_accounts: at least one {{namespace, name}} is required "
                            "with state=present")
        for position, account in enumerate(accounts):
            where = f"roles[{index}].service_accounts[{position}]"
            namespace, name = account["namespace"], account["name"]
            if len(namespace) > 63 or not DNS1123_LABEL.fullmatch(namespace):
                problems.append(f"{where}.namespace: {namespace!r} is not a valid namespace (DNS-1123 label: at most "
                                "63 lower case letters, digits and '-', starting and ending with a letter or digit)")
            if len(name) > 253 or not DNS1123_SUBDOMAIN.fullmatch(name):
                problems.append(f"{where}.name: {name!r} is not a valid service account name (DNS-1123 subdomain: "
                                "lower case letters, digits, '-' and '.', starting and ending with a letter or digit)")
    return problems


def cluster_issuer(module):
    """The cluster's OIDC issuer, or None in check mode when the cluster does not exist (yet)."""
    name = module.params["cluster_name"]
    eks = retrying_client(module, "eks")
    try:
        cluster = eks.describe_cluster(aws_retry=True, name=name)["cluster"]
    except is_boto3_error_code("ResourceNotFoundException"):
        if module.check_mode:
            module.warn(f"EKS cluster {name} does not exist (yet): the IRSA trust policies name its OIDC provider as "
                        f"{KNOWN_AFTER_APPLY}")
            return None
        module.fail_json(msg=f"cluster_name: EKS cluster {name} not found in {module.region}; create it first or "
                             "pass oidc_issuer")
    issuer = ((cluster.get("identity") or {}).get("oidc") or {}).get("issuer")
    if not issuer:
        if module.check_mode:
            module.warn(f"EKS cluster {name} has no OIDC issuer yet (status {cluster.get('status')})")
            return None
        module.fail_json(msg=f"cluster_name: EKS cluster {name} has no OIDC issuer yet (status "
                             f"{cluster.get('status')}); wait until it is ACTIVE")
    return issuer


def require_provider(module, client, arn):
    """The trust policies name the OIDC provider: it has to exist (a warning in check mode, where it may be planned)."""
    try:
        client.get_open_id_connect_provider(aws_retry=True, OpenIDConnectProviderArn=arn)
    except is_boto3_error_code("NoSuchEntity"):
        message = (f"IAM OIDC provider {arn} does not exist; create it first with llmhub.eks.iam_oidc_provider "
                   "(cluster_name or url of the issuer)")
        if module.check_mode:
            module.warn(message)
        else:
            module.fail_json(msg=message)


def ensure_present(module, client):
    account, partition = get_aws_account_info(module)
    if module.params["oidc_issuer"] == KNOWN_AFTER_APPLY:
        issuer = None  # check mode (known_option checked it): the issuer of a cluster that would be created
    else:
        issuer = module.params["oidc_issuer"] or cluster_issuer(module)
    if issuer:
        provider_arn = oidc_provider_arn(partition, account, issuer)
        require_provider(module, client, provider_arn)
    else:
        # Check mode before the cluster exists: the trust policies name the OIDC provider that would be created,
        # whose ARN (and the issuer in the condition keys) are only known once the cluster is.
        issuer = provider_arn = KNOWN_AFTER_APPLY
    specs = []
    for role in module.params["roles"]:
        trust = build_irsa_trust_policy(provider_arn, issuer, role["service_accounts"], module.params["audience"])
        specs.append(role_spec(role, module.params["tags"], partition, trust))
    result = reconcile_roles(module, client, specs)
    result["instance_profile_arns"] = {}
    module.exit_json(oidc_provider_arn=provider_arn, issuer=issuer, **result)


def ensure_absent(module, client):
    result = remove_roles(module, client, [role["name"] for role in module.params["roles"]])
    module.exit_json(oidc_provider_arn=None, issuer=None, **result)


def main():
    role_options = dict(ROLE_ARGUMENT_SPEC)
    role_options.update(
        service_accounts=dict(
            type="list",
            elements="dict",
            options=dict(namespace=dict(type="str", required=True), name=dict(type="str", required=True)),
        ),
    )
    argument_spec = dict(
        cluster_name=dict(type="str"),
        oidc_issuer=dict(type="str"),
        audience=dict(type="str", default="sts.amazonaws.com"),
        roles=dict(type="list", elements="dict", required=True, options=role_options),
        **COMMON_ARGUMENT_SPEC,
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("cluster_name", "oidc_issuer")],
        required_if=[("state", "present", ("cluster_name", "oidc_issuer"), True)],
    )
    known_option(module, "oidc_issuer")  # KNOWN_AFTER_APPLY only in check mode
    problems = validate(module.params)
    if problems:
        module.fail_json(msg="Invalid IRSA roles: " + "; ".join(problems))
    client = retrying_client(module, "iam")
    handler = ensure_present if module.params["state"] == "present" else ensure_absent
    run_module(module, handler, module, client)


if __name__ == "__main__":
    main()
