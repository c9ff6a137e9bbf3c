#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_leftovers
short_description: Find, and delete, every AWS resource left behind by an EKS cluster and its platform
version_added: 0.1.0
description:
  - The last step of a teardown, after each layer removed what it made by name. Finds every resource that belongs to
    the cluster O(cluster_name), deletes it in dependency order, and reports what remains and why.
  - A resource belongs to the cluster when one of these tags marks it. C(llmhub.io/cluster=<cluster>) is put by this
    collection on everything it makes. C(kubernetes.io/cluster/<cluster>=owned) is put by EKS and the EBS CSI driver
    (C(shared) does not count, a shared subnet is someone else's). C(elbv2.k8s.aws/cluster=<cluster>) is put by the
    AWS Load Balancer Controller. C(KubernetesCluster=<cluster>) is put by the EBS CSI driver.
    C(eks:cluster-name=<cluster>) and C(aws:eks:cluster-name=<cluster>) are put by EKS.
    C(cluster.k8s.amazonaws.com/name=<cluster>) is put by the VPC CNI on its network interfaces.
  - Everything inside a VPC that belongs to the cluster belongs to it too (instances, load balancers, target groups,
    endpoints, NAT gateways, network interfaces, security groups but the default one, internet gateways attached to it,
    route tables but the main one, network ACLs but the default one, subnets, flow logs). So every VPC tagged for the
    cluster goes with its dependents, also a second VPC left by two runs at once.
  - So do the EKS clusters named O(cluster_name) or tagged for it (their node groups first), and the log groups under
    C(/aws/eks/<cluster>/) and C(/aws/containerinsights/<cluster>/), those named in O(log_group_names) and those
    tagged for the cluster.
  - Every type is listed concurrently, with the Describe or List call of its service (and the tags each needs). The
    Resource Groups Tagging API (C(GetResources), one query per tag) then finds resources of the other types tagged
    for the cluster. The module cannot delete those, so they are reported as remaining.
  - Deletes in phases, each phase's deletions concurrently, then its waits, with botocore's waiters where they exist
    (C(NodegroupDeleted), C(ClusterDeleted), C(InstanceTerminated), C(LoadBalancersDeleted), C(NatGatewayDeleted)).
    The phases are EKS clusters and Auto Scaling groups; then instances, load balancers, VPC endpoints, NAT gateways;
    then target groups, Elastic IPs (disassociated first), launch templates, EBS volumes, snapshots and DLM policies
    when asked; then detached network interfaces; then security groups (rules that reference each other revoked
    first), internet gateways (detached first), route tables (disassociated first); then subnets; then network ACLs and
    VPCs (their flow logs first); then log groups, Lambda functions, Secrets Manager secrets (scheduled for deletion
    after O(secrets_recovery_window_days)), IAM policies (detached first), instance profiles, OIDC providers and
    KMS keys (scheduled for deletion after O(kms_deletion_window_days)); last the IAM roles.
  - An error deleting one resource does not stop the others. It is reported against that resource in RV(remaining).
  - Kept on purpose, and listed in RV(kept) with the reason, are EBS snapshots and the DLM policies that make them,
    unless O(delete_snapshots=true) (they are backups), and the volumes the EBS CSI driver made for claims, unless
    O(delete_claim_volumes=true) (those of C(Retain) classes hold data on purpose). Snapshots of a backup set (tag C(llmhub.io/backup-id)) are
    always kept, C(backup.yml -e backup_action=prune) removes them with their set. Also kept are the execution roles
    of kept DLM policies, and KMS keys and Secrets Manager secrets already scheduled for deletion.
  - In check mode, and with O(state=query), nothing is changed. RV(deleted) lists what would be deleted.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  cluster_name:
    description: Name of the EKS cluster whose resources are swept.
    type: str
    required: true
  state:
    description:
      - V(absent) deletes what belongs to the cluster and reports what remains.
      - V(query) only lists it. RV(deleted) is what V(absent) would delete.
    type: str
    choices: [absent, query]
    required: true
  resource_types:
    description:
      - The types to sweep. All by default.
      - With only some, the Resource Groups Tagging API is not asked about the other types.
    type: list
    elements: str
    choices: [eks_clusters, autoscaling_groups, instances, load_balancers, target_groups, certificates, vpc_endpoints,
              nat_gateways, elastic_ips, network_interfaces, security_groups, launch_templates, volumes, snapshots,
              dlm_policies, internet_gateways, route_tables, subnets, network_acls, vpcs, log_groups, lambda_functions, secrets,
              iam_policies, instance_profiles, oidc_providers, iam_roles, kms_keys]
  log_group_names:
    description: Names of other log groups of the cluster (such as the VPC flow logs' group).
    type: list
    elements: str
    default: []
  delete_snapshots:
    description:
      - Delete the EBS snapshots tagged for the cluster (those Data Lifecycle Manager made, too) and the DLM policies
        that target the cluster's volumes. Snapshots of backup sets stay whatever this says.
    type: bool
    default: false
  delete_claim_volumes:
    description:
      - Delete the EBS volumes the EBS CSI driver made for claims (tag C(ebs.csi.aws.com/cluster=true)) that are left.
        Those of the classes that delete their volumes went with their claims (M(llmhub.eks.eks_cloud_resources)), so
        what is left is mostly volumes of C(Retain) classes, kept on purpose. By default they are kept, in RV(kept).
    type: bool
    default: false
  kms_deletion_window_days:
    description: Days before a KMS key of the cluster is deleted (7 to 30). A key already pending deletion is left as it is.
    type: int
    default: 7
  secrets_recovery_window_days:
    description:
      - Days a Secrets Manager secret of the cluster can still be restored (7 to 30), or V(0) to delete it at once.
        A secret already scheduled for deletion is left as it is.
    type: int
    default: 7
  fail_on_remaining:
    description:
      - With O(state=absent), fail when something that belongs to the cluster remains (not counting RV(kept)), naming
        each resource and why it could not go.
      - With V(false) the module returns RV(remaining) and the caller decides (destroy.yml reports, then fails).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for each phase's deletions.
    type: int
    default: 1200
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - The caller needs the Describe, List and Delete permissions of each service swept, and C(tag:GetResources).
  - Run it after the layers' own removal (playbooks/destroy.yml does). Everything it deletes is gone for good, but the
    KMS keys, which can be recovered with C(CancelKeyDeletion) until their deletion date.
"""

EXAMPLES = r"""
- name: Remove whatever is left of the cluster, then report
  llmhub.eks.eks_leftovers:
    cluster_name: llm-analytics-hub-prod-eks
    state: absent
    log_group_names: [/aws/vpc/llm-analytics-hub-prod-eks/flow-logs]
    fail_on_remaining: false
  register: leftovers

- name: What belongs to the cluster (nothing is changed)
  llmhub.eks.eks_leftovers:
    cluster_name: llm-analytics-hub-prod-eks
    state: query

- name: What holds the cluster's subnets and security groups, before the network goes
  llmhub.eks.eks_leftovers:
    cluster_name: llm-analytics-hub-prod-eks
    state: absent
    resource_types: [instances, load_balancers, target_groups, network_interfaces]
"""

RETURN = r"""
found:
  description: What belonged to the cluster when the module started, each with the tag that marks it (or its VPC).
  returned: always
  type: list
  elements: dict
  contains:
    type:
      description: Resource type (one of O(resource_types), or C(other) for a type found through the tagging API).
      type: str
      sample: network_interfaces
    id:
      description: Id, ARN or name of the resource.
      type: str
      sample: eni-0123456789abcdef0
    name:
      description: Its C(Name) tag or name, when it has one.
      type: str
    marked_by:
      description: The tag (C(key=value)), VPC or name that makes it the cluster's.
      type: str
      sample: llmhub.io/cluster=llm-analytics-hub-prod-eks
deleted:
  description: What was deleted (KMS keys, scheduled for deletion); in check mode and with O(state=query), what would be.
  returned: always
  type: list
  elements: dict
  contains:
    type:
      description: Resource type.
      type: str
    id:
      description: Id, ARN or name.
      type: str
    name:
      description: Name, when it has one.
      type: str
kept:
  description: What belongs to the cluster and is left on purpose, with the reason.
  returned: always
  type: list
  elements: dict
  contains:
    type:
      description: Resource type.
      type: str
    id:
      description: Id, ARN or name.
      type: str
    name:
      description: Name, when it has one.
      type: str
    reason:
      description: Why it stays.
      type: str
      sample: deletion scheduled for 2026-12-09 15:00 UTC (a site.yml run before then cancels it)
remaining:
  description:
    - What still belongs to the cluster after the sweep (not counting RV(kept)), each with why it could not go.
    - Empty in check mode and with O(state=query).
  returned: always
  type: list
  elements: dict
  contains:
    type:
      description: Resource type.
      type: str
    id:
      description: Id, ARN or name.
      type: str
    name:
      description: Name, when it has one.
      type: str
    reason:
      description: The error AWS answered, or the state it is in.
      type: str
      sample: "DependencyViolation: resource sg-0123456789abcdef0 has a dependent object"
"""

import threading
import time

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils import leftovers as lo
from ansible_collections.llmhub.eks.plugins.module_utils.common import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_concurrently
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.iam import delete_role
from ansible_collections.llmhub.eks.plugins.module_utils.iam import fetch_role

TAGS_BATCH = 20  # elbv2/elb DescribeTags take at most 20 resources
GONE_STATES = ("deleted", "deleting", "terminated", "shutting-down", "deleted-complete")
WAITER_DELAY = 5
POLL_DELAY = 2


def describe_error(error):
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        return f"{response['Error'].get('Code')}: {response['Error'].get('Message')}"
    return str(error) or type(error).__name__


def attempt_all(func, items):
    """``func(item)`` for every item concurrently; {index: error text} of those that raised."""
    def guarded(item):
        try:
            func(item)
            return None
        except Exception as e:  # pylint: disable=broad-except
            return describe_error(e)

    return {index: error for index, error in enumerate(run_concurrently(guarded, items, "sweep")) if error}


class Sweep:
    def __init__(self, module):
        self.module = module
        self.cluster = module.params["cluster_name"]
        self.types = module.params["resource_types"] or list(lo.RESOURCE_TYPES)
        self.all_types = set(self.types) == set(lo.RESOURCE_TYPES)
        self.clients = {}
        self.vpc_ids = set()  # the cluster's VPCs, remembered once seen (what was in a deleted VPC stays the cluster's)
        self.errors = {}  # (type, id) -> why it could not be deleted
        self.listing_errors = {}  # type -> why it could not be listed
        self.kept_roles = set()
        self.tagged = None  # the tagging API's answer of the current listing round
        self.tagging_lock = threading.Lock()

    def client(self, service):
        if service not in self.clients:
            self.clients[service] = retrying_client(self.module, service)
        return self.clients[service]

    def mark(self, tags, vpc_id=None):
        return lo.marked_by(tags, self.cluster) or (f"inside VPC {vpc_id}" if vpc_id in self.vpc_ids else None)

    # -- listing, one enumerator per type -------------------------------------------------------------------

    def ec2_list(self, operation, key, **params):
        return paginate(self.client("ec2"), operation, key, **params)

    def list_vpcs(self):
        found = []
        for vpc in self.ec2_list("describe_vpcs", "Vpcs"):
            tags = lo.tag_dict(vpc.get("Tags"))
            marked = lo.marked_by(tags, self.cluster)
            if marked:
                self.vpc_ids.add(vpc["VpcId"])
                found.append(lo.record("vpcs", vpc["VpcId"], tags.get("Name"), marked, vpc))
        return found

    def list_in_vpc(self, resource_type, operation, key, id_key, skip=lambda r: False, tags_key="Tags"):
        found = []
        for resource in self.ec2_list(operation, key):
            if skip(resource):
                continue
            tags = lo.tag_dict(resource.get(tags_key))
            marked = self.mark(tags, resource.get("VpcId"))
            if marked:
                found.append(lo.record(resource_type, resource[id_key], tags.get("Name"), marked, resource))
        return found

    def list_subnets(self):
        return self.list_in_vpc("subnets", "describe_subnets", "Subnets", "SubnetId")

    def list_security_groups(self):
        return self.list_in_vpc("security_groups", "describe_security_groups", "SecurityGroups", "GroupId",
                                skip=lambda g: g.get("GroupName") == "default")

    def list_network_interfaces(self):
        found = self.list_in_vpc("network_interfaces", "describe_network_interfaces", "NetworkInterfaces",
                                 "NetworkInterfaceId", tags_key="TagSet")
        # inside the VPC, those a service manages (load balancers', endpoints', NAT gateways') go with their service
        return [r for r in found if not r["marked_by"].startswith("inside VPC")
                or (not r["raw"].get("RequesterManaged") and r["raw"].get("InterfaceType", "interface") == "interface"
                    and not r["raw"].get("Association"))]

    def list_elastic_ips(self):
        found = []
        # DescribeAddresses has no pagination
        for address in self.client("ec2").describe_addresses(aws_retry=True).get("Addresses") or []:
            tags = lo.tag_dict(address.get("Tags"))
            marked = lo.marked_by(tags, self.cluster)
            if marked:
                found.append(lo.record("elastic_ips", address.get("AllocationId") or address.get("PublicIp"),
                                       tags.get("Name"), marked, address))
        return found

    def list_nat_gateways(self):
        return self.list_in_vpc("nat_gateways", "describe_nat_gateways", "NatGateways", "NatGatewayId",
                                skip=lambda n: n.get("State") in ("deleted", "failed"))

    def list_internet_gateways(self):
        found = []
        for gateway in self.ec2_list("describe_internet_gateways", "InternetGateways"):
            tags = lo.tag_dict(gateway.get("Tags"))
            vpcs = [a.get("VpcId") for a in gateway.get("Attachments") or []]
            marked = lo.marked_by(tags, self.cluster) or next(
                (f"attached to VPC {v}" for v in vpcs if v in self.vpc_ids), None)
            if marked:
                found.append(lo.record("internet_gateways", gateway["InternetGatewayId"], tags.get("Name"), marked,
                                       gateway))
        return found

    def list_route_tables(self):
        return self.list_in_vpc("route_tables", "describe_route_tables", "RouteTables", "RouteTableId",
                                skip=lambda t: any(a.get("Main") for a in t.get("Associations") or []))

    def list_network_acls(self):
        return self.list_in_vpc("network_acls", "describe_network_acls", "NetworkAcls", "NetworkAclId",
                                skip=lambda a: a.get("IsDefault"))

    def list_vpc_endpoints(self):
        return self.list_in_vpc("vpc_endpoints", "describe_vpc_endpoints", "VpcEndpoints", "VpcEndpointId",
                                skip=lambda e: (e.get("State") or "").lower() in GONE_STATES)

    def list_instances(self):
        found = []
        for reservation in self.ec2_list("describe_instances", "Reservations"):
            for instance in reservation.get("Instances") or []:
                if (instance.get("State") or {}).get("Name") in GONE_STATES:
                    continue
                tags = lo.tag_dict(instance.get("Tags"))
                marked = self.mark(tags, instance.get("VpcId"))
                if marked:
                    found.append(lo.record("instances", instance["InstanceId"], tags.get("Name"), marked, instance))
        return found

    def list_tagged(self, resource_type, operation, key, id_key, **params):
        """EC2 resources found by tag filters, one query per tag of the cluster, concurrently (volumes, snapshots:
        an account can hold many more than any other type)."""
        def query(tag):
            return self.ec2_list(operation, key, Filters=[{"Name": f"tag:{tag[0]}", "Values": [tag[1]]}], **params)

        found = {}
        for resources in run_concurrently(query, lo.cluster_tags(self.cluster), f"list {resource_type}"):
            for resource in resources:
                if resource.get("State") in GONE_STATES or resource[id_key] in found:
                    continue
                tags = lo.tag_dict(resource.get("Tags"))
                found[resource[id_key]] = lo.record(resource_type, resource[id_key], tags.get("Name"),
                                                    lo.marked_by(tags, self.cluster), resource)
        return [r for r in found.values() if r["marked_by"]]

    def list_volumes(self):
        return self.list_tagged("volumes", "describe_volumes", "Volumes", "VolumeId")

    def list_snapshots(self):
        return self.list_tagged("snapshots", "describe_snapshots", "Snapshots", "SnapshotId", OwnerIds=["self"])

    def list_launch_templates(self):
        found = []
        for template in self.ec2_list("describe_launch_templates", "LaunchTemplates"):
            marked = lo.marked_by(lo.tag_dict(template.get("Tags")), self.cluster)
            if marked:
                found.append(lo.record("launch_templates", template["LaunchTemplateId"],
                                       template.get("LaunchTemplateName"), marked, template))
        return found

    def elb_tags(self, client, key, values, param):
        tags = {}
        for start in range(0, len(values), TAGS_BATCH):
            answer = client.describe_tags(aws_retry=True, **{param: values[start:start + TAGS_BATCH]})
            for description in answer["TagDescriptions"]:
                tags[description[key]] = lo.tag_dict(description.get("Tags"))
        return tags

    def list_load_balancers(self):
        elbv2, elb = self.client("elbv2"), self.client("elb")
        balancers = paginate(elbv2, "describe_load_balancers", "LoadBalancers")
        tags = self.elb_tags(elbv2, "ResourceArn", [b["LoadBalancerArn"] for b in balancers], "ResourceArns")
        found = []
        for balancer in balancers:
            marked = self.mark(tags.get(balancer["LoadBalancerArn"], {}), balancer.get("VpcId"))
            if marked:
                found.append(lo.record("load_balancers", balancer["LoadBalancerArn"], balancer.get("LoadBalancerName"),
                                       marked, balancer, classic=False))
        classics = paginate(elb, "describe_load_balancers", "LoadBalancerDescriptions")
        tags = self.elb_tags(elb, "LoadBalancerName", [b["LoadBalancerName"] for b in classics], "LoadBalancerNames")
        for balancer in classics:
            marked = self.mark(tags.get(balancer["LoadBalancerName"], {}), balancer.get("VPCId"))
            if marked:
                found.append(lo.record("load_balancers", balancer["LoadBalancerName"], balancer["LoadBalancerName"],
                                       marked, balancer, classic=True))
        return found

    def list_target_groups(self):
        elbv2 = self.client("elbv2")
        groups = paginate(elbv2, "describe_target_groups", "TargetGroups")
        tags = self.elb_tags(elbv2, "ResourceArn", [g["TargetGroupArn"] for g in groups], "ResourceArns")
        return [lo.record("target_groups", g["TargetGroupArn"], g.get("TargetGroupName"), marked, g)
                for g in groups if (marked := self.mark(tags.get(g["TargetGroupArn"], {}), g.get("VpcId")))]

    def list_eks_clusters(self):
        eks = self.client("eks")

        def describe(name):
            try:
                return eks.describe_cluster(aws_retry=True, name=name)["cluster"]
            except is_boto3_error_code("ResourceNotFoundException"):
                return None

        clusters = [c for c in run_concurrently(describe, paginate(eks, "list_clusters", "clusters"),
                                                "describe EKS clusters") if c]
        return [lo.record("eks_clusters", c["name"], c["name"], marked, c) for c in clusters
                if (marked := (f"named {self.cluster}" if c["name"] == self.cluster
                               else lo.marked_by(c.get("tags"), self.cluster)))]

    def list_autoscaling_groups(self):
        groups = paginate(self.client("autoscaling"), "describe_auto_scaling_groups", "AutoScalingGroups")
        return [lo.record("autoscaling_groups", g["AutoScalingGroupName"], g["AutoScalingGroupName"], marked, g)
                for g in groups if g.get("Status") != "Delete in progress"
                and (marked := lo.marked_by(lo.tag_dict(g.get("Tags")), self.cluster))]

    def list_log_groups(self):
        logs = self.client("logs")
        prefixes = [f"/aws/eks/{self.cluster}/", f"/aws/containerinsights/{self.cluster}/"]
        found = {}
        for prefix in prefixes:
            for group in paginate(logs, "describe_log_groups", "logGroups", logGroupNamePrefix=prefix):
                found[group["logGroupName"]] = f"named under {prefix}"
        for name in self.module.params["log_group_names"]:
            for group in paginate(logs, "describe_log_groups", "logGroups", logGroupNamePrefix=name):
                if group["logGroupName"] == name:
                    found[name] = "named in log_group_names"
        try:
            tagged = {arn: m for arn, m in self.tagging_api().items() if ":logs:" in arn and ":log-group:" in arn}
        except Exception as e:  # pylint: disable=broad-except
            self.module.warn(f"The Resource Groups Tagging API could not be asked for log groups tagged for "
                             f"{self.cluster} ({describe_error(e)}); only those found by name were swept")
            tagged = {}
        for arn, marked in tagged.items():
            name = arn.split(":log-group:", 1)[1].removesuffix(":*")
            found.setdefault(name, marked)
        return [lo.record("log_groups", name, name, marked) for name, marked in sorted(found.items())]

    def iam_tagged(self, resource_type, items, id_key, name_key, tags_call, param):
        iam = self.client("iam")

        def read(item):
            tags = item.get("Tags")
            if tags is None:
                tags = paginate(iam, tags_call, "Tags", **{param: item[id_key]})
            return lo.marked_by(lo.tag_dict(tags), self.cluster)

        marks = run_concurrently(read, items, f"read the tags of {resource_type}")
        return [lo.record(resource_type, item[id_key], item.get(name_key), marked, item)
                for item, marked in zip(items, marks) if marked]

    def list_iam_roles(self):
        roles = [r for r in paginate(self.client("iam"), "list_roles", "Roles")
                 if not r.get("Path", "/").startswith("/aws-service-role/")]
        return self.iam_tagged("iam_roles", roles, "RoleName", "RoleName", "list_role_tags", "RoleName")

    def list_iam_policies(self):
        policies = paginate(self.client("iam"), "list_policies", "Policies", Scope="Local")
        return self.iam_tagged("iam_policies", policies, "Arn", "PolicyName", "list_policy_tags", "PolicyArn")

    def list_instance_profiles(self):
        profiles = paginate(self.client("iam"), "list_instance_profiles", "InstanceProfiles")
        return self.iam_tagged("instance_profiles", profiles, "InstanceProfileName", "InstanceProfileName",
                               "list_instance_profile_tags", "InstanceProfileName")

    def list_oidc_providers(self):
        providers = self.client("iam").list_open_id_connect_providers(aws_retry=True)["OpenIDConnectProviderList"]
        return self.iam_tagged("oidc_providers", providers, "Arn", "Arn", "list_open_id_connect_provider_tags",
                               "OpenIDConnectProviderArn")

    def list_kms_keys(self):
        kms = self.client("kms")

        def read(key_id):
            metadata = kms.describe_key(aws_retry=True, KeyId=key_id)["KeyMetadata"]
            if metadata.get("KeyManager") != "CUSTOMER":
                return None
            tags = paginate(kms, "list_resource_tags", "Tags", KeyId=key_id)
            marked = lo.marked_by(lo.tag_dict(tags, "TagKey", "TagValue"), self.cluster)
            return lo.record("kms_keys", metadata["KeyId"], metadata.get("Description") or None, marked,
                             metadata) if marked else None

        keys = [k["KeyId"] for k in paginate(kms, "list_keys", "Keys")]
        return [r for r in run_concurrently(read, keys, "read KMS keys") if r]

    def list_lambda_functions(self):
        """The functions the Resource Groups Tagging API finds tagged for the cluster."""
        return [lo.record("lambda_functions", arn, arn.rsplit(":", 1)[-1], marked)
                for arn, marked in sorted(self.tagging_api().items()) if ":lambda:" in arn and ":function:" in arn]

    def list_certificates(self):
        """The ACM certificates the Resource Groups Tagging API finds tagged for the cluster (the ingress's)."""
        return [lo.record("certificates", arn, arn.rsplit("/", 1)[-1], marked)
                for arn, marked in sorted(self.tagging_api().items()) if ":acm:" in arn and ":certificate/" in arn]

    def list_secrets(self):
        """Secrets Manager secrets tagged for the cluster, also those already scheduled for deletion."""
        secrets = paginate(self.client("secretsmanager"), "list_secrets", "SecretList", IncludePlannedDeletion=True)
        found = []
        for entry in secrets:
            marked = lo.marked_by(lo.tag_dict(entry.get("Tags")), self.cluster)
            if marked:
                found.append(lo.record("secrets", entry["ARN"], entry["Name"], marked, entry))
        return found

    def list_dlm_policies(self):
        dlm = self.client("dlm")
        summaries = dlm.get_lifecycle_policies(aws_retry=True).get("Policies") or []

        def read(summary):
            policy = dlm.get_lifecycle_policy(aws_retry=True, PolicyId=summary["PolicyId"])["Policy"]
            targets = {t["Key"]: t.get("Value") for t in (policy.get("PolicyDetails") or {}).get("TargetTags") or []}
            marked = lo.marked_by(policy.get("Tags") or summary.get("Tags"), self.cluster)
            if not marked:
                by_targets = lo.marked_by(targets, self.cluster)
                marked = f"targets {by_targets}" if by_targets else None
            return lo.record("dlm_policies", policy["PolicyId"], policy.get("Description"), marked,
                             policy) if marked else None

        found = [r for r in run_concurrently(read, summaries, "read DLM policies") if r]
        if not self.module.params["delete_snapshots"]:
            self.kept_roles.update(r["raw"].get("ExecutionRoleArn") for r in found)
        return found

    def tagging_api(self):
        """{ARN: tag} of what the Resource Groups Tagging API finds tagged for the cluster (one query per tag, the
        queries concurrently; read once per listing round)."""
        with self.tagging_lock:
            if self.tagged is None:
                tagging = self.client("resourcegroupstaggingapi")

                def query(tag):
                    return paginate(tagging, "get_resources", "ResourceTagMappingList",
                                    TagFilters=[{"Key": tag[0], "Values": [tag[1]]}])

                tags = lo.cluster_tags(self.cluster)
                found = {}
                for (key, value), mappings in zip(tags, run_concurrently(query, tags, "query the tagging API")):
                    for mapping in mappings:
                        found.setdefault(mapping["ResourceARN"], f"{key}={value}")
                self.tagged = found
            return self.tagged

    def list_others(self):
        return [lo.record("other", arn, None, marked) for arn, marked in sorted(self.tagging_api().items())
                if lo.unhandled_arn(arn)]

    def list_types(self, types):
        """{type: [records]} of ``types``, listed concurrently (the VPCs first: what is in them is the cluster's)."""
        listed = {}
        self.tagged = None
        if types:
            try:
                vpcs = self.list_vpcs()
            except Exception as e:  # pylint: disable=broad-except
                self.listing_errors["vpcs"] = describe_error(e)
                vpcs = []
            if "vpcs" in types:
                listed["vpcs"] = vpcs
        others = [t for t in types if t != "vpcs"]

        def safe(resource_type):
            try:
                return getattr(self, f"list_{resource_type}")()
            except Exception as e:  # pylint: disable=broad-except
                self.listing_errors[resource_type] = describe_error(e)
                return []

        for resource_type, found in zip(others, run_concurrently(safe, others, "list the cluster's resources")):
            listed[resource_type] = found
        return listed

    def list_all(self):
        listed = self.list_types([t for t in lo.RESOURCE_TYPES if t in self.types])
        found = [r for t in lo.RESOURCE_TYPES if t in listed for r in listed[t]]
        if self.all_types:
            try:
                found.extend(self.list_others())
            except Exception as e:  # pylint: disable=broad-except
                self.module.warn(f"The Resource Groups Tagging API could not be asked for other resources tagged for "
                                 f"{self.cluster} ({describe_error(e)}); only the types listed one by one were swept")
        return found

    # -- deleting -------------------------------------------------------------------------------------------

    def wait_with(self, service, waiter, **params):
        timeout = self.module.params["wait_timeout"]
        self.client(service).get_waiter(waiter).wait(
            WaiterConfig={"Delay": WAITER_DELAY, "MaxAttempts": max(1, timeout // WAITER_DELAY)}, **params)

    def poll_gone(self, still_there, what):
        deadline = time.monotonic() + self.module.params["wait_timeout"]
        while True:
            left = still_there()
            if not left:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} still there after {self.module.params['wait_timeout']}s: {', '.join(left)}")
            time.sleep(POLL_DELAY)

    def delete_eks_clusters(self, found):
        eks, name = self.client("eks"), found["id"]
        groups = paginate(eks, "list_nodegroups", "nodegroups", clusterName=name)
        for group in groups:
            try:
                eks.delete_nodegroup(aws_retry=True, clusterName=name, nodegroupName=group)
            except is_boto3_error_code("ResourceInUseException"):
                pass  # already deleting
        for group in groups:
            self.wait_with("eks", "nodegroup_deleted", clusterName=name, nodegroupName=group)
        try:
            eks.delete_cluster(aws_retry=True, name=name)
        except is_boto3_error_code("ResourceInUseException"):
            pass  # already deleting
        self.wait_with("eks", "cluster_deleted", name=name)

    def delete_autoscaling_groups(self, found):
        autoscaling = self.client("autoscaling")
        autoscaling.delete_auto_scaling_group(aws_retry=True, AutoScalingGroupName=found["id"], ForceDelete=True)
        self.poll_gone(lambda: [g["AutoScalingGroupName"] for g in autoscaling.describe_auto_scaling_groups(
            aws_retry=True, AutoScalingGroupNames=[found["id"]])["AutoScalingGroups"]], "Auto Scaling group")

    def delete_instances(self, found):
        self.client("ec2").terminate_instances(aws_retry=True, InstanceIds=[found["id"]])

    def wait_instances(self, done):
        self.wait_with("ec2", "instance_terminated", InstanceIds=[r["id"] for r in done])

    def delete_load_balancers(self, found):
        if found.get("classic"):
            self.client("elb").delete_load_balancer(aws_retry=True, LoadBalancerName=found["id"])
        else:
            self.client("elbv2").delete_load_balancer(aws_retry=True, LoadBalancerArn=found["id"])

    def wait_load_balancers(self, done):
        arns = [r["id"] for r in done if not r.get("classic")]
        if arns:
            self.wait_with("elbv2", "load_balancers_deleted", LoadBalancerArns=arns)

    def delete_vpc_endpoints(self, found):
        answer = self.client("ec2").delete_vpc_endpoints(aws_retry=True, VpcEndpointIds=[found["id"]])
        for item in answer.get("Unsuccessful") or []:
            error = item.get("Error") or {}
            raise RuntimeError(f"{error.get('Code')}: {error.get('Message')}")

    def wait_vpc_endpoints(self, done):
        ids = [r["id"] for r in done]
        self.poll_gone(lambda: [e["VpcEndpointId"] for e in self.ec2_list(
            "describe_vpc_endpoints", "VpcEndpoints", Filters=[{"Name": "vpc-endpoint-id", "Values": ids}])
            if (e.get("State") or "").lower() != "deleted"], "VPC endpoints")

    def delete_nat_gateways(self, found):
        if found["raw"].get("State") != "deleting":
            self.client("ec2").delete_nat_gateway(aws_retry=True, NatGatewayId=found["id"])

    def wait_nat_gateways(self, done):
        self.wait_with("ec2", "nat_gateway_deleted", NatGatewayIds=[r["id"] for r in done])

    def delete_target_groups(self, found):
        self.client("elbv2").delete_target_group(aws_retry=True, TargetGroupArn=found["id"])

    def delete_elastic_ips(self, found):
        ec2, address = self.client("ec2"), found["raw"]
        if address.get("AssociationId"):
            try:
                ec2.disassociate_address(aws_retry=True, AssociationId=address["AssociationId"])
            except is_boto3_error_code("InvalidAssociationID.NotFound"):
                pass
        if address.get("AllocationId"):
            ec2.release_address(aws_retry=True, AllocationId=address["AllocationId"])
        else:
            ec2.release_address(aws_retry=True, PublicIp=address["PublicIp"])

    def delete_network_interfaces(self, found):
        interface = found["raw"]
        if interface.get("Status") != "available":
            attachment = interface.get("Attachment") or {}
            holder = attachment.get("InstanceId") or attachment.get("InstanceOwnerId") or interface.get("Description")
            raise RuntimeError(f"{interface.get('Status')}, in use by {holder or 'another resource'}")
        self.client("ec2").delete_network_interface(aws_retry=True, NetworkInterfaceId=found["id"])

    def delete_launch_templates(self, found):
        self.client("ec2").delete_launch_template(aws_retry=True, LaunchTemplateId=found["id"])

    def delete_volumes(self, found):
        volume = found["raw"]
        if volume.get("State") == "in-use":
            holders = ", ".join(a.get("InstanceId", "?") for a in volume.get("Attachments") or [])
            raise RuntimeError(f"in-use, attached to {holders or 'an instance'}")
        self.client("ec2").delete_volume(aws_retry=True, VolumeId=found["id"])

    def delete_snapshots(self, found):
        self.client("ec2").delete_snapshot(aws_retry=True, SnapshotId=found["id"])

    def delete_dlm_policies(self, found):
        self.client("dlm").delete_lifecycle_policy(aws_retry=True, PolicyId=found["id"])

    def delete_security_groups(self, found):
        self.client("ec2").delete_security_group(aws_retry=True, GroupId=found["id"])

    def revoke_references(self, groups):
        """Rules of the groups that reference another group being deleted (they keep each other alive)."""
        ec2, ids = self.client("ec2"), {g["id"] for g in groups}

        def revoke(group):
            for direction, call in (("IpPermissions", ec2.revoke_security_group_ingress),
                                    ("IpPermissionsEgress", ec2.revoke_security_group_egress)):
                rules = [p for p in group["raw"].get(direction) or []
                         if any(pair.get("GroupId") in ids for pair in p.get("UserIdGroupPairs") or [])]
                if rules:
                    call(aws_retry=True, GroupId=group["id"], IpPermissions=rules)

        return attempt_all(revoke, groups)

    def delete_internet_gateways(self, found):
        ec2 = self.client("ec2")
        for attachment in found["raw"].get("Attachments") or []:
            ec2.detach_internet_gateway(aws_retry=True, InternetGatewayId=found["id"], VpcId=attachment["VpcId"])
        ec2.delete_internet_gateway(aws_retry=True, InternetGatewayId=found["id"])

    def delete_route_tables(self, found):
        ec2 = self.client("ec2")
        for association in found["raw"].get("Associations") or []:
            if not association.get("Main") and association.get("RouteTableAssociationId"):
                ec2.disassociate_route_table(aws_retry=True, AssociationId=association["RouteTableAssociationId"])
        ec2.delete_route_table(aws_retry=True, RouteTableId=found["id"])

    def delete_subnets(self, found):
        self.client("ec2").delete_subnet(aws_retry=True, SubnetId=found["id"])

    def delete_network_acls(self, found):
        self.client("ec2").delete_network_acl(aws_retry=True, NetworkAclId=found["id"])

    def delete_vpcs(self, found):
        ec2 = self.client("ec2")
        flow_logs = self.ec2_list("describe_flow_logs", "FlowLogs",
                                  Filters=[{"Name": "resource-id", "Values": [found["id"]]}])
        if flow_logs:
            ec2.delete_flow_logs(aws_retry=True, FlowLogIds=[f["FlowLogId"] for f in flow_logs])
        ec2.delete_vpc(aws_retry=True, VpcId=found["id"])

    def delete_log_groups(self, found):
        try:
            self.client("logs").delete_log_group(aws_retry=True, logGroupName=found["id"])
        except is_boto3_error_code("ResourceNotFoundException"):
            pass

    def delete_iam_policies(self, found):
        iam, arn = self.client("iam"), found["id"]
        for kind, key, detach, param in (("PolicyRoles", "RoleName", iam.detach_role_policy, "RoleName"),
                                         ("PolicyUsers", "UserName", iam.detach_user_policy, "UserName"),
                                         ("PolicyGroups", "GroupName", iam.detach_group_policy, "GroupName")):
            for entity in paginate(iam, "list_entities_for_policy", kind, PolicyArn=arn):
                detach(aws_retry=True, PolicyArn=arn, **{param: entity[key]})
        for version in paginate(iam, "list_policy_versions", "Versions", PolicyArn=arn):
            if not version.get("IsDefaultVersion"):
                iam.delete_policy_version(aws_retry=True, PolicyArn=arn, VersionId=version["VersionId"])
        iam.delete_policy(aws_retry=True, PolicyArn=arn)

    def delete_instance_profiles(self, found):
        iam = self.client("iam")
        profile = iam.get_instance_profile(aws_retry=True, InstanceProfileName=found["id"])["InstanceProfile"]
        for role in profile.get("Roles") or []:
            iam.remove_role_from_instance_profile(aws_retry=True, InstanceProfileName=found["id"],
                                                  RoleName=role["RoleName"])
        iam.delete_instance_profile(aws_retry=True, InstanceProfileName=found["id"])

    def delete_oidc_providers(self, found):
        self.client("iam").delete_open_id_connect_provider(aws_retry=True, OpenIDConnectProviderArn=found["id"])

    def delete_iam_roles(self, found):
        current = fetch_role(self.client("iam"), found["id"], with_documents=False)
        if current is not None:
            delete_role(self.client("iam"), current)

    def delete_lambda_functions(self, found):
        try:
            self.client("lambda").delete_function(aws_retry=True, FunctionName=found["id"])
        except is_boto3_error_code("ResourceNotFoundException"):
            pass

    def delete_certificates(self, found):
        try:
            self.client("acm").delete_certificate(aws_retry=True, CertificateArn=found["id"])
        except is_boto3_error_code("ResourceNotFoundException"):
            pass

    def delete_secrets(self, found):
        window = self.module.params["secrets_recovery_window_days"]
        arguments = dict(ForceDeleteWithoutRecovery=True) if window == 0 else dict(RecoveryWindowInDays=window)
        try:
            self.client("secretsmanager").delete_secret(aws_retry=True, SecretId=found["id"], **arguments)
        except is_boto3_error_code("ResourceNotFoundException"):
            pass

    def delete_kms_keys(self, found):
        self.client("kms").schedule_key_deletion(aws_retry=True, KeyId=found["id"],
                                                 PendingWindowInDays=self.module.params["kms_deletion_window_days"])

    def run_phase(self, targets):
        """Delete ``targets`` concurrently, then wait for each type; errors are kept per resource."""
        if not targets:
            return []
        groups = [t for t in targets if t["type"] == "security_groups"]
        for index, error in self.revoke_references(groups).items():
            self.errors[(groups[index]["type"], groups[index]["id"])] = f"revoking its rules: {error}"
        failures = attempt_all(lambda r: getattr(self, f"delete_{r['type']}")(r), targets)
        done = []
        for index, found in enumerate(targets):
            if index in failures:
                self.errors[(found["type"], found["id"])] = failures[index]
            else:
                done.append(found)
        for resource_type in dict.fromkeys(r["type"] for r in done):
            waiter = getattr(self, f"wait_{resource_type}", None)
            members = [r for r in done if r["type"] == resource_type]
            if waiter is None:
                continue
            try:
                waiter(members)
            except Exception as e:  # pylint: disable=broad-except
                for found in members:
                    self.errors.setdefault((found["type"], found["id"]), f"deleted, but the wait failed: "
                                                                         f"{describe_error(e)}")
        return done

    # -- the run --------------------------------------------------------------------------------------------

    def keep(self, found):
        return lo.keep_reason(found, self.module.params["delete_snapshots"], self.kept_roles,
                              self.module.params["delete_claim_volumes"])

    def run(self):
        params = self.module.params
        if not 7 <= params["kms_deletion_window_days"] <= 30:
            self.module.fail_json(msg="kms_deletion_window_days: must be from 7 to 30 (KMS's limits)")
        if params["secrets_recovery_window_days"] != 0 and not 7 <= params["secrets_recovery_window_days"] <= 30:
            self.module.fail_json(msg="secrets_recovery_window_days: must be 0 (no recovery) or from 7 to 30 "
                                      "(Secrets Manager's limits)")
        if params["wait_timeout"] <= 0:
            self.module.fail_json(msg="wait_timeout: must be a positive number of seconds")
        found = self.list_all()
        kept = [lo.public(r, reason=reason) for r in found if (reason := self.keep(r))]
        planned = [r for r in found if not self.keep(r) and r["type"] != "other"]
        result = dict(found=[lo.public(r, marked_by=r["marked_by"]) for r in found], kept=kept)
        before = {}
        for r in planned:
            before.setdefault(r["type"], []).append(lo.label(r))
        dry = self.module.check_mode or params["state"] == "query"
        if dry:
            remaining = [lo.public(r, reason="not removed by eks_leftovers: delete it by hand")
                         for r in found if r["type"] == "other"] if params["state"] == "absent" else []
            remaining += self.listing_failures()
            self.module.exit_json(changed=bool(planned) and params["state"] == "absent",
                                  deleted=[lo.public(r) for r in planned], remaining=remaining,
                                  diff={"before": before, "after": {}}, **result)
        deleted = []
        first = True
        for phase in lo.PHASES:
            types = [t for t in phase if t in self.types]
            if not types:
                continue
            if first:
                targets = [r for r in planned if r["type"] in types]
            else:
                again = [t for t in types if t in lo.READ_AGAIN]
                fresh = self.list_types(again)
                targets = ([r for r in planned if r["type"] in types and r["type"] not in again]
                           + [r for t in again for r in fresh.get(t, []) if not self.keep(r)])
            first = False
            deleted.extend(self.run_phase(targets))
        after = self.list_all()
        remaining = []
        for r in after:
            if self.keep(r):
                continue
            reason = self.errors.get((r["type"], r["id"]))
            if reason is None:
                reason = ("not removed by eks_leftovers: delete it by hand" if r["type"] == "other"
                          else f"still there after the sweep{self.state_note(r)}")
            remaining.append(lo.public(r, reason=reason))
        remaining += self.listing_failures()
        remaining_ids = {(r["type"], r["id"]) for r in remaining}
        deleted = [r for r in deleted if (r["type"], r["id"]) not in remaining_ids]
        result.update(changed=bool(deleted), deleted=[lo.public(r) for r in deleted], remaining=remaining,
                      kept=[lo.public(r, reason=reason) for r in after if (reason := self.keep(r))],
                      diff={"before": before, "after": {r["type"]: [] for r in remaining}})
        for r in remaining:
            result["diff"]["after"][r["type"]].append(f"{r['type']} {r['id']}")
        if remaining and params["fail_on_remaining"]:
            self.module.fail_json(msg=f"{len(remaining)} resource(s) of {self.cluster} remain: " + "; ".join(
                f"{r['type']} {r['id']}{' (' + r['name'] + ')' if r.get('name') else ''}: {r['reason']}"
                for r in remaining), **result)
        self.module.exit_json(**result)

    def listing_failures(self):
        return [{"type": resource_type, "id": "*", "name": None, "reason": f"could not be listed, so not swept: {error}"}
                for resource_type, error in sorted(self.listing_errors.items())]

    @staticmethod
    def state_note(found):
        raw = found.get("raw") or {}
        state = raw.get("State") or raw.get("Status") or raw.get("status")
        if isinstance(state, dict):
            state = state.get("Name") or state.get("Code")
        return f" ({state})" if state else ""


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        state=dict(type="str", choices=["absent", "query"], required=True),
        resource_types=dict(type="list", elements="str", choices=list(lo.RESOURCE_TYPES)),
        log_group_names=dict(type="list", elements="str", default=[]),
        delete_snapshots=dict(type="bool", default=False),
        delete_claim_volumes=dict(type="bool", default=False),
        kms_deletion_window_days=dict(type="int", default=7),
        secrets_recovery_window_days=dict(type="int", default=7, no_log=False),
        fail_on_remaining=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1200),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, Sweep(module).run)


if __name__ == "__main__":
    main()
