"""The network planning filter: derived layout and validation messages."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "plugins" / "filter"))

import network  # noqa: E402

CLUSTER = "demo-eks"
ROLE = ROOT / "roles" / "vpc"


def default_settings():
    """The role's defaults and settings map with the templates resolved as Ansible would."""
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    keys = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["vpc_role_settings"]
    resolved = {
        "{{ vpc_cidr }}": "10.0.0.0/16",
        "{{ vpc_cluster_api_ingress_cidrs }}": ["10.0.0.0/16"],
        "{{ vpc_alb_ingress_cidrs }}": ["0.0.0.0/0"],
    }

    def resolve(value):
        if isinstance(value, str):
            return resolved.get(value, value)
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value

    settings = {key: resolve(defaults.get(key)) for key in keys}
    settings.update(vpc_cluster_name=CLUSTER, vpc_aws_region="us-east-1",
                    vpc_azs=["us-east-1a", "us-east-1b", "us-east-1c"], vpc_tags={"Project": "p"})
    return settings


def plan(**changes):
    settings = default_settings()
    settings.update(changes)
    return network.vpc_network_plan(settings)


def test_default_layout_matches_the_overview():
    result = plan()
    cidrs = {s["name"]: s["cidr"] for s in result["subnets"]}
    assert cidrs == {
        f"{CLUSTER}-private-us-east-1a": "10.0.0.0/20", f"{CLUSTER}-private-us-east-1b": "10.0.16.0/20",
        f"{CLUSTER}-private-us-east-1c": "10.0.32.0/20", f"{CLUSTER}-public-us-east-1a": "10.0.48.0/24",
        f"{CLUSTER}-public-us-east-1b": "10.0.49.0/24", f"{CLUSTER}-public-us-east-1c": "10.0.50.0/24",
        f"{CLUSTER}-intra-us-east-1a": "10.0.52.0/24", f"{CLUSTER}-intra-us-east-1b": "10.0.53.0/24",
        f"{CLUSTER}-intra-us-east-1c": "10.0.54.0/24",
    }
    assert len(result["nat_gateways"]) == 3
    assert len(result["endpoints"]) == 8
    assert result["flow_logs"]["retention_in_days"] == 14
    assert result["tags"] == {"Project": "p", "llmhub.io/cluster": CLUSTER}


def test_layout_is_derived_from_other_cidrs_and_az_counts():
    result = plan(vpc_cidr="172.20.0.0/18", vpc_azs=["eu-west-1a", "eu-west-1b"], vpc_aws_region="eu-west-1")
    by_tier = {}
    for subnet in result["subnets"]:
        by_tier.setdefault(subnet["tags"]["llmhub.io/tier"], []).append(subnet["cidr"])
    assert by_tier == {"private": ["172.20.0.0/22", "172.20.4.0/22"],
                       "public": ["172.20.8.0/26", "172.20.8.64/26"],
                       "intra": ["172.20.8.128/26", "172.20.8.192/26"]}
    assert [e["service"] for e in result["endpoints"]][:2] == ["com.amazonaws.eu-west-1.s3",
                                                              "com.amazonaws.eu-west-1.ecr.api"]


def test_explicit_subnets_override_the_derived_ones():
    private = ["10.0.100.0/22", "10.0.104.0/22", "10.0.108.0/22"]
    result = plan(vpc_private_subnets=private)
    assert [s["cidr"] for s in result["subnets"] if s["tags"]["llmhub.io/tier"] == "private"] == private


def test_single_nat_gateway_routes_every_private_subnet_to_it():
    result = plan(vpc_single_nat_gateway=True)
    assert [n["name"] for n in result["nat_gateways"]] == [f"{CLUSTER}-nat-us-east-1a"]
    private_routes = [rt["routes"] for rt in result["route_tables"] if rt["tags"]["llmhub.io/tier"] == "private"]
    assert {r[0]["nat_gateway"] for r in private_routes} == {f"{CLUSTER}-nat-us-east-1a"}


def test_route_tables_per_tier():
    tables = {rt["name"]: rt for rt in plan()["route_tables"]}
    assert tables[f"{CLUSTER}-public-us-east-1b"]["routes"] == [{"destination_cidr_block": "0.0.0.0/0",
                                                                 "gateway_id": "igw"}]
    assert tables[f"{CLUSTER}-private-us-east-1b"]["routes"] == [{"destination_cidr_block": "0.0.0.0/0",
                                                                  "nat_gateway": f"{CLUSTER}-nat-us-east-1b"}]
    assert tables[f"{CLUSTER}-intra-us-east-1b"]["routes"] == []


def test_security_group_rules_are_normalised():
    groups = {g["name"]: g for g in plan()["security_groups"]}
    node_rules = groups[f"{CLUSTER}-node"]["rules"]
    assert {"protocol": "all", "from_port": None, "to_port": None, "description": "Node to node",
            "group_name": f"{CLUSTER}-node"} in node_rules
    assert {"protocol": "tcp", "from_port": 1025, "to_port": 65535, "description": "Control plane to node ports",
            "group_name": f"{CLUSTER}-cluster"} in node_rules
    database_ports = sorted(r["from_port"] for r in groups[f"{CLUSTER}-database"]["rules"])
    assert database_ports == [5432, 6379, 8086]
    assert groups[f"{CLUSTER}-alb"]["rules"][0]["cidr_ip"] == ["0.0.0.0/0"]


BAD = [
    ({"vpc_cidr": "10.0.0.300/16"}, "vpc_cidr: '10.0.0.300/16' is not a valid IPv4 CIDR"),
    ({"vpc_cidr": "10.0.0.0/30"}, "vpc_cidr"),
    ({"vpc_cidr": "10.0.0.0/24"}, "vpc_cidr"),
    ({"vpc_azs": ["us-east-1a"]}, "vpc_azs: at least 2 availability zones"),
    ({"vpc_azs": ["us-east-1a", "us-east-1a"]}, "vpc_azs: availability zones must be unique"),
    ({"vpc_azs": ["us-east-1a", "us-west-2b"]}, "vpc_azs: 'us-west-2b' is not an availability zone of region"),
    ({"vpc_private_subnets": ["10.1.0.0/20", "10.0.16.0/20", "10.0.32.0/20"]}, "vpc_private_subnets"),
    ({"vpc_private_subnets": ["10.0.0.0/20", "10.0.16.0/20"]}, "vpc_private_subnets"),
    ({"vpc_public_subnets": ["10.0.0.0/24", "10.0.49.0/24", "10.0.50.0/24"]}, "overlap"),
    ({"vpc_flow_logs_retention_days": 10}, "vpc_flow_logs_retention_days"),
    ({"vpc_cluster_name": "bad name!"}, "vpc_cluster_name"),
    ({"vpc_aws_region": "moon-1"}, "vpc_aws_region"),
    ({"vpc_endpoints": [{"service": "s3", "type": "Gateway"}, {"service": "s3", "type": "Gateway"}]},
     "vpc_endpoints[1]"),
]


@pytest.mark.parametrize("changes, expected", BAD, ids=[str(c) for c, _ in BAD])
def test_bad_input_names_the_variable(changes, expected):
    with pytest.raises(AnsibleFilterError) as error:
        plan(**changes)
    assert expected in str(error.value)


def test_security_group_rule_needs_one_source():
    groups = copy.deepcopy(default_settings()["vpc_security_groups"])
    groups[4]["ingress"][0]["group"] = "node"
    with pytest.raises(AnsibleFilterError, match=r"vpc_security_groups\[alb\]\.ingress\[0\]: each rule needs exactly"):
        plan(vpc_security_groups=groups)
    groups[4]["ingress"][0] = {"ports": 443, "group": "nope"}
    with pytest.raises(AnsibleFilterError, match="'nope' is not a key of vpc_security_groups"):
        plan(vpc_security_groups=groups)
    groups[4]["ingress"][0] = {"ports": "80-70", "cidrs": ["0.0.0.0/0"]}
    with pytest.raises(AnsibleFilterError, match="ports"):
        plan(vpc_security_groups=groups)


def test_outputs_and_summary():
    result = plan()
    ids = {s["name"]: f"subnet-{i}" for i, s in enumerate(result["subnets"])}
    outputs = network.vpc_network_outputs(result, vpc_id="vpc-1", subnets=ids,
                                          security_groups={f"{CLUSTER}-node": "sg-node"})
    assert outputs["private_subnet_ids"] == ["subnet-0", "subnet-1", "subnet-2"]
    assert outputs["security_group_ids"]["node"] == "sg-node"
    assert outputs["security_group_ids"]["alb"] is None
    summary = network.vpc_network_summary(outputs)
    assert summary["vpc"] == "vpc-1 10.0.0.0/16"
    assert summary["subnets"][0].split() == ["private", "us-east-1a", "10.0.0.0/20", "subnet-0"]
