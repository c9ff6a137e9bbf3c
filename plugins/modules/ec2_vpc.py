#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ec2_vpc
short_description: One VPC, found by its Name tag and CIDR, with DNS support and DNS hostnames
version_added: 0.1.0
description:
  - Ensures the VPC named O(name) with the primary CIDR O(cidr_block), its DNS support and DNS hostnames settings
    and its tags. A VPC is identified as M(amazon.aws.ec2_vpc_net) identifies it (the C(Name) tag and the primary
    CIDR), so a VPC made by that module is adopted as it is.
  - Reads the VPC and both DNS attributes concurrently and changes only what differs; a second run makes no change.
  - >-
    Why not M(amazon.aws.ec2_vpc_net) (the same identity, so either can take over from the other): that module has
    no diff mode, so C(--check --diff) would not show the VPC layer, and it does not return the two DNS attributes
    the EKS cluster's private endpoint depends on (read here concurrently with the VPC).
  - With O(state=absent) the VPC is deleted; what is inside it (subnets, gateways, endpoints) must be removed first
    (the vpc role's C(destroy.yml) does). Every VPC with the name and CIDR is deleted, also the extra ones that two
    runs at once can leave.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  name:
    description: Value of the VPC's C(Name) tag.
    type: str
    required: true
  cidr_block:
    description: Primary IPv4 CIDR of the VPC (a /16 to a /28).
    type: str
    required: true
  dns_support:
    description: Whether the Amazon DNS server answers in the VPC (C(enableDnsSupport)). EKS needs it.
    type: bool
    default: true
  dns_hostnames:
    description: Whether instances get public DNS hostnames (C(enableDnsHostnames)). EKS private endpoints need it.
    type: bool
    default: true
  tag_default_resources:
    description:
      - Also put O(tags), and a C(Name) of O(name) followed by C(-default), on the objects AWS creates with the VPC
        (its C(default) security group, main route table and default network ACL), as the C(manage_default_*)
        inputs of terraform-aws-modules/vpc do, so that cost allocation tags cover them too.
      - Tags are only added or updated there, never removed (other tags of these objects stay).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for a new VPC to become C(available).
    type: int
    default: 300
  state:
    description: V(present) creates or updates the VPC; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
notes:
  - O(tags) (with O(purge_tags), default true) are managed besides the C(Name) tag, which is always O(name).
  - With O(state=present), more than one VPC with the same name and CIDR is an error naming their ids; this module
    does not choose.
"""

EXAMPLES = r"""
- name: The cluster VPC (as the vpc role makes it)
  llmhub.eks.ec2_vpc:
    name: llm-analytics-hub-prod-eks-vpc
    cidr_block: 10.0.0.0/16
    dns_support: true
    dns_hostnames: true
    tags:
      Project: llm-analytics-hub
      llmhub.io/cluster: llm-analytics-hub-prod-eks
  register: vpc_net_result

- name: Remove it (after what is inside it)
  llmhub.eks.ec2_vpc:
    name: llm-analytics-hub-prod-eks-vpc
    cidr_block: 10.0.0.0/16
    state: absent
"""

RETURN = r"""
vpc:
  description: The VPC (after the change; in check mode as it would be, with C(id) and what else AWS assigns
    V((known after apply\)) when it would be created).
  returned: when state is present
  type: dict
  contains:
    id:
      description: VPC id.
      type: str
      sample: vpc-0123456789abcdef0
    cidr_block:
      description: Primary CIDR.
      type: str
    state:
      description: C(pending) or C(available).
      type: str
    is_default:
      description: Whether it is the account's default VPC.
      type: bool
    dhcp_options_id:
      description: DHCP options set.
      type: str
    instance_tenancy:
      description: Instance tenancy.
      type: str
    owner_id:
      description: Account that owns it.
      type: str
    enable_dns_support:
      description: DNS support.
      type: bool
    enable_dns_hostnames:
      description: DNS hostnames.
      type: bool
    tags:
      description: Tags, C(Name) included.
      type: dict
deleted:
  description: Ids of the VPCs deleted (or that would be, in check mode).
  returned: when state is absent
  type: list
  elements: str
  sample: [vpc-0123456789abcdef0]
vpc_id:
  description: The VPC id (null when absent, V((known after apply\)) when it would be created in check mode).
  returned: always
  type: str
default_resources:
  description: The ids of the objects AWS created with the VPC, tagged as O(tag_default_resources) asks.
  returned: when state is present, the VPC exists and O(tag_default_resources=true)
  type: dict
  contains:
    security_group_id:
      description: The VPC's C(default) security group.
      type: str
      sample: sg-0123456789abcdef0
    route_table_id:
      description: The VPC's main route table.
      type: str
      sample: rtb-0123456789abcdef0
    network_acl_id:
      description: The VPC's default network ACL.
      type: str
      sample: acl-0123456789abcdef0
"""

import ipaddress

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils.common import KNOWN_AFTER_APPLY
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_concurrently
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.common import wait_for_set
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import desired_tags
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import ec2_client
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import reconcile_tags
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import tag_specifications
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import tags_of

# option: (DescribeVpcAttribute's Attribute value, the member naming it in answers and in ModifyVpcAttribute)
ATTRIBUTES = {"dns_support": ("enableDnsSupport", "EnableDnsSupport"),
              "dns_hostnames": ("enableDnsHostnames", "EnableDnsHostnames")}


def validate(module):
    cidr = module.params["cidr_block"]
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        module.fail_json(msg=f"cidr_block: {cidr!r} is not a CIDR (e.g. 10.0.0.0/16)")
    if network.version != 4 or not 16 <= network.prefixlen <= 28:
        module.fail_json(msg=f"cidr_block: {cidr} must be an IPv4 CIDR from /16 to /28 (the limits of a VPC)")
    if str(network) != cidr:
        module.fail_json(msg=f"cidr_block: {cidr} has host bits set; use {network}")


def find_vpcs(client, module):
    name, cidr = module.params["name"], module.params["cidr_block"]
    return paginate(client, "describe_vpcs", "Vpcs",
                    Filters=[{"Name": "tag:Name", "Values": [name]}, {"Name": "cidr-block", "Values": [cidr]}])


def find_vpc(client, module):
    name, cidr = module.params["name"], module.params["cidr_block"]
    vpcs = find_vpcs(client, module)
    if len(vpcs) > 1:
        module.fail_json(msg=f"name: {len(vpcs)} VPCs are named {name} with CIDR {cidr} "
                             f"({', '.join(sorted(v['VpcId'] for v in vpcs))}); delete or rename the extra ones")
    return vpcs[0] if vpcs else None


def read_attributes(client, vpc_id):
    def read(option):
        attribute, member = ATTRIBUTES[option]
        return client.describe_vpc_attribute(aws_retry=True, VpcId=vpc_id, Attribute=attribute)[member]["Value"]

    return dict(zip(ATTRIBUTES, run_concurrently(read, list(ATTRIBUTES), "read VPC DNS attributes")))


def view(vpc, attributes, tags):
    return {
        "id": vpc.get("VpcId"),
        "cidr_block": vpc.get("CidrBlock"),
        "state": vpc.get("State"),
        "is_default": vpc.get("IsDefault", False),
        "dhcp_options_id": vpc.get("DhcpOptionsId"),
        "instance_tenancy": vpc.get("InstanceTenancy", "default"),
        "owner_id": vpc.get("OwnerId"),
        "enable_dns_support": attributes["dns_support"],
        "enable_dns_hostnames": attributes["dns_hostnames"],
        "tags": tags,
    }


def diff_side(vpc_view):
    if vpc_view is None:
        return {}
    keys = ("cidr_block", "enable_dns_support", "enable_dns_hostnames", "tags")
    return {key: vpc_view[key] for key in keys}


def wait_available(module, client, vpc_id):
    def fetch(ids):
        return {vpc["VpcId"]: vpc for vpc in client.describe_vpcs(aws_retry=True, VpcIds=ids)["Vpcs"]}

    return wait_for_set(fetch, [vpc_id], lambda vpc: vpc.get("State") == "available", lambda vpc: None,
                        module.params["wait_timeout"], "VPC to become available")[vpc_id]


def ensure_present(module, client):
    name = module.params["name"]
    wanted = {option: module.params[option] for option in ATTRIBUTES}
    wanted_tags = desired_tags(module, name)
    current = find_vpc(client, module)
    if current is None:
        planned = {"VpcId": KNOWN_AFTER_APPLY, "CidrBlock": module.params["cidr_block"], "State": KNOWN_AFTER_APPLY,
                   "IsDefault": False, "DhcpOptionsId": KNOWN_AFTER_APPLY, "OwnerId": KNOWN_AFTER_APPLY}
        after = view(planned, wanted, wanted_tags)
        result = dict(changed=True, vpc=after, vpc_id=KNOWN_AFTER_APPLY)
        result["diff"] = dict(before={}, after=diff_side(after))
        if module.check_mode:
            module.exit_json(**result)
        created = client.create_vpc(aws_retry=True, CidrBlock=module.params["cidr_block"],
                                    TagSpecifications=tag_specifications(wanted_tags, "vpc"))["Vpc"]
        vpc_id = created["VpcId"]
        if created.get("State") != "available":
            created = wait_available(module, client, vpc_id)
        attributes = read_attributes(client, vpc_id)
        set_attributes(client, vpc_id, attributes, wanted)
        result.update(vpc=view(created, wanted, tags_of(created) or wanted_tags), vpc_id=vpc_id)
        if module.params["tag_default_resources"]:
            result["default_resources"] = tag_default_resources(module, client, vpc_id,
                                                                desired_tags(module, f"{name}-default"))[1]
        module.exit_json(**result)

    vpc_id = current["VpcId"]
    attributes = read_attributes(client, vpc_id)
    before = view(current, attributes, tags_of(current))
    changed = set_attributes(client, vpc_id, attributes, wanted, check_mode=module.check_mode)
    changed |= reconcile_tags(client, module, vpc_id, tags_of(current), wanted_tags)
    purge = module.params.get("purge_tags", True)
    tags_after = wanted_tags if purge else {**tags_of(current), **wanted_tags}
    after = view(current, wanted, tags_after)
    result = dict(changed=changed, vpc=after, vpc_id=vpc_id)
    result["diff"] = dict(before=diff_side(before), after=diff_side(after))
    if module.params["tag_default_resources"]:
        tagged, result["default_resources"], tags_before, tags_after = tag_default_resources(
            module, client, vpc_id, desired_tags(module, f"{name}-default"))
        result["changed"] |= tagged
        # the default objects' tags, by the key of default_resources
        result["diff"]["before"]["default_resources"] = tags_before
        result["diff"]["after"]["default_resources"] = tags_after
    module.exit_json(**result)


# (result key, Describe* operation, its list key, id key, filter selecting the one AWS made with the VPC)
DEFAULT_RESOURCES = (
    ("security_group_id", "describe_security_groups", "SecurityGroups", "GroupId", "group-name", "default"),
    ("route_table_id", "describe_route_tables", "RouteTables", "RouteTableId", "association.main", "true"),
    ("network_acl_id", "describe_network_acls", "NetworkAcls", "NetworkAclId", "default", "true"),
)


def tag_default_resources(module, client, vpc_id, tags):
    """Adds ``tags`` (never removes any) to the VPC's default security group, main route table and default
    network ACL. Returns (changed, {result key: id}, {result key: tags before}, {result key: tags after})."""
    def read(kind):
        key, operation, list_key, id_key, name, value = kind
        found = paginate(client, operation, list_key,
                         Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": name, "Values": [value]}])
        return key, (found[0][id_key], tags_of(found[0])) if found else None

    found = dict(run_concurrently(read, list(DEFAULT_RESOURCES), "read the VPC's default objects",
                                  label=lambda kind: kind[0]))
    found = {key: value for key, value in found.items() if value is not None}

    def tag(item):
        resource_id, current = item
        return reconcile_tags(client, module, resource_id, current, tags, purge=False)

    changed = run_concurrently(tag, list(found.values()), "tag the VPC's default objects", label=lambda i: i[0])
    return (any(changed), {key: resource_id for key, (resource_id, _tags) in found.items()},
            {key: current for key, (_id, current) in found.items()},
            {key: {**current, **tags} for key, (_id, current) in found.items()})


def set_attributes(client, vpc_id, current, wanted, check_mode=False):
    """Each differing DNS attribute in its own call (the API takes one per call). Returns changed."""
    differing = [option for option in ATTRIBUTES if current[option] != wanted[option]]
    if differing and not check_mode:
        run_concurrently(
            lambda option: client.modify_vpc_attribute(aws_retry=True, VpcId=vpc_id,
                                                       **{ATTRIBUTES[option][1]: {"Value": wanted[option]}}),
            differing, "set VPC DNS attributes")
    return bool(differing)


def ensure_absent(module, client):
    """Deletes every VPC with the name and CIDR: absent means none, also when two runs at once left two."""
    current = sorted(find_vpcs(client, module), key=lambda v: v["VpcId"])
    result = dict(changed=bool(current), vpc_id=None, deleted=[v["VpcId"] for v in current])
    if len(current) == 1:
        before = diff_side(view(current[0], {o: None for o in ATTRIBUTES}, tags_of(current[0])))
    else:
        before = {v["VpcId"]: diff_side(view(v, {o: None for o in ATTRIBUTES}, tags_of(v))) for v in current}
    result["diff"] = dict(before=before, after={})
    if not current or module.check_mode:
        module.exit_json(**result)

    def delete(vpc):
        try:
            client.delete_vpc(aws_retry=True, VpcId=vpc["VpcId"])
        except is_boto3_error_code("DependencyViolation"):
            raise AnsibleAWSError(message="still has dependencies (subnets, gateways, endpoints, security groups, "
                                          "network interfaces); remove them first (the vpc role's destroy.yml does)")

    try:
        run_concurrently(delete, current, f"delete the VPCs named {module.params['name']}", label=lambda v: v["VpcId"])
    except AnsibleAWSError as e:
        module.fail_json(msg=str(e), **result)
    module.exit_json(**result)


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        cidr_block=dict(type="str", required=True),
        dns_support=dict(type="bool", default=True),
        dns_hostnames=dict(type="bool", default=True),
        tag_default_resources=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    validate(module)
    client = ec2_client(module)
    handler = ensure_present if module.params["state"] == "present" else ensure_absent
    run_module(module, handler, module, client)


if __name__ == "__main__":
    main()
