#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_diagnose_info
short_description: Read what the overview's troubleshooting cases depend on in AWS, for playbooks/diagnose.yml
version_added: 0.1.0
description:
  - Reads, concurrently, the AWS side of the overview's three troubleshooting cases for one cluster.
  - Nodes not joining, namely each managed node group (status, health issues, sizes, subnets, node role, the security
    groups of its launch template), each node role (trust policy, attached managed policies, the cluster's access
    entry of the role), the VPC's security groups with their rules, the subnets with their tags and the default route
    of their route table (and the state of the NAT gateway it goes to), the VPC endpoints, and the IRSA role of the
    C(vpc-cni) add-on.
  - Pods pending and load balancer not creating, namely the node groups' sizes, the subnets' tags, and whether each
    IAM role of O(role_arns) (the roles the controllers' service accounts name) exists.
  - Returns facts only; the filter C(llmhub.eks.diagnose_findings) turns them into findings with their fix.
  - Makes no change; runs in check mode. A cluster that does not exist fails naming it.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  cluster_name:
    description: Name of the EKS cluster.
    type: str
    required: true
  role_arns:
    description: ARNs of IAM roles whose existence is checked (e.g. the C(eks.amazonaws.com/role-arn) annotations).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read what the troubleshooting cases depend on
  llmhub.eks.eks_diagnose_info:
    cluster_name: llm-analytics-hub-prod-eks
    role_arns:
      - arn:aws:iam::123456789012:role/llm-analytics-hub-prod-eks-aws-load-balancer-controller
  register: diagnose_aws
"""

RETURN = r"""
cluster:
  description: The cluster's network and access settings.
  returned: always
  type: dict
  contains:
    name:
      description: Cluster name.
      type: str
    status:
      description: Cluster status.
      type: str
    vpc_id:
      description: Its VPC.
      type: str
    vpc_cidrs:
      description: The VPC's IPv4 CIDR blocks.
      type: list
      elements: str
    authentication_mode:
      description: "C(API), C(API_AND_CONFIG_MAP) or C(CONFIG_MAP)."
      type: str
    security_group_ids:
      description: The control plane's security groups (the cluster security group EKS made and the additional ones).
      type: list
      elements: str
  sample:
    name: llm-analytics-hub-prod-eks
    status: ACTIVE
    vpc_id: vpc-0123456789abcdef0
    security_group_ids: [sg-0123456789abcdef0]
nodegroups:
  description: Each managed node group.
  returned: always
  type: list
  elements: dict
  sample:
    - name: system
      status: ACTIVE
      node_role_arn: arn:aws:iam::123456789012:role/llm-analytics-hub-prod-eks-node-role
      subnets: [subnet-1]
      min_size: 2
      desired_size: 3
      max_size: 4
      health_issues: []
      security_group_ids: [sg-1]
node_roles:
  description: >-
    Each node role of the node groups, with C(exists), C(trusted_by_ec2), C(managed_policies) (names) and
    C(access_entry_type) (the type of the cluster's access entry of the role, or null).
  returned: always
  type: list
  elements: dict
  sample: [{arn: "arn:aws:iam::123456789012:role/x-node-role", name: x-node-role, exists: true, trusted_by_ec2: true,
            managed_policies: [AmazonEKSWorkerNodePolicy], access_entry_type: EC2_LINUX}]
security_groups:
  description: The VPC's security groups, with C(ingress) and C(egress) rules (C(protocol), C(from_port), C(to_port), C(group_ids), C(cidrs)).
  returned: always
  type: list
  elements: dict
subnets:
  description: >-
    The VPC's subnets with C(subnet_id), C(name), C(cidr), C(tags), C(map_public_ip_on_launch), C(route_table_id)
    and C(default_route) (C(target), C(state) and, for a NAT gateway, C(nat_state); null without one).
  returned: always
  type: list
  elements: dict
vpc_endpoints:
  description: The VPC's endpoints (C(service) short name, C(type), C(state), C(route_table_ids), C(private_dns)).
  returned: always
  type: list
  elements: dict
vpc_cni_role_arn:
  description: The IAM role of the C(vpc-cni) managed add-on's service account, or null.
  returned: always
  type: str
roles:
  description: Each ARN of O(role_arns) to whether the role exists.
  returned: always
  type: dict
  sample: {"arn:aws:iam::123456789012:role/x-aws-load-balancer-controller": true}
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils.common import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_concurrently
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module


class ClusterNotFound(Exception):
    pass


def role_name(arn):
    return arn.rsplit("/", 1)[-1]


def read_cluster(clients, name):
    try:
        cluster = clients["eks"].describe_cluster(name=name, aws_retry=True)["cluster"]
    except is_boto3_error_code("ResourceNotFoundException"):
        raise ClusterNotFound(name)
    vpc = cluster.get("resourcesVpcConfig") or {}
    groups = ([vpc["clusterSecurityGroupId"]] if vpc.get("clusterSecurityGroupId") else []) + list(vpc.get("securityGroupIds") or [])
    return {
        "name": name,
        "status": cluster.get("status"),
        "vpc_id": vpc.get("vpcId"),
        "authentication_mode": (cluster.get("accessConfig") or {}).get("authenticationMode"),
        "security_group_ids": list(dict.fromkeys(groups)),
    }


def launch_template_groups(clients, template):
    if not template or not template.get("id"):
        return []
    versions = clients["ec2"].describe_launch_template_versions(
        LaunchTemplateId=template["id"], Versions=[str(template.get("version") or "$Default")],
        aws_retry=True)["LaunchTemplateVersions"]
    data = versions[0].get("LaunchTemplateData", {}) if versions else {}
    groups = list(data.get("SecurityGroupIds") or [])
    for interface in data.get("NetworkInterfaces") or []:
        groups += interface.get("Groups") or []
    return groups


def read_nodegroup(clients, cluster, name):
    group = clients["eks"].describe_nodegroup(clusterName=cluster["name"], nodegroupName=name, aws_retry=True)["nodegroup"]
    scaling = group.get("scalingConfig") or {}
    template_groups = launch_template_groups(clients, group.get("launchTemplate"))
    remote = (group.get("resources") or {}).get("remoteAccessSecurityGroup")
    # Without a launch template's groups the nodes get the cluster security group EKS made.
    groups = template_groups or cluster["security_group_ids"][:1]
    return {
        "name": name,
        "status": group.get("status"),
        "node_role_arn": group.get("nodeRole"),
        "subnets": group.get("subnets") or [],
        "min_size": scaling.get("minSize"),
        "desired_size": scaling.get("desiredSize"),
        "max_size": scaling.get("maxSize"),
        "health_issues": [{"code": i.get("code"), "message": i.get("message"), "resource_ids": i.get("resourceIds") or []}
                          for i in (group.get("health") or {}).get("issues") or []],
        "security_group_ids": groups + ([remote] if remote else []),
    }


def trusted_by_ec2(document):
    statements = (document or {}).get("Statement") or []
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action") or []
        services = (statement.get("Principal") or {}).get("Service") or []
        actions = [actions] if isinstance(actions, str) else actions
        services = [services] if isinstance(services, str) else services
        if statement.get("Effect") == "Allow" and "ec2.amazonaws.com" in services \
                and any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            return True
    return False


def read_node_role(clients, cluster, arn, entries):
    name = role_name(arn)
    try:
        role = clients["iam"].get_role(RoleName=name, aws_retry=True)["Role"]
    except is_boto3_error_code("NoSuchEntity"):
        role = None
    policies = paginate(clients["iam"], "list_attached_role_policies", "AttachedPolicies", RoleName=name) if role else []
    entry_type = None
    if arn in entries:
        entry_type = clients["eks"].describe_access_entry(clusterName=cluster["name"], principalArn=arn,
                                                          aws_retry=True)["accessEntry"].get("type")
    return {"arn": arn, "name": name, "exists": role is not None,
            "trusted_by_ec2": trusted_by_ec2(role.get("AssumeRolePolicyDocument")) if role else False,
            "managed_policies": sorted(p["PolicyName"] for p in policies), "access_entry_type": entry_type}


def access_entries(clients, cluster):
    if cluster.get("authentication_mode") == "CONFIG_MAP":
        return []
    return paginate(clients["eks"], "list_access_entries", "accessEntries", clusterName=cluster["name"])


def rules(permissions):
    return [{"protocol": str(p.get("IpProtocol")), "from_port": p.get("FromPort"), "to_port": p.get("ToPort"),
             "group_ids": [pair["GroupId"] for pair in p.get("UserIdGroupPairs") or [] if pair.get("GroupId")],
             "cidrs": [r["CidrIp"] for r in p.get("IpRanges") or [] if r.get("CidrIp")]
             + [r["CidrIpv6"] for r in p.get("Ipv6Ranges") or [] if r.get("CidrIpv6")]} for p in permissions or []]


def read_security_groups(clients, vpc_id):
    groups = paginate(clients["ec2"], "describe_security_groups", "SecurityGroups",
                      Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return [{"group_id": g["GroupId"], "group_name": g.get("GroupName"), "ingress": rules(g.get("IpPermissions")),
             "egress": rules(g.get("IpPermissionsEgress"))} for g in groups]


def default_route(table, nat_states):
    for route in (table or {}).get("Routes", []):
        if route.get("DestinationCidrBlock") != "0.0.0.0/0":
            continue
        target = (route.get("NatGatewayId") or route.get("GatewayId") or route.get("TransitGatewayId")
                  or route.get("NetworkInterfaceId") or route.get("InstanceId") or route.get("VpcPeeringConnectionId"))
        found = {"target": target, "state": route.get("State", "active")}
        if route.get("NatGatewayId"):
            found["nat_state"] = nat_states.get(route["NatGatewayId"], "deleted")
        return found
    return None


def read_subnets(clients, vpc_id):
    subnets = paginate(clients["ec2"], "describe_subnets", "Subnets", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    tables = paginate(clients["ec2"], "describe_route_tables", "RouteTables", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    nats = paginate(clients["ec2"], "describe_nat_gateways", "NatGateways", Filter=[{"Name": "vpc-id", "Values": [vpc_id]}])
    nat_states = {n["NatGatewayId"]: n.get("State") for n in nats}
    explicit, main = {}, None
    for table in tables:
        for association in table.get("Associations", []):
            if association.get("SubnetId"):
                explicit[association["SubnetId"]] = table
            if association.get("Main"):
                main = table
    found = []
    for subnet in subnets:
        tags = {t["Key"]: t["Value"] for t in subnet.get("Tags") or []}
        table = explicit.get(subnet["SubnetId"]) or main
        found.append({"subnet_id": subnet["SubnetId"], "name": tags.get("Name"), "cidr": subnet.get("CidrBlock"),
                      "availability_zone": subnet.get("AvailabilityZone"), "tags": tags,
                      "map_public_ip_on_launch": bool(subnet.get("MapPublicIpOnLaunch")),
                      "route_table_id": table.get("RouteTableId") if table else None,
                      "default_route": default_route(table, nat_states)})
    return sorted(found, key=lambda s: s["name"] or s["subnet_id"])


def read_vpc(clients, vpc_id):
    [vpc] = clients["ec2"].describe_vpcs(VpcIds=[vpc_id], aws_retry=True)["Vpcs"]
    associated = [a["CidrBlock"] for a in vpc.get("CidrBlockAssociationSet") or []
                  if (a.get("CidrBlockState") or {}).get("State", "associated") == "associated"]
    return associated or [vpc["CidrBlock"]]


def read_vpc_endpoints(clients, vpc_id):
    endpoints = paginate(clients["ec2"], "describe_vpc_endpoints", "VpcEndpoints",
                         Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    # com.amazonaws.<region>.ecr.api -> ecr.api
    return sorted(({"service": ".".join(e["ServiceName"].split(".")[3:]),
                    "service_name": e["ServiceName"], "type": e.get("VpcEndpointType"),
                    "state": str(e.get("State", "")).lower(), "route_table_ids": e.get("RouteTableIds") or [],
                    "private_dns": bool(e.get("PrivateDnsEnabled"))} for e in endpoints), key=lambda e: e["service_name"])


def vpc_cni_role(clients, cluster_name):
    try:
        addon = clients["eks"].describe_addon(clusterName=cluster_name, addonName="vpc-cni", aws_retry=True)["addon"]
    except is_boto3_error_code("ResourceNotFoundException"):
        return None
    return addon.get("serviceAccountRoleArn")


def role_exists(clients, arn):
    try:
        clients["iam"].get_role(RoleName=role_name(arn), aws_retry=True)
    except is_boto3_error_code("NoSuchEntity"):
        return False
    return True


def inspect(module):
    params = module.params
    clients = {service: retrying_client(module, service) for service in ("eks", "ec2", "iam")}
    try:
        cluster = read_cluster(clients, params["cluster_name"])
    except ClusterNotFound:
        module.fail_json(msg=f"Cluster {params['cluster_name']} does not exist: run site.yml (make apply) first, "
                             "or set llmhub_cluster_name to the cluster to diagnose.")
    vpc_id = cluster["vpc_id"]
    names = paginate(clients["eks"], "list_nodegroups", "nodegroups", clusterName=cluster["name"])
    role_arns = sorted(set(params["role_arns"] or []))
    readers = {
        "nodegroups": lambda: run_concurrently(lambda name: read_nodegroup(clients, cluster, name), names,
                                               "describe the node groups"),
        "access_entries": lambda: access_entries(clients, cluster),
        "vpc_cidrs": lambda: read_vpc(clients, vpc_id) if vpc_id else [],
        "security_groups": lambda: read_security_groups(clients, vpc_id) if vpc_id else [],
        "subnets": lambda: read_subnets(clients, vpc_id) if vpc_id else [],
        "vpc_endpoints": lambda: read_vpc_endpoints(clients, vpc_id) if vpc_id else [],
        "vpc_cni_role_arn": lambda: vpc_cni_role(clients, cluster["name"]),
        "roles": lambda: dict(zip(role_arns, run_concurrently(lambda arn: role_exists(clients, arn), role_arns,
                                                              "look up the service accounts' roles"))),
    }
    values = dict(zip(readers, run_concurrently(lambda name: readers[name](), list(readers),
                                                "read what the troubleshooting cases depend on")))
    entries = set(values.pop("access_entries"))
    cluster["vpc_cidrs"] = values.pop("vpc_cidrs")
    node_role_arns = sorted({group["node_role_arn"] for group in values["nodegroups"] if group.get("node_role_arn")})
    values["node_roles"] = run_concurrently(lambda arn: read_node_role(clients, cluster, arn, entries), node_role_arns,
                                            "read the node roles")
    module.exit_json(changed=False, cluster=cluster, **values)


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        role_arns=dict(type="list", elements="str", default=[]),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, inspect, module)


if __name__ == "__main__":
    main()
