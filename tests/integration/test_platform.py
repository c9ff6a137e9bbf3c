"""The whole site.yml against the emulator, its AWS side asserted through boto3 (the Kubernetes side: test_kubernetes_platform.py).

One deploy for every read-only test of the AWS layers (iam, vpc, eks, nodegroups), shared with the other modules that
read it; the day-2 tests that change the platform (marked mutates_platform) run after all of theirs."""

from __future__ import annotations

import json

import pytest

from .conftest import CLUSTER, mutating_calls
from .test_preflight_environment import ENVIRONMENT_TASK as PREFLIGHT_ENVIRONMENT_TASK

pytestmark = pytest.mark.integration
# Reads the platform the other sharing modules read (tests/support/shared_platform.py).
SHARES_PLATFORM = True

LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
ISSUER_KEY = "{issuer}"


@pytest.fixture(scope="module")
def cluster(built_platform, boto):
    return boto("eks").describe_cluster(name=CLUSTER)["cluster"]


def tag_map(tags):
    return {t["Key"]: t["Value"] for t in tags}


# What kubernetes.core's helm (6.x) says on every run that finds a release, whatever the caller does: it deprecates
# its `status.values` return value (nothing here reads it; ansible_deprecation_warnings cannot silence a module's
# deprecation per task: the controller prints it), and without helm's diff plugin (not on PyPI or npm, so not
# installable here) it advises the plugin. README.md, "Troubleshooting".
HELM_STATUS_VALUES = ("[DEPRECATION WARNING]: The 'status.values' return value is deprecated and will be removed in "
                      "version 8.0.0. Use 'status.release_values' instead. This feature will be removed from "
                      "collection 'kubernetes.core' version 8.0.0.")
HELM_DIFF_ADVICE = ("[WARNING]: The default idempotency check can fail to report changes in certain cases. "
                    "Install helm diff >= 3.4.1 for better results.")
DEPRECATIONS_CAN_BE_DISABLED = ("[WARNING]: Deprecation warnings can be disabled by setting "
                                "`deprecation_warnings=False` in ansible.cfg.")


def test_the_deploy_prints_no_warning_or_deprecation(built_platform):
    """ansible-core prints warnings and deprecations on stderr (e.g. "Passing warnings to exit_json"); the JSON
    callback also keeps them in each task's result: none but kubernetes.core helm's deprecation."""
    noise = [line for line in built_platform.stderr.splitlines() if "WARNING" in line or "DEPRECATION" in line]
    assert noise == []
    recorded = [(task, kind, str(message)) for task, result in built_platform.task_results().items()
                for kind in ("warnings", "deprecations") for message in result.get(kind) or []]
    assert [r for r in recorded if not (" release " in r[0] and r[1] == "deprecations"
                                        and "'status.values' return value" in r[2])] == []


# --- iam ---------------------------------------------------------------------------------

def test_cluster_and_node_roles_with_their_policies(built_platform, boto):
    iam = boto("iam")
    attached = {p["PolicyName"] for p in
                iam.list_attached_role_policies(RoleName=f"{CLUSTER}-cluster-role")["AttachedPolicies"]}
    assert attached == {"AmazonEKSClusterPolicy", "AmazonEKSVPCResourceController"}
    assert iam.list_role_policies(RoleName=f"{CLUSTER}-cluster-role")["PolicyNames"] == ["kms-secrets-encryption"]
    attached = {p["PolicyName"] for p in
                iam.list_attached_role_policies(RoleName=f"{CLUSTER}-node-role")["AttachedPolicies"]}
    assert attached == {"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly",
                        "AmazonSSMManagedInstanceCore"}
    assert sorted(iam.list_role_policies(RoleName=f"{CLUSTER}-node-role")["PolicyNames"]) == [
        "cloudwatch-agent", "ebs-volumes"]
    profiles = iam.list_instance_profiles_for_role(RoleName=f"{CLUSTER}-node-role")["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in profiles] == [f"{CLUSTER}-node-role"]


def test_kms_key_rotation_alias_and_policy(built_platform, boto, cluster):
    kms = boto("kms")
    key = kms.describe_key(KeyId=f"alias/{CLUSTER}")["KeyMetadata"]
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    role_arn = boto("iam").get_role(RoleName=f"{CLUSTER}-cluster-role")["Role"]["Arn"]
    users = {s["Sid"]: s["Principal"]["AWS"] for s in policy["Statement"]}
    assert users["ClusterRoleUsesTheKey"] == role_arn
    assert cluster["encryptionConfig"] == [{"resources": ["secrets"], "provider": {"keyArn": key["Arn"]}}]


# --- eks ---------------------------------------------------------------------------------

def test_cluster_version_network_endpoint_and_logging(cluster, boto):
    assert cluster["version"] == "1.35"
    assert cluster["status"] == "ACTIVE"
    vpc = cluster["resourcesVpcConfig"]
    subnets = boto("ec2").describe_subnets(SubnetIds=vpc["subnetIds"])["Subnets"]
    assert sorted(tag_map(s["Tags"])["Name"] for s in subnets) == [
        f"{CLUSTER}-private-us-east-1{az}" for az in "abc"]
    groups = boto("ec2").describe_security_groups(GroupIds=vpc["securityGroupIds"])["SecurityGroups"]
    assert [g["GroupName"] for g in groups] == [f"{CLUSTER}-cluster"]
    assert (vpc["endpointPrivateAccess"], vpc["endpointPublicAccess"], vpc["publicAccessCidrs"]) == (
        True, True, ["198.51.100.0/24", "203.0.113.0/24"])
    enabled = [t for setup in cluster["logging"]["clusterLogging"] if setup["enabled"] for t in setup["types"]]
    assert sorted(enabled) == sorted(LOG_TYPES)
    assert cluster["accessConfig"]["authenticationMode"] == "API_AND_CONFIG_MAP"
    role = boto("iam").get_role(RoleName=f"{CLUSTER}-cluster-role")["Role"]
    assert cluster["roleArn"] == role["Arn"]


def test_control_plane_log_group_keeps_30_days(built_platform, boto):
    groups = boto("logs").describe_log_groups(logGroupNamePrefix=f"/aws/eks/{CLUSTER}/cluster")["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in groups] == [(f"/aws/eks/{CLUSTER}/cluster", 30)]


def test_oidc_provider_is_the_cluster_issuer(cluster, boto):
    iam = boto("iam")
    issuer = cluster["identity"]["oidc"]["issuer"]
    providers = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    urls = {arn: iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn) for arn in providers}
    matching = [arn for arn, p in urls.items() if "https://" + p["Url"].removeprefix("https://") == issuer]
    assert len(matching) == 1
    assert urls[matching[0]]["ClientIDList"] == ["sts.amazonaws.com"]


@pytest.mark.parametrize("role, service_account, policies", [
    ("ebs-csi-driver", "kube-system:ebs-csi-controller-sa",
     {"managed": ["AmazonEBSCSIDriverPolicy"], "inline": ["cluster-kms-key"]}),
    ("cluster-autoscaler", "kube-system:cluster-autoscaler", {"managed": [], "inline": ["cluster-autoscaler"]}),
    ("aws-load-balancer-controller", "kube-system:aws-load-balancer-controller",
     {"managed": [], "inline": ["aws-load-balancer-controller"]}),
    ("cloudwatch-observability", "amazon-cloudwatch:cloudwatch-agent",
     {"managed": ["CloudWatchAgentServerPolicy", "AWSXrayWriteOnlyAccess"], "inline": []}),
])
def test_irsa_role_trust_and_policies(cluster, boto, role, service_account, policies):
    iam = boto("iam")
    name = f"{CLUSTER}-{role}"
    trust = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    issuer = cluster["identity"]["oidc"]["issuer"].removeprefix("https://")
    account = boto("sts").get_caller_identity()["Account"]
    assert trust["Statement"] == [{
        "Effect": "Allow",
        "Principal": {"Federated": f"arn:aws:iam::{account}:oidc-provider/{issuer}"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{issuer}:sub": f"system:serviceaccount:{service_account}",
                                       f"{issuer}:aud": "sts.amazonaws.com"}},
    }]
    attached = [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]]
    assert sorted(attached) == sorted(policies["managed"])
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == policies["inline"]


def test_addons_active_with_ebs_csi_service_account_role(cluster, boto):
    eks = boto("eks")
    addons = {name: eks.describe_addon(clusterName=CLUSTER, addonName=name)["addon"]
              for name in eks.list_addons(clusterName=CLUSTER)["addons"]}
    assert sorted(addons) == ["amazon-cloudwatch-observability", "aws-ebs-csi-driver", "coredns", "kube-proxy",
                              "metrics-server", "vpc-cni"]
    assert {a["status"] for a in addons.values()} == {"ACTIVE"}
    ebs_role = boto("iam").get_role(RoleName=f"{CLUSTER}-ebs-csi-driver")["Role"]["Arn"]
    assert addons["aws-ebs-csi-driver"]["serviceAccountRoleArn"] == ebs_role
    cni = json.loads(addons["vpc-cni"]["configurationValues"])
    assert cni["env"]["ENABLE_PREFIX_DELEGATION"] == "true"
    assert cni["enableNetworkPolicy"] == "true"  # the apps role's network policies are enforced


def test_access_entries_keep_the_deployer_admin_and_node_role(cluster, boto):
    eks = boto("eks")
    entries = eks.list_access_entries(clusterName=CLUSTER)["accessEntries"]
    node_role = boto("iam").get_role(RoleName=f"{CLUSTER}-node-role")["Role"]["Arn"]
    assert node_role in entries
    caller = boto("sts").get_caller_identity()["Arn"]
    assert caller in entries
    policies = eks.list_associated_access_policies(clusterName=CLUSTER, principalArn=caller)["associatedAccessPolicies"]
    assert [p["policyArn"].rsplit("/", 1)[1] for p in policies] == ["AmazonEKSClusterAdminPolicy"]


# --- nodegroups -------------------------------------------------------------------------------

GROUPS = {
    "system": {"types": ["m5.xlarge"], "capacity": "ON_DEMAND", "scaling": (2, 3, 4), "disk": (100, 3000, None),
               "labels": {"role": "system"}, "taints": []},
    "application": {"types": ["m5.2xlarge", "m5a.2xlarge", "m5n.2xlarge"], "capacity": "SPOT",
                    "scaling": (3, 5, 10), "disk": (200, 3000, None), "labels": {"role": "application"}, "taints": []},
    "database": {"types": ["r5.2xlarge"], "capacity": "ON_DEMAND", "scaling": (3, 4, 6), "disk": (500, 3000, 125),
                 "labels": {"role": "database"},
                 "taints": [{"key": "workload", "value": "database", "effect": "NO_SCHEDULE"}]},
}


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_node_group_fields_and_launch_template(built_platform, boto, group):
    expected = GROUPS[group]
    eks, ec2 = boto("eks"), boto("ec2")
    nodegroup = eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName=group)["nodegroup"]
    assert nodegroup["status"] == "ACTIVE"
    assert nodegroup["instanceTypes"] == expected["types"]
    assert nodegroup["capacityType"] == expected["capacity"]
    scaling = nodegroup["scalingConfig"]
    assert (scaling["minSize"], scaling["desiredSize"], scaling["maxSize"]) == expected["scaling"]
    assert nodegroup["labels"] == expected["labels"]
    assert nodegroup.get("taints", []) == expected["taints"]
    assert nodegroup["updateConfig"] == {"maxUnavailable": 1}
    assert nodegroup["tags"]["k8s.io/cluster-autoscaler/enabled"] == "true"
    assert nodegroup["tags"][f"k8s.io/cluster-autoscaler/{CLUSTER}"] == "owned"
    assert nodegroup["nodeRole"].endswith(f":role/{CLUSTER}-node-role")
    subnets = ec2.describe_subnets(SubnetIds=nodegroup["subnets"])["Subnets"]
    assert {tag_map(s["Tags"])["llmhub.io/tier"] for s in subnets} == {"private"}
    template_ref = nodegroup["launchTemplate"]
    assert template_ref["name"] == f"{CLUSTER}-{group}"
    data = ec2.describe_launch_template_versions(LaunchTemplateId=template_ref["id"],
                                                 Versions=[template_ref["version"]])[
        "LaunchTemplateVersions"][0]["LaunchTemplateData"]
    ebs = data["BlockDeviceMappings"][0]["Ebs"]
    size, iops, throughput = expected["disk"]
    assert (ebs["VolumeSize"], ebs["VolumeType"], ebs["Iops"], ebs["Encrypted"]) == (size, "gp3", iops, True)
    assert ebs.get("Throughput") == throughput
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
    assert data["EbsOptimized"] is True and data["Monitoring"] == {"Enabled": True}
    node_group_sg = ec2.describe_security_groups(GroupIds=data["SecurityGroupIds"])["SecurityGroups"]
    assert [g["GroupName"] for g in node_group_sg] == [f"{CLUSTER}-node"]
    propagated = {spec["ResourceType"]: tag_map(spec["Tags"]) for spec in data["TagSpecifications"]}
    assert set(propagated) == {"instance", "volume", "network-interface"}
    for tags in propagated.values():
        assert tags["llmhub.io/cluster"] == CLUSTER and tags["llmhub.io/nodegroup"] == group


# --- vpc ----------------------------------------------------------------------------------

TIERS = {"private": [f"10.0.{i}.0/20" for i in (0, 16, 32)], "public": [f"10.0.{i}.0/24" for i in (48, 49, 50)],
         "intra": [f"10.0.{i}.0/24" for i in (52, 53, 54)]}
AZS = ["us-east-1a", "us-east-1b", "us-east-1c"]
INTERFACE_SERVICES = ["ecr.api", "ecr.dkr", "ec2", "logs", "sts", "elasticloadbalancing", "autoscaling"]


def tags(resource):
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


@pytest.fixture(scope="module")
def network(built_platform, boto):
    """Everything the run built, read back through boto3."""
    ec2 = boto("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{CLUSTER}-vpc"]}])["Vpcs"]
    assert len(vpcs) == 1
    vpc_id = vpcs[0]["VpcId"]
    in_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    subnets = {tags(s)["Name"]: s for s in ec2.describe_subnets(Filters=in_vpc)["Subnets"]}
    groups = {g["GroupName"]: g for g in ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"]}
    return {
        "vpc": vpcs[0],
        "subnets": subnets,
        "subnet_names": {s["SubnetId"]: name for name, s in subnets.items()},
        "route_tables": ec2.describe_route_tables(Filters=in_vpc)["RouteTables"],
        "nat_gateways": [n for n in ec2.describe_nat_gateways(Filter=in_vpc)["NatGateways"] if n["State"] != "deleted"],
        "igws": ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])[
            "InternetGateways"],
        "endpoints": ec2.describe_vpc_endpoints(Filters=in_vpc)["VpcEndpoints"],
        "groups": groups,
        "group_names": {g["GroupId"]: name for name, g in groups.items()},
        "flow_logs": ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"],
    }


def test_vpc_has_cidr_and_dns(network, boto):
    vpc = network["vpc"]
    assert vpc["CidrBlock"] == "10.0.0.0/16"
    ec2 = boto("ec2")
    for attribute, key in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
        assert ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute=attribute)[key]["Value"] is True
    assert tags(vpc)["llmhub.io/cluster"] == CLUSTER


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_subnets_cidr_az_and_kubernetes_tags(network, tier):
    for az, cidr in zip(AZS, TIERS[tier]):
        subnet = network["subnets"][f"{CLUSTER}-{tier}-{az}"]
        subnet_tags = tags(subnet)
        assert (subnet["CidrBlock"], subnet["AvailabilityZone"]) == (cidr, az)
        assert subnet_tags[f"kubernetes.io/cluster/{CLUSTER}"] == "shared"
        assert subnet_tags["llmhub.io/tier"] == tier
        assert subnet_tags.get("kubernetes.io/role/elb") == ("1" if tier == "public" else None)
        assert subnet_tags.get("kubernetes.io/role/internal-elb") == ("1" if tier == "private" else None)
        assert subnet["MapPublicIpOnLaunch"] is False
    assert len(network["subnets"]) == 9


def test_one_nat_gateway_per_az_in_public_subnets(network, boto):
    nats = network["nat_gateways"]
    assert len(nats) == 3
    assert sorted(network["subnet_names"][n["SubnetId"]] for n in nats) == [f"{CLUSTER}-public-{az}" for az in AZS]
    assert all(n["State"] == "available" for n in nats)
    addresses = boto("ec2").describe_addresses()["Addresses"]
    assert len(addresses) == 3
    assert {a["AllocationId"] for a in addresses} == {n["NatGatewayAddresses"][0]["AllocationId"] for n in nats}


def _default_route(table):
    routes = [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
    return routes[0] if routes else None


def test_routes_per_tier(network):
    nat_by_az = {network["subnet_names"][n["SubnetId"]].rsplit("-", 1)[0][-2:]: n for n in network["nat_gateways"]}
    nat_of_subnet = {network["subnet_names"][n["SubnetId"]]: n["NatGatewayId"] for n in network["nat_gateways"]}
    assert nat_by_az
    igw_id = network["igws"][0]["InternetGatewayId"]
    tables = {tags(t).get("Name"): t for t in network["route_tables"] if tags(t).get("Name")}
    for tier in TIERS:
        for az in AZS:
            table = tables[f"{CLUSTER}-{tier}-{az}"]
            associated = [network["subnet_names"][a["SubnetId"]] for a in table["Associations"] if a.get("SubnetId")]
            assert associated == [f"{CLUSTER}-{tier}-{az}"]
            route = _default_route(table)
            if tier == "public":
                assert route["GatewayId"] == igw_id
            elif tier == "private":
                assert route["NatGatewayId"] == nat_of_subnet[f"{CLUSTER}-public-{az}"]
            else:
                assert route is None
            local = [r for r in table["Routes"] if r.get("GatewayId") == "local"]
            assert local and local[0]["DestinationCidrBlock"] == "10.0.0.0/16"


def test_eight_endpoints_with_types_and_security_group(network):
    endpoints = {e["ServiceName"].rsplit("us-east-1.", 1)[1]: e for e in network["endpoints"]}
    assert sorted(endpoints) == sorted(["s3", *INTERFACE_SERVICES])
    s3 = endpoints["s3"]
    assert s3["VpcEndpointType"] == "Gateway"
    table_names = {t["RouteTableId"]: tags(t).get("Name") for t in network["route_tables"]}
    assert sorted(table_names[t] for t in s3["RouteTableIds"]) == sorted(
        f"{CLUSTER}-{tier}-{az}" for tier in ("private", "intra") for az in AZS)
    endpoint_group = network["groups"][f"{CLUSTER}-vpc-endpoints"]["GroupId"]
    for service in INTERFACE_SERVICES:
        endpoint = endpoints[service]
        assert endpoint["VpcEndpointType"] == "Interface"
        assert endpoint["PrivateDnsEnabled"] is True
        assert [g["GroupId"] for g in endpoint["Groups"]] == [endpoint_group]
        assert sorted(network["subnet_names"][s] for s in endpoint["SubnetIds"]) == [
            f"{CLUSTER}-private-{az}" for az in AZS]
        assert endpoint["State"] == "available"


def test_flow_logs_to_cloudwatch_with_14_day_retention(network, boto):
    assert len(network["flow_logs"]) == 1
    flow_log = network["flow_logs"][0]
    group = f"/aws/vpc/{CLUSTER}/flow-logs"
    assert flow_log["LogGroupName"] == group
    assert flow_log["TrafficType"] == "ALL"
    assert flow_log["LogDestinationType"] == "cloud-watch-logs"
    role = boto("iam").get_role(RoleName=f"{CLUSTER}-vpc-flow-logs")["Role"]
    assert flow_log["DeliverLogsPermissionArn"] == role["Arn"]
    principals = [s["Principal"]["Service"] for s in role["AssumeRolePolicyDocument"]["Statement"]]
    assert principals == ["vpc-flow-logs.amazonaws.com"]
    groups = boto("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in groups] == [(group, 14)]


def _rules(group, names):
    """A security group's ingress rules as comparable tuples."""
    found = set()
    for permission in group["IpPermissions"]:
        ports = (permission.get("FromPort"), permission.get("ToPort"))
        if permission["IpProtocol"] == "-1":
            ports = ("all", "all")
        for ip_range in permission.get("IpRanges", []):
            found.add((permission["IpProtocol"], *ports, ip_range["CidrIp"]))
        for pair in permission.get("UserIdGroupPairs", []):
            found.add((permission["IpProtocol"], *ports, names[pair["GroupId"]]))
    return found


def test_every_security_group_rule(network):
    names = network["group_names"]
    groups = network["groups"]
    c = CLUSTER
    expected = {
        f"{c}-cluster": {("tcp", 443, 443, "10.0.0.0/16"), ("tcp", 443, 443, f"{c}-node")},
        f"{c}-node": {("-1", "all", "all", f"{c}-node"), ("tcp", 443, 443, f"{c}-cluster"),
                      ("tcp", 10250, 10250, f"{c}-cluster"), ("tcp", 1025, 65535, f"{c}-cluster"),
                      ("-1", "all", "all", f"{c}-alb")},
        f"{c}-vpc-endpoints": {("tcp", 443, 443, "10.0.0.0/16")},
        f"{c}-database": {("tcp", 5432, 5432, f"{c}-node"), ("tcp", 8086, 8086, f"{c}-node"),
                          ("tcp", 6379, 6379, f"{c}-node")},
        f"{c}-alb": {("tcp", 80, 80, "0.0.0.0/0"), ("tcp", 443, 443, "0.0.0.0/0")},
    }
    for name, rules in expected.items():
        assert _rules(groups[name], names) == rules, name
        egress = groups[name]["IpPermissionsEgress"]
        assert [(e["IpProtocol"], [r["CidrIp"] for r in e["IpRanges"]]) for e in egress] == [("-1", ["0.0.0.0/0"])]


def test_summary_lists_what_was_built(built_platform, network):
    # also handed to the next node of an AWX workflow (set_stats), per cluster
    handed = built_platform.report["global_custom_stats"]["llmhub_site_summaries"]
    assert handed == {CLUSTER: built_platform.task_results()["Show what was built"]["msg"]}
    summary = built_platform.task_results()["Show what was built"]["msg"]["network"]
    assert summary["vpc"] == f"{network['vpc']['VpcId']} 10.0.0.0/16"
    assert summary["azs"] == ", ".join(AZS)
    assert len(summary["subnets"]) == 9 and len(summary["endpoints"]) == 8 and len(summary["nat_gateways"]) == 3


# --- day 2 (these change the platform: keep them last) ----------------------------------

def test_second_run_changes_nothing_and_makes_no_new_template_version(built_platform, run_playbook, control, boto):
    """Read as a user reads it: the default callback's output, no warning or deprecation but kubernetes.core helm's."""
    control.clear_requests()
    second = run_playbook("site.yml", env={"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"})
    assert second.rc == 0, second.stdout[-3000:] + second.stderr
    [recap] = [line for line in second.stdout.splitlines() if line.startswith(CLUSTER + " ") and "changed=" in line]
    assert " changed=0 " in recap and " failed=0 " in recap, recap
    assert mutating_calls(control) == []
    noise = {line.strip() for line in (second.stdout + second.stderr).splitlines()
             if "WARNING" in line or "DEPRECATION" in line}
    assert noise <= {HELM_STATUS_VALUES, HELM_DIFF_ADVICE, DEPRECATIONS_CAN_BE_DISABLED}, noise


@pytest.mark.mutates_platform
def test_public_cidrs_and_log_types_change_in_place(built_platform, run_playbook, control, boto):
    before = boto("eks").describe_cluster(name=CLUSTER)["cluster"]
    change = ["-e", json.dumps({"eks_public_access_cidrs": ["203.0.113.0/24"], "eks_log_types": ["api", "audit"]}),
              "--tags", "eks"]
    control.clear_requests()
    check = run_playbook("site.yml", "--check", "--diff", *change)
    assert check.rc == 0, check.failure_messages()
    diff = check.task_results()["Ensure the EKS cluster (encryption, logging, endpoint access)"]
    assert diff["changed"] is True
    rendered = json.dumps(diff["diff"])
    assert "203.0.113.0/24" in rendered
    assert mutating_calls(control) == []
    applied = run_playbook("site.yml", *change)
    assert applied.rc == 0, applied.failure_messages()
    after = boto("eks").describe_cluster(name=CLUSTER)["cluster"]
    assert after["arn"] == before["arn"]
    assert after["resourcesVpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]
    enabled = [t for s in after["logging"]["clusterLogging"] if s["enabled"] for t in s["types"]]
    assert sorted(enabled) == ["api", "audit"]
    assert len(boto("eks").list_updates(name=CLUSTER)["updateIds"]) >= 2


@pytest.mark.mutates_platform
def test_editing_one_groups_max_size_changes_only_that_group(built_platform, run_playbook, control, boto):
    import copy

    import yaml

    from .conftest import ROOT

    definitions = yaml.safe_load((ROOT / "roles/nodegroups/defaults/main.yml").read_text())["nodegroups_definitions"]
    definitions = copy.deepcopy(definitions)
    definitions[1]["scaling"]["max_size"] = 12
    control.clear_requests()
    run = run_playbook("site.yml", "--tags", "nodegroups", "-e", json.dumps({"nodegroups_definitions": definitions}))
    assert run.rc == 0, run.failure_messages()
    assert run.changed_tasks() == ["Ensure the managed node groups, all requested together"]
    calls = [e for e in control.requests() if e["operation"].startswith(("Update", "Create"))]
    assert [e["operation"] for e in calls] == ["UpdateNodegroupConfig"]
    eks = boto("eks")
    updates = {g: eks.list_updates(name=CLUSTER, nodegroupName=g)["updateIds"] for g in GROUPS}
    assert {g: len(ids) for g, ids in updates.items()} == {"system": 0, "application": 1, "database": 0}
    scaling = eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName="application")["nodegroup"]["scalingConfig"]
    assert scaling["maxSize"] == 12


@pytest.mark.mutates_platform
def test_a_built_platform_at_its_quotas_passes_a_rerun(built_platform, control, run_playbook, boto):
    """Our own VPC, Elastic IPs, NAT gateways and nodes fill the quotas: a re-run adds nothing, so it passes."""
    ec2 = boto("ec2")
    vpcs = len(ec2.describe_vpcs()["Vpcs"])
    addresses = len(ec2.describe_addresses()["Addresses"])
    control.set_test_controls(applied_quotas={"vpc/L-F678F1CE": vpcs, "ec2/L-0263D0A3": addresses,
                                              "vpc/L-FE5A380F": 1})
    control.clear_requests()
    try:
        run = run_playbook("site.yml", "--tags", "never")  # the tasks tagged always: the whole preflight
    finally:
        control.clear_test_controls()
    assert run.rc == 0, run.failure_messages()
    result = run.task_results()[PREFLIGHT_ENVIRONMENT_TASK]
    assert not result.get("changed")
    quotas = {(q["quota_code"], q.get("availability_zone")): q for q in result["quotas"]}
    assert quotas[("L-F678F1CE", None)] == {**quotas[("L-F678F1CE", None)], "need": 0, "usage": vpcs, "ok": True}
    assert quotas[("L-0263D0A3", None)]["need"] == 0 and quotas[("L-0263D0A3", None)]["usage"] == addresses == 3
    assert not [key for key in quotas if key[0] == "L-FE5A380F"]  # no NAT gateway to add, no zone to check
    assert result["kubernetes_version"]["status"] == "STANDARD_SUPPORT"
    assert result["caller"]["account"] == "123456789012"
    assert mutating_calls(control) == []
    assert {e["operation"] for e in control.requests()} >= {"GetCallerIdentity", "DescribeClusterVersions",
                                                              "DescribeInstanceTypeOfferings", "GetServiceQuota"}
