"""Check mode on an empty account, interrupted runs.

The deploy with 10% of the calls throttled and the destroy (confirmation, nothing left) are made on
test_destroy_sweep.py's platform.
"""

from __future__ import annotations

import pytest

from .conftest import CLUSTER, kill_process_group, mutating_calls, wait_for

pytestmark = pytest.mark.integration


def _live_nat_gateways(ec2):
    return [n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] not in ("deleted", "deleting")]


def test_check_diff_on_empty_account_creates_nothing(fresh_account, run_playbook, boto):
    check = run_playbook("site.yml", "--check", "--diff")
    assert check.rc == 0, check.failure_messages()
    changed = check.changed_tasks()
    for task in ("Ensure the VPC with DNS support and hostnames",
                 "Ensure the private, public and intra subnets of every AZ",
                 "Ensure the NAT gateways and their Elastic IPs (requested together, waited on once)",
                 "Ensure the security groups and their rules",
                 "Ensure the route tables, their routes and subnet associations",
                 "Ensure the S3 gateway endpoint and the interface endpoints",
                 "Ensure the VPC flow logs, their log group retention and delivery role"):
        assert task in changed
    subnets_diff = check.task_results()["Ensure the private, public and intra subnets of every AZ"]["diff"]
    planned = subnets_diff[0]["after"] if isinstance(subnets_diff, list) else subnets_diff["after"]
    assert planned[f"{CLUSTER}-private-us-east-1a"]["cidr"] == "10.0.0.0/20"
    assert mutating_calls(fresh_account) == []
    assert boto("ec2").describe_vpcs(Filters=[{"Name": "tag:llmhub.io/cluster", "Values": [CLUSTER]}])["Vpcs"] == []


def test_interrupted_after_nat_requests_rerun_leaves_three_nat_gateways(fresh_account, start_playbook,
                                                                         run_playbook, boto):
    # NAT gateways stay pending for 3 s: the run is killed while waiting on them.
    fresh_account.configure(profile={"nat_gateway_create": 3})
    process = start_playbook("site.yml", "--tags", "vpc")

    def nat_requests():
        return [e for e in fresh_account.requests() if e["operation"] == "CreateNatGateway" and e["status"] == 200]

    wait_for(lambda: len(nat_requests()) == 3, timeout=120)
    kill_process_group(process)
    ec2 = boto("ec2")
    assert {n["State"] for n in _live_nat_gateways(ec2)} == {"pending"}

    # the killed run's lock holds: the re-run is refused, naming it, until told to take it over
    refused = run_playbook("site.yml", "--tags", "vpc")
    assert refused.rc != 0 and "deploy_lock_takeover_owner=" in refused.failure_messages()
    holder = boto("dynamodb").get_item(TableName="llmhub-deploy-locks",
                                       Key={"lock_name": {"S": CLUSTER}})["Item"]["owner"]["S"]
    rerun = run_playbook("site.yml", "--tags", "vpc", "-e", f"deploy_lock_takeover_owner='{holder}'")
    assert rerun.rc == 0, rerun.failure_messages()
    nats = _live_nat_gateways(ec2)
    assert len(nats) == 3 and {n["State"] for n in nats} == {"available"}
    assert len(ec2.describe_addresses()["Addresses"]) == 3
    assert len(nat_requests()) == 3
