#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ec2_vpc_route_tables
short_description: Reconcile all route tables of a VPC, their routes and subnet associations, in one call
version_added: 0.1.0
description:
  - Ensures every listed route table with exactly its routes and subnet associations, in a single invocation.
  - Subnets, NAT gateways and the internet gateway can be referred to by name, so the whole layout can be
    planned before any id exists (check mode on an empty account shows everything that would be created).
  - Routes that AWS manages (C(local), VPC endpoint prefix-list routes) are never touched.
  - Changes to different tables are made concurrently.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  vpc_id:
    description:
      - The VPC of the route tables. Required unless in check mode.
      - In check mode V((known after apply\)), the id of a planned VPC, means the same as none.
    type: str
  route_tables:
    description: The route tables managed by this call.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Unique name, set as the C(Name) tag.
        type: str
        required: true
      subnets:
        description: Subnets associated with the table, by id or C(Name) tag. Other associations are removed.
        type: list
        elements: str
        default: []
      routes:
        description:
          - Routes of the table besides the C(local) route. Routes not listed are deleted when O(purge_routes=true).
          - Each needs C(destination_cidr_block) and one target, C(gateway_id) (an C(igw-...) id or V(igw) for the
            internet gateway attached to the VPC), C(nat_gateway_id), or C(nat_gateway) (a NAT gateway C(Name)).
        type: list
        elements: dict
        default: []
      tags:
        description: Tags of this table only, merged over O(tags).
        type: dict
        default: {}
  purge_routes:
    description: Delete routes that are not listed (AWS-managed routes are always kept).
    type: bool
    default: true
  state:
    description: V(present) creates and updates the tables; V(absent) deletes them (after removing their associations).
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
- name: Public tables to the internet gateway, private ones to the NAT gateway of their AZ, intra ones local only
  llmhub.eks.ec2_vpc_route_tables:
    vpc_id: "{{ vpc_net_result.vpc.id }}"
    tags:
      Project: llm-analytics-hub
      llmhub.io/cluster: llm-analytics-hub-prod-eks
    route_tables:
      - name: llm-analytics-hub-prod-eks-public-us-east-1a
        subnets: [llm-analytics-hub-prod-eks-public-us-east-1a]
        routes:
          - {destination_cidr_block: 0.0.0.0/0, gateway_id: igw}
        tags: {llmhub.io/tier: public}
      - name: llm-analytics-hub-prod-eks-private-us-east-1a
        subnets: [llm-analytics-hub-prod-eks-private-us-east-1a]
        routes:
          - {destination_cidr_block: 0.0.0.0/0, nat_gateway: llm-analytics-hub-prod-eks-nat-us-east-1a}
        tags: {llmhub.io/tier: private}
      - name: llm-analytics-hub-prod-eks-intra-us-east-1a
        subnets: [llm-analytics-hub-prod-eks-intra-us-east-1a]
        tags: {llmhub.io/tier: intra}
  register: vpc_route_tables_result
"""

RETURN = r"""
route_tables:
  description: The route tables after the call (empty for O(state=absent)).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Route table id.
      type: str
      sample: rtb-0123456789abcdef0
    name:
      description: The C(Name) tag.
      type: str
    routes:
      description: Routes as C(destination_cidr_block) plus the target id.
      type: list
      elements: dict
    subnet_ids:
      description: Associated subnets.
      type: list
      elements: str
route_tables_by_name:
  description: Route table ids keyed by name (V((known after apply\)) for planned tables in check mode).
  returned: always
  type: dict
created:
  description: Names of the tables created (or that would be).
  returned: always
  type: list
  elements: str
updated:
  description: Names of the tables whose routes, associations or tags changed.
  returned: always
  type: list
  elements: str
deleted:
  description: Names of the tables deleted.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils.common import KNOWN_AFTER_APPLY
from ansible_collections.llmhub.eks.plugins.module_utils.common import planned
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_concurrently
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import COMMON_ARGS
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import by_name
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import desired_tags
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import ec2_client
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import ids_by_reference
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import name_of
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import reconcile_tags
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import require_vpc
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import tag_specifications
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import tags_of
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import vpc_filter

TARGET_KEYS = ("GatewayId", "NatGatewayId", "TransitGatewayId", "VpcPeeringConnectionId", "NetworkInterfaceId")


class Names:
    """Resolves subnet, NAT gateway and internet gateway names of one VPC to ids (one describe each)."""

    def __init__(self, module, client, vpc_id):
        self.module = module
        self.subnets, self.nat_gateways, self.igw = {}, {}, None
        if not vpc_id:
            return
        subnets = paginate(client, "describe_subnets", "Subnets", Filters=vpc_filter(vpc_id))
        self.subnets = ids_by_reference(subnets, "SubnetId")
        gateways = paginate(
            client, "describe_nat_gateways", "NatGateways", Filter=vpc_filter(vpc_id, state=["pending", "available"])
        )
        self.nat_gateways = ids_by_reference(gateways, "NatGatewayId")
        igws = client.describe_internet_gateways(
            aws_retry=True, Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}]
        )["InternetGateways"]
        self.igw = igws[0]["InternetGatewayId"] if igws else None

    def _lookup(self, table, kind, ref, missing):
        value = table.get(ref)
        if value is None:
            missing.append(f"{kind} {ref}")
        return value

    def route_target(self, table_name, route, missing):
        """(key, id) of a route's target; ids may be None in check mode for things not yet created."""
        targets = [k for k in ("gateway_id", "nat_gateway_id", "nat_gateway") if route.get(k)]
        if len(targets) != 1 or not route.get("destination_cidr_block"):
            self.module.fail_json(
                msg=f"route_tables[{table_name}].routes: each route needs destination_cidr_block and exactly one of"
                f" gateway_id, nat_gateway_id, nat_gateway; got {route}"
            )
        key = targets[0]
        if key == "gateway_id":
            if route[key] == "igw":
                if self.igw is None:
                    missing.append("internet gateway attached to the VPC")
                return "GatewayId", self.igw
            return "GatewayId", route[key]
        return "NatGatewayId", self._lookup(self.nat_gateways, "NAT gateway", route[key], missing)


def wanted_state(names, spec, missing):
    routes = {}
    for route in spec["routes"]:
        key, target = names.route_target(spec["name"], route, missing)
        routes[route["destination_cidr_block"]] = (key, target)
    subnets = {names._lookup(names.subnets, "subnet", ref, missing) for ref in spec["subnets"]}
    return routes, subnets


def managed_routes(table):
    """Routes we own: not local, not propagated, not endpoint prefix-list routes."""
    routes = {}
    for route in table.get("Routes", []):
        if route.get("Origin") != "CreateRoute" or "DestinationCidrBlock" not in route:
            continue
        if route.get("GatewayId", "").startswith("vpce-") or route.get("GatewayId") == "local":
            continue
        key = next((k for k in TARGET_KEYS if route.get(k)), None)
        routes[route["DestinationCidrBlock"]] = (key, route.get(key))
    return routes


def associations(table):
    return {a["SubnetId"]: a["RouteTableAssociationId"] for a in table.get("Associations", []) if a.get("SubnetId")}


def describe(table):
    return {
        "id": table["RouteTableId"],
        "name": name_of(table),
        "vpc_id": table["VpcId"],
        "routes": [
            {"destination_cidr_block": dest, "target": target}
            for dest, (_key, target) in sorted(managed_routes(table).items())
        ],
        "subnet_ids": sorted(associations(table)),
        "tags": tags_of(table),
    }


def plan_view(routes, subnets):
    """Routes and subnets of a table; the ids of targets and subnets not created yet (check mode) are unknown."""
    return {
        "routes": {dest: target or KNOWN_AFTER_APPLY for dest, (_key, target) in sorted(routes.items())},
        "subnets": sorted(s or KNOWN_AFTER_APPLY for s in subnets),
    }


def ensure_present(module, client, vpc_id):
    specs = module.params["route_tables"]
    names = Names(module, client, vpc_id)
    missing_refs = []
    wanted = {spec["name"]: wanted_state(names, spec, missing_refs) for spec in specs}
    if missing_refs and not module.check_mode:
        module.fail_json(msg=f"route_tables refer to things not found in {vpc_id}: {sorted(set(missing_refs))}")
    all_tables = paginate(client, "describe_route_tables", "RouteTables", Filters=vpc_filter(vpc_id)) if vpc_id else []
    tables = by_name(all_tables)
    # Where each subnet is associated now (any table of the VPC), to move associations rather than fail.
    all_assoc = {}
    for table in all_tables:
        all_assoc.update(associations(table))
    purge = module.params["purge_routes"]

    def reconcile(spec):
        name = spec["name"]
        routes, subnets = wanted[name]
        table = tables.get(name)
        changed = table is None
        if module.check_mode:
            if table is None:
                return True
            have_routes = managed_routes(table)
            extra = purge and set(have_routes) - set(routes)
            return bool(
                changed or extra or any(have_routes.get(d) != r for d, r in routes.items())
                or set(associations(table)) != subnets
                or reconcile_tags(client, module, table["RouteTableId"], tags_of(table), desired_tags(module, name, spec["tags"]))
            )
        if table is None:
            table = client.create_route_table(
                aws_retry=True,
                VpcId=vpc_id,
                TagSpecifications=tag_specifications(desired_tags(module, name, spec["tags"]), "route-table"),
            )["RouteTable"]
        else:
            changed |= reconcile_tags(
                client, module, table["RouteTableId"], tags_of(table), desired_tags(module, name, spec["tags"])
            )
        table_id = table["RouteTableId"]
        have_routes = managed_routes(table)
        for dest, (key, target) in routes.items():
            if have_routes.get(dest) == (key, target):
                continue
            call = client.replace_route if dest in have_routes else client.create_route
            call(aws_retry=True, RouteTableId=table_id, DestinationCidrBlock=dest, **{key: target})
            changed = True
        if purge:
            for dest in set(have_routes) - set(routes):
                client.delete_route(aws_retry=True, RouteTableId=table_id, DestinationCidrBlock=dest)
                changed = True
        have_subnets = associations(table)
        for subnet_id in subnets - set(have_subnets):
            if subnet_id in all_assoc:
                client.replace_route_table_association(
                    aws_retry=True, AssociationId=all_assoc[subnet_id], RouteTableId=table_id
                )
            else:
                client.associate_route_table(aws_retry=True, RouteTableId=table_id, SubnetId=subnet_id)
            changed = True
        for subnet_id in set(have_subnets) - subnets:
            client.disassociate_route_table(aws_retry=True, AssociationId=have_subnets[subnet_id])
            changed = True
        return changed

    changes = run_concurrently(reconcile, specs, "reconcile route tables", label=lambda s: s["name"])
    updated = [s["name"] for s, c in zip(specs, changes) if c and s["name"] in tables]
    created = [s["name"] for s in specs if s["name"] not in tables]
    final = tables
    if any(changes) and not module.check_mode:
        final = by_name(paginate(client, "describe_route_tables", "RouteTables", Filters=vpc_filter(vpc_id)))
    result = dict(
        changed=any(changes),
        route_tables=[describe(final[s["name"]]) for s in specs if s["name"] in final],
        route_tables_by_name={s["name"]: final[s["name"]]["RouteTableId"] if s["name"] in final
                              else planned(None, module.check_mode) for s in specs},
        created=created,
        updated=updated,
        deleted=[],
    )
    before = {
        n: plan_view(managed_routes(t), set(associations(t))) for n, t in sorted(tables.items()) if n in wanted
    }
    after = {n: plan_view(*wanted[n]) for n in sorted(wanted)}
    result["diff"] = dict(before=before, after=after)
    module.exit_json(**result)


def ensure_absent(module, client, vpc_id):
    specs = module.params["route_tables"]
    tables = by_name(paginate(client, "describe_route_tables", "RouteTables", Filters=vpc_filter(vpc_id))) if vpc_id else {}
    doomed = [tables[s["name"]] for s in specs if s["name"] in tables]

    def delete(table):
        for association in table.get("Associations", []):
            if association.get("Main"):
                return False
            client.disassociate_route_table(aws_retry=True, AssociationId=association["RouteTableAssociationId"])
        try:
            client.delete_route_table(aws_retry=True, RouteTableId=table["RouteTableId"])
        except is_boto3_error_code("InvalidRouteTableID.NotFound"):
            pass
        return True

    if not module.check_mode:
        run_concurrently(delete, doomed, "delete route tables", label=name_of)
    result = dict(
        changed=bool(doomed), route_tables=[], route_tables_by_name={}, created=[], updated=[],
        deleted=[name_of(t) for t in doomed],
    )
    result["diff"] = dict(before={name_of(t): describe(t) for t in doomed}, after={})
    module.exit_json(**result)


def main():
    argument_spec = dict(
        route_tables=dict(
            type="list",
            elements="dict",
            required=True,
            options=dict(
                name=dict(type="str", required=True),
                subnets=dict(type="list", elements="str", default=[]),
                routes=dict(type="list", elements="dict", default=[]),
                tags=dict(type="dict", default={}),
            ),
        ),
        purge_routes=dict(type="bool", default=True),
        **COMMON_ARGS,
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    names = [t["name"] for t in module.params["route_tables"]]
    if len(set(names)) != len(names):
        module.fail_json(msg=f"route_tables: names must be unique, got {names}")
    client = ec2_client(module)
    vpc_id = require_vpc(module)
    handler = ensure_present if module.params["state"] == "present" else ensure_absent
    run_module(module, handler, module, client, vpc_id)


if __name__ == "__main__":
    main()
