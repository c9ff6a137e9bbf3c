"""Decisions of eks_preflight_info without AWS (module_utils/preflight.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.llmhub.eks.plugins.module_utils import preflight as pf  # noqa: E402

GROUPS = [
    {"name": "system", "instance_types": ["m5.xlarge"], "capacity_type": "ON_DEMAND", "scaling": {"max_size": 4}},
    {"name": "application", "instance_types": ["m5.2xlarge", "m5a.2xlarge"], "capacity_type": "SPOT",
     "scaling": {"max_size": 10}},
    {"name": "database", "instance_types": ["r5.2xlarge"], "capacity_type": "ON_DEMAND", "scaling": {"max_size": 6}},
]
AZS = ["us-east-1a", "us-east-1b", "us-east-1c"]


@pytest.mark.parametrize("instance_type, standard", [
    ("m5.xlarge", True), ("r5.2xlarge", True), ("t3.micro", True), ("c7g.large", True), ("i4i.large", True),
    ("z1d.large", True), ("g5.xlarge", False), ("p4d.24xlarge", False), ("inf2.xlarge", False),
    ("trn1.2xlarge", False), ("dl1.24xlarge", False), ("x2idn.16xlarge", False), ("mac2.metal", False),
    ("hpc7g.16xlarge", False), ("u-6tb1.metal", False),
])
def test_standard_families(instance_type, standard):
    assert pf.is_standard_family(instance_type) is standard


def test_on_demand_vcpus_at_max_sizes():
    total, counted, unchecked = pf.on_demand_vcpus(GROUPS, {"m5.xlarge": 4, "r5.2xlarge": 8})
    assert total == 64 and unchecked == []
    assert counted == [{"name": "system", "max_size": 4, "instance_type": "m5.xlarge", "vcpus": 16},
                       {"name": "database", "max_size": 6, "instance_type": "r5.2xlarge", "vcpus": 48}]
    gpu = [{"name": "gpu", "instance_types": ["g5.xlarge"], "scaling": {"max_size": 2}}]
    assert pf.on_demand_vcpus(gpu, {"g5.xlarge": 4}) == (0, [], ["gpu"])


def test_offering_gaps_name_the_group_the_type_and_the_zones():
    offered = {(t, az) for t in ("m5.xlarge", "m5.2xlarge", "m5a.2xlarge", "r5.2xlarge") for az in AZS}
    assert pf.offering_gaps(GROUPS, AZS, offered) == []
    problems = pf.offering_gaps(GROUPS, AZS, offered - {("r5.2xlarge", "us-east-1c")})
    assert problems == ["nodegroups_definitions[2].instance_types: node group 'database': r5.2xlarge is not offered "
                        "in ['us-east-1c'] (offered in ['us-east-1a', 'us-east-1b']); EKS refuses a node group whose "
                        "subnets are in such a zone: choose another instance type or other zones (vpc_azs)"]
    nowhere = pf.offering_gaps(GROUPS, AZS, {o for o in offered if o[0] != "m5a.2xlarge"})
    assert len(nowhere) == 1 and "m5a.2xlarge is offered in none of the availability zones" in nowhere[0]


def test_quota_problem_only_when_the_need_does_not_fit():
    quota = {**pf.QUOTAS["vpcs"], "limit": 5.0, "source": "applied"}
    assert pf.quota_problem(quota, "us-east-1", 1, 4) is None
    assert pf.quota_problem(quota, "us-east-1", 0, 7) is None  # over already, but this run adds nothing
    message = pf.quota_problem(quota, "us-east-1", 1, 5)
    assert message.startswith("quota L-F678F1CE 'VPCs per Region' (vpc) of us-east-1: this deploy adds 1, 5 in use, "
                              "limit 5 (applied).")
    assert "--service-code vpc --quota-code L-F678F1CE --desired-value 6" in message
