"""llmhub.eks.ec2_internet_gateway against the emulator, asserted through boto3."""

from __future__ import annotations

import pytest

from .conftest import KNOWN_AFTER_APPLY, mutating_calls

pytestmark = pytest.mark.integration

MODULE = "llmhub.eks.ec2_internet_gateway"


def igw_task(vpc_id, name="igw", **options):
    keywords = {key: options.pop(key) for key in ("check_mode", "diff", "ignore_errors") if key in options}
    args = {"vpc_id": vpc_id, "name": "hub-igw", "tags": {"Project": "llm-analytics-hub"}, **options}
    return {"name": name, MODULE: args, **keywords}


def attached(ec2, vpc_id):
    return ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]


def tags(gateway):
    return {t["Key"]: t["Value"] for t in gateway.get("Tags", [])}


@pytest.fixture(name="vpc_id")
def fixture_vpc_id(fresh_account, boto):
    vpc_id = boto("ec2").create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    fresh_account.clear_requests()
    return vpc_id


def test_internet_gateway_lifecycle(fresh_account, run_tasks, boto, vpc_id):
    ec2 = boto("ec2")
    first = run_tasks([igw_task(vpc_id, "plan", check_mode=True, diff=True), igw_task(vpc_id, "create", diff=True)])
    assert first.rc == 0, first.failure_messages()
    plan, created = first.task_results()["plan"], first.task_results()["create"]
    assert plan["changed"] and plan["gateway_id"] == KNOWN_AFTER_APPLY
    assert plan["actions"] == ["create internet gateway hub-igw", f"attach it to {vpc_id}"]
    assert plan["diff"] == {"before": {}, "after": {"gateway_id": KNOWN_AFTER_APPLY,
                                                    "tags": {"Name": "hub-igw", "Project": "llm-analytics-hub"}}}
    assert sorted(mutating_calls(fresh_account)) == ["ec2:AttachInternetGateway", "ec2:CreateInternetGateway"], \
        "check mode must not create"
    gateways = attached(ec2, vpc_id)
    assert [g["InternetGatewayId"] for g in gateways] == [created["gateway_id"]]
    assert tags(gateways[0]) == {"Name": "hub-igw", "Project": "llm-analytics-hub"} == created["tags"]

    # Second run: nothing to do, no mutating call.
    fresh_account.clear_requests()
    again = run_tasks([igw_task(vpc_id)])
    assert again.rc == 0 and not again.task_results()["igw"]["changed"]
    assert again.task_results()["igw"]["gateway_id"] == created["gateway_id"]
    assert mutating_calls(fresh_account) == []

    # A foreign tag is purged (purge_tags), and left alone when tags are omitted.
    ec2.create_tags(Resources=[created["gateway_id"]], Tags=[{"Key": "stray", "Value": "x"}])
    fresh_account.clear_requests()
    kept = run_tasks([{"name": "untouched", MODULE: {"vpc_id": vpc_id}}])
    assert kept.rc == 0 and not kept.task_results()["untouched"]["changed"]
    assert kept.task_results()["untouched"]["tags"]["stray"] == "x"
    repair = run_tasks([igw_task(vpc_id, "repair", diff=True)])
    assert repair.rc == 0, repair.failure_messages()
    assert repair.task_results()["repair"]["changed"]
    assert "stray" in repair.task_results()["repair"]["diff"]["before"]["tags"]
    assert mutating_calls(fresh_account) == ["ec2:DeleteTags"]

    # Absent detaches and deletes it; a second absent changes nothing.
    gone = run_tasks([igw_task(vpc_id, "delete", state="absent"), igw_task(vpc_id, "delete again", state="absent")])
    assert gone.rc == 0, gone.failure_messages()
    assert gone.task_results()["delete"]["changed"] and not gone.task_results()["delete again"]["changed"]
    assert attached(ec2, vpc_id) == []
    assert not ec2.describe_internet_gateways(InternetGatewayIds=[], Filters=[
        {"Name": "tag:Name", "Values": ["hub-igw"]}])["InternetGateways"]


def test_a_detached_gateway_left_by_an_interrupted_run_is_attached(fresh_account, run_tasks, boto, vpc_id):
    ec2 = boto("ec2")
    left = ec2.create_internet_gateway(TagSpecifications=[{"ResourceType": "internet-gateway", "Tags": [
        {"Key": "Name", "Value": "hub-igw"}]}])["InternetGateway"]["InternetGatewayId"]
    fresh_account.clear_requests()
    run = run_tasks([igw_task(vpc_id)])
    assert run.rc == 0, run.failure_messages()
    assert run.task_results()["igw"]["gateway_id"] == left
    assert [g["InternetGatewayId"] for g in attached(ec2, vpc_id)] == [left]
    assert sorted(mutating_calls(fresh_account)) == ["ec2:AttachInternetGateway", "ec2:CreateTags"]


def test_adopts_the_gateway_amazon_aws_made(fresh_account, run_tasks, boto, vpc_id):
    made = run_tasks([{"name": "made", "amazon.aws.ec2_vpc_igw": {"vpc_id": vpc_id}, "register": "made"}])
    assert made.rc == 0, made.failure_messages()
    fresh_account.clear_requests()
    run = run_tasks([igw_task(vpc_id)])
    assert run.rc == 0, run.failure_messages()
    assert run.task_results()["igw"]["gateway_id"] == made.task_results()["made"]["gateway_id"]
    assert mutating_calls(fresh_account) == ["ec2:CreateTags"]
