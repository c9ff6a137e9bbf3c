"""The run_tasks fixture reaches the emulator through module_defaults."""

import pytest

pytestmark = pytest.mark.integration


def test_run_tasks_creates_and_reports(fresh_account, run_tasks, boto):
    run = run_tasks([{"name": "Create a VPC", "amazon.aws.ec2_vpc_net": {"name": "t", "cidr_block": "10.9.0.0/16"},
                      "register": "vpc"}])
    assert run.rc == 0, run.failure_messages()
    result = run.task_results()["Create a VPC"]
    assert result["changed"] is True
    assert boto("ec2").describe_vpcs(VpcIds=[result["vpc"]["id"]])["Vpcs"][0]["CidrBlock"] == "10.9.0.0/16"
