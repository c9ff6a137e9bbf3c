#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ec2_vpc_flow_logs
short_description: VPC flow logs to CloudWatch Logs, with their log group retention and delivery role
version_added: 0.1.0
description:
  - Ensures a VPC's flow log delivering to a CloudWatch Logs group, in one invocation, together with what it needs
    (amazon.aws has no flow log module).
  - The log group is created (or adopted if it exists) with the given retention.
  - The IAM delivery role is created with a trust policy for C(vpc-flow-logs.amazonaws.com) and a least-privilege
    inline policy limited to that log group, unless O(deliver_logs_role_arn) is given.
  - Flow logs cannot be modified; when the traffic type, role, aggregation interval or format differ, the flow log
    is replaced.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  vpc_id:
    description:
      - The VPC whose traffic is logged. Required unless in check mode.
      - In check mode V((known after apply\)), the id of a planned VPC, means the same as none.
    type: str
  log_group_name:
    description: CloudWatch Logs group receiving the records.
    type: str
    required: true
  retention_in_days:
    description: Retention of the log group.
    type: int
    default: 14
    choices: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]
  traffic_type:
    description: Which traffic is logged.
    type: str
    choices: [ACCEPT, REJECT, ALL]
    default: ALL
  max_aggregation_interval:
    description: Aggregation interval in seconds.
    type: int
    choices: [60, 600]
    default: 600
  log_format:
    description: Custom record format; the AWS default format when omitted.
    type: str
  iam_role_name:
    description: Name of the delivery role to create or update. Ignored when O(deliver_logs_role_arn) is set.
    type: str
  deliver_logs_role_arn:
    description: An existing delivery role to use instead of creating one.
    type: str
  delete_log_group:
    description: With O(state=absent), also delete the log group (and its records).
    type: bool
    default: true
  state:
    description: V(present) ensures the flow log; V(absent) removes it, its role and (by default) its log group.
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
- name: Flow logs of the cluster VPC, kept 14 days, with their delivery role
  llmhub.eks.ec2_vpc_flow_logs:
    vpc_id: "{{ vpc_net_result.vpc.id }}"
    log_group_name: /aws/vpc/llm-analytics-hub-prod-eks/flow-logs
    retention_in_days: 14
    traffic_type: ALL
    iam_role_name: llm-analytics-hub-prod-eks-vpc-flow-logs
    tags:
      Project: llm-analytics-hub
      llmhub.io/cluster: llm-analytics-hub-prod-eks
  register: vpc_flow_logs_result

- name: Remove them with their role and log group
  llmhub.eks.ec2_vpc_flow_logs:
    vpc_id: "{{ vpc_net_result.vpc.id }}"
    log_group_name: /aws/vpc/llm-analytics-hub-prod-eks/flow-logs
    iam_role_name: llm-analytics-hub-prod-eks-vpc-flow-logs
    state: absent
"""

RETURN = r"""
flow_log:
  description:
    - The flow log after the call (empty for O(state=absent)).
    - In check mode a flow log that would be created is shown as planned, with V((known after apply\)) for its id and
      what else AWS assigns.
  returned: always
  type: dict
  contains:
    id:
      description: Flow log id.
      type: str
      sample: fl-0123456789abcdef0
    log_group_name:
      description: Destination log group.
      type: str
    traffic_type:
      description: Logged traffic.
      type: str
    deliver_logs_permission_arn:
      description: Delivery role.
      type: str
    max_aggregation_interval:
      description: Aggregation interval in seconds.
      type: int
log_group:
  description: Name and retention of the destination log group.
  returned: always
  type: dict
  sample: {"name": "/aws/vpc/llm-analytics-hub-prod-eks/flow-logs", "retention_in_days": 14}
role_arn:
  description: ARN of the delivery role (V((known after apply\)) in check mode when it would be created).
  returned: when state=present
  type: str
actions:
  description: What was done (or would be in check mode), in order.
  returned: always
  type: list
  elements: str
"""

import json

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list

from ansible_collections.llmhub.eks.plugins.module_utils.common import KNOWN_AFTER_APPLY
from ansible_collections.llmhub.eks.plugins.module_utils.common import is_known
from ansible_collections.llmhub.eks.plugins.module_utils.common import planned
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import desired_tags
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import ec2_client
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import require_vpc
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import tag_specifications
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import tags_of
from ansible_collections.llmhub.eks.plugins.module_utils.logs import ensure_log_group as ensure_log_group_state
from ansible_collections.llmhub.eks.plugins.module_utils.logs import find_log_group

TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
INLINE_POLICY_NAME = "deliver-vpc-flow-logs"


def delivery_policy(log_group_arn):
    """Least privilege: write streams and events of this one log group."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DeliverFlowLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": [log_group_arn, f"{log_group_arn}:log-stream:*"],
            }
        ],
    }


def ensure_log_group(module, logs, actions):
    """The destination group with its retention and tags."""
    name = module.params["log_group_name"]
    _before, after, changes = ensure_log_group_state(logs, name, module.params["retention_in_days"],
                                                     desired_tags(module, name), module.check_mode,
                                                     purge_tags=module.params.get("purge_tags", True))
    actions.extend(changes)
    if not is_known(after["arn"]):  # check mode: the group would be created
        return f"arn:aws:logs:{module.region}:*:log-group:{name}"
    return after["arn"]


def ensure_role(module, iam, log_group_arn, actions):
    if module.params["deliver_logs_role_arn"]:
        return module.params["deliver_logs_role_arn"]
    name = module.params["iam_role_name"]
    try:
        role = iam.get_role(aws_retry=True, RoleName=name)["Role"]
    except is_boto3_error_code("NoSuchEntity"):
        role = None
    if role is None:
        actions.append(f"create IAM role {name}")
        if module.check_mode:
            return KNOWN_AFTER_APPLY
        role = iam.create_role(
            aws_retry=True,
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
            Description="Delivers VPC flow logs to CloudWatch Logs",
            Tags=ansible_dict_to_boto3_tag_list(desired_tags(module, name)),
        )["Role"]
    wanted = delivery_policy(log_group_arn)
    try:
        current = iam.get_role_policy(aws_retry=True, RoleName=name, PolicyName=INLINE_POLICY_NAME)["PolicyDocument"]
        if isinstance(current, str):
            current = json.loads(current)
    except is_boto3_error_code("NoSuchEntity"):
        current = None
    if current != wanted:
        actions.append(f"put inline policy {INLINE_POLICY_NAME} on {name}")
        if not module.check_mode:
            iam.put_role_policy(
                aws_retry=True, RoleName=name, PolicyName=INLINE_POLICY_NAME, PolicyDocument=json.dumps(wanted)
            )
    return role["Arn"]


def current_flow_logs(ec2, vpc_id, log_group_name):
    if not vpc_id:
        return []
    return ec2.describe_flow_logs(
        aws_retry=True,
        Filters=[
            {"Name": "resource-id", "Values": [vpc_id]},
            {"Name": "log-group-name", "Values": [log_group_name]},
        ],
    )["FlowLogs"]


def differs(flow_log, module, role_arn):
    wanted = {
        "TrafficType": module.params["traffic_type"],
        "DeliverLogsPermissionArn": role_arn,
        "MaxAggregationInterval": module.params["max_aggregation_interval"],
    }
    if module.params["log_format"]:
        wanted["LogFormat"] = module.params["log_format"]
    return {k: (flow_log.get(k), v) for k, v in wanted.items() if flow_log.get(k) != v}


def describe(flow_log):
    if not flow_log:
        return {}
    return {
        "id": flow_log["FlowLogId"],
        "resource_id": flow_log.get("ResourceId"),
        "log_group_name": flow_log.get("LogGroupName"),
        "traffic_type": flow_log.get("TrafficType"),
        "deliver_logs_permission_arn": flow_log.get("DeliverLogsPermissionArn"),
        "max_aggregation_interval": flow_log.get("MaxAggregationInterval"),
        "log_format": flow_log.get("LogFormat"),
        "status": flow_log.get("FlowLogStatus"),
        "tags": tags_of(flow_log),
    }


def planned_flow_log(module, vpc_id, role_arn):
    """The flow log that would be created (check mode): what AWS assigns is KNOWN_AFTER_APPLY."""
    return {
        "id": KNOWN_AFTER_APPLY,
        "resource_id": planned(vpc_id),
        "log_group_name": module.params["log_group_name"],
        "traffic_type": module.params["traffic_type"],
        "deliver_logs_permission_arn": role_arn,
        "max_aggregation_interval": module.params["max_aggregation_interval"],
        "log_format": module.params["log_format"] or KNOWN_AFTER_APPLY,
        "status": KNOWN_AFTER_APPLY,
        "tags": desired_tags(module, f"{vpc_id}-flow-logs" if vpc_id else KNOWN_AFTER_APPLY),
    }


def create_flow_log(module, ec2, vpc_id, role_arn):
    params = dict(
        ResourceIds=[vpc_id],
        ResourceType="VPC",
        TrafficType=module.params["traffic_type"],
        LogDestinationType="cloud-watch-logs",
        LogGroupName=module.params["log_group_name"],
        DeliverLogsPermissionArn=role_arn,
        MaxAggregationInterval=module.params["max_aggregation_interval"],
        TagSpecifications=tag_specifications(desired_tags(module, f"{vpc_id}-flow-logs"), "vpc-flow-log"),
    )
    if module.params["log_format"]:
        params["LogFormat"] = module.params["log_format"]
    response = ec2.create_flow_logs(aws_retry=True, **params)
    if response.get("Unsuccessful"):
        module.fail_json(msg=f"Failed to create the flow log: {response['Unsuccessful']}")
    return response["FlowLogIds"][0]


def ensure_present(module, clients, vpc_id):
    ec2, logs, iam = clients
    actions = []
    log_group_arn = ensure_log_group(module, logs, actions)
    role_arn = ensure_role(module, iam, log_group_arn, actions)
    existing = current_flow_logs(ec2, vpc_id, module.params["log_group_name"])
    keep = None
    before = {}
    for flow_log in existing:
        before = describe(flow_log)
        if keep is None and not differs(flow_log, module, role_arn):
            keep = flow_log
            continue
        actions.append(f"delete flow log {flow_log['FlowLogId']} (settings differ: {differs(flow_log, module, role_arn)})")
        if not module.check_mode:
            ec2.delete_flow_logs(aws_retry=True, FlowLogIds=[flow_log["FlowLogId"]])
    if keep is None:
        actions.append(f"create flow log of {vpc_id or 'the new VPC'} to {module.params['log_group_name']}")
        if not module.check_mode:
            flow_log_id = create_flow_log(module, ec2, vpc_id, role_arn)
            keep = ec2.describe_flow_logs(aws_retry=True, FlowLogIds=[flow_log_id])["FlowLogs"][0]
    flow_log = describe(keep)
    if keep is None and module.check_mode:
        flow_log = planned_flow_log(module, vpc_id, role_arn)
    result = dict(
        changed=bool(actions),
        actions=actions,
        flow_log=flow_log,
        log_group=dict(name=module.params["log_group_name"], retention_in_days=module.params["retention_in_days"]),
        role_arn=role_arn,
    )
    result["diff"] = dict(before=before, after={
        "log_group_name": module.params["log_group_name"],
        "traffic_type": module.params["traffic_type"],
        "deliver_logs_permission_arn": role_arn,
        "max_aggregation_interval": module.params["max_aggregation_interval"],
        "retention_in_days": module.params["retention_in_days"],
    })
    module.exit_json(**result)


def ensure_absent(module, clients, vpc_id):
    ec2, logs, iam = clients
    actions = []
    for flow_log in current_flow_logs(ec2, vpc_id, module.params["log_group_name"]):
        actions.append(f"delete flow log {flow_log['FlowLogId']}")
        if not module.check_mode:
            ec2.delete_flow_logs(aws_retry=True, FlowLogIds=[flow_log["FlowLogId"]])
    name = module.params["iam_role_name"]
    if name and not module.params["deliver_logs_role_arn"]:
        try:
            iam.get_role(aws_retry=True, RoleName=name)
            actions.append(f"delete IAM role {name}")
            if not module.check_mode:
                for policy in iam.list_role_policies(aws_retry=True, RoleName=name)["PolicyNames"]:
                    iam.delete_role_policy(aws_retry=True, RoleName=name, PolicyName=policy)
                iam.delete_role(aws_retry=True, RoleName=name)
        except is_boto3_error_code("NoSuchEntity"):
            pass
    group = module.params["log_group_name"]
    if module.params["delete_log_group"] and find_log_group(logs, group):
        actions.append(f"delete log group {group}")
        if not module.check_mode:
            logs.delete_log_group(aws_retry=True, logGroupName=group)
    module.exit_json(changed=bool(actions), actions=actions, flow_log={}, log_group={})


def main():
    argument_spec = dict(
        vpc_id=dict(type="str"),
        log_group_name=dict(type="str", required=True),
        retention_in_days=dict(
            type="int",
            default=14,
            choices=[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                     3288, 3653],
        ),
        traffic_type=dict(type="str", choices=["ACCEPT", "REJECT", "ALL"], default="ALL"),
        max_aggregation_interval=dict(type="int", choices=[60, 600], default=600),
        log_format=dict(type="str"),
        iam_role_name=dict(type="str"),
        deliver_logs_role_arn=dict(type="str"),
        delete_log_group=dict(type="bool", default=True),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("state", "present", ("iam_role_name", "deliver_logs_role_arn"), True)],
    )
    vpc_id = require_vpc(module)
    clients = (ec2_client(module), retrying_client(module, "logs"), retrying_client(module, "iam"))
    handler = ensure_present if module.params["state"] == "present" else ensure_absent
    run_module(module, handler, module, clients, vpc_id)


if __name__ == "__main__":
    main()
