"""llmhub.eks.ec2_launch_templates against the emulator, asserted through boto3.

The point of the module is that a template gets a new version only when its
content changes: these tests count versions and mutating calls.
"""

from __future__ import annotations

import pytest

from .conftest import KNOWN_AFTER_APPLY, mutating_calls

pytestmark = pytest.mark.integration

MODULE = "llmhub.eks.ec2_launch_templates"


@pytest.fixture
def network(fresh_account, boto):
    """A VPC with two security groups and a KMS key with an alias."""
    ec2, kms = boto("ec2"), boto("kms")
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    groups = {name: ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc_id)["GroupId"]
              for name in ("hub-node", "hub-extra")}
    key = kms.create_key(Description="ebs")["KeyMetadata"]
    kms.create_alias(AliasName="alias/hub-ebs", TargetKeyId=key["KeyId"])
    fresh_account.clear_requests()
    return {"vpc_id": vpc_id, "groups": groups, "key_arn": key["Arn"]}


def templates(vpc_id, system_size=100, system_groups=("hub-node",), database_size="500", tags=None, **extra):
    """The task options: two templates like the nodegroups role makes them."""
    return {
        "vpc_id": vpc_id,
        "tags": tags if tags is not None else {"Project": "hub"},
        "launch_templates": [
            {
                "name": "hub-system",
                "root_volume": {"size_gb": system_size, "type": "gp3", "iops": 3000},
                "security_groups": list(system_groups),
                "instance_tags": {"Name": "hub-system", "Project": "hub"},
                "tags": {"llmhub.io/nodegroup": "system"},
            },
            {
                "name": "hub-database",
                "root_volume": {"size_gb": database_size, "type": "gp3", "iops": "3000", "throughput": 125,
                                "kms_key": "alias/hub-ebs"},
                "security_groups": ["hub-node"],
                "metadata": {"http_put_response_hop_limit": "2"},
                "instance_tags": {"Name": "hub-database", "Project": "hub"},
            },
        ],
        **extra,
    }


def task(name, options, **keywords):
    return {"name": name, MODULE: options, "register": "out", **keywords}


def describe(ec2, name):
    template = ec2.describe_launch_templates(LaunchTemplateNames=[name])["LaunchTemplates"][0]
    version = ec2.describe_launch_template_versions(LaunchTemplateId=template["LaunchTemplateId"],
                                                    Versions=["$Default"])["LaunchTemplateVersions"][0]
    return template, version["LaunchTemplateData"]


def test_create_then_no_new_version_until_content_changes(network, run_tasks, fresh_account, boto):
    ec2 = boto("ec2")
    vpc_id = network["vpc_id"]

    # Check mode plans both templates and creates nothing; then they are created.
    first = run_tasks([task("plan", templates(vpc_id), check_mode=True, diff=True),
                       task("create", templates(vpc_id))])
    assert first.rc == 0, first.failure_messages()
    plan, created = first.task_results()["plan"], first.task_results()["create"]
    assert plan["changed"] and plan["created"] == ["hub-system", "hub-database"]
    unknown = {"id": KNOWN_AFTER_APPLY, "version": KNOWN_AFTER_APPLY}
    assert plan["launch_templates_by_name"] == {"hub-system": unknown, "hub-database": unknown}
    assert plan["diff"]["before"] == {}
    assert plan["diff"]["after"]["hub-system"]["data"]["block_devices"][0]["size_gb"] == 100
    creates = [c for c in mutating_calls(fresh_account) if c == "ec2:CreateLaunchTemplate"]
    assert len(creates) == 2, "check mode must not create anything"

    assert created["changed"] and created["created"] == ["hub-system", "hub-database"]
    by_name = created["launch_templates_by_name"]
    assert {name: entry["version"] for name, entry in by_name.items()} == {"hub-system": "1", "hub-database": "1"}
    system, system_data = describe(ec2, "hub-system")
    assert system["LaunchTemplateId"] == by_name["hub-system"]["id"]
    assert {t["Key"]: t["Value"] for t in system["Tags"]} == {"Project": "hub", "llmhub.io/nodegroup": "system"}
    assert system_data["EbsOptimized"] is True
    assert system_data["Monitoring"] == {"Enabled": True}
    assert system_data["MetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 2,
                                              "HttpEndpoint": "enabled"}
    assert system_data["BlockDeviceMappings"] == [{"DeviceName": "/dev/xvda", "Ebs": {
        "VolumeSize": 100, "VolumeType": "gp3", "Iops": 3000, "Encrypted": True, "DeleteOnTermination": True}}]
    assert system_data["SecurityGroupIds"] == [network["groups"]["hub-node"]]
    assert sorted(spec["ResourceType"] for spec in system_data["TagSpecifications"]) == [
        "instance", "network-interface", "volume"]
    for spec in system_data["TagSpecifications"]:
        assert {t["Key"]: t["Value"] for t in spec["Tags"]} == {"Name": "hub-system", "Project": "hub"}
    assert not {"ImageId", "InstanceType", "UserData"} & set(system_data)
    _database, database_data = describe(ec2, "hub-database")
    assert database_data["BlockDeviceMappings"][0]["Ebs"]["KmsKeyId"] == network["key_arn"]
    assert database_data["BlockDeviceMappings"][0]["Ebs"]["Throughput"] == 125

    # Same input (ints as strings included): nothing changes, no mutating call, no new version.
    fresh_account.clear_requests()
    second = run_tasks([task("again", templates(vpc_id))])
    assert second.rc == 0, second.failure_messages()
    again = second.task_results()["again"]
    assert not again["changed"] and again["updated"] == [] and second.changed == 0
    assert mutating_calls(fresh_account) == []
    assert [t["new_version_created"] for t in again["launch_templates"]] == [False, False]
    assert describe(ec2, "hub-system")[0]["LatestVersionNumber"] == 1

    # Content change of one template (and security groups reordered on it): one new version, made the default.
    # The other template only gets new tags. Diff shows the size change.
    fresh_account.clear_requests()
    third = run_tasks([task("change", templates(vpc_id, system_size=120, system_groups=("hub-extra", "hub-node"),
                                                  tags={"Project": "hub", "Owner": "platform"}), diff=True)])
    assert third.rc == 0, third.failure_messages()
    change = third.task_results()["change"]
    assert change["updated"] == ["hub-system", "hub-database"]
    assert [t["new_version_created"] for t in change["launch_templates"]] == [True, False]
    assert change["launch_templates_by_name"]["hub-system"]["version"] == "2"
    assert change["launch_templates_by_name"]["hub-database"]["version"] == "1"
    assert change["diff"]["before"]["hub-system"]["data"]["block_devices"][0]["size_gb"] == 100
    assert change["diff"]["after"]["hub-system"]["data"]["block_devices"][0]["size_gb"] == 120
    calls = mutating_calls(fresh_account)
    assert calls.count("ec2:CreateLaunchTemplateVersion") == 1
    assert calls.count("ec2:ModifyLaunchTemplate") == 1
    system, system_data = describe(ec2, "hub-system")
    assert (system["DefaultVersionNumber"], system["LatestVersionNumber"]) == (2, 2)
    assert system_data["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"] == 120
    assert sorted(system_data["SecurityGroupIds"]) == sorted(network["groups"].values())
    database, _data = describe(ec2, "hub-database")
    assert database["LatestVersionNumber"] == 1
    assert {t["Key"]: t["Value"] for t in database["Tags"]} == {"Project": "hub", "Owner": "platform"}

    # The default version moved back (e.g. by hand): the latest version already has the content, so it is made
    # the default again without a third version. Then both templates are deleted.
    ec2.modify_launch_template(LaunchTemplateId=system["LaunchTemplateId"], DefaultVersion="1")
    fresh_account.clear_requests()
    fourth = run_tasks([
        task("restore", templates(vpc_id, system_size=120, system_groups=("hub-node", "hub-extra"),
                                  tags={"Project": "hub", "Owner": "platform"})),
        task("delete", {"state": "absent", "launch_templates": [{"name": "hub-system"}, {"name": "hub-database"}]}),
        task("delete again", {"state": "absent", "launch_templates": [{"name": "hub-system"}]}),
    ])
    assert fourth.rc == 0, fourth.failure_messages()
    restore = fourth.task_results()["restore"]
    assert restore["updated"] == ["hub-system"]
    assert restore["launch_templates"][0]["default_version"] == 2
    assert restore["launch_templates"][0]["latest_version"] == 2
    assert "ec2:CreateLaunchTemplateVersion" not in mutating_calls(fresh_account)
    assert fourth.task_results()["delete"]["deleted"] == ["hub-system", "hub-database"]
    assert not fourth.task_results()["delete again"]["changed"]
    assert ec2.describe_launch_templates(
        Filters=[{"Name": "launch-template-name", "Values": ["hub-system", "hub-database"]}])["LaunchTemplates"] == []


def test_bad_input_fails_before_any_aws_call(fresh_account, run_tasks):
    bad = [
        task("duplicate names", {"launch_templates": [{"name": "a-lt", "root_volume": {"size_gb": 20}},
                                                      {"name": "a-lt", "root_volume": {"size_gb": 20}}]}),
        task("no size", {"launch_templates": [{"name": "a-lt", "root_volume": {"type": "gp3"}}]}),
        task("throughput on gp2", {"launch_templates": [
            {"name": "a-lt", "root_volume": {"size_gb": 20, "type": "gp2", "throughput": 200}}]}),
        task("group name without vpc", {"launch_templates": [
            {"name": "a-lt", "root_volume": {"size_gb": 20}, "security_groups": ["hub-node"]}]}),
        task("hop limit", {"launch_templates": [
            {"name": "a-lt", "metadata": {"http_put_response_hop_limit": 99}}]}),
    ]
    for item in bad:
        item["ignore_errors"] = True
    run = run_tasks(bad)
    results = run.task_results()
    messages = {name: results[name].get("msg", "") for name in results}
    assert all(results[name].get("failed") for name in results), messages
    assert "launch_templates[1].name: 'a-lt' is already launch_templates[0]" in messages["duplicate names"]
    assert "launch_templates[0].root_volume.size_gb: required" in messages["no size"]
    assert "launch_templates[0].root_volume.throughput: only gp3" in messages["throughput on gp2"]
    assert "launch_templates[0].security_groups: ['hub-node'] are group names; give vpc_id" in messages[
        "group name without vpc"]
    assert "launch_templates[0].metadata.http_put_response_hop_limit: 99" in messages["hop limit"]
    assert fresh_account.requests() == []
