#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ec2_vpc_subnets
short_description: Reconcile the whole set of subnets of a VPC in one call
version_added: 0.1.0
description:
  - Creates, tags and deletes all listed subnets of one VPC in a single module invocation.
  - Describes the VPC's subnets once, matches members by O(subnets[].name) (the C(Name) tag) or, failing that,
    by CIDR, and creates the missing ones concurrently.
  - Availability zones are checked against the region before anything is created.
  - A subnet cannot change CIDR or availability zone in place; such a change fails with a message instead of
    replacing the subnet (its ENIs would block the deletion anyway).
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  vpc_id:
    description:
      - The VPC the subnets belong to.
      - Required unless in check mode, where a missing VPC means every subnet would be created.
      - In check mode V((known after apply\)), the id of a planned VPC, means the same as none.
    type: str
  subnets:
    description: The subnets of the VPC managed by this call.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Unique name, set as the C(Name) tag.
        type: str
        required: true
      cidr:
        description: IPv4 CIDR of the subnet, inside the VPC CIDR.
        type: str
        required: true
      az:
        description: Availability zone name, e.g. C(us-east-1a).
        type: str
        required: true
      map_public_ip_on_launch:
        description: Whether instances launched in the subnet get a public IPv4 address.
        type: bool
        default: false
      tags:
        description: Tags of this subnet only, merged over O(tags).
        type: dict
        default: {}
  state:
    description:
      - V(present) creates and updates the listed subnets; V(absent) deletes them.
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
# The vpc role passes all nine subnets (private, public and intra in three AZs)
# planned by the llmhub.eks.vpc_network_plan filter: subnets: "{{ vpc_network_plan.subnets }}"
- name: Ensure private and public subnets of the cluster VPC
  llmhub.eks.ec2_vpc_subnets:
    vpc_id: "{{ vpc_net_result.vpc.id }}"
    tags:
      Project: llm-analytics-hub
      llmhub.io/cluster: llm-analytics-hub-prod-eks
    subnets:
      - name: llm-analytics-hub-prod-eks-private-us-east-1a
        cidr: 10.0.0.0/20
        az: us-east-1a
        tags:
          llmhub.io/tier: private
          kubernetes.io/role/internal-elb: "1"
          kubernetes.io/cluster/llm-analytics-hub-prod-eks: shared
      - name: llm-analytics-hub-prod-eks-private-us-east-1b
        cidr: 10.0.16.0/20
        az: us-east-1b
        tags:
          llmhub.io/tier: private
          kubernetes.io/role/internal-elb: "1"
          kubernetes.io/cluster/llm-analytics-hub-prod-eks: shared
      - name: llm-analytics-hub-prod-eks-public-us-east-1a
        cidr: 10.0.48.0/24
        az: us-east-1a
        tags:
          llmhub.io/tier: public
          kubernetes.io/role/elb: "1"
          kubernetes.io/cluster/llm-analytics-hub-prod-eks: shared
  register: vpc_subnets_result

- name: Delete them
  llmhub.eks.ec2_vpc_subnets:
    vpc_id: "{{ vpc_net_result.vpc.id }}"
    state: absent
    subnets:
      - {name: llm-analytics-hub-prod-eks-private-us-east-1a, cidr: 10.0.0.0/20, az: us-east-1a}
      - {name: llm-analytics-hub-prod-eks-private-us-east-1b, cidr: 10.0.16.0/20, az: us-east-1b}
      - {name: llm-analytics-hub-prod-eks-public-us-east-1a, cidr: 10.0.48.0/24, az: us-east-1a}
"""

RETURN = r"""
subnets:
  description: The listed subnets as they are after the call, in the order given (empty for O(state=absent)).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Subnet id.
      type: str
      sample: subnet-0123456789abcdef0
    name:
      description: The C(Name) tag.
      type: str
    cidr_block:
      description: IPv4 CIDR.
      type: str
      sample: 10.0.0.0/20
    availability_zone:
      description: Availability zone.
      type: str
      sample: us-east-1a
    map_public_ip_on_launch:
      description: Whether public IPv4 addresses are assigned at launch.
      type: bool
    tags:
      description: Tags as a dict.
      type: dict
subnets_by_name:
  description: Subnet ids keyed by name (V((known after apply\)) in check mode for subnets that would be
    created).
  returned: always
  type: dict
  sample: {"llm-analytics-hub-prod-eks-private-us-east-1a": "subnet-0123456789abcdef0"}
created:
  description: Names of the subnets created (or that would be created in check mode).
  returned: always
  type: list
  elements: str
updated:
  description: Names of the subnets whose tags or attributes changed.
  returned: always
  type: list
  elements: str
deleted:
  description: Names of the subnets deleted.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils.common import diff_view
from ansible_collections.llmhub.eks.plugins.module_utils.common import planned
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_concurrently
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import COMMON_ARGS
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import desired_tags
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import ec2_client
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import name_of
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import reconcile_tags
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import require_vpc
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import tag_specifications
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import tags_of
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import vpc_filter

DIFF_KEYS = ("cidr", "az", "map_public_ip_on_launch", "tags")


def current_subnets(client, vpc_id):
    if not vpc_id:
        return []
    return paginate(client, "describe_subnets", "Subnets", Filters=vpc_filter(vpc_id))


def match(wanted, existing):
    """Pair each wanted subnet with the existing one of the same Name, else of the same CIDR."""
    named = {name_of(s): s for s in existing if name_of(s)}
    by_cidr = {s["CidrBlock"]: s for s in existing}
    pairs = []
    for subnet in wanted:
        pairs.append((subnet, named.get(subnet["name"]) or by_cidr.get(subnet["cidr"])))
    return pairs


def view(subnet):
    """The comparable view of an existing subnet (same keys as the wanted spec)."""
    return {
        "name": name_of(subnet),
        "cidr": subnet["CidrBlock"],
        "az": subnet["AvailabilityZone"],
        "map_public_ip_on_launch": subnet.get("MapPublicIpOnLaunch", False),
        "tags": tags_of(subnet),
    }


def check_immutable(module, pairs):
    problems = []
    for wanted, found in pairs:
        if found is None:
            continue
        if found["CidrBlock"] != wanted["cidr"] or found["AvailabilityZone"] != wanted["az"]:
            problems.append(
                f"{wanted['name']} exists as {found['SubnetId']} with {found['CidrBlock']} in {found['AvailabilityZone']},"
                f" wanted {wanted['cidr']} in {wanted['az']}"
            )
    if problems:
        module.fail_json(
            msg="Subnets cannot change CIDR or availability zone in place: "
            + "; ".join(problems)
            + ". Keep the existing layout (vpc_*_subnets / vpc_azs) or delete those subnets first."
        )


def check_azs(module, client, subnets):
    wanted = sorted({s["az"] for s in subnets})
    zones = client.describe_availability_zones(aws_retry=True, AllAvailabilityZones=True)["AvailabilityZones"]
    known = {z["ZoneName"] for z in zones}
    unknown = [az for az in wanted if az not in known]
    if unknown:
        module.fail_json(
            msg=f"Availability zones {unknown} do not exist in region {module.region}; known: {sorted(known)} (vpc_azs)"
        )


def ensure_present(module, client, vpc_id):
    wanted = module.params["subnets"]
    check_azs(module, client, wanted)
    existing = current_subnets(client, vpc_id)
    pairs = match(wanted, existing)
    check_immutable(module, pairs)
    before = diff_view([view(found) for _spec, found in pairs if found], DIFF_KEYS)
    created, updated = [], []

    def create(spec):
        tags = desired_tags(module, spec["name"], spec["tags"])
        subnet = client.create_subnet(
            aws_retry=True,
            VpcId=vpc_id,
            CidrBlock=spec["cidr"],
            AvailabilityZone=spec["az"],
            TagSpecifications=tag_specifications(tags, "subnet"),
        )["Subnet"]
        if spec["map_public_ip_on_launch"]:
            client.modify_subnet_attribute(
                aws_retry=True, SubnetId=subnet["SubnetId"], MapPublicIpOnLaunch={"Value": True}
            )
            subnet["MapPublicIpOnLaunch"] = True
        return subnet

    def update(pair):
        spec, found = pair
        changed = reconcile_tags(client, module, found["SubnetId"], tags_of(found), desired_tags(module, spec["name"], spec["tags"]))
        if bool(found.get("MapPublicIpOnLaunch")) != spec["map_public_ip_on_launch"]:
            changed = True
            if not module.check_mode:
                client.modify_subnet_attribute(
                    aws_retry=True,
                    SubnetId=found["SubnetId"],
                    MapPublicIpOnLaunch={"Value": spec["map_public_ip_on_launch"]},
                )
        return changed

    missing = [spec for spec, found in pairs if found is None]
    present = [(spec, found) for spec, found in pairs if found is not None]
    created = [spec["name"] for spec in missing]
    if module.check_mode:
        new = {spec["name"]: None for spec in missing}
    else:
        new = dict(zip(created, run_concurrently(create, missing, "create subnets", label=lambda s: s["name"])))
    changes = run_concurrently(update, present, "update subnets", label=lambda p: p[0]["name"])
    updated = [spec["name"] for (spec, _found), changed in zip(present, changes) if changed]

    after_subnets = []
    by_name = {}
    refreshed = {}
    if (updated or created) and not module.check_mode:
        refreshed = {s["SubnetId"]: s for s in current_subnets(client, vpc_id)}
    for spec, found in pairs:
        subnet = new.get(spec["name"]) if found is None else found
        if subnet is not None:
            subnet = refreshed.get(subnet["SubnetId"], subnet)
            by_name[spec["name"]] = subnet["SubnetId"]
            after_subnets.append(describe(subnet))
        else:
            by_name[spec["name"]] = planned(None, module.check_mode)
    after = diff_view(
        [
            {
                "name": spec["name"],
                "cidr": spec["cidr"],
                "az": spec["az"],
                "map_public_ip_on_launch": spec["map_public_ip_on_launch"],
                "tags": desired_tags(module, spec["name"], spec["tags"]),
            }
            for spec in wanted
        ],
        DIFF_KEYS,
    )
    result = dict(
        changed=bool(created or updated),
        subnets=after_subnets,
        subnets_by_name=by_name,
        created=created,
        updated=updated,
        deleted=[],
    )
    result["diff"] = dict(before=before, after=after)
    module.exit_json(**result)


def ensure_absent(module, client, vpc_id):
    existing = current_subnets(client, vpc_id)
    pairs = [(spec, found) for spec, found in match(module.params["subnets"], existing) if found is not None]
    before = diff_view([view(found) for _spec, found in pairs], DIFF_KEYS)

    def delete(pair):
        try:
            client.delete_subnet(aws_retry=True, SubnetId=pair[1]["SubnetId"])
        except is_boto3_error_code("InvalidSubnetID.NotFound"):
            pass

    if not module.check_mode:
        run_concurrently(delete, pairs, "delete subnets", label=lambda p: p[0]["name"])
    result = dict(
        changed=bool(pairs), subnets=[], subnets_by_name={}, created=[], updated=[],
        deleted=[spec["name"] for spec, _found in pairs],
    )
    result["diff"] = dict(before=before, after={})
    module.exit_json(**result)


def describe(subnet):
    result = camel_dict_to_snake_dict(subnet, ignore_list=["Tags"])
    result["tags"] = tags_of(subnet)
    result["id"] = subnet["SubnetId"]
    result["name"] = name_of(subnet)
    return result


def main():
    argument_spec = dict(
        subnets=dict(
            type="list",
            elements="dict",
            required=True,
            options=dict(
                name=dict(type="str", required=True),
                cidr=dict(type="str", required=True),
                az=dict(type="str", required=True),
                map_public_ip_on_launch=dict(type="bool", default=False),
                tags=dict(type="dict", default={}),
            ),
        ),
        **COMMON_ARGS,
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    names = [s["name"] for s in module.params["subnets"]]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        module.fail_json(msg=f"subnets: names must be unique, duplicated: {duplicates}")
    client = ec2_client(module)
    vpc_id = require_vpc(module)
    handler = ensure_present if module.params["state"] == "present" else ensure_absent
    run_module(module, handler, module, client, vpc_id)


if __name__ == "__main__":
    main()
