#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudwatch_log_group
short_description: One CloudWatch Logs log group with its retention and tags
version_added: 0.1.0
description:
  - Ensures the log group O(name), its retention (O(retention_in_days)) and its tags, or deletes it.
  - A group is identified by its name, as M(amazon.aws.cloudwatchlogs_log_group) identifies it, so a group made by
    that module (or by a service writing to it first) is adopted as it is.
  - Used for the EKS control-plane log group (C(/aws/eks/<cluster>/cluster)), which EKS would otherwise create
    without retention the first time it writes.
  - >-
    Why not M(amazon.aws.cloudwatchlogs_log_group): it has no diff mode (C(--check --diff) would not show the group),
    and the code here is the one M(llmhub.eks.ec2_vpc_flow_logs) uses for its own group.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  name:
    description: Name of the log group.
    type: str
    required: true
    aliases: [log_group_name]
  retention_in_days:
    description:
      - Days CloudWatch Logs keeps the group's events; omitted, the current retention is left as it is (a new
        group keeps events forever).
      - One of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
        1096, 1827, 2192, 2557, 2922, 3288, 3653).
    type: int
    aliases: [retention]
  state:
    description: V(present) creates or updates the group; V(absent) deletes it with its events.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
notes:
  - With O(tags) omitted, the group's tags are left as they are.
"""

EXAMPLES = r"""
- name: The EKS control-plane log group of the cluster, kept 30 days (as the eks role makes it)
  llmhub.eks.cloudwatch_log_group:
    name: /aws/eks/llm-analytics-hub-prod-eks/cluster
    retention_in_days: 30
    tags:
      Project: llm-analytics-hub
      Environment: prod
      llmhub.io/cluster: llm-analytics-hub-prod-eks

- name: Remove it
  llmhub.eks.cloudwatch_log_group:
    name: /aws/eks/llm-analytics-hub-prod-eks/cluster
    state: absent
"""

RETURN = r"""
log_group:
  description: The log group (after the change; in check mode as it would be, with C(arn) V((known after apply\)) when
    it would be created). Null when O(state=absent).
  returned: always
  type: dict
  contains:
    name:
      description: Name of the group.
      type: str
      sample: /aws/eks/llm-analytics-hub-prod-eks/cluster
    arn:
      description: ARN of the group (without the C(:*) suffix DescribeLogGroups adds).
      type: str
      sample: arn:aws:logs:us-east-1:123456789012:log-group:/aws/eks/llm-analytics-hub-prod-eks/cluster
    retention_in_days:
      description: Retention in days, null for never expire.
      type: int
      sample: 30
    tags:
      description: Tags of the group.
      type: dict
actions:
  description: What was done (or would be in check mode), in order.
  returned: always
  type: list
  elements: str
  sample:
    - create log group /aws/eks/llm-analytics-hub-prod-eks/cluster
    - set retention of /aws/eks/llm-analytics-hub-prod-eks/cluster to 30 days
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.logs import ensure_log_group
from ansible_collections.llmhub.eks.plugins.module_utils.logs import find_log_group
from ansible_collections.llmhub.eks.plugins.module_utils.logs import group_arn

RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
                  3653)


def validate(module):
    retention = module.params["retention_in_days"]
    if retention is not None and retention not in RETENTION_DAYS:
        nearest = min(RETENTION_DAYS, key=lambda days: abs(days - retention))
        module.fail_json(msg=f"retention_in_days: CloudWatch Logs does not accept {retention}; use one of "
                             f"{', '.join(map(str, RETENTION_DAYS))} (nearest: {nearest})")


def ensure_present(module, logs):
    name = module.params["name"]
    before, after, actions = ensure_log_group(logs, name, module.params["retention_in_days"], module.params["tags"],
                                              module.check_mode, purge_tags=module.params["purge_tags"])
    result = dict(changed=bool(actions), actions=actions, log_group={"name": name, **after})
    keys = ("retention_in_days", "tags")
    result["diff"] = dict(before={key: before[key] for key in keys} if before else {},
                          after={key: after[key] for key in keys})
    module.exit_json(**result)


def ensure_absent(module, logs):
    name = module.params["name"]
    group = find_log_group(logs, name)
    actions = [f"delete log group {name}"] if group else []
    result = dict(changed=bool(actions), actions=actions, log_group=None)
    result["diff"] = dict(before={"retention_in_days": group.get("retentionInDays"), "arn": group_arn(group)}
                          if group else {}, after={})
    if group and not module.check_mode:
        try:
            logs.delete_log_group(aws_retry=True, logGroupName=name)
        except is_boto3_error_code("ResourceNotFoundException"):
            pass  # deleted meanwhile
    module.exit_json(**result)


def main():
    argument_spec = dict(
        name=dict(type="str", required=True, aliases=["log_group_name"]),
        retention_in_days=dict(type="int", aliases=["retention"]),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    validate(module)
    logs = retrying_client(module, "logs")
    handler = ensure_present if module.params["state"] == "present" else ensure_absent
    run_module(module, handler, module, logs)


if __name__ == "__main__":
    main()
