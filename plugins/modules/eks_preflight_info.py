#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_preflight_info
short_description: Check that an AWS account and region can take an EKS platform deploy, before any change
version_added: 0.1.0
description:
  - Reads the account and region the way the deploy will use them and fails, before anything is created, on every
    problem it finds at once, each message naming the inventory variable or the service quota to change.
  - Credentials (STS C(GetCallerIdentity)); without any, the message names C(AWS_PROFILE), C(AWS_ACCESS_KEY_ID) and
    C(AWS_SECRET_ACCESS_KEY). A region the account has not enabled (an opt-in region) is named as such.
  - The availability zones of O(network) exist in the region and are C(available) (EC2 C(DescribeAvailabilityZones)).
  - O(kubernetes_version) is offered by EKS for new clusters (EKS C(DescribeClusterVersions); where that is denied or
    unknown, the cluster versions of the C(kube-proxy) add-on from C(DescribeAddonVersions)). A version in extended
    support gives a warning with its end date.
  - Every instance type of O(node_groups) is offered in every availability zone (EC2 C(DescribeInstanceTypeOfferings)
    by C(availability-zone), paginated).
  - Quota headroom for what the deploy would B(add) (a re-run of a built platform adds nothing) - VPCs per Region
    (C(L-F678F1CE)), EC2-VPC Elastic IPs (C(L-0263D0A3)), NAT gateways per Availability Zone (C(L-FE5A380F)) and
    Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances (C(L-1216C47A), vCPUs, the on-demand node groups
    at their max sizes). The limit is Service Quotas' applied value (C(GetServiceQuota)), else its AWS default
    (C(GetAWSDefaultServiceQuota)), else, when Service Quotas is denied or unreachable, the documented default (5 for
    each); the usage is what the account has in the region (VPCs, Elastic IPs, NAT gateways per zone, the vCPUs of
    running on-demand Standard instances other than the cluster's own nodes).
  - After the credentials, every call is made concurrently; nothing is changed, in check mode or not.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  cluster_name:
    description: Name of the EKS cluster; its own nodes are not counted as usage of the vCPU quota.
    type: str
    required: true
  kubernetes_version:
    description: Kubernetes minor version of the cluster, such as C("1.35"). Not checked when omitted.
    type: str
  network:
    description:
      - The network plan of the C(vpc) role (filter C(llmhub.eks.vpc_network_plan)) - C(vpc.name) and C(vpc.cidr) (how
        the VPC is found), C(azs), C(subnets) (C(name), C(az)) and C(nat_gateways) (C(name), C(subnet)).
      - Without it the availability zones and the VPC, Elastic IP and NAT gateway quotas are not checked.
    type: dict
  node_groups:
    description:
      - Node group definitions as in C(nodegroups_definitions) - C(name), C(instance_types), C(capacity_type) and
        C(scaling.max_size) are read, other keys ignored.
    type: list
    elements: dict
    default: []
  checks:
    description: The checks to make (C(credentials) always runs).
    type: list
    elements: str
    choices: [credentials, region, availability_zones, kubernetes_version, instance_types, quotas]
    default: [credentials, region, availability_zones, kubernetes_version, instance_types, quotas]
  variables:
    description:
      - The inventory variables the messages name for the C(region), C(kubernetes_version), C(availability_zones)
        and C(node_groups) inputs.
      - Defaults to the collection's C(llmhub_aws_region), C(eks_version), C(vpc_azs) and C(nodegroups_definitions).
    type: dict
    default: {}
notes:
  - Permissions - C(sts:GetCallerIdentity), C(ec2:DescribeAvailabilityZones), C(ec2:DescribeRegions),
    C(ec2:DescribeInstanceTypeOfferings), C(ec2:DescribeInstanceTypes), C(ec2:DescribeVpcs),
    C(ec2:DescribeAddresses), C(ec2:DescribeNatGateways), C(ec2:DescribeSubnets), C(ec2:DescribeInstances),
    C(eks:DescribeClusterVersions) (or C(eks:DescribeAddonVersions)), C(servicequotas:GetServiceQuota) and
    C(servicequotas:GetAWSDefaultServiceQuota) (optional, see the fallback above).
  - Other instance families (G, P, Inf, Trn, X, ...) count against their own vCPU quotas, and spot node groups against
    the spot quota; those groups are listed in RV(quotas) as not checked.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Check the account and region before the deploy
  llmhub.eks.eks_preflight_info:
    cluster_name: llm-analytics-hub-prod-eks
    kubernetes_version: "1.35"
    network: "{{ vpc_role_settings | llmhub.eks.vpc_network_plan }}"
    node_groups: "{{ nodegroups_definitions }}"
  register: preflight_environment

- name: Only the credentials and the Kubernetes version
  llmhub.eks.eks_preflight_info:
    cluster_name: llm-analytics-hub-prod-eks
    kubernetes_version: "1.34"
    checks: [credentials, kubernetes_version]
"""

RETURN = r"""
caller:
  description:
    - Who the credentials are, and the partition of their account (the shape of the lookup
      C(llmhub.eks.aws_caller_identity), which the iam role reuses instead of asking STS again).
  returned: always
  type: dict
  sample: {"account": "123456789012", "arn": "arn:aws:iam::123456789012:user/deployer", "user_id": "AIDAEXAMPLE",
           "partition": "aws"}
region:
  description: The region checked.
  returned: always
  type: str
  sample: us-east-1
availability_zones:
  description: The availability zones of the region, with their zone id and state.
  returned: when the availability_zones check ran
  type: list
  elements: dict
  sample: [{"name": "us-east-1a", "zone_id": "use1-az6", "state": "available"}]
kubernetes_version:
  description: The version asked for, its support status and the versions EKS offers (newest first).
  returned: when the kubernetes_version check ran
  type: dict
  sample: {"version": "1.35", "status": "STANDARD_SUPPORT", "end_of_standard_support": "2027-03-27",
           "end_of_extended_support": "2028-03-27", "source": "DescribeClusterVersions",
           "supported": ["1.35", "1.34", "1.33", "1.32"]}
instance_type_offerings:
  description: For each node group instance type, the availability zones of O(network) that offer it.
  returned: when the instance_types check ran
  type: dict
  sample: {"m5.xlarge": ["us-east-1a", "us-east-1b", "us-east-1c"]}
quotas:
  description:
    - One entry per quota (and per availability zone for NAT gateways) - codes, name, C(limit) and its C(source)
      (C(applied), C(AWS default) or C(documented default ...)), C(usage) in the account, C(need) (what the deploy
      would add) and C(ok).
  returned: when the quotas check ran
  type: list
  elements: dict
  sample: [{"service_code": "vpc", "quota_code": "L-F678F1CE", "name": "VPCs per Region", "limit": 5,
            "source": "applied", "usage": 1, "need": 1, "ok": true}]
problems:
  description: What stops the deploy, one message each (the task fails when there is any).
  returned: always
  type: list
  elements: str
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing library.

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils import preflight as pf
from ansible_collections.llmhub.eks.plugins.module_utils.common import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_concurrently
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module

CREDENTIAL_ERRORS = ("InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException",
                     "UnrecognizedClientException", "AuthFailure", "InvalidAccessKeyId", "AccessDenied")
# EKS answers these when DescribeClusterVersions cannot be used (denied, or an endpoint that lacks it).
VERSIONS_UNAVAILABLE = ("AccessDeniedException", "AccessDenied", "NotImplemented", "UnknownOperationException",
                        "InvalidRequestException")
LIVE_NAT_STATES = ["pending", "available"]
NO_CREDENTIALS = (
    "No AWS credentials found. Set AWS_PROFILE to a profile of ~/.aws/config or ~/.aws/credentials (aws configure "
    "[--profile NAME], or aws sso login --profile NAME), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (plus "
    "AWS_SESSION_TOKEN for temporary credentials), or run where an instance profile or task role provides them."
)


class Probe:
    """The outcome of one read: its value, or the error it raised (reported by the check that needs it)."""

    def __init__(self, name, call):
        self.name, self.call, self.value, self.error = name, call, None, None

    def run(self):
        try:
            self.value = self.call()
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.error = e
        return self


def error_text(error):
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        return f"{response['Error'].get('Code')}: {response['Error'].get('Message')}"
    return str(error)


def error_code(error):
    response = getattr(error, "response", None)
    return (response or {}).get("Error", {}).get("Code") if isinstance(response, dict) else None


def partition_region(region):
    if region.startswith("cn-"):
        return "cn-north-1"
    if region.startswith("us-gov-"):
        return "us-gov-west-1"
    return "us-east-1"


class Preflight:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.region = module.region
        self.checks = set(self.params["checks"]) | {"credentials"}
        self.variables = {**pf.DEFAULT_VARIABLES, **(self.params["variables"] or {})}
        self.network = self.params.get("network") or {}
        self.groups = self.params.get("node_groups") or []
        self.problems = []
        self.result = {"changed": False, "region": self.region, "problems": self.problems}

    def client(self, service):
        return retrying_client(self.module, service)

    def fail(self, message):
        self.module.fail_json(msg=message, **{**self.result, "problems": [message]})

    # -- credentials and region --------------------------------------------------------------------

    def caller(self):
        try:
            identity = self.client("sts").get_caller_identity(aws_retry=True)
        except (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError) as e:
            self.fail(f"{NO_CREDENTIALS} ({e})")
        except botocore.exceptions.EndpointConnectionError as e:
            self.fail(f"Cannot reach the AWS endpoint {e.kwargs.get('endpoint_url')} (region {self.region}): check "
                      "the endpoint (llmhub_aws_endpoint_url; is the emulator running?), the region "
                      f"({self.variables['region']}) and the network, not the credentials")
        except botocore.exceptions.ClientError as e:
            if error_code(e) not in CREDENTIAL_ERRORS:
                raise
            self.fail(self.refused_credentials(e))
        self.result["caller"] = {"account": identity["Account"], "arn": identity["Arn"], "user_id": identity["UserId"],
                                 "partition": identity["Arn"].split(":")[1]}

    def refused_credentials(self, error):
        """A region the account has not enabled refuses every credential; else the credentials are wrong."""
        home = partition_region(self.region)
        if home != self.region:
            try:
                regions = self.module.client("ec2", region=home).describe_regions(
                    AllRegions=True, RegionNames=[self.region])["Regions"]
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
                regions = []
            status = regions[0].get("OptInStatus") if regions else None
            if status == "not-opted-in":
                return (f"{self.variables['region']}: region {self.region} is not enabled for this account "
                        f"(OptInStatus not-opted-in), so AWS refuses every call there ({error_text(error)}). Enable "
                        "it (AWS console, Account, AWS Regions, or `aws account enable-region --region-name "
                        f"{self.region}`) or choose an enabled region")
        return (f"The AWS credentials were refused in {self.region} ({error_text(error)}): check AWS_PROFILE or "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN, which expires with temporary "
                "credentials)")

    # -- reads --------------------------------------------------------------------------------------

    def probes(self):
        ec2, eks, quotas = self.client("ec2"), self.client("eks"), self.client("service-quotas")
        azs = list(self.network.get("azs") or [])
        types = sorted({str(t) for g in self.groups for t in g.get("instance_types") or []})
        on_demand = sorted({str(t) for g in self.groups if (g.get("capacity_type") or "ON_DEMAND") == "ON_DEMAND"
                            for t in g.get("instance_types") or [] if pf.is_standard_family(t)})
        wanted = {}
        if self.checks & {"region", "availability_zones"}:
            wanted["zones"] = lambda: ec2.describe_availability_zones(aws_retry=True)["AvailabilityZones"]
        if "kubernetes_version" in self.checks and self.params.get("kubernetes_version"):
            wanted["versions"] = lambda: self.cluster_versions(eks)
        if "instance_types" in self.checks and types and azs:
            wanted["offerings"] = lambda: paginate(
                ec2, "describe_instance_type_offerings", "InstanceTypeOfferings", LocationType="availability-zone",
                Filters=[{"Name": "instance-type", "Values": types}, {"Name": "location", "Values": azs}])
        if "quotas" in self.checks:
            for key, quota in pf.QUOTAS.items():
                wanted[f"quota:{key}"] = lambda quota=quota: self.quota(quotas, quota)
            if self.network:
                wanted["vpcs"] = lambda: paginate(ec2, "describe_vpcs", "Vpcs")
                wanted["addresses"] = lambda: ec2.describe_addresses(aws_retry=True)["Addresses"]
                wanted["nat_gateways"] = lambda: paginate(ec2, "describe_nat_gateways", "NatGateways",
                                                          Filter=[{"Name": "state", "Values": LIVE_NAT_STATES}])
            if on_demand:
                wanted["vcpus"] = lambda: {
                    t["InstanceType"]: t["VCpuInfo"]["DefaultVCpus"]
                    for t in paginate(ec2, "describe_instance_types", "InstanceTypes", InstanceTypes=on_demand)}
                wanted["instances"] = lambda: [
                    i for r in paginate(ec2, "describe_instances", "Reservations",
                                        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}])
                    for i in r["Instances"]]
        probes = run_concurrently(lambda item: Probe(*item).run(), list(wanted.items()), "read the account",
                                  label=lambda item: item[0])
        return {p.name: p for p in probes}

    def cluster_versions(self, eks):
        """The versions EKS offers for new clusters, newest first, from DescribeClusterVersions or the add-ons."""
        try:
            rows = paginate(eks, "describe_cluster_versions", "clusterVersions", clusterType="eks")
            return {"source": "DescribeClusterVersions", "rows": rows}
        except is_boto3_error_code(list(VERSIONS_UNAVAILABLE)):
            addons = paginate(eks, "describe_addon_versions", "addons", addonName="kube-proxy")
            versions = {c["clusterVersion"] for a in addons for v in a.get("addonVersions", [])
                        for c in v.get("compatibilities", [])}
            return {"source": "DescribeAddonVersions (kube-proxy)", "rows": [{"clusterVersion": v} for v in versions]}

    def quota(self, client, quota):
        """The limit of a quota and where it came from: applied, AWS default, or the documented default."""
        keys = {"ServiceCode": quota["service_code"], "QuotaCode": quota["quota_code"]}
        try:
            try:
                return float(client.get_service_quota(aws_retry=True, **keys)["Quota"]["Value"]), "applied"
            except is_boto3_error_code("NoSuchResourceException"):
                return float(client.get_aws_default_service_quota(aws_retry=True, **keys)["Quota"]["Value"]), \
                    "AWS default"
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            return float(quota["default"]), f"documented default; Service Quotas answered {error_text(e)}"

    # -- checks -------------------------------------------------------------------------------------

    def value(self, probes, name, what):
        probe = probes.get(name)
        if probe is None:
            return None
        if probe.error is not None:
            self.problems.append(f"could not {what}: {error_text(probe.error)} (the deploy needs this permission "
                                 "too)")
            return None
        return probe.value

    def check_zones(self, probes):
        zones = self.value(probes, "zones", "list the availability zones (ec2:DescribeAvailabilityZones)")
        if zones is None:
            return
        self.result["availability_zones"] = [{"name": z["ZoneName"], "zone_id": z.get("ZoneId"),
                                              "state": z.get("State")} for z in zones]
        if "availability_zones" not in self.checks:
            return
        states = {z["ZoneName"]: z.get("State") for z in zones}
        available = sorted(name for name, state in states.items() if state == "available")
        variable = self.variables["availability_zones"]
        for az in self.network.get("azs") or []:
            if az not in states:
                self.problems.append(f"{variable}: {az} is not an availability zone of {self.region} for this "
                                     f"account; the available ones are {available}")
            elif states[az] != "available":
                self.problems.append(f"{variable}: {az} is {states[az]}, not available; the available ones are "
                                     f"{available}")

    def check_version(self, probes):
        found = self.value(probes, "versions", "list the Kubernetes versions EKS offers (eks:DescribeClusterVersions)")
        if found is None:
            return
        version = str(self.params["kubernetes_version"])
        rows = sorted(found["rows"], key=lambda r: pf.version_key(r["clusterVersion"]), reverse=True)
        offered = [r for r in rows if r.get("versionStatus", "STANDARD_SUPPORT") != "UNSUPPORTED"]
        supported = [r["clusterVersion"] for r in offered]
        row = next((r for r in rows if r["clusterVersion"] == version), None)
        info = {"version": version, "source": found["source"], "supported": supported,
                "status": (row or {}).get("versionStatus") or ("UNKNOWN" if row else "UNSUPPORTED")}
        for key, field in (("end_of_standard_support", "endOfStandardSupportDate"),
                           ("end_of_extended_support", "endOfExtendedSupportDate")):
            if (row or {}).get(field):
                info[key] = str(row[field])[:10]
        self.result["kubernetes_version"] = info
        if version not in supported:
            listed = ", ".join(f"{r['clusterVersion']} ({_status_text(r)})" for r in offered)
            ended = f" (its extended support ended {info['end_of_extended_support']})" \
                if info.get("end_of_extended_support") else ""
            self.problems.append(f"{self.variables['kubernetes_version']}: EKS does not offer Kubernetes {version} in "
                                 f"{self.region}{ended}; the supported versions are {listed}: set "
                                 f"{self.variables['kubernetes_version']} to one of them")
        elif info["status"] == "EXTENDED_SUPPORT":
            self.module.warn(f"{self.variables['kubernetes_version']}: Kubernetes {version} is in EKS extended "
                             f"support until {info.get('end_of_extended_support', '?')}: the control plane costs "
                             "$0.60 an hour instead of $0.10; plan an upgrade")

    def check_instance_types(self, probes):
        offerings = self.value(probes, "offerings", "list instance type offerings (ec2:DescribeInstanceTypeOfferings)")
        if offerings is None:
            return
        offered = {(o["InstanceType"], o["Location"]) for o in offerings}
        zones = {z["name"] for z in self.result.get("availability_zones") or []}
        # a zone that does not exist is reported once, by the availability zone check
        azs = [az for az in self.network.get("azs") or [] if not zones or az in zones]
        types = sorted({str(t) for g in self.groups for t in g.get("instance_types") or []})
        self.result["instance_type_offerings"] = {t: [az for az in azs if (t, az) in offered] for t in types}
        self.problems.extend(pf.offering_gaps(self.groups, azs, offered, self.variables["node_groups"]))

    def check_quotas(self, probes):
        quotas = {}
        for key, quota in pf.QUOTAS.items():
            limit, source = probes[f"quota:{key}"].value
            quotas[key] = {**{k: quota[k] for k in ("service_code", "quota_code", "name")},
                           "limit": limit, "source": source}
        entries = self.result["quotas"] = []

        def record(key, need, usage, scope="", remedy="", **extra):
            quota = quotas[key]
            problem = pf.quota_problem(quota, self.region, need, usage, scope, remedy)
            entries.append({**quota, "usage": usage, "need": need, "ok": problem is None,
                            **({"availability_zone": scope} if scope else {}), **extra})
            if problem:
                self.problems.append(problem)

        if self.network:
            self.network_quotas(probes, record)
        self.vcpu_quota(probes, record)

    def network_quotas(self, probes, record):
        vpcs = self.value(probes, "vpcs", "list the VPCs (ec2:DescribeVpcs)")
        addresses = self.value(probes, "addresses", "list the Elastic IPs (ec2:DescribeAddresses)")
        gateways = self.value(probes, "nat_gateways", "list the NAT gateways (ec2:DescribeNatGateways)")
        if vpcs is None or addresses is None or gateways is None:
            return
        plan_vpc = self.network.get("vpc") or {}
        ours = [v for v in vpcs if v.get("CidrBlock") == plan_vpc.get("cidr")
                and _tags(v).get("Name") == plan_vpc.get("name")]
        record("vpcs", 0 if ours else 1, len(vpcs),
               remedy="Delete VPCs no longer used (a default VPC counts too) or use another region. ")
        our_ids = {v["VpcId"] for v in ours}
        planned = self.network.get("nat_gateways") or []
        live = {_tags(g).get("Name") for g in gateways if g.get("VpcId") in our_ids}
        missing = [n for n in planned if n["name"] not in live]
        reusable = {_tags(a).get("llmhub.io/nat-gateway") for a in addresses if not a.get("AssociationId")}
        record("elastic_ips", len([n for n in missing if n["name"] not in reusable]), len(addresses),
               remedy="Release unassociated Elastic IPs, or set vpc_single_nat_gateway: true (one NAT gateway). ")
        subnet_az = {s["name"]: s.get("az") for s in self.network.get("subnets") or []}
        need_by_az = {}
        for nat in missing:
            az = subnet_az.get(nat.get("subnet"))
            need_by_az[az] = need_by_az.get(az, 0) + 1
        usage_by_az = self.nat_usage_by_az(gateways) if need_by_az else {}
        for az in sorted(a for a in need_by_az if a):
            record("nat_gateways_per_az", need_by_az[az], usage_by_az.get(az, 0), scope=az,
                   remedy="Delete unused NAT gateways in that zone or set vpc_single_nat_gateway: true. ")

    def nat_usage_by_az(self, gateways):
        subnet_ids = sorted({g["SubnetId"] for g in gateways})
        if not subnet_ids:
            return {}
        subnets = paginate(self.client("ec2"), "describe_subnets", "Subnets", SubnetIds=subnet_ids)
        az_of = {s["SubnetId"]: s["AvailabilityZone"] for s in subnets}
        usage = {}
        for gateway in gateways:
            az = az_of.get(gateway["SubnetId"])
            usage[az] = usage.get(az, 0) + 1
        return usage

    def vcpu_quota(self, probes, record):
        if "vcpus" not in probes:
            unchecked = pf.on_demand_vcpus(self.groups, {})[2]
            if unchecked:
                record("on_demand_standard_vcpus", 0, 0, unchecked_groups=unchecked)
            return
        vcpus = probes["vcpus"].value if probes["vcpus"].error is None else {}
        instances = self.value(probes, "instances", "list the running instances (ec2:DescribeInstances)")
        if instances is None:
            return
        total, counted, unchecked = pf.on_demand_vcpus(self.groups, vcpus)
        usage = own = 0
        cluster = self.params["cluster_name"]
        for instance in instances:
            if instance.get("InstanceLifecycle") == "spot" or not pf.is_standard_family(instance["InstanceType"]):
                continue
            cpu = instance.get("CpuOptions") or {}
            count = int(cpu.get("CoreCount", 1)) * int(cpu.get("ThreadsPerCore", 1))
            usage += count
            if _tags(instance).get("eks:cluster-name") == cluster and _tags(instance).get("eks:nodegroup-name"):
                own += count
        sizes = ", ".join("{name}: {max_size} x {instance_type}".format(**c) for c in counted)
        record("on_demand_standard_vcpus", max(0, total - own), usage,
               remedy=(f"The on-demand node groups reach {total} vCPUs at their max sizes ({sizes}); "
                       f"lower scaling.max_size in {self.variables['node_groups']} or stop unused instances. "),
               node_groups=counted, unchecked_groups=unchecked)

    def run(self):
        self.caller()
        probes = self.probes()
        if self.checks & {"region", "availability_zones"}:
            self.check_zones(probes)
        if "versions" in probes:
            self.check_version(probes)
        if "offerings" in probes:
            self.check_instance_types(probes)
        if "quotas" in self.checks:
            self.check_quotas(probes)
        if self.problems:
            account = self.result.get("caller", {}).get("account")
            listed = "\n".join(f"{n}. {p}" for n, p in enumerate(self.problems, 1))
            self.module.fail_json(msg=f"Preflight: {len(self.problems)} problem(s) in account {account}, region "
                                      f"{self.region}, before any change:\n{listed}", **self.result)
        self.module.exit_json(**self.result)


def _tags(resource):
    return {t["Key"]: t["Value"] for t in resource.get("Tags") or []}


def _status_text(row):
    status = row.get("versionStatus")
    if status == "STANDARD_SUPPORT":
        return f"standard support until {str(row.get('endOfStandardSupportDate', '?'))[:10]}"
    if status == "EXTENDED_SUPPORT":
        return f"extended support until {str(row.get('endOfExtendedSupportDate', '?'))[:10]}"
    return "offered"


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        kubernetes_version=dict(type="str"),
        network=dict(type="dict"),
        node_groups=dict(type="list", elements="dict", default=[]),
        checks=dict(type="list", elements="str", choices=list(pf.CHECKS), default=list(pf.CHECKS)),
        variables=dict(type="dict", default={}),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, Preflight(module).run)


if __name__ == "__main__":
    main()
