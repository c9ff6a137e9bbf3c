"""llmhub.eks.eks_addon against the emulator: a set of add-ons reconciled in one call."""

from __future__ import annotations

import json

import pytest

from .conftest import mutating_calls

pytestmark = pytest.mark.integration

CLUSTER = "addons-test"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def make_cluster(boto, version="1.34"):
    """VPC, two subnets, a role and an ACTIVE cluster (instant profile), built with boto3."""
    ec2, iam, eks = boto("ec2"), boto("iam"), boto("eks")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"us-east-1{az}")["Subnet"]["SubnetId"]
        for i, az in ((1, "a"), (2, "b"))
    ]
    role = iam.create_role(RoleName="addons-test-cluster", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    cluster = eks.create_cluster(name=CLUSTER, version=version, roleArn=role,
                                 resourcesVpcConfig={"subnetIds": subnets})["cluster"]
    assert eks.describe_cluster(name=CLUSTER)["cluster"]["status"] == "ACTIVE"
    return {"role": role, "subnets": subnets, "arn": cluster["arn"]}


def addon_task(name, addons, **extra):
    task = {"name": name, "llmhub.eks.eks_addon": {"cluster_name": CLUSTER, "addons": addons, **extra}}
    return task


def test_create_idempotent_check_update_delete(fresh_account, run_tasks, boto):
    make_cluster(boto)
    eks = boto("eks")
    fresh_account.clear_requests()
    wanted = [
        {"name": "vpc-cni", "configuration_values": {"env": {"ENABLE_PREFIX_DELEGATION": "true", "WARM_IP_TARGET": "5"}},
         "tags": {"Component": "network"}},
        {"name": "kube-proxy", "version": "v1.34.0-eksbuild.4"},
    ]
    same_as_strings = [
        {"name": "vpc-cni", "configuration_values": '{"env": {"WARM_IP_TARGET": "5", "ENABLE_PREFIX_DELEGATION": "true"}}',
         "tags": {"Component": "network"}},
        {"name": "kube-proxy", "version": "v1.34.0-eksbuild.4"},
    ]
    run = run_tasks([
        {**addon_task("Plan", wanted, tags={"Project": "hub"}), "check_mode": True, "diff": True},
        addon_task("Create", wanted, tags={"Project": "hub"}),
        addon_task("Again", same_as_strings, tags={"Project": "hub"}),
    ])
    assert run.rc == 0, run.failure_messages()
    results = run.task_results()
    plan = results["Plan"]
    assert plan["changed"] is True and plan["created"] == ["vpc-cni", "kube-proxy"]
    assert plan["diff"]["before"] == {}
    assert plan["diff"]["after"]["vpc-cni"]["version"] == "v1.21.1-eksbuild.1"
    assert plan["diff"]["after"]["vpc-cni"]["tags"] == {"Project": "hub", "Component": "network"}
    created = results["Create"]
    assert created["changed"] is True and created["created"] == ["vpc-cni", "kube-proxy"]
    by_name = {a["name"]: a for a in created["addons"]}
    # latest = the newest version compatible with Kubernetes 1.34 (not merely the default one)
    assert by_name["vpc-cni"]["version"] == "v1.21.1-eksbuild.1"
    assert by_name["kube-proxy"]["version"] == "v1.34.0-eksbuild.4"
    assert {a["status"] for a in created["addons"]} == {"ACTIVE"}
    assert by_name["vpc-cni"]["configuration_values"] == {"env": {"ENABLE_PREFIX_DELEGATION": "true",
                                                                  "WARM_IP_TARGET": "5"}}
    again = results["Again"]
    assert again["changed"] is False and again["created"] == [] and again["updated"] == []
    # the check-mode task and the second run made no mutating call: only the two creates happened
    assert sorted(mutating_calls(fresh_account)) == ["eks:CreateAddon", "eks:CreateAddon"]
    cni_arn = by_name["vpc-cni"]["arn"]
    assert eks.describe_addon(clusterName=CLUSTER, addonName="vpc-cni")["addon"]["tags"] == {
        "Project": "hub", "Component": "network"}

    fresh_account.clear_requests()
    run = run_tasks([
        {**addon_task("Update", [
            {"name": "vpc-cni", "configuration_values": "env:\n  WARM_IP_TARGET: '10'\n", "tags": {"Tier": "base"}},
            {"name": "kube-proxy"},
        ], tags={"Project": "hub"}), "diff": True},
        {**addon_task("Downgrade", [{"name": "kube-proxy", "version": "v1.34.0-eksbuild.4"}]), "ignore_errors": True},
        {**addon_task("Incompatible", [{"name": "vpc-cni", "version": "v1.10.0-eksbuild.1"},
                                       {"name": "no-such-addon"}]), "ignore_errors": True},
        addon_task("Delete", [{"name": "kube-proxy"}], state="absent"),
        addon_task("Delete again", [{"name": "kube-proxy"}], state="absent"),
    ])
    assert run.rc == 0, run.failure_messages()
    results = run.task_results()
    update = results["Update"]
    assert update["changed"] is True and update["updated"] == ["vpc-cni", "kube-proxy"] and update["created"] == []
    assert update["diff"]["before"]["kube-proxy"]["version"] == "v1.34.0-eksbuild.4"
    assert update["diff"]["after"]["kube-proxy"]["version"] == "v1.34.2-eksbuild.1"
    assert update["diff"]["after"]["vpc-cni"]["configuration_values"] == {"env": {"WARM_IP_TARGET": "10"}}
    by_name = {a["name"]: a for a in update["addons"]}
    assert by_name["vpc-cni"]["arn"] == cni_arn  # updated in place
    assert by_name["kube-proxy"]["version"] == "v1.34.2-eksbuild.1"
    assert {a["status"] for a in update["addons"]} == {"ACTIVE"}
    cni = eks.describe_addon(clusterName=CLUSTER, addonName="vpc-cni")["addon"]
    assert json.loads(cni["configurationValues"]) == {"env": {"WARM_IP_TARGET": "10"}}
    assert cni["tags"] == {"Project": "hub", "Tier": "base"}
    downgrade = results["Downgrade"]
    assert downgrade["failed"] and "addons[0].version" in downgrade["msg"] and "downgrade" in downgrade["msg"]
    incompatible = results["Incompatible"]["msg"]
    assert "addons[0].version" in incompatible and "v1.21.1-eksbuild.1" in incompatible
    assert "addons[1].name" in incompatible and "no-such-addon" in incompatible
    assert results["Delete"]["changed"] is True and results["Delete"]["deleted"] == ["kube-proxy"]
    assert results["Delete again"]["changed"] is False
    assert eks.list_addons(clusterName=CLUSTER)["addons"] == ["vpc-cni"]
    calls = sorted(mutating_calls(fresh_account))
    assert calls == ["eks:DeleteAddon", "eks:TagResource", "eks:UntagResource", "eks:UpdateAddon",
                     "eks:UpdateAddon"], calls


def test_pod_addons_need_nodes_then_become_active(fresh_account, run_tasks, boto):
    cluster = make_cluster(boto)
    eks, iam = boto("eks"), boto("iam")
    fresh_account.configure(profile={"eks_cluster_create": 60})
    eks.create_cluster(name="still-creating", version="1.34", roleArn=cluster["role"],
                       resourcesVpcConfig={"subnetIds": cluster["subnets"]})
    run = run_tasks([
        {**addon_task("No cluster", [{"name": "coredns"}], cluster_name="missing"), "ignore_errors": True},
        {**addon_task("Creating cluster", [{"name": "coredns"}], cluster_name="still-creating"),
         "ignore_errors": True},
        addon_task("CoreDNS without nodes", [{"name": "coredns"}]),
    ])
    results = run.task_results()
    assert "cluster_name: EKS cluster missing does not exist" in results["No cluster"]["msg"]
    assert "cluster_name: EKS cluster still-creating is CREATING" in results["Creating cluster"]["msg"]
    failed = results["CoreDNS without nodes"]
    assert failed["failed"] is True
    assert ("coredns is DEGRADED: the cluster has no ACTIVE node group; create node groups first "
            "(site.yml runs coredns/aws-ebs-csi-driver after the nodegroups role)") in failed["msg"], failed["msg"]
    assert "InsufficientNumberOfReplicas" in failed["msg"]
    assert failed["created"] == ["coredns"] and failed["addons"][0]["status"] == "DEGRADED"

    ebs_role = iam.create_role(RoleName="addons-test-ebs-csi", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    eks.create_nodegroup(clusterName=CLUSTER, nodegroupName="general", nodeRole=cluster["role"],
                         subnets=cluster["subnets"], scalingConfig={"minSize": 1, "maxSize": 2, "desiredSize": 1})
    fresh_account.clear_requests()
    # CREATING/UPDATING for a while: waited out, once
    fresh_account.configure(profile={"eks_addon_create": 0.5, "eks_addon_update": 3})
    run = run_tasks([
        addon_task("With nodes", [
            {"name": "coredns"},
            {"name": "aws-ebs-csi-driver", "service_account_role": "addons-test-ebs-csi"},
        ]),
        addon_task("No wait", [{"name": "coredns", "configuration_values": {"replicaCount": 3}}], wait=False),
        # coredns is still UPDATING: the module lets that finish before updating it again
        addon_task("Change while updating", [{"name": "coredns", "configuration_values": {"replicaCount": 4}}]),
    ])
    assert run.rc == 0, run.failure_messages()
    result = run.task_results()["With nodes"]
    assert result["created"] == ["aws-ebs-csi-driver"] and result["updated"] == []
    by_name = {a["name"]: a for a in result["addons"]}
    assert by_name["coredns"]["status"] == by_name["aws-ebs-csi-driver"]["status"] == "ACTIVE"
    assert by_name["coredns"]["version"] == "v1.13.1-eksbuild.1"
    assert by_name["aws-ebs-csi-driver"]["service_account_role_arn"] == ebs_role
    assert eks.describe_addon(clusterName=CLUSTER, addonName="aws-ebs-csi-driver")["addon"][
        "serviceAccountRoleArn"] == ebs_role
    no_wait = run.task_results()["No wait"]
    assert no_wait["updated"] == ["coredns"] and no_wait["addons"][0]["status"] == "UPDATING"
    again = run.task_results()["Change while updating"]
    assert again["updated"] == ["coredns"] and again["addons"][0]["status"] == "ACTIVE"
    assert again["addons"][0]["configuration_values"] == {"replicaCount": 4}
    assert mutating_calls(fresh_account) == ["eks:CreateAddon", "eks:UpdateAddon", "eks:UpdateAddon"]
    transitions = [(e["id"], e["to"]) for e in fresh_account.events() if e["kind"] == "eks_addon"]
    assert (f"{CLUSTER}/aws-ebs-csi-driver", "ACTIVE") in transitions


def test_bad_input_fails_before_any_aws_call(fresh_account, run_tasks):
    cases = {
        "Empty name": ([{"name": ""}], "addons[0].name"),
        "Duplicate": ([{"name": "coredns"}, {"name": "coredns"}], "addons[1].name"),
        "Bad conflicts": ([{"name": "coredns", "resolve_conflicts": "MERGE"}], "resolve_conflicts"),
        "Bad configuration": ([{"name": "coredns", "configuration_values": "[1, 2"}], "addons[0].configuration_values"),
        "List configuration": ([{"name": "coredns", "configuration_values": "[1, 2]"}],
                               "addons[0].configuration_values"),
        "Bad role": ([{"name": "aws-ebs-csi-driver", "service_account_role": "arn:aws:iam::1:user/x"}],
                     "addons[0].service_account_role"),
    }
    run = run_tasks([{**addon_task(name, addons), "ignore_errors": True} for name, (addons, _) in cases.items()])
    results = run.task_results()
    for name, (_, option) in cases.items():
        assert results[name].get("failed") is True, name
        assert option in results[name]["msg"], (name, results[name]["msg"])
    assert fresh_account.requests() == []
