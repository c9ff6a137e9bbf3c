#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_hardening_info
short_description: Read the AWS side of an EKS cluster's security posture, for the hardening report
version_added: 0.1.0
description:
  - Reads, concurrently, what the overview's security checklist is about on the AWS side of one cluster, namely its endpoint
    access and public CIDRs, control plane log types, secrets encryption key and whether the key rotates, access
    mode, OIDC provider, the node groups' subnets and whether each routes to an internet gateway, the VPC's endpoints,
    flow logs and security group rules open to the internet, the managed add-ons, the WAFv2 web ACL O(web_acl_name),
    the account's GuardDuty detector and its features, the Data Lifecycle Manager policies that snapshot the
    cluster's volumes, and the Secrets Manager secrets tagged C(llmhub.io/cluster) for it with their rotation.
  - Returns facts only; the filter C(llmhub.eks.hardening_checklist) turns them into the checklist. Used by
    C(playbooks/hardening_report.yml).
  - Makes no change; runs in check mode. A cluster that does not exist fails naming it.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  cluster_name:
    description: Name of the EKS cluster.
    type: str
    required: true
  web_acl_name:
    description: Name of the REGIONAL WAFv2 web ACL of the cluster's ingress.
    type: str
    required: true
  dlm_target_tag:
    description:
      - Tag C(key=value) of the volumes the cluster's Data Lifecycle Manager policy snapshots.
      - Defaults to C(KubernetesCluster=<cluster_name>), the tag the EBS CSI driver puts on the cluster's volumes.
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read the cluster's security posture
  llmhub.eks.eks_hardening_info:
    cluster_name: llm-analytics-hub-prod-eks
    web_acl_name: llm-analytics-hub-prod-eks-waf
  register: posture
"""

RETURN = r"""
cluster:
  description: The cluster's security settings.
  returned: always
  type: dict
  contains:
    name:
      description: Cluster name.
      type: str
    vpc_id:
      description: Its VPC.
      type: str
    endpoint_public_access:
      description: Whether the API endpoint is public.
      type: bool
    endpoint_private_access:
      description: Whether the API endpoint is reachable from the VPC.
      type: bool
    public_access_cidrs:
      description: CIDRs allowed to the public endpoint.
      type: list
      elements: str
    enabled_log_types:
      description: Control plane log types enabled.
      type: list
      elements: str
    secrets_key_arn:
      description: "KMS key encrypting Kubernetes secrets, or null."
      type: str
    secrets_key_rotation:
      description: Whether that key rotates (null without a key).
      type: bool
    authentication_mode:
      description: "C(API), C(API_AND_CONFIG_MAP) or C(CONFIG_MAP)."
      type: str
    oidc_issuer:
      description: The cluster's OIDC issuer URL.
      type: str
    oidc_provider_arn:
      description: "The IAM OIDC provider of that issuer, or null."
      type: str
    tags:
      description: The cluster's tags.
      type: dict
  sample:
    name: llm-analytics-hub-prod-eks
    endpoint_public_access: true
    public_access_cidrs: [203.0.113.0/24]
nodegroups:
  description: Each managed node group with its subnets and those that route to an internet gateway.
  returned: always
  type: list
  elements: dict
  sample: [{name: system, subnets: [subnet-1], public_subnets: []}]
vpc_endpoints:
  description: Service names of the VPC's endpoints that are available.
  returned: always
  type: list
  elements: str
flow_logs:
  description: The VPC's flow logs with their status.
  returned: always
  type: list
  elements: dict
open_ingress:
  description: Security group rules of the VPC open to 0.0.0.0/0 or ::/0, as C(<group name> <protocol>/<port range>).
  returned: always
  type: list
  elements: str
addons:
  description: Managed add-on name to its status.
  returned: always
  type: dict
web_acl:
  description: The web ACL (C(arn), C(rule_groups), the AWS managed rule groups it uses), or null when none has the name.
  returned: always
  type: dict
guardduty:
  description: The account's detector (C(detector_id), C(status), C(features) as C(NAME) or C(NAME/ADDITIONAL) to status), or null.
  returned: always
  type: dict
dlm_policies:
  description: Data Lifecycle Manager policies targeting the cluster's volumes (C(policy_id), C(state)).
  returned: always
  type: list
  elements: dict
secrets:
  description: Secrets Manager secrets tagged C(llmhub.io/cluster) for the cluster (C(name), C(rotation)).
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils.common import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_concurrently
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.guardduty import flatten_features

OPEN_CIDRS = ("0.0.0.0/0", "::/0")


class ClusterNotFound(Exception):
    pass


def read_cluster(clients, name):
    try:
        cluster = clients["eks"].describe_cluster(name=name, aws_retry=True)["cluster"]
    except is_boto3_error_code("ResourceNotFoundException"):
        raise ClusterNotFound(name)
    vpc = cluster.get("resourcesVpcConfig") or {}
    keys = [c["provider"]["keyArn"] for c in cluster.get("encryptionConfig") or []
            if "secrets" in c.get("resources", []) and c.get("provider", {}).get("keyArn")]
    return {
        "name": name,
        "vpc_id": vpc.get("vpcId"),
        "endpoint_public_access": bool(vpc.get("endpointPublicAccess")),
        "endpoint_private_access": bool(vpc.get("endpointPrivateAccess")),
        "public_access_cidrs": vpc.get("publicAccessCidrs") or [],
        "enabled_log_types": sorted(t for setup in (cluster.get("logging") or {}).get("clusterLogging", [])
                                    if setup.get("enabled") for t in setup.get("types", [])),
        "secrets_key_arn": keys[0] if keys else None,
        "authentication_mode": (cluster.get("accessConfig") or {}).get("authenticationMode"),
        "oidc_issuer": ((cluster.get("identity") or {}).get("oidc") or {}).get("issuer"),
        "tags": cluster.get("tags") or {},
    }


def key_rotation(clients, key_arn):
    if not key_arn:
        return None
    return clients["kms"].get_key_rotation_status(KeyId=key_arn, aws_retry=True).get("KeyRotationEnabled", False)


def oidc_provider(clients, issuer):
    if not issuer:
        return None
    host_path = issuer.split("://", 1)[-1]
    providers = clients["iam"].list_open_id_connect_providers(aws_retry=True)["OpenIDConnectProviderList"]
    return next((p["Arn"] for p in providers if p["Arn"].endswith("oidc-provider/" + host_path)), None)


def public_subnets(clients, vpc_id, subnet_ids):
    """The subnets of ``subnet_ids`` whose route table (their own, else the VPC's main one) sends 0.0.0.0/0 to an
    internet gateway."""
    if not subnet_ids:
        return set()
    tables = paginate(clients["ec2"], "describe_route_tables", "RouteTables",
                      Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])

    def to_internet(table):
        return any(route.get("DestinationCidrBlock") == "0.0.0.0/0" and str(route.get("GatewayId", "")).startswith("igw-")
                   for route in table.get("Routes", []))

    explicit, main = {}, None
    for table in tables:
        for association in table.get("Associations", []):
            if association.get("SubnetId"):
                explicit[association["SubnetId"]] = table
            if association.get("Main"):
                main = table
    return {subnet for subnet in subnet_ids if (explicit.get(subnet) or main) and to_internet(explicit.get(subnet) or main)}


def read_nodegroups(clients, cluster):
    names = paginate(clients["eks"], "list_nodegroups", "nodegroups", clusterName=cluster["name"])
    groups = run_concurrently(
        lambda name: clients["eks"].describe_nodegroup(clusterName=cluster["name"], nodegroupName=name,
                                                       aws_retry=True)["nodegroup"],
        names, "describe the node groups")
    subnets = sorted({subnet for group in groups for subnet in group.get("subnets", [])})
    public = public_subnets(clients, cluster["vpc_id"], subnets) if cluster["vpc_id"] else set()
    return [{"name": group["nodegroupName"], "subnets": group.get("subnets", []),
             "public_subnets": sorted(public & set(group.get("subnets", [])))} for group in groups]


def read_vpc_endpoints(clients, vpc_id):
    endpoints = paginate(clients["ec2"], "describe_vpc_endpoints", "VpcEndpoints",
                         Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return sorted(e["ServiceName"] for e in endpoints if str(e.get("State", "")).lower() == "available")


def read_flow_logs(clients, vpc_id):
    logs = paginate(clients["ec2"], "describe_flow_logs", "FlowLogs",
                    Filters=[{"Name": "resource-id", "Values": [vpc_id]}])
    return [{"flow_log_id": f["FlowLogId"], "status": f.get("FlowLogStatus"), "traffic_type": f.get("TrafficType"),
             "destination": f.get("LogDestination") or f.get("LogGroupName")} for f in logs]


def read_open_ingress(clients, vpc_id):
    groups = paginate(clients["ec2"], "describe_security_groups", "SecurityGroups",
                      Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    found = []
    for group in groups:
        for rule in group.get("IpPermissions", []):
            cidrs = [r.get("CidrIp") for r in rule.get("IpRanges", [])]
            cidrs += [r.get("CidrIpv6") for r in rule.get("Ipv6Ranges", [])]
            if any(cidr in OPEN_CIDRS for cidr in cidrs):
                protocol = rule.get("IpProtocol")
                ports = "all" if protocol == "-1" else f"{rule.get('FromPort')}-{rule.get('ToPort')}"
                found.append(f"{group['GroupName']} {'all' if protocol == '-1' else protocol}/{ports}")
    return sorted(found)


def read_addons(clients, name):
    addons = paginate(clients["eks"], "list_addons", "addons", clusterName=name)
    described = run_concurrently(
        lambda addon: clients["eks"].describe_addon(clusterName=name, addonName=addon, aws_retry=True)["addon"],
        addons, "describe the add-ons")
    return {addon["addonName"]: addon.get("status") for addon in described}


def read_web_acl(clients, name):
    acls, marker = [], None
    while True:
        page = clients["wafv2"].list_web_acls(Scope="REGIONAL", aws_retry=True, **({"NextMarker": marker} if marker else {}))
        acls.extend(page.get("WebACLs", []))
        marker = page.get("NextMarker")
        if not marker or not page.get("WebACLs"):
            break
    summary = next((acl for acl in acls if acl["Name"] == name), None)
    if summary is None:
        return None
    acl = clients["wafv2"].get_web_acl(Name=name, Scope="REGIONAL", Id=summary["Id"], aws_retry=True)["WebACL"]
    groups = [rule["Statement"]["ManagedRuleGroupStatement"]["Name"] for rule in acl.get("Rules", [])
              if "ManagedRuleGroupStatement" in rule.get("Statement", {})
              and rule["Statement"]["ManagedRuleGroupStatement"].get("VendorName") == "AWS"]
    return {"name": name, "arn": acl["ARN"], "rule_groups": groups}


def read_guardduty(clients):
    detectors = paginate(clients["guardduty"], "list_detectors", "DetectorIds")
    if not detectors:
        return None
    detector = clients["guardduty"].get_detector(DetectorId=detectors[0], aws_retry=True)
    return {"detector_id": detectors[0], "status": detector.get("Status"),
            "features": flatten_features(detector.get("Features") or [])}


def read_secrets(clients, cluster_name):
    secrets = paginate(clients["secretsmanager"], "list_secrets", "SecretList",
                       Filters=[{"Key": "tag-key", "Values": ["llmhub.io/cluster"]},
                                {"Key": "tag-value", "Values": [cluster_name]}])
    return [{"name": secret["Name"], "rotation": bool(secret.get("RotationEnabled"))} for secret in secrets
            if {"Key": "llmhub.io/cluster", "Value": cluster_name} in secret.get("Tags", [])]


def read_dlm_policies(clients, target_tag):
    policies = clients["dlm"].get_lifecycle_policies(TargetTags=[target_tag], aws_retry=True).get("Policies", [])
    return [{"policy_id": p["PolicyId"], "state": p.get("State")} for p in policies]


def inspect(module):
    params = module.params
    clients = {service: retrying_client(module, service)
               for service in ("eks", "ec2", "iam", "kms", "wafv2", "guardduty", "dlm", "secretsmanager")}
    try:
        cluster = read_cluster(clients, params["cluster_name"])
    except ClusterNotFound:
        module.fail_json(msg=f"Cluster {params['cluster_name']} does not exist: run site.yml (make apply) first, "
                             "or set llmhub_cluster_name to the cluster to report on.")
    vpc_id = cluster["vpc_id"]
    target_tag = params.get("dlm_target_tag") or f"KubernetesCluster={params['cluster_name']}"
    readers = {
        "secrets_key_rotation": lambda: key_rotation(clients, cluster["secrets_key_arn"]),
        "oidc_provider_arn": lambda: oidc_provider(clients, cluster["oidc_issuer"]),
        "nodegroups": lambda: read_nodegroups(clients, cluster),
        "vpc_endpoints": lambda: read_vpc_endpoints(clients, vpc_id) if vpc_id else [],
        "flow_logs": lambda: read_flow_logs(clients, vpc_id) if vpc_id else [],
        "open_ingress": lambda: read_open_ingress(clients, vpc_id) if vpc_id else [],
        "addons": lambda: read_addons(clients, params["cluster_name"]),
        "web_acl": lambda: read_web_acl(clients, params["web_acl_name"]),
        "guardduty": lambda: read_guardduty(clients),
        "dlm_policies": lambda: read_dlm_policies(clients, target_tag),
        "secrets": lambda: read_secrets(clients, params["cluster_name"]),
    }
    values = dict(zip(readers, run_concurrently(lambda name: readers[name](), list(readers),
                                                "read the cluster's security posture")))
    cluster["secrets_key_rotation"] = values.pop("secrets_key_rotation")
    cluster["oidc_provider_arn"] = values.pop("oidc_provider_arn")
    module.exit_json(changed=False, cluster=cluster, **values)


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        web_acl_name=dict(type="str", required=True),
        dlm_target_tag=dict(type="str"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    target = module.params.get("dlm_target_tag")
    if target is not None and "=" not in target:
        module.fail_json(msg=f"dlm_target_tag must be key=value, got {target!r}")
    run_module(module, inspect, module)


if __name__ == "__main__":
    main()
