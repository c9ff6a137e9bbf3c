"""An interrupted run: the deploy lock it leaves, and a re-run that makes no second NAT gateway.

This module's other scenarios are made where a deploy they need happens anyway: check mode on an empty account on
the plan of test_operations_workflow.py (plan.yml runs site.yml --check --diff), the deploy with 10% of the calls
throttled and the destroy (confirmation, nothing left) on test_destroy_sweep.py's platform.
"""

from __future__ import annotations

import pytest

from .conftest import CLUSTER, kill_process_group, wait_for

pytestmark = pytest.mark.integration


def _live_nat_gateways(ec2):
    return [n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] not in ("deleted", "deleting")]


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
