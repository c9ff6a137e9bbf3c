"""llmhub.eks.eks_nodegroups against the emulator, asserted through boto3.

Prerequisites (VPC, subnets in two AZs, cluster and node roles, the cluster)
are made with boto3; the launch templates with llmhub.eks.ec2_launch_templates
in the same play, as the nodegroups role does.
"""

from __future__ import annotations

import json

import pytest

from .conftest import KNOWN_AFTER_APPLY, mutating_calls

pytestmark = pytest.mark.integration

CLUSTER = "hub"
MODULE = "llmhub.eks.eks_nodegroups"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": ["eks.amazonaws.com", "ec2.amazonaws.com"]},
     "Action": "sts:AssumeRole"}]})


@pytest.fixture
def cluster(fresh_account, boto):
    return make_cluster(fresh_account, boto)


def make_cluster(fresh_account, boto):
    """VPC, two private subnets, the two roles and the cluster; the request log starts empty after them."""
    ec2, iam, eks = boto("ec2"), boto("iam"), boto("eks")
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = {}
    for index, az in enumerate(("us-east-1a", "us-east-1b")):
        name = f"hub-private-{az}"
        subnets[name] = ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=f"10.0.{index}.0/24", AvailabilityZone=az,
            TagSpecifications=[{"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": name}]}],
        )["Subnet"]["SubnetId"]
    cluster_role = iam.create_role(RoleName="hub-cluster-role", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    node_role = iam.create_role(RoleName="hub-node-role", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    eks.create_cluster(name=CLUSTER, roleArn=cluster_role, resourcesVpcConfig={"subnetIds": list(subnets.values())})
    fresh_account.clear_requests()
    return {"vpc_id": vpc_id, "subnets": subnets, "node_role": node_role}


def templates(database_size=500):
    return {"llmhub.eks.ec2_launch_templates": {"launch_templates": [
        {"name": f"hub-{name}", "root_volume": {"size_gb": size, "iops": 3000}}
        for name, size in (("system", 100), ("application", 200), ("database", database_size))
    ]}, "name": "templates", "register": "lt"}


def groups(application_max=10, database_types=("r5.2xlarge",)):
    """The overview's three node groups; subnets by Name tag, launch template versions from the templates task."""
    common = {"node_role": "hub-node-role", "subnets": ["hub-private-us-east-1a", "hub-private-us-east-1b"]}

    def template(name):
        return {"name": f"hub-{name}", "version": f"{{{{ lt.launch_templates_by_name['hub-{name}'].version }}}}"}

    return [
        {"name": "system", **common, "instance_types": ["m5.xlarge"],
         "scaling": {"min_size": 2, "desired_size": 3, "max_size": 4}, "labels": {"role": "system"},
         "launch_template": template("system"), "tags": {"llmhub.io/nodegroup": "system"}},
        {"name": "application", **common, "capacity_type": "SPOT",
         "instance_types": ["m5.2xlarge", "m5a.2xlarge", "m5n.2xlarge"],
         "scaling": {"min_size": 3, "desired_size": 5, "max_size": application_max},
         "labels": {"role": "application"}, "launch_template": template("application"),
         "update_config": {"max_unavailable_percentage": 33}},
        {"name": "database", **common, "instance_types": list(database_types),
         "scaling": {"min_size": 3, "desired_size": 4, "max_size": 6}, "labels": {"role": "database"},
         "taints": [{"key": "workload", "value": "database", "effect": "NO_SCHEDULE"}],
         "launch_template": template("database")},
    ]


TASK_KEYWORDS = ("check_mode", "diff", "ignore_errors")


def nodegroups_task(name="nodegroups", nodegroups=None, **options):
    """A task of the module; check_mode, diff and ignore_errors are task keywords, the rest module options."""
    keywords = {key: options.pop(key) for key in TASK_KEYWORDS if key in options}
    return {"name": name, MODULE: {"cluster_name": CLUSTER, "nodegroups": nodegroups or groups(), **options},
            "register": "ng", **keywords}


def describe_all(eks):
    names = eks.list_nodegroups(clusterName=CLUSTER)["nodegroups"]
    return {name: eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName=name)["nodegroup"] for name in names}


def creating_intervals(events):
    """{node group: (CREATING at, ACTIVE at)} from the emulator's lifecycle events."""
    starts, ends = {}, {}
    for event in events:
        if event["kind"] != "eks_nodegroup":
            continue
        if event["to"] == "CREATING":
            starts[event["id"]] = event["ts"]
        elif event["from"] == "CREATING" and event["to"] == "ACTIVE":
            ends[event["id"]] = event["ts"]
    return {key: (starts[key], ends[key]) for key in starts if key in ends}


def test_three_nodegroups_lifecycle(cluster, run_tasks, fresh_account, boto):
    eks, ec2 = boto("eks"), boto("ec2")
    fresh_account.configure(profile={"eks_nodegroup_create": 1.5})

    # Check mode creates nothing; then the three node groups are created in one call, concurrently.
    first = run_tasks([templates(), nodegroups_task("plan", check_mode=True, diff=True), nodegroups_task()])
    assert first.rc == 0, first.failure_messages()
    plan, created = first.task_results()["plan"], first.task_results()["nodegroups"]
    assert plan["created"] == ["system", "application", "database"] and plan["changed"]
    assert [group["arn"] for group in plan["nodegroups"]] == [KNOWN_AFTER_APPLY] * 3
    assert plan["diff"]["after"]["database"]["taints"] == [{"key": "workload", "value": "database",
                                                             "effect": "NO_SCHEDULE"}]
    assert mutating_calls(fresh_account).count("eks:CreateNodegroup") == 3, "check mode must not create"
    assert created["created"] == ["system", "application", "database"]
    assert [group["status"] for group in created["nodegroups"]] == ["ACTIVE"] * 3

    intervals = creating_intervals(fresh_account.events())
    assert sorted(intervals) == [f"{CLUSTER}/{name}" for name in ("application", "database", "system")]
    latest_start = max(start for start, _end in intervals.values())
    earliest_end = min(end for _start, end in intervals.values())
    assert latest_start < earliest_end, f"the three creates did not overlap: {intervals}"

    found = describe_all(eks)
    subnet_ids = sorted(cluster["subnets"].values())
    template_ids = {t["LaunchTemplateName"]: t["LaunchTemplateId"] for t in ec2.describe_launch_templates()[
        "LaunchTemplates"]}
    expected = {
        "system": ("ON_DEMAND", ["m5.xlarge"], (2, 3, 4), {"role": "system"}, [], {"maxUnavailable": 1}),
        "application": ("SPOT", ["m5.2xlarge", "m5a.2xlarge", "m5n.2xlarge"], (3, 5, 10), {"role": "application"},
                        [], {"maxUnavailablePercentage": 33}),
        "database": ("ON_DEMAND", ["r5.2xlarge"], (3, 4, 6), {"role": "database"},
                     [{"key": "workload", "value": "database", "effect": "NO_SCHEDULE"}], {"maxUnavailable": 1}),
    }
    for name, (capacity, types, sizes, labels, taints, update_config) in expected.items():
        group = found[name]
        scaling = group["scalingConfig"]
        assert group["capacityType"] == capacity
        assert group["instanceTypes"] == types
        assert (scaling["minSize"], scaling["desiredSize"], scaling["maxSize"]) == sizes
        assert group["labels"] == labels
        assert group["taints"] == taints
        assert group["updateConfig"] == update_config
        assert group["amiType"] == "AL2023_x86_64_STANDARD"
        assert group["nodeRole"] == cluster["node_role"]
        assert sorted(group["subnets"]) == subnet_ids
        assert group["launchTemplate"]["id"] == template_ids[f"hub-{name}"]
        assert group["launchTemplate"]["version"] == "1"
        assert "diskSize" not in group
    assert found["system"]["tags"] == {"llmhub.io/nodegroup": "system"}
    fresh_account.configure(profile="instant")

    # Second run: nothing changes, no mutating call, no new launch template version.
    fresh_account.clear_requests()
    second = run_tasks([templates(), nodegroups_task()])
    assert second.rc == 0, second.failure_messages()
    assert second.changed == 0, second.changed_tasks()
    assert mutating_calls(fresh_account) == []
    assert second.task_results()["nodegroups"]["desired_size_drift"] == {}
    assert {t["LatestVersionNumber"] for t in ec2.describe_launch_templates()["LaunchTemplates"]} == {1}

    # Raising one group's max size updates that group only, with one UpdateNodegroupConfig.
    fresh_account.clear_requests()
    third = run_tasks([templates(), nodegroups_task(nodegroups=groups(application_max=12), diff=True)])
    assert third.rc == 0, third.failure_messages()
    result = third.task_results()["nodegroups"]
    assert result["updated"] == ["application"] and result["created"] == []
    assert result["diff"]["before"]["application"]["scaling"]["max_size"] == 10
    assert result["diff"]["after"]["application"]["scaling"]["max_size"] == 12
    assert mutating_calls(fresh_account) == ["eks:UpdateNodegroupConfig"]
    found = describe_all(eks)
    assert found["application"]["scalingConfig"]["maxSize"] == 12
    assert found["system"]["scalingConfig"]["maxSize"] == 4 and found["database"]["scalingConfig"]["maxSize"] == 6

    # Launch template content change: a new template version, then a node group version update of that group only.
    fresh_account.clear_requests()
    fourth = run_tasks([templates(database_size=600), nodegroups_task(nodegroups=groups(application_max=12))])
    assert fourth.rc == 0, fourth.failure_messages()
    assert fourth.task_results()["templates"]["launch_templates_by_name"]["hub-database"]["version"] == "2"
    assert fourth.task_results()["nodegroups"]["updated"] == ["database"]
    calls = mutating_calls(fresh_account)
    assert calls.count("eks:UpdateNodegroupVersion") == 1 and "eks:UpdateNodegroupConfig" not in calls
    found = describe_all(eks)
    assert found["database"]["launchTemplate"]["version"] == "2"
    assert found["system"]["launchTemplate"]["version"] == "1"

    # The cluster autoscaler moved a desired size within [min, max]: kept and reported, unless enforced.
    eks.update_nodegroup_config(clusterName=CLUSTER, nodegroupName="application",
                                scalingConfig={"minSize": 3, "maxSize": 12, "desiredSize": 7})
    fresh_account.clear_requests()
    fifth = run_tasks([templates(database_size=600),
                       nodegroups_task("keep drift", nodegroups=groups(application_max=12)),
                       nodegroups_task("enforce", nodegroups=groups(application_max=12), enforce_desired_size=True)])
    assert fifth.rc == 0, fifth.failure_messages()
    keep, enforce = fifth.task_results()["keep drift"], fifth.task_results()["enforce"]
    assert not keep["changed"]
    assert keep["desired_size_drift"] == {"application": {"desired_size": 5, "current_desired_size": 7}}
    assert enforce["changed"] and enforce["updated"] == ["application"]
    assert mutating_calls(fresh_account) == ["eks:UpdateNodegroupConfig"]
    assert eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName="application")["nodegroup"][
        "scalingConfig"]["desiredSize"] == 5

    # Instance types cannot change in place: the failure names group and field and points to recreate.
    # Then recreate one group: new node group, the others untouched.
    arns = {name: group["nodegroupArn"] for name, group in describe_all(eks).items()}
    sixth = run_tasks([
        templates(database_size=600),
        {**nodegroups_task("immutable", nodegroups=groups(application_max=12, database_types=("r5.4xlarge",))),
         "ignore_errors": True},
        nodegroups_task("recreate", nodegroups=groups(application_max=12, database_types=("r5.4xlarge",)),
                        recreate=["database"]),
    ])
    assert sixth.rc == 0, sixth.failure_messages()
    immutable = sixth.task_results()["immutable"]
    assert immutable["failed"]
    assert "nodegroups[2] (database): instance_types ['r5.2xlarge'] -> ['r5.4xlarge']" in immutable["msg"]
    assert "recreate" in immutable["msg"]
    recreated = sixth.task_results()["recreate"]
    assert recreated["recreated"] == ["database"] and recreated["updated"] == [] and recreated["created"] == []
    found = describe_all(eks)
    assert found["database"]["nodegroupArn"] != arns["database"]
    assert found["database"]["instanceTypes"] == ["r5.4xlarge"]
    assert found["database"]["launchTemplate"]["version"] == "2"
    assert {name: found[name]["nodegroupArn"] for name in ("system", "application")} == {
        name: arns[name] for name in ("system", "application")}

    # Delete: check mode deletes nothing, then all three go, concurrently.
    fresh_account.clear_requests()
    absent = {"state": "absent", "nodegroups": [{"name": name} for name in ("system", "application", "database")]}
    seventh = run_tasks([
        {"name": "plan delete", MODULE: {"cluster_name": CLUSTER, **absent}, "check_mode": True},
        {"name": "delete", MODULE: {"cluster_name": CLUSTER, **absent}},
        {"name": "delete again", MODULE: {"cluster_name": CLUSTER, **absent}},
    ])
    assert seventh.rc == 0, seventh.failure_messages()
    assert seventh.task_results()["plan delete"]["deleted"] == ["system", "application", "database"]
    assert mutating_calls(fresh_account).count("eks:DeleteNodegroup") == 3
    assert seventh.task_results()["delete"]["deleted"] == ["system", "application", "database"]
    assert not seventh.task_results()["delete again"]["changed"]
    assert eks.list_nodegroups(clusterName=CLUSTER)["nodegroups"] == []


def test_waits_for_a_cluster_still_creating(fresh_account, run_tasks, boto):
    """The cluster was requested without waiting: the node groups are requested as soon as it is ACTIVE."""
    fresh_account.configure(profile={"eks_cluster_create": 2.0, "eks_nodegroup_create": 0.5})
    make_cluster(fresh_account, boto)
    assert boto("eks").describe_cluster(name=CLUSTER)["cluster"]["status"] == "CREATING"

    run = run_tasks([templates(), nodegroups_task(nodegroups=groups()[:1])])
    assert run.rc == 0, run.failure_messages()
    assert run.task_results()["nodegroups"]["created"] == ["system"]
    cluster_active = [event["ts"] for event in fresh_account.events()
                      if event["kind"] == "eks_cluster" and event["to"] == "ACTIVE"]
    creates = [entry["ts"] for entry in fresh_account.requests() if entry["operation"] == "CreateNodegroup"]
    assert len(cluster_active) == 1 and len(creates) == 1
    assert creates[0] >= cluster_active[0], "the node group was requested before the cluster was ACTIVE"
    assert describe_all(boto("eks"))["system"]["status"] == "ACTIVE"


def test_a_failed_create_does_not_stop_the_others(cluster, run_tasks, boto):
    broken = groups()
    broken[2]["launch_template"] = {"name": "hub-database", "version": "9"}
    run = run_tasks([templates(), {**nodegroups_task(nodegroups=broken), "ignore_errors": True}])
    result = run.task_results()["nodegroups"]
    assert result["failed"]
    assert "database: InvalidParameterException" in result["msg"] and "version 9" in result["msg"]
    assert [group.get("status") for group in result["nodegroups"]] == ["ACTIVE", "ACTIVE", None]
    found = describe_all(boto("eks"))
    assert sorted(found) == ["application", "system"]
    assert {group["status"] for group in found.values()} == {"ACTIVE"}


def test_bad_input_fails_before_any_aws_call(fresh_account, run_tasks):
    base = groups()
    for group in base:
        group["launch_template"] = {"name": group["launch_template"]["name"]}

    def variant(index, **changes):
        edited = [dict(group) for group in base]
        edited[index] = {**edited[index], **changes}
        return edited

    cases = {
        "sizes": (variant(1, scaling={"min_size": 3, "desired_size": 2, "max_size": 10}), {},
                  "nodegroups[1].scaling: min_size 3 > desired_size 2"),
        "max zero": (variant(0, scaling={"min_size": 0, "desired_size": 0, "max_size": 0}), {},
                     "nodegroups[0].scaling: max_size 0 must be >= 1"),
        "capacity": (variant(1, capacity_type="SPOTTY"), {}, "nodegroups[1].capacity_type: 'SPOTTY' must be one of"),
        "effect": (variant(2, taints=[{"key": "workload", "value": "database", "effect": "NO_WAY"}]), {},
                   "nodegroups[2].taints[0].effect: 'NO_WAY' must be one of"),
        "no types": (variant(0, instance_types=[]), {}, "nodegroups[0].instance_types: must list at least one"),
        "duplicate": (variant(2, name="system"), {}, "nodegroups[2].name: 'system' is already nodegroups[0]"),
        "recreate unknown": (base, {"recreate": ["gpu"]}, "recreate: ['gpu'] are not listed in nodegroups"),
        "disk with template": (variant(0, disk_size=50), {}, "nodegroups[0].disk_size: only without a launch template"),
    }
    tasks = [{**nodegroups_task(name, nodegroups=nodegroups, **options), "ignore_errors": True}
             for name, (nodegroups, options, _message) in cases.items()]
    run = run_tasks(tasks)
    results = run.task_results()
    for name, (_nodegroups, _options, message) in cases.items():
        assert results[name].get("failed"), name
        assert message in results[name]["msg"], (name, results[name]["msg"])
    assert fresh_account.requests() == []
