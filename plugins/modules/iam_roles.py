#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: iam_roles
short_description: Reconcile a set of IAM roles with their trust, managed and inline policies and instance profiles
version_added: 0.1.0
description:
  - Creates, updates and deletes all listed IAM roles in one invocation, with their trust policy, attached managed
    policies, inline policies, instance profile, description, maximum session duration and tags.
  - Reads every role concurrently, compares it with the wanted state, then makes only the calls needed,
    concurrently across roles. A second run with the same input makes no mutating call.
  - Policy documents are compared in a canonical form (statement and value order, a string versus a one-element
    list, a missing C(Version)), so rewording a document does not cause a change.
  - IAM is eventually consistent. The role is usable by IAM at once, but a service that validates principals
    (a KMS key policy, an S3 bucket policy) may reject a role created seconds ago; retry such calls.
  - >-
    Unlike M(amazon.aws.iam_role), which handles one role per task and no inline policy (M(amazon.aws.iam_policy)
    per policy and M(amazon.aws.iam_instance_profile) would follow), this module takes the whole set of roles: the
    cluster and node roles with their four inline policies and the instance profile are one task instead of seven.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  roles:
    description: The IAM roles managed by this call.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Role name (1-64 characters, letters, digits and C(+=,.@_-)), unique in the list.
        type: str
        required: true
      path:
        description:
          - Path of the role, e.g. C(/) or C(/eks/). V(/) when a role is created without it.
          - IAM cannot move a role; a different path for an existing role fails the run.
        type: str
      description:
        description: Description of the role. Left as it is when omitted.
        type: str
      assume_role_policy:
        description:
          - The trust policy, as a dict or a JSON string. Required with O(state=present).
        type: json
      managed_policies:
        description:
          - Managed policies to attach, as ARNs or as AWS managed policy names such as C(AmazonEKSClusterPolicy)
            or C(service-role/AmazonEBSCSIDriverPolicy) (mapped to C(arn:PARTITION:iam::aws:policy/NAME)).
          - With O(purge_policies=true), attached policies not listed are detached; V([]) detaches all.
          - Left as they are when omitted.
        type: list
        elements: str
      inline_policies:
        description:
          - Inline policies, as a dict of policy name to document (a dict or a JSON string).
          - With O(purge_policies=true), inline policies not listed are deleted; V({}) deletes all.
          - Left as they are when omitted.
        type: dict
      instance_profile:
        description:
          - Whether the role has an instance profile of the same name (for EC2 instances).
          - V(false) does not remove an existing instance profile; O(state=absent) does.
        type: bool
        default: false
      max_session_duration:
        description: Maximum session duration in seconds (3600-43200). Left as it is when omitted (3600 when created).
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
      - V(present) creates and updates the listed roles; V(absent) deletes them together with their instance
        profiles of the same name (other instance profiles just lose the role), attached and inline policies.
      - With O(state=absent) only O(roles[].name) is used.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Tags of a role are O(tags) merged with O(roles[].tags). When neither is given the role's tags are left alone.
  - Instance profiles are tagged when created, with the role's tags.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
# The iam role's two roles; the policy files are those of roles/iam (policy_values: partition, region,
# account_id and cluster_name, as the role's iam_policy_values).
- name: EKS cluster role and node role with its instance profile
  llmhub.eks.iam_roles:
    tags:
      Project: llm-analytics-hub
      llmhub.io/cluster: llm-analytics-hub-prod-eks
    roles:
      - name: llm-analytics-hub-prod-eks-cluster-role
        description: EKS control plane of llm-analytics-hub-prod-eks
        assume_role_policy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {Service: eks.amazonaws.com}
              Action: sts:AssumeRole
        managed_policies:
          - AmazonEKSClusterPolicy
          - AmazonEKSVPCResourceController
        inline_policies:
          kms-secrets-encryption: "{{ lookup('llmhub.eks.policy_document', 'cluster-kms-policy.json', values=policy_values) }}"
      - name: llm-analytics-hub-prod-eks-node-role
        description: EC2 worker nodes of llm-analytics-hub-prod-eks
        assume_role_policy: "{{ lookup('ansible.builtin.file', 'node-trust-policy.json') }}"
        managed_policies:
          - AmazonEKSWorkerNodePolicy
          - AmazonEKS_CNI_Policy
          - AmazonEC2ContainerRegistryReadOnly
          - AmazonSSMManagedInstanceCore
        inline_policies:
          cloudwatch-agent: "{{ lookup('llmhub.eks.policy_document', 'node-cloudwatch-policy.json', values=policy_values) }}"
          ebs-volumes: "{{ lookup('llmhub.eks.policy_document', 'node-ebs-policy.json', values=policy_values) }}"
        instance_profile: true
  register: iam_roles_result

- name: Use an ARN
  ansible.builtin.debug:
    msg: "{{ iam_roles_result.role_arns['llm-analytics-hub-prod-eks-cluster-role'] }}"

- name: Delete the roles (the node role with its instance profile)
  llmhub.eks.iam_roles:
    state: absent
    roles:
      - name: llm-analytics-hub-prod-eks-cluster-role
      - name: llm-analytics-hub-prod-eks-node-role
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
      sample: llm-analytics-hub-prod-eks-cluster-role
    arn:
      description: Role ARN (V((known after apply\)) in check mode for a role that would be created).
      type: str
      sample: arn:aws:iam::123456789012:role/llm-analytics-hub-prod-eks-cluster-role
    role_id:
      description: Unique id of the role (V((known after apply\)) in check mode for a role that would be created).
      type: str
      sample: AROA0123456789EXAMPLE
    path:
      description: Path of the role.
      type: str
      sample: /
    managed_policies:
      description: ARNs of the attached managed policies, sorted.
      type: list
      elements: str
    inline_policies:
      description: Names of the inline policies, sorted.
      type: list
      elements: str
    instance_profile_arn:
      description: ARN of the role's instance profile of the same name, or V(null).
      type: str
role_arns:
  description: Role ARNs by name (V((known after apply\)) in check mode for roles that would be created).
  returned: always
  type: dict
  sample: {"llm-analytics-hub-prod-eks-cluster-role": "arn:aws:iam::123456789012:role/llm-analytics-hub-prod-eks-cluster-role"}
instance_profile_arns:
  description: Instance profile ARNs by role name, for the roles with an instance profile (V((known after apply\)) in check
    mode when it would be created).
  returned: always
  type: dict
  sample: {"llm-analytics-hub-prod-eks-node-role": "arn:aws:iam::123456789012:instance-profile/llm-analytics-hub-prod-eks-node-role"}
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
  sample: ["llm-analytics-hub-prod-eks-node-role: attach arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]
"""

from ansible_collections.amazon.aws.plugins.module_utils.iam import get_aws_account_info
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.iam import COMMON_ARGUMENT_SPEC
from ansible_collections.llmhub.eks.plugins.module_utils.iam import ROLE_ARGUMENT_SPEC
from ansible_collections.llmhub.eks.plugins.module_utils.iam import needs_partition
from ansible_collections.llmhub.eks.plugins.module_utils.iam import reconcile_roles
from ansible_collections.llmhub.eks.plugins.module_utils.iam import remove_roles
from ansible_collections.llmhub.eks.plugins.module_utils.iam import role_spec
from ansible_collections.llmhub.eks.plugins.module_utils.iam import validate_roles


def ensure_present(module, client):
    roles = module.params["roles"]
    partition = get_aws_account_info(module)[1] if needs_partition(roles) else "aws"
    specs = [
        role_spec(role, module.params["tags"], partition, role["assume_role_policy"], role["instance_profile"])
        for role in roles
    ]
    module.exit_json(**reconcile_roles(module, client, specs))


def ensure_absent(module, client):
    module.exit_json(**remove_roles(module, client, [role["name"] for role in module.params["roles"]]))


def main():
    role_options = dict(ROLE_ARGUMENT_SPEC)
    role_options.update(
        assume_role_policy=dict(type="json"),
        instance_profile=dict(type="bool", default=False),
    )
    argument_spec = dict(
        roles=dict(type="list", elements="dict", required=True, options=role_options),
        **COMMON_ARGUMENT_SPEC,
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    problems = validate_roles(module.params["roles"], module.params["state"])
    if problems:
        module.fail_json(msg="Invalid IAM roles: " + "; ".join(problems))
    client = retrying_client(module, "iam")
    handler = ensure_present if module.params["state"] == "present" else ensure_absent
    run_module(module, handler, module, client)


if __name__ == "__main__":
    main()
