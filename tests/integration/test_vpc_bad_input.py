"""Bad network input fails before any AWS call, naming the variable."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration

CASES = {
    "invalid CIDR": ({"vpc_cidr": "10.0.0.300/16"}, "vpc_cidr"),
    "CIDR with host bits": ({"vpc_cidr": "10.0.0.1/16"}, "vpc_cidr"),
    "subnets outside the VPC": ({"vpc_private_subnets": ["10.1.0.0/20", "10.0.16.0/20", "10.0.32.0/20"]},
                                "vpc_private_subnets"),
    "overlapping subnets": ({"vpc_public_subnets": ["10.0.0.0/24", "10.0.49.0/24", "10.0.50.0/24"]},
                            "vpc_public_subnets"),
    "fewer than 2 AZs": ({"vpc_azs": ["us-east-1a"]}, "vpc_azs"),
    "AZ not in the region": ({"vpc_azs": ["us-east-1a", "eu-west-1b"]}, "vpc_azs"),
    "prefix too small for the subnets": ({"vpc_cidr": "10.0.0.0/24"}, "vpc_cidr"),
    "wrong type": ({"vpc_single_nat_gateway": "sometimes"}, "vpc_single_nat_gateway"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_before_any_aws_call(case, fresh_account, run_playbook):
    extra_vars, variable = CASES[case]
    run = run_playbook("site.yml", "--tags", "vpc", "-e", json.dumps(extra_vars))
    assert run.rc != 0
    message = run.failure_messages()
    assert variable in message, message
    assert fresh_account.requests() == []
