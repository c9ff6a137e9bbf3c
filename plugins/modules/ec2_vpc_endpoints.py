#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ec2_vpc_endpoints
short_description: Reconcile all gateway and interface VPC endpoints of a VPC in one call
version_added: 0.1.0
description:
  - Ensures every listed VPC endpoint (one per service) with its route tables, subnets, security groups and
    private DNS setting, in a single invocation.
  - Missing endpoints are created concurrently, then all pending ones are waited on together.
  - Route tables, subnets and security groups may be given by id or by name (C(Name) tag, or group name).
  - Existing endpoints are updated in place with C(ModifyVpcEndpoint); the endpoint type cannot change.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  vpc_id:
    description:
      - The VPC of the endpoints. Required unless in check mode.
      - In check mode V((known after apply\)), the id of a planned VPC, means the same as none.
    type: str
  endpoints:
    description: The endpoints managed by this call.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name, set as the C(Name) tag.
        type: str
        required: true
      service:
        description: Full service name, e.g. C(com.amazonaws.us-east-1.ecr.api). One endpoint per service.
        type: str
        required: true
      type:
        description: Endpoint type.
        type: str
        choices: [Gateway, Interface]
        default: Interface
      route_tables:
        description: Route tables of a C(Gateway) endpoint, by id or name.
        type: list
        elements: str
        default: []
      subnets:
        description: Subnets of an C(Interface) endpoint (one per AZ), by id or name.
        type: list
        elements: str
        default: []
      security_groups:
        description: Security groups of an C(Interface) endpoint, by id or name.
        type: list
        elements: str
        default: []
      private_dns_enabled:
        description: Private DNS for an C(Interface) endpoint.
        type: bool
        default: true
      tags:
        description: Tags of this endpoint only, merged over O(tags).
        type: dict
        default: {}
  wait:
    description: Wait until every endpoint is C(available) (or gone for O(state=absent)).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait in total for the whole set.
    type: int
    default: 900
  state:
    description: V(present) creates and updates the endpoints; V(absent) deletes them.
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
- name: S3 gateway endpoint and an ECR interface endpoint (as the vpc role makes them)
  llmhub.eks.ec2_vpc_endpoints:
    vpc_id: "{{ vpc_net_result.vpc.id }}"
    tags:
      Project: llm-analytics-hub
      llmhub.io/cluster: llm-analytics-hub-prod-eks
    endpoints:
      - name: llm-analytics-hub-prod-eks-s3
        service: com.amazonaws.us-east-1.s3
        type: Gateway
        route_tables:
          - llm-analytics-hub-prod-eks-private-us-east-1a
          - llm-analytics-hub-prod-eks-private-us-east-1b
          - llm-analytics-hub-prod-eks-private-us-east-1c
          - llm-analytics-hub-prod-eks-intra-us-east-1a
          - llm-analytics-hub-prod-eks-intra-us-east-1b
          - llm-analytics-hub-prod-eks-intra-us-east-1c
      - name: llm-analytics-hub-prod-eks-ecr-api
        service: com.amazonaws.us-east-1.ecr.api
        type: Interface
        subnets:
          - llm-analytics-hub-prod-eks-private-us-east-1a
          - llm-analytics-hub-prod-eks-private-us-east-1b
          - llm-analytics-hub-prod-eks-private-us-east-1c
        security_groups: [llm-analytics-hub-prod-eks-vpc-endpoints]
        private_dns_enabled: true
  register: vpc_endpoints_result
"""

RETURN = r"""
endpoints:
  description: The endpoints after the call (empty for O(state=absent)).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Endpoint id.
      type: str
      sample: vpce-0123456789abcdef0
    name:
      description: The C(Name) tag.
      type: str
    service_name:
      description: Service name.
      type: str
    type:
      description: Gateway or Interface.
      type: str
    state:
      description: Endpoint state.
      type: str
    route_table_ids:
      description: Route tables (gateway endpoints).
      type: list
      elements: str
    subnet_ids:
      description: Subnets (interface endpoints).
      type: list
      elements: str
    security_group_ids:
      description: Security groups (interface endpoints).
      type: list
      elements: str
    private_dns_enabled:
      description: Private DNS setting.
      type: bool
endpoints_by_name:
  description: Endpoint ids keyed by name (V((known after apply\)) for planned endpoints in check mode).
  returned: always
  type: dict
created:
  description: Names of the endpoints created (or that would be).
  returned: always
  type: list
  elements: str
updated:
  description: Names of the endpoints modified.
  returned: always
  type: list
  elements: str
deleted:
  description: Names of the endpoints deleted.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils.common import planned
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_concurrently
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.common import wait_for_set
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import COMMON_ARGS
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

GONE = ("deleted", "deleting", "rejected", "failed", "expired")


class Refs:
    """Name -> id maps for the route tables, subnets and security groups of one VPC."""

    def __init__(self, client, vpc_id):
        self.maps = {"route_tables": {}, "subnets": {}, "security_groups": {}}
        if not vpc_id:
            return
        filters = vpc_filter(vpc_id)
        tables = paginate(client, "describe_route_tables", "RouteTables", Filters=filters)
        subnets = paginate(client, "describe_subnets", "Subnets", Filters=filters)
        groups = paginate(client, "describe_security_groups", "SecurityGroups", Filters=filters)
        self.maps["route_tables"] = ids_by_reference(tables, "RouteTableId")
        self.maps["subnets"] = ids_by_reference(subnets, "SubnetId")
        self.maps["security_groups"] = ids_by_reference(groups, "GroupId", name_key="GroupName")

    def resolve(self, kind, refs, missing):
        ids = set()
        for ref in refs:
            value = self.maps[kind].get(ref)
            if value is None:
                missing.append(f"{kind} {ref}")
                value = f"(new:{ref})"
            ids.add(value)
        return ids


def live_endpoints(client, vpc_id):
    if not vpc_id:
        return []
    endpoints = paginate(client, "describe_vpc_endpoints", "VpcEndpoints", Filters=vpc_filter(vpc_id))
    return [e for e in endpoints if e["State"].lower() not in GONE]


def endpoint_view(endpoint):
    return {
        "type": endpoint["VpcEndpointType"],
        "route_tables": set(endpoint.get("RouteTableIds") or []),
        "subnets": set(endpoint.get("SubnetIds") or []),
        "security_groups": {g["GroupId"] for g in endpoint.get("Groups") or []},
        "private_dns_enabled": bool(endpoint.get("PrivateDnsEnabled")) if endpoint["VpcEndpointType"] == "Interface" else None,
    }


def wanted_view(spec, refs, missing):
    interface = spec["type"] == "Interface"
    return {
        "type": spec["type"],
        "route_tables": set() if interface else refs.resolve("route_tables", spec["route_tables"], missing),
        "subnets": refs.resolve("subnets", spec["subnets"], missing) if interface else set(),
        "security_groups": refs.resolve("security_groups", spec["security_groups"], missing) if interface else set(),
        "private_dns_enabled": spec["private_dns_enabled"] if interface else None,
    }


def printable(view):
    return {k: sorted(v) if isinstance(v, set) else v for k, v in view.items()}


def describe(endpoint):
    return {
        "id": endpoint["VpcEndpointId"],
        "name": name_of(endpoint),
        "service_name": endpoint["ServiceName"],
        "type": endpoint["VpcEndpointType"],
        "state": endpoint["State"],
        "vpc_id": endpoint["VpcId"],
        "route_table_ids": sorted(endpoint.get("RouteTableIds") or []),
        "subnet_ids": sorted(endpoint.get("SubnetIds") or []),
        "security_group_ids": sorted(g["GroupId"] for g in endpoint.get("Groups") or []),
        "private_dns_enabled": endpoint.get("PrivateDnsEnabled"),
        "tags": tags_of(endpoint),
    }


def fetch_endpoints(client):
    def fetch(ids):
        found = client.describe_vpc_endpoints(aws_retry=True, VpcEndpointIds=list(ids))["VpcEndpoints"]
        return {e["VpcEndpointId"]: e for e in found}

    return fetch


def modification(endpoint_id, have, want):
    """ModifyVpcEndpoint parameters turning ``have`` into ``want`` (None when equal)."""
    params = {}
    for field, add, remove in (
        ("route_tables", "AddRouteTableIds", "RemoveRouteTableIds"),
        ("subnets", "AddSubnetIds", "RemoveSubnetIds"),
        ("security_groups", "AddSecurityGroupIds", "RemoveSecurityGroupIds"),
    ):
        if want[field] - have[field]:
            params[add] = sorted(want[field] - have[field])
        if have[field] - want[field]:
            params[remove] = sorted(have[field] - want[field])
    if want["private_dns_enabled"] is not None and want["private_dns_enabled"] != have["private_dns_enabled"]:
        params["PrivateDnsEnabled"] = want["private_dns_enabled"]
    return dict(VpcEndpointId=endpoint_id, **params) if params else None


def existing_names(present, updated, service):
    return any(spec["service"] == service and spec["name"] in updated for spec in present)


def ensure_present(module, client, vpc_id):
    specs = module.params["endpoints"]
    refs = Refs(client, vpc_id)
    missing_refs = []
    wanted = {s["service"]: wanted_view(s, refs, missing_refs) for s in specs}
    if missing_refs and not module.check_mode:
        module.fail_json(msg=f"endpoints refer to things not found in {vpc_id}: {sorted(set(missing_refs))}")
    existing = {e["ServiceName"]: e for e in live_endpoints(client, vpc_id)}
    for spec in specs:
        found = existing.get(spec["service"])
        if found and found["VpcEndpointType"] != spec["type"]:
            module.fail_json(
                msg=f"endpoint {spec['name']} ({found['VpcEndpointId']}) is a {found['VpcEndpointType']} endpoint,"
                f" wanted {spec['type']}: the type cannot change; delete it first (state=absent)"
            )
    missing = [s for s in specs if s["service"] not in existing]
    present = [s for s in specs if s["service"] in existing]

    def create(spec):
        want = wanted[spec["service"]]
        params = dict(
            VpcId=vpc_id,
            ServiceName=spec["service"],
            VpcEndpointType=spec["type"],
            TagSpecifications=tag_specifications(desired_tags(module, spec["name"], spec["tags"]), "vpc-endpoint"),
        )
        if spec["type"] == "Gateway":
            params["RouteTableIds"] = sorted(want["route_tables"])
        else:
            params.update(
                SubnetIds=sorted(want["subnets"]),
                SecurityGroupIds=sorted(want["security_groups"]),
                PrivateDnsEnabled=want["private_dns_enabled"],
            )
        return client.create_vpc_endpoint(aws_retry=True, **params)["VpcEndpoint"]

    def update(spec):
        found = existing[spec["service"]]
        changed = reconcile_tags(
            client, module, found["VpcEndpointId"], tags_of(found), desired_tags(module, spec["name"], spec["tags"])
        )
        params = modification(found["VpcEndpointId"], endpoint_view(found), wanted[spec["service"]])
        if params and not module.check_mode:
            client.modify_vpc_endpoint(aws_retry=True, **params)
        return changed or bool(params)

    created = {}
    if not module.check_mode:
        results = run_concurrently(create, missing, "create VPC endpoints", label=lambda s: s["name"])
        created = {s["service"]: e for s, e in zip(missing, results)}
    changes = run_concurrently(update, present, "update VPC endpoints", label=lambda s: s["name"])
    updated = [s["name"] for s, c in zip(present, changes) if c]
    endpoints = {**existing, **created}
    ids = [
        e["VpcEndpointId"] for s, e in endpoints.items()
        if e["State"].lower() != "available" or s in created or existing_names(present, updated, s)
    ]
    if ids and not module.check_mode:
        if module.params["wait"]:
            final = wait_for_set(
                fetch_endpoints(client), ids,
                lambda e: e["State"].lower() == "available",
                lambda e: e["State"] if e["State"].lower() in GONE else None,
                module.params["wait_timeout"], "VPC endpoints to become available",
            )
        else:
            final = fetch_endpoints(client)(ids)
        endpoints = {service: final.get(e["VpcEndpointId"], e) for service, e in endpoints.items()}
    result = dict(
        changed=bool(missing or updated),
        endpoints=[describe(endpoints[s["service"]]) for s in specs if s["service"] in endpoints],
        endpoints_by_name={
            s["name"]: endpoints[s["service"]]["VpcEndpointId"] if s["service"] in endpoints
            else planned(None, module.check_mode) for s in specs
        },
        created=[s["name"] for s in missing],
        updated=updated,
        deleted=[],
    )
    result["diff"] = dict(
        before={s["name"]: printable(endpoint_view(existing[s["service"]])) for s in present},
        after={s["name"]: printable(wanted[s["service"]]) for s in specs},
    )
    module.exit_json(**result)


def ensure_absent(module, client, vpc_id):
    services = {s["service"]: s["name"] for s in module.params["endpoints"]}
    doomed = [e for e in live_endpoints(client, vpc_id) if e["ServiceName"] in services]
    if doomed and not module.check_mode:
        ids = [e["VpcEndpointId"] for e in doomed]
        response = client.delete_vpc_endpoints(aws_retry=True, VpcEndpointIds=ids)
        failures = response.get("Unsuccessful") or []
        if failures:
            module.fail_json(msg=f"Failed to delete VPC endpoints: {failures}")
        if module.params["wait"]:

            def gone(pending):
                alive = {
                    e["VpcEndpointId"]
                    for e in paginate(client, "describe_vpc_endpoints", "VpcEndpoints", Filters=vpc_filter(vpc_id))
                    if e["State"].lower() != "deleted"
                }
                return {i: {"gone": i not in alive} for i in pending}

            wait_for_set(
                gone, ids, lambda view: view["gone"], lambda view: None,
                module.params["wait_timeout"], "VPC endpoints to be deleted",
            )
    result = dict(
        changed=bool(doomed), endpoints=[], endpoints_by_name={}, created=[], updated=[],
        deleted=[services[e["ServiceName"]] for e in doomed],
    )
    result["diff"] = dict(before={services[e["ServiceName"]]: describe(e) for e in doomed}, after={})
    module.exit_json(**result)


def main():
    argument_spec = dict(
        endpoints=dict(
            type="list",
            elements="dict",
            required=True,
            options=dict(
                name=dict(type="str", required=True),
                service=dict(type="str", required=True),
                type=dict(type="str", choices=["Gateway", "Interface"], default="Interface"),
                route_tables=dict(type="list", elements="str", default=[]),
                subnets=dict(type="list", elements="str", default=[]),
                security_groups=dict(type="list", elements="str", default=[]),
                private_dns_enabled=dict(type="bool", default=True),
                tags=dict(type="dict", default={}),
            ),
        ),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=900),
        **COMMON_ARGS,
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    services = [e["service"] for e in module.params["endpoints"]]
    if len(set(services)) != len(services):
        module.fail_json(msg=f"endpoints: one endpoint per service, got {services}")
    client = ec2_client(module)
    vpc_id = require_vpc(module)
    handler = ensure_present if module.params["state"] == "present" else ensure_absent
    run_module(module, handler, module, client, vpc_id)


if __name__ == "__main__":
    main()
