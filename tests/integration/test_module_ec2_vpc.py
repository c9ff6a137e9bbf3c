"""llmhub.eks.ec2_vpc against the emulator, asserted through boto3."""

from __future__ import annotations

import pytest

from .conftest import KNOWN_AFTER_APPLY, mutating_calls

pytestmark = pytest.mark.integration

MODULE = "llmhub.eks.ec2_vpc"
CIDR = "10.20.0.0/16"


def vpc_task(name="vpc", **options):
    keywords = {key: options.pop(key) for key in ("check_mode", "diff", "ignore_errors") if key in options}
    args = {"name": "hub-vpc", "cidr_block": CIDR, "tags": {"Project": "llm-analytics-hub"}, **options}
    return {"name": name, MODULE: args, "register": "vpc", **keywords}


def dns(ec2, vpc_id):
    support = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsSupport")["EnableDnsSupport"]["Value"]
    hostnames = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"]
    return support, hostnames


def named(ec2, name):
    return ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [name]}])["Vpcs"]


def test_vpc_lifecycle(fresh_account, run_tasks, boto):
    ec2 = boto("ec2")

    first = run_tasks([vpc_task("plan", check_mode=True, diff=True), vpc_task("create", diff=True)])
    assert first.rc == 0, first.failure_messages()
    plan, created = first.task_results()["plan"], first.task_results()["create"]
    assert plan["changed"] and plan["vpc_id"] == KNOWN_AFTER_APPLY
    assert plan["diff"] == {"before": {}, "after": {
        "cidr_block": CIDR, "enable_dns_support": True, "enable_dns_hostnames": True,
        "tags": {"Name": "hub-vpc", "Project": "llm-analytics-hub"}}}
    assert mutating_calls(fresh_account).count("ec2:CreateVpc") == 1, "check mode must not create"
    vpcs = named(ec2, "hub-vpc")
    assert [v["VpcId"] for v in vpcs] == [created["vpc_id"]] == [created["vpc"]["id"]]
    assert vpcs[0]["CidrBlock"] == CIDR and vpcs[0]["State"] == "available"
    assert {t["Key"]: t["Value"] for t in vpcs[0]["Tags"]} == {"Name": "hub-vpc", "Project": "llm-analytics-hub"}
    assert dns(ec2, created["vpc_id"]) == (True, True)
    assert created["vpc"]["enable_dns_hostnames"] is True and created["vpc"]["cidr_block"] == CIDR
    # tag_default_resources (default true): what AWS made with the VPC carries its tags, named <name>-default
    made = created["default_resources"]
    in_vpc = [{"Name": "vpc-id", "Values": [created["vpc_id"]]}]
    assert [g["GroupId"] for g in ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"]
            if g["GroupName"] == "default"] == [made["security_group_id"]]
    assert [t["RouteTableId"] for t in ec2.describe_route_tables(Filters=in_vpc)["RouteTables"]
            if any(a.get("Main") for a in t["Associations"])] == [made["route_table_id"]]
    assert [a["NetworkAclId"] for a in ec2.describe_network_acls(Filters=in_vpc)["NetworkAcls"]
            if a["IsDefault"]] == [made["network_acl_id"]]
    for resource_id in made.values():
        tagged = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [resource_id]}])["Tags"]
        assert {t["Key"]: t["Value"] for t in tagged} == {"Name": "hub-vpc-default", "Project": "llm-analytics-hub"}

    # Second run: nothing to do, no mutating call.
    fresh_account.clear_requests()
    again = run_tasks([vpc_task()])
    assert again.rc == 0 and not again.task_results()["vpc"]["changed"]
    assert again.task_results()["vpc"]["vpc_id"] == created["vpc_id"]
    assert mutating_calls(fresh_account) == []

    # Drift: hostnames off and a foreign tag; check mode reports it, the run repairs exactly that.
    ec2.modify_vpc_attribute(VpcId=created["vpc_id"], EnableDnsHostnames={"Value": False})
    ec2.create_tags(Resources=[created["vpc_id"]], Tags=[{"Key": "stray", "Value": "x"}])
    fresh_account.clear_requests()
    repair = run_tasks([vpc_task("check", check_mode=True, diff=True), vpc_task("repair")])
    assert repair.rc == 0, repair.failure_messages()
    check = repair.task_results()["check"]
    assert check["changed"] and check["diff"]["before"]["enable_dns_hostnames"] is False
    assert check["diff"]["after"]["enable_dns_hostnames"] is True and "stray" not in check["diff"]["after"]["tags"]
    assert sorted(mutating_calls(fresh_account)) == ["ec2:DeleteTags", "ec2:ModifyVpcAttribute"]
    assert dns(ec2, created["vpc_id"]) == (True, True)
    assert "stray" not in {t["Key"] for t in named(ec2, "hub-vpc")[0]["Tags"]}

    # Absent deletes it; a second absent changes nothing.
    gone = run_tasks([vpc_task("delete", state="absent"), vpc_task("delete again", state="absent")])
    assert gone.rc == 0, gone.failure_messages()
    assert gone.task_results()["delete"]["changed"] and not gone.task_results()["delete again"]["changed"]
    assert named(ec2, "hub-vpc") == []


def test_adopts_a_vpc_made_by_amazon_aws(fresh_account, run_tasks, boto):
    made = run_tasks([{"name": "made", "amazon.aws.ec2_vpc_net": {"name": "hub-vpc", "cidr_block": CIDR},
                       "register": "made"}])
    assert made.rc == 0, made.failure_messages()
    vpc_id = made.task_results()["made"]["vpc"]["id"]
    fresh_account.clear_requests()
    adopted = run_tasks([vpc_task()])
    assert adopted.rc == 0, adopted.failure_messages()
    assert adopted.task_results()["vpc"]["vpc_id"] == vpc_id
    assert "ec2:CreateVpc" not in mutating_calls(fresh_account)
    assert dns(boto("ec2"), vpc_id) == (True, True)


def test_refuses_to_choose_between_two_vpcs_and_to_delete_a_used_one(fresh_account, run_tasks, boto):
    ec2 = boto("ec2")
    ids = []
    for _ in range(2):
        vpc_id = ec2.create_vpc(CidrBlock=CIDR)["Vpc"]["VpcId"]
        ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": "Name", "Value": "hub-vpc"}])
        ids.append(vpc_id)
    twice = run_tasks([vpc_task(ignore_errors=True)])
    message = twice.task_results()["vpc"]["msg"]
    assert message.startswith("name: 2 VPCs are named hub-vpc with CIDR 10.20.0.0/16")
    assert all(vpc_id in message for vpc_id in ids)

    ec2.delete_vpc(VpcId=ids[1])
    ec2.create_subnet(VpcId=ids[0], CidrBlock="10.20.1.0/24")
    used = run_tasks([vpc_task(state="absent", ignore_errors=True)])
    assert "still has dependencies" in used.task_results()["vpc"]["msg"]
    assert [v["VpcId"] for v in named(ec2, "hub-vpc")] == [ids[0]]


@pytest.mark.parametrize(("cidr", "expected"), [
    ("10.0.0.0/33", "cidr_block: '10.0.0.0/33' is not a CIDR"),
    ("10.0.0.0/8", "cidr_block: 10.0.0.0/8 must be an IPv4 CIDR from /16 to /28"),
    ("10.0.0.1/16", "cidr_block: 10.0.0.1/16 has host bits set; use 10.0.0.0/16"),
])
def test_bad_cidr_fails_before_any_aws_call(fresh_account, run_tasks, cidr, expected):
    run = run_tasks([vpc_task(cidr_block=cidr, ignore_errors=True)])
    assert run.task_results()["vpc"]["msg"].startswith(expected)
    assert fresh_account.requests() == []


def test_absent_deletes_every_vpc_of_the_name_and_cidr(fresh_account, run_tasks, boto):
    """Two runs at once can leave two VPCs of one name: absent means none of them (destroy must not stop there)."""
    ec2 = boto("ec2")
    ids = []
    for _ in range(2):
        vpc_id = ec2.create_vpc(CidrBlock=CIDR)["Vpc"]["VpcId"]
        ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": "Name", "Value": "hub-vpc"}])
        ids.append(vpc_id)
    check = run_tasks([vpc_task("check", state="absent", check_mode=True, diff=True)])
    assert check.rc == 0, check.failure_messages()
    assert sorted(check.task_results()["check"]["deleted"]) == sorted(ids)
    assert len(named(ec2, "hub-vpc")) == 2
    gone = run_tasks([vpc_task("delete", state="absent")])
    assert gone.rc == 0, gone.failure_messages()
    assert sorted(gone.task_results()["delete"]["deleted"]) == sorted(ids)
    assert named(ec2, "hub-vpc") == []
