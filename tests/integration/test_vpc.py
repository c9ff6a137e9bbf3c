"""site.yml --tags vpc against the emulator, asserted through boto3."""

from __future__ import annotations


import pytest

from .conftest import CLUSTER, mutating_calls

pytestmark = pytest.mark.integration

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


def test_second_run_changes_nothing(built_platform, run_playbook, control):
    control.clear_requests()
    second = run_playbook("site.yml")
    assert second.rc == 0, second.failure_messages()
    assert second.changed == 0, second.changed_tasks()

    assert mutating_calls(control) == []


def test_check_diff_on_built_network_reports_no_change(built_platform, run_playbook, control):
    control.clear_requests()
    check = run_playbook("site.yml", "--check", "--diff")
    assert check.rc == 0, check.failure_messages()
    assert check.changed == 0, check.changed_tasks()

    assert mutating_calls(control) == []


def test_summary_lists_what_was_built(built_platform, network):
    summary = built_platform.task_results()["Show what was built"]["msg"]["network"]
    assert summary["vpc"] == f"{network['vpc']['VpcId']} 10.0.0.0/16"
    assert summary["azs"] == ", ".join(AZS)
    assert len(summary["subnets"]) == 9 and len(summary["endpoints"]) == 8 and len(summary["nat_gateways"]) == 3
