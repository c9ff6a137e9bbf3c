"""The preflight's checks of the AWS account and region (roles/preflight/tasks/environment.yml).

Each bad environment is made in the emulator the way a real account has it
(applied quotas, an AZ without an instance type, an opt-in Region not
enabled, a Kubernetes version whose support ended; test controls of
emulator/test_controls.py), then site.yml runs: it must stop in the preflight
before any change (no mutating call in the request log), naming the variable
or the quota. (test_platform.py: a built platform whose account sits at its
quotas because of the platform's own resources still passes, the need being
what a run would add.)
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.integration.conftest import (
    PlaybookRun, ROOT, mutating_calls, parse_report, playbook_command, playbook_environment,
)

ENVIRONMENT_TASK = ("Check the AWS account and region can take this deploy (credentials, AZs, Kubernetes version, "
                    "instance types, quotas)")


def preflight_failure(run: PlaybookRun) -> str:
    assert run.rc != 0, run.stdout[-2000:]
    result = run.task_results().get(ENVIRONMENT_TASK)
    assert result is not None and result.get("failed"), run.failure_messages() or run.stdout[-3000:]
    return str(result["msg"])


def site(run_playbook, control, *extra_vars: dict) -> PlaybookRun:
    control.clear_requests()
    args = [arg for variables in extra_vars for arg in ("-e", json.dumps(variables))]
    return run_playbook("site.yml", *args)


@pytest.mark.parametrize("controls, extra, expected", [
    pytest.param({"applied_quotas": {"vpc/L-F678F1CE": 1}}, {},
                 ["L-F678F1CE", "'VPCs per Region'", "adds 1, 1 in use, limit 1 (applied)",
                  "--service-code vpc --quota-code L-F678F1CE --desired-value 2"], id="vpc-quota"),
    pytest.param({"applied_quotas": {"ec2/L-0263D0A3": 2}}, {},
                 ["L-0263D0A3", "'EC2-VPC Elastic IPs'", "adds 3, 0 in use, limit 2", "vpc_single_nat_gateway"],
                 id="elastic-ip-quota"),
    pytest.param({"applied_quotas": {"ec2/L-1216C47A": 32}}, {},
                 ["L-1216C47A", "Running On-Demand Standard", "adds 64, 0 in use, limit 32",
                  "system: 4 x m5.xlarge, database: 6 x r5.2xlarge", "nodegroups_definitions"], id="vcpu-quota"),
    pytest.param({"unoffered_instance_types": {"us-east-1c": ["r5.2xlarge"]}}, {},
                 ["nodegroups_definitions[2].instance_types", "'database'", "r5.2xlarge is not offered in "
                  "['us-east-1c']"], id="instance-type-not-in-an-az"),
    pytest.param({"eks_version_status": {"1.32": "UNSUPPORTED"}}, {"eks_version": "1.32"},
                 ["eks_version: EKS does not offer Kubernetes 1.32 in us-east-1",
                  "1.35 (standard support until", "1.33 (extended support until"], id="unsupported-version"),
    pytest.param({}, {"vpc_azs": ["us-east-1a", "us-east-1b", "us-east-1g"]},
                 ["vpc_azs: us-east-1g is not an availability zone of us-east-1",
                  "'us-east-1a', 'us-east-1b', 'us-east-1c', 'us-east-1d', 'us-east-1e', 'us-east-1f'"],
                 id="az-does-not-exist"),
    pytest.param({"disabled_regions": ["ap-east-1"]}, {"llmhub_aws_region": "ap-east-1"},
                 ["llmhub_aws_region: region ap-east-1 is not enabled for this account", "not-opted-in",
                  "enable-region"], id="region-not-enabled"),
])
def test_a_bad_environment_stops_site_before_any_change_naming_the_variable_or_quota(
        controls, extra, expected, fresh_account, run_playbook):
    fresh_account.set_test_controls(**controls)
    message = preflight_failure(site(run_playbook, fresh_account, extra))
    missing = [text for text in expected if text not in message]
    assert missing == [], message
    assert mutating_calls(fresh_account) == []


def test_nat_gateways_of_another_vpc_exhaust_the_per_az_quota(fresh_account, run_playbook, boto):
    ec2 = boto("ec2")
    other = ec2.create_vpc(CidrBlock="172.31.0.0/16")["Vpc"]["VpcId"]  # another team's VPC with a NAT gateway in b
    subnet = ec2.create_subnet(VpcId=other, CidrBlock="172.31.0.0/24", AvailabilityZone="us-east-1b")["Subnet"]
    address = ec2.allocate_address(Domain="vpc")
    ec2.create_nat_gateway(SubnetId=subnet["SubnetId"], AllocationId=address["AllocationId"])
    fresh_account.set_test_controls(applied_quotas={"vpc/L-FE5A380F": 1})
    message = preflight_failure(site(run_playbook, fresh_account))
    assert "L-FE5A380F 'NAT gateways per Availability Zone' (vpc) in us-east-1b" in message, message
    assert "adds 1, 1 in use, limit 1" in message and "us-east-1a" not in message, message
    assert mutating_calls(fresh_account) == []


def test_without_service_quotas_the_documented_defaults_apply(fresh_account, run_playbook, boto):
    ec2 = boto("ec2")
    for index in range(4):  # with the default VPC: 5 VPCs, the documented default quota
        ec2.create_vpc(CidrBlock=f"172.{20 + index}.0.0/16")
    fresh_account.set_test_controls(service_quotas_error="AccessDeniedException")
    message = preflight_failure(site(run_playbook, fresh_account))
    assert "L-F678F1CE 'VPCs per Region' (vpc) of us-east-1: this deploy adds 1, 5 in use, limit 5" in message
    assert "documented default; Service Quotas answered AccessDeniedException" in message, message
    assert mutating_calls(fresh_account) == []


def test_no_credentials_are_named_with_the_variables_that_give_them(fresh_account, emulator_server):
    env = playbook_environment(emulator_server.url)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE"):
        env.pop(name, None)
    # nothing in files, and no instance metadata lookup (it would leave this machine)
    env.update(AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_CONFIG_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")
    fresh_account.clear_requests()
    proc = subprocess.run(playbook_command("site.yml"), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    message = preflight_failure(PlaybookRun(proc.returncode, proc.stdout, proc.stderr, parse_report(proc.stdout)))
    assert "No AWS credentials found" in message and "AWS_PROFILE" in message, message
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in message, message
    assert fresh_account.requests() == []  # not even a read: nothing could sign it
