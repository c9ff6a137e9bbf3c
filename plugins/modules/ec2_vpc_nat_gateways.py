#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ec2_vpc_nat_gateways
short_description: Reconcile all NAT gateways of a VPC (with their Elastic IPs) in one call
version_added: 0.1.0
description:
  - Ensures one public NAT gateway per listed member, each with its own Elastic IP, in a single invocation.
  - All missing NAT gateways are requested concurrently before any of them is waited on; the wait polls every
    pending gateway with one C(DescribeNatGateways) call per round.
  - Interrupted runs are safe to repeat. Members are found by their C(Name) tag, which is applied atomically at
    creation (C(TagSpecifications)), and an Elastic IP allocated for a member but not yet associated is reused,
    so a re-run never leaves extra gateways or addresses behind.
  - With O(state=absent) the gateways are deleted concurrently, waited on, and their tagged Elastic IPs released.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  vpc_id:
    description:
      - The VPC of the gateways. Required unless in check mode.
      - In check mode V((known after apply\)), the id of a planned VPC, means the same as none.
    type: str
  nat_gateways:
    description: The NAT gateways of the VPC managed by this call.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Unique name, set as the C(Name) tag of the gateway; its Elastic IP is tagged C(<name>-eip).
        type: str
        required: true
      subnet:
        description: The public subnet, by id (C(subnet-...)) or by C(Name) tag.
        type: str
        required: true
  wait:
    description: Wait until every gateway is C(available) (or C(deleted) for O(state=absent)).
    type: bool
    default: true
  wait_timeout:
    description: How many seconds to wait in total for the whole set.
    type: int
    default: 900
  state:
    description: V(present) creates the listed gateways; V(absent) deletes them and releases their addresses.
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
- name: One NAT gateway per AZ, each in the public subnet of its AZ, requested together, waited on once
  llmhub.eks.ec2_vpc_nat_gateways:
    vpc_id: "{{ vpc_net_result.vpc.id }}"
    nat_gateways:
      - {name: llm-analytics-hub-prod-eks-nat-us-east-1a, subnet: llm-analytics-hub-prod-eks-public-us-east-1a}
      - {name: llm-analytics-hub-prod-eks-nat-us-east-1b, subnet: llm-analytics-hub-prod-eks-public-us-east-1b}
      - {name: llm-analytics-hub-prod-eks-nat-us-east-1c, subnet: llm-analytics-hub-prod-eks-public-us-east-1c}
    tags:
      Project: llm-analytics-hub
      llmhub.io/cluster: llm-analytics-hub-prod-eks
  register: vpc_nat_result

- name: Delete them and release their Elastic IPs
  llmhub.eks.ec2_vpc_nat_gateways:
    vpc_id: "{{ vpc_net_result.vpc.id }}"
    state: absent
    nat_gateways:
      - {name: llm-analytics-hub-prod-eks-nat-us-east-1a, subnet: llm-analytics-hub-prod-eks-public-us-east-1a}
      - {name: llm-analytics-hub-prod-eks-nat-us-east-1b, subnet: llm-analytics-hub-prod-eks-public-us-east-1b}
      - {name: llm-analytics-hub-prod-eks-nat-us-east-1c, subnet: llm-analytics-hub-prod-eks-public-us-east-1c}
"""

RETURN = r"""
nat_gateways:
  description: The gateways after the call, in the order given (empty for O(state=absent)).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: NAT gateway id.
      type: str
      sample: nat-0123456789abcdef0
    name:
      description: The C(Name) tag.
      type: str
    state:
      description: Gateway state.
      type: str
      sample: available
    subnet_id:
      description: Subnet of the gateway.
      type: str
    public_ip:
      description: Elastic IP address of the gateway.
      type: str
    allocation_id:
      description: Allocation id of the Elastic IP.
      type: str
nat_gateways_by_name:
  description: Gateway ids keyed by name (V((known after apply\)) for planned gateways in check mode).
  returned: always
  type: dict
created:
  description: Names of the gateways created (or that would be).
  returned: always
  type: list
  elements: str
deleted:
  description: Names of the gateways deleted (or that would be).
  returned: always
  type: list
  elements: str
released_addresses:
  description: Public IPs of the Elastic IPs released with their gateways (or that would be).
  returned: when O(state=absent)
  type: list
  elements: str
  sample: ["203.0.113.10"]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils.common import diff_view
from ansible_collections.llmhub.eks.plugins.module_utils.common import planned
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_concurrently
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.common import wait_for_set
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import COMMON_ARGS
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import by_name
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import desired_tags
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import ec2_client
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import name_of
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import reconcile_tags
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import require_vpc
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import tag_specifications
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import tags_of
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import vpc_filter

LIVE_STATES = ["pending", "available"]


def live_gateways(client, vpc_id):
    if not vpc_id:
        return []
    return paginate(
        client, "describe_nat_gateways", "NatGateways", Filter=vpc_filter(vpc_id, state=LIVE_STATES + ["deleting"])
    )


def member_addresses(client, names):
    """Elastic IPs allocated for the members, keyed by the member name (tag llmhub.io/nat-gateway)."""
    if not names:
        return {}
    addresses = client.describe_addresses(
        aws_retry=True, Filters=[{"Name": "tag:llmhub.io/nat-gateway", "Values": list(names)}]
    )["Addresses"]
    return {tags_of(a)["llmhub.io/nat-gateway"]: a for a in addresses}


def resolve_subnets(module, client, vpc_id, members):
    refs = {m["subnet"] for m in members}
    if not vpc_id:
        return {ref: ref if ref.startswith("subnet-") else None for ref in refs}
    subnets = paginate(client, "describe_subnets", "Subnets", Filters=vpc_filter(vpc_id))
    ids = {s["SubnetId"]: s["SubnetId"] for s in subnets}
    ids.update({name: s["SubnetId"] for name, s in by_name(subnets).items()})
    resolved = {ref: ids.get(ref) for ref in refs}
    unknown = sorted(ref for ref, value in resolved.items() if value is None)
    if unknown and not module.check_mode:
        module.fail_json(msg=f"nat_gateways: subnets {unknown} not found in {vpc_id}; create them first (ec2_vpc_subnets)")
    return resolved


def describe(gateway):
    address = (gateway.get("NatGatewayAddresses") or [{}])[0]
    return {
        "id": gateway["NatGatewayId"],
        "name": name_of(gateway),
        "state": gateway["State"],
        "subnet_id": gateway["SubnetId"],
        "vpc_id": gateway["VpcId"],
        "public_ip": address.get("PublicIp"),
        "allocation_id": address.get("AllocationId"),
        "private_ip": address.get("PrivateIp"),
        "tags": tags_of(gateway),
    }


def fetch_gateways(client):
    def fetch(ids):
        found = client.describe_nat_gateways(aws_retry=True, NatGatewayIds=list(ids))["NatGateways"]
        return {g["NatGatewayId"]: g for g in found}

    return fetch


def failure_of(gateway):
    if gateway["State"] in ("failed", "deleted"):
        return f"{gateway['State']}: {gateway.get('FailureCode', '')} {gateway.get('FailureMessage', '')}".strip()
    return None


def ensure_present(module, client, vpc_id):
    members = module.params["nat_gateways"]
    subnet_ids = resolve_subnets(module, client, vpc_id, members)
    existing = by_name(g for g in live_gateways(client, vpc_id) if g["State"] in LIVE_STATES)
    for member in members:
        found = existing.get(member["name"])
        if found and subnet_ids.get(member["subnet"]) and found["SubnetId"] != subnet_ids[member["subnet"]]:
            module.fail_json(
                msg=f"NAT gateway {member['name']} ({found['NatGatewayId']}) is in {found['SubnetId']}, wanted"
                f" {member['subnet']}: NAT gateways cannot move; delete it (state=absent) to recreate it"
            )
    missing = [m for m in members if m["name"] not in existing]
    before = diff_view([describe(existing[m["name"]]) for m in members if m["name"] in existing], ("subnet_id",))
    tagged = [m for m in members if m["name"] in existing]
    retagged = run_concurrently(
        lambda m: reconcile_tags(
            client, module, existing[m["name"]]["NatGatewayId"], tags_of(existing[m["name"]]),
            desired_tags(module, m["name"]),
        ),
        tagged, "tag NAT gateways", label=lambda m: m["name"],
    )

    created = {}
    if missing and not module.check_mode:
        addresses = member_addresses(client, [m["name"] for m in missing])

        def create(member):
            address = addresses.get(member["name"])
            if address is None:
                address = client.allocate_address(
                    aws_retry=True,
                    Domain="vpc",
                    TagSpecifications=tag_specifications(
                        desired_tags(module, f"{member['name']}-eip", {"llmhub.io/nat-gateway": member["name"]}),
                        "elastic-ip",
                    ),
                )
            return client.create_nat_gateway(
                aws_retry=True,
                SubnetId=subnet_ids[member["subnet"]],
                AllocationId=address["AllocationId"],
                ConnectivityType="public",
                TagSpecifications=tag_specifications(desired_tags(module, member["name"]), "natgateway"),
            )["NatGateway"]

        results = run_concurrently(create, missing, "create NAT gateways", label=lambda m: m["name"])
        created = {m["name"]: g for m, g in zip(missing, results)}

    gateways = {**existing, **created}
    if module.params["wait"] and not module.check_mode:
        pending = [g["NatGatewayId"] for g in gateways.values() if g["State"] != "available"]
        ready = wait_for_set(
            fetch_gateways(client), pending, lambda g: g["State"] == "available", failure_of,
            module.params["wait_timeout"], "NAT gateways to become available",
        )
        gateways = {name: ready.get(g["NatGatewayId"], g) for name, g in gateways.items()}

    result = dict(
        changed=bool(missing) or any(retagged),
        nat_gateways=[describe(gateways[m["name"]]) for m in members if m["name"] in gateways],
        nat_gateways_by_name={m["name"]: gateways[m["name"]]["NatGatewayId"] if m["name"] in gateways
                              else planned(None, module.check_mode) for m in members},
        created=[m["name"] for m in missing],
        deleted=[],
    )
    # A subnet not created yet (check mode) has no id: the plan says so rather than null.
    after = {m["name"]: {"subnet_id": planned(subnet_ids.get(m["subnet"]), module.check_mode)} for m in members}
    result["diff"] = dict(before=before, after=after)
    module.exit_json(**result)


def ensure_absent(module, client, vpc_id):
    members = module.params["nat_gateways"]
    names = [m["name"] for m in members]
    existing = by_name(live_gateways(client, vpc_id))
    doomed = [existing[n] for n in names if n in existing]
    addresses = member_addresses(client, names) if vpc_id else {}
    deleted = [name_of(g) for g in doomed if g["State"] != "deleting"]
    if not module.check_mode:
        run_concurrently(
            lambda g: client.delete_nat_gateway(aws_retry=True, NatGatewayId=g["NatGatewayId"]),
            [g for g in doomed if g["State"] != "deleting"], "delete NAT gateways", label=name_of,
        )
        if doomed and (module.params["wait"] or addresses):
            wait_for_set(
                fetch_gateways(client), [g["NatGatewayId"] for g in doomed], lambda g: g["State"] == "deleted",
                lambda g: "failed" if g["State"] == "failed" else None,
                module.params["wait_timeout"], "NAT gateways to be deleted",
            )
        run_concurrently(
            lambda a: client.release_address(aws_retry=True, AllocationId=a["AllocationId"]),
            list(addresses.values()), "release NAT gateway Elastic IPs", label=lambda a: a["AllocationId"],
        )
    result = dict(
        changed=bool(deleted or addresses), nat_gateways=[], nat_gateways_by_name={}, created=[], deleted=deleted,
        released_addresses=sorted(a["PublicIp"] for a in addresses.values()),
    )
    result["diff"] = dict(before=diff_view([describe(g) for g in doomed], ("subnet_id",)), after={})
    module.exit_json(**result)


def main():
    argument_spec = dict(
        nat_gateways=dict(
            type="list",
            elements="dict",
            required=True,
            options=dict(name=dict(type="str", required=True), subnet=dict(type="str", required=True)),
        ),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=900),
        **COMMON_ARGS,
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    names = [m["name"] for m in module.params["nat_gateways"]]
    if len(set(names)) != len(names):
        module.fail_json(msg=f"nat_gateways: names must be unique, got {names}")
    client = ec2_client(module)
    vpc_id = require_vpc(module)
    handler = ensure_present if module.params["state"] == "present" else ensure_absent
    run_module(module, handler, module, client, vpc_id)


if __name__ == "__main__":
    main()
