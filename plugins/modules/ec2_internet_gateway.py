#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ec2_internet_gateway
short_description: The internet gateway of a VPC, attached and tagged
version_added: 0.1.0
description:
  - Ensures that the VPC O(vpc_id) has an internet gateway attached, with the C(Name) tag O(name) and O(tags), or
    detaches and deletes it.
  - >-
    The gateway is the one attached to the VPC, as M(amazon.aws.ec2_vpc_igw) finds it, so a gateway made by that
    module is adopted. A detached gateway named O(name) (a run interrupted between creating and attaching it) is
    attached instead of creating another; M(amazon.aws.ec2_vpc_igw) finds gateways only by their VPC and would
    leave that one orphaned and make a second.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  vpc_id:
    description:
      - The VPC.
      - In check mode V((known after apply\)), the id of a planned VPC, means that the gateway would be created.
    type: str
    required: true
  name:
    description: Value of the gateway's C(Name) tag. Omitted, a C(Name) tag in O(tags) (if any) is used.
    type: str
  state:
    description: V(present) creates, attaches and tags the gateway; V(absent) detaches and deletes it.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
notes:
  - A VPC has at most one internet gateway; routes to it are managed by M(llmhub.eks.ec2_vpc_route_tables)
    (gateway C(igw)).
"""

EXAMPLES = r"""
- name: The internet gateway of the cluster VPC
  llmhub.eks.ec2_internet_gateway:
    vpc_id: "{{ vpc_net_result.vpc.id }}"
    name: llm-analytics-hub-prod-eks-igw
    tags:
      Project: llm-analytics-hub
      llmhub.io/cluster: llm-analytics-hub-prod-eks
  register: vpc_igw_result

- name: Remove it (after the NAT gateways and public routes)
  llmhub.eks.ec2_internet_gateway:
    vpc_id: "{{ vpc_net_result.vpc.id }}"
    state: absent
"""

RETURN = r"""
gateway_id:
  description: Id of the internet gateway (null when absent; V((known after apply\)) when it would be created in
    check mode).
  returned: always
  type: str
  sample: igw-0123456789abcdef0
vpc_id:
  description: The VPC (V((known after apply\)) in check mode when O(vpc_id) is that of a VPC not created yet).
  returned: always
  type: str
tags:
  description: Tags of the gateway (after the change). Empty when O(state=absent).
  returned: always
  type: dict
actions:
  description: What was done (or would be in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["create internet gateway llm-analytics-hub-prod-eks-igw", "attach it to vpc-0123456789abcdef0"]
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils.common import known_option
from ansible_collections.llmhub.eks.plugins.module_utils.common import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.common import planned
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import ec2_client
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import reconcile_tags
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import tag_specifications
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import tags_of


def tag_plan(module):
    """(wanted tags, purge the others), or (None, False) when the tags are left as they are: with O(tags)
    omitted only the Name tag (if O(name)) is set, nothing is purged."""
    if module.params["tags"] is None and not module.params["name"]:
        return None, False
    tags = dict(module.params["tags"] or {})
    if module.params["name"]:
        tags["Name"] = module.params["name"]
    return tags, module.params["purge_tags"] and module.params["tags"] is not None


def tags_after(current, wanted, purge):
    if wanted is None:
        return dict(current)
    return dict(wanted) if purge else {**current, **wanted}


def attached_gateway(client, vpc_id):
    gateways = paginate(client, "describe_internet_gateways", "InternetGateways",
                        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])
    return gateways[0] if gateways else None


def detached_gateway_named(client, name):
    """A gateway named ``name`` attached nowhere: what an interrupted run left."""
    if not name:
        return None
    gateways = paginate(client, "describe_internet_gateways", "InternetGateways",
                        Filters=[{"Name": "tag:Name", "Values": [name]}])
    return next((g for g in gateways if not g.get("Attachments")), None)


def ensure_present(module, client):
    vpc_id = known_option(module, "vpc_id")  # None: the VPC of a check mode plan, not created yet
    vpc_label = vpc_id or "the new VPC"
    tags, purge = tag_plan(module)
    label = module.params["name"] or "for " + vpc_label
    actions = []
    gateway = attached_gateway(client, vpc_id) if vpc_id else None
    before = {"gateway_id": gateway["InternetGatewayId"], "tags": tags_of(gateway)} if gateway else {}
    if gateway is None:
        gateway = detached_gateway_named(client, module.params["name"])
        if gateway is None:
            actions.append(f"create internet gateway {label}")
            if not module.check_mode:
                specifications = {"TagSpecifications": tag_specifications(tags, "internet-gateway")} if tags else {}
                gateway = client.create_internet_gateway(aws_retry=True, **specifications)["InternetGateway"]
        actions.append(f"attach it to {vpc_label}")
        if gateway is not None and not module.check_mode:
            try:
                client.attach_internet_gateway(aws_retry=True, InternetGatewayId=gateway["InternetGatewayId"],
                                               VpcId=vpc_id)
            except is_boto3_error_code("Resource.AlreadyAssociated"):
                module.fail_json(msg=f"vpc_id: {vpc_id} got another internet gateway meanwhile; run again to adopt"
                                     f" it, and delete {gateway['InternetGatewayId']}")
    gateway_id = gateway["InternetGatewayId"] if gateway else planned(None, module.check_mode)
    current_tags = tags_of(gateway) if gateway else dict(tags or {})
    if gateway is not None and tags is not None and reconcile_tags(client, module, gateway_id, current_tags, tags,
                                                                   purge=purge):
        actions.append(f"update the tags of {gateway_id}")
    after_tags = tags_after(current_tags, tags, purge)
    result = dict(changed=bool(actions), gateway_id=gateway_id, vpc_id=planned(vpc_id, module.check_mode),
                  tags=after_tags, actions=actions)
    result["diff"] = dict(before=before, after={"gateway_id": gateway_id, "tags": after_tags})
    module.exit_json(**result)


def ensure_absent(module, client):
    vpc_id = known_option(module, "vpc_id")
    gateway = attached_gateway(client, vpc_id) if vpc_id else None
    actions = []
    if gateway is not None:
        gateway_id = gateway["InternetGatewayId"]
        actions = [f"detach {gateway_id} from {vpc_id}", f"delete {gateway_id}"]
        if not module.check_mode:
            try:
                client.detach_internet_gateway(aws_retry=True, InternetGatewayId=gateway_id, VpcId=vpc_id)
            except is_boto3_error_code("DependencyViolation"):
                module.fail_json(msg=f"internet gateway {gateway_id} of {vpc_id} still has mapped public addresses "
                                     "(NAT gateways, Elastic IPs, load balancers); remove them first (the vpc role's "
                                     "destroy.yml does)")
            client.delete_internet_gateway(aws_retry=True, InternetGatewayId=gateway_id)
    result = dict(changed=bool(actions), gateway_id=None, vpc_id=vpc_id, tags={}, actions=actions)
    result["diff"] = dict(before={"gateway_id": gateway["InternetGatewayId"], "tags": tags_of(gateway)}
                          if gateway else {}, after={})
    module.exit_json(**result)


def main():
    argument_spec = dict(
        vpc_id=dict(type="str", required=True),
        name=dict(type="str"),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    client = ec2_client(module)
    handler = ensure_present if module.params["state"] == "present" else ensure_absent
    run_module(module, handler, module, client)


if __name__ == "__main__":
    main()
