"""llmhub.eks.eks_access_entries against the emulator: cluster access reconciled as a set."""

from __future__ import annotations

import json

import pytest

from .conftest import mutating_calls

pytestmark = pytest.mark.integration

CLUSTER = "access-test"
ACCOUNT = "123456789012"
POLICY = "arn:aws:eks::aws:cluster-access-policy/"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def role(name):
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def make_cluster(boto, name=CLUSTER, mode="API_AND_CONFIG_MAP"):
    """VPC, two subnets, roles and an ACTIVE cluster (instant profile), built with boto3."""
    ec2, iam, eks = boto("ec2"), boto("iam"), boto("eks")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.30.{i}.0/24", AvailabilityZone=f"us-east-1{az}")["Subnet"]["SubnetId"]
        for i, az in ((1, "a"), (2, "b"))
    ]
    cluster_role = iam.create_role(RoleName=f"{name}-cluster", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    eks.create_cluster(name=name, version="1.35", roleArn=cluster_role, resourcesVpcConfig={"subnetIds": subnets},
                       accessConfig={"authenticationMode": mode})
    return subnets


def entries_task(name, entries, **extra):
    return {"name": name, "llmhub.eks.eks_access_entries": {"cluster_name": CLUSTER, "access_entries": entries, **extra}}


def current(eks):
    """{principal: (type, sorted groups, username, {policy name: scope})} as EKS has them."""
    found = {}
    for principal in eks.list_access_entries(clusterName=CLUSTER)["accessEntries"]:
        entry = eks.describe_access_entry(clusterName=CLUSTER, principalArn=principal)["accessEntry"]
        policies = eks.list_associated_access_policies(clusterName=CLUSTER, principalArn=principal)
        found[principal] = (
            entry["type"], sorted(entry["kubernetesGroups"]), entry["username"],
            {p["policyArn"].removeprefix(POLICY): (p["accessScope"]["type"], sorted(p["accessScope"]["namespaces"]))
             for p in policies["associatedAccessPolicies"]},
        )
    return found


def test_create_update_purge_keeps_node_and_kept_entries(fresh_account, run_tasks, boto):
    subnets = make_cluster(boto)
    iam, eks = boto("iam"), boto("eks")
    for name in ("admins", "developers", "stray", "break-glass", "nodes"):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    iam.create_user(UserName="auditor")
    eks.create_nodegroup(clusterName=CLUSTER, nodegroupName="general", nodeRole=role("nodes"), subnets=subnets,
                         scalingConfig={"minSize": 1, "maxSize": 2, "desiredSize": 1})
    for name in ("stray", "break-glass"):
        eks.create_access_entry(clusterName=CLUSTER, principalArn=role(name))
    creator = eks.list_access_entries(clusterName=CLUSTER)["accessEntries"]
    creator = [p for p in creator if p not in (role("stray"), role("break-glass"), role("nodes"))]
    assert len(creator) == 1  # the cluster creator's admin entry (bootstrapClusterCreatorAdminPermissions)
    fresh_account.clear_requests()

    wanted = [
        {"principal_arn": role("admins"), "access_policies": [{"policy": "AmazonEKSClusterAdminPolicy"}]},
        {"principal_arn": role("developers"), "kubernetes_groups": ["developers"],
         "access_policies": [{"policy": "AmazonEKSEditPolicy",
                              "access_scope": {"type": "namespace", "namespaces": ["apps"]}}]},
    ]
    keep = {"keep_principals": [role("break-glass")]}
    run = run_tasks([
        {**entries_task("Plan", wanted, **keep), "check_mode": True, "diff": True},
        entries_task("Apply", wanted, **keep),
        entries_task("Again", wanted, **keep),
    ])
    assert run.rc == 0, run.failure_messages()
    results = run.task_results()
    plan = results["Plan"]
    assert plan["changed"] is True
    assert plan["created"] == [role("admins"), role("developers")] and plan["deleted"] == [role("stray")]
    assert role("stray") in plan["diff"]["before"] and role("stray") not in plan["diff"]["after"]
    assert plan["diff"]["after"][role("developers")]["access_policies"] == [
        {"policy_arn": POLICY + "AmazonEKSEditPolicy", "access_scope": {"type": "namespace", "namespaces": ["apps"]}}]
    applied = results["Apply"]
    assert applied["created"] == plan["created"] and applied["deleted"] == plan["deleted"]
    again = results["Again"]
    assert again["changed"] is False and again["created"] == again["updated"] == again["deleted"] == []
    assert sorted(mutating_calls(fresh_account)) == [
        "eks:AssociateAccessPolicy", "eks:AssociateAccessPolicy", "eks:CreateAccessEntry", "eks:CreateAccessEntry",
        "eks:DeleteAccessEntry"]
    state = current(eks)
    assert sorted(state) == sorted([role("admins"), role("developers"), role("break-glass"), role("nodes"), *creator])
    assert state[role("nodes")][0] == "EC2_LINUX"
    assert state[role("admins")][3] == {"AmazonEKSClusterAdminPolicy": ("cluster", [])}
    assert state[role("developers")][1] == ["developers"]
    assert state[role("developers")][3] == {"AmazonEKSEditPolicy": ("namespace", ["apps"])}
    returned = {e["principal_arn"]: e for e in again["access_entries"]}
    assert sorted(returned) == sorted(state)

    make_cluster(boto, name="config-map-only", mode="CONFIG_MAP")
    fresh_account.clear_requests()
    auditor = f"arn:aws:iam::{ACCOUNT}:user/auditor"
    updated = [
        {"principal_arn": role("developers"), "kubernetes_groups": ["developers", "ops"], "username": "developer",
         "tags": {"Team": "dev"},
         "access_policies": [
             {"policy": "AmazonEKSEditPolicy", "access_scope": {"type": "namespace", "namespaces": ["batch", "apps"]}},
             {"policy": POLICY + "AmazonEKSViewPolicy"}]},
        {"principal_arn": auditor, "access_policies": [{"policy": "AmazonEKSViewPolicy"}]},
    ]
    run = run_tasks([
        {**entries_task("Unknown policy", [{"principal_arn": role("admins"),
                                            "access_policies": [{"policy": "AmazonEKSNopePolicy"}]}]),
         "ignore_errors": True},
        {**entries_task("Type change", [{"principal_arn": role("nodes")}]), "ignore_errors": True},
        {**entries_task("Config map", [], cluster_name="config-map-only"), "ignore_errors": True},
        {**entries_task("Plan on config map", updated, cluster_name="config-map-only"), "check_mode": True},
        {**entries_task("Plan without cluster", updated, cluster_name="not-yet"), "check_mode": True},
        {**entries_task("Update", updated, **keep), "diff": True},
        entries_task("Remove auditor", [{"principal_arn": auditor}], state="absent"),
    ])
    assert run.rc == 0, run.failure_messages()
    results = run.task_results()
    assert "access_entries[0].access_policies[0].policy" in results["Unknown policy"]["msg"]
    assert "access_entries[0].type" in results["Type change"]["msg"], results["Type change"]["msg"]
    assert "CONFIG_MAP" in results["Config map"]["msg"] and "API_AND_CONFIG_MAP" in results["Config map"]["msg"]
    for name in ("Plan on config map", "Plan without cluster"):
        assert results[name]["changed"] and results[name]["created"] == [role("developers"), auditor], name
    assert "CONFIG_MAP" in results["Plan on config map"]["warnings"][0]
    update = results["Update"]
    assert update["created"] == [auditor] and update["updated"] == [role("developers")]
    assert update["deleted"] == [role("admins")]  # node, kept and creator entries stay
    assert update["diff"]["before"][role("developers")]["kubernetes_groups"] == ["developers"]
    assert update["diff"]["after"][role("developers")]["kubernetes_groups"] == ["developers", "ops"]
    assert results["Remove auditor"]["deleted"] == [auditor]
    state = current(eks)
    assert sorted(state) == sorted([role("developers"), role("break-glass"), role("nodes"), *creator])
    assert state[role("developers")] == (
        "STANDARD", ["developers", "ops"], "developer",
        {"AmazonEKSEditPolicy": ("namespace", ["apps", "batch"]), "AmazonEKSViewPolicy": ("cluster", [])})
    tags = eks.describe_access_entry(clusterName=CLUSTER, principalArn=role("developers"))["accessEntry"]["tags"]
    assert tags == {"Team": "dev"}
    assert sorted(mutating_calls(fresh_account)) == [
        "eks:AssociateAccessPolicy", "eks:AssociateAccessPolicy", "eks:AssociateAccessPolicy",
        "eks:CreateAccessEntry", "eks:DeleteAccessEntry", "eks:DeleteAccessEntry", "eks:TagResource",
        "eks:UpdateAccessEntry"]


def test_bad_input_fails_before_any_aws_call(fresh_account, run_tasks):
    admin = role("admins")
    cases = {
        "Not an IAM ARN": ([{"principal_arn": "arn:aws:sts::123456789012:assumed-role/admins/me"}],
                           "access_entries[0].principal_arn"),
        "Duplicate": ([{"principal_arn": admin}, {"principal_arn": admin}], "access_entries[1].principal_arn"),
        "Namespace scope without namespaces": (
            [{"principal_arn": admin, "access_policies": [{"policy": "AmazonEKSEditPolicy",
                                                           "access_scope": {"type": "namespace"}}]}],
            "access_entries[0].access_policies[0].access_scope"),
        "Bad policy": ([{"principal_arn": admin, "access_policies": [{"policy": "arn:aws:iam::aws:policy/Admin"}]}],
                       "access_entries[0].access_policies[0].policy"),
        "Groups on a node entry": ([{"principal_arn": admin, "type": "EC2_LINUX", "kubernetes_groups": ["x"]}],
                                   "access_entries[0].kubernetes_groups"),
        "Reserved username": ([{"principal_arn": admin, "username": "system:admin"}], "access_entries[0].username"),
        "Bad type": ([{"principal_arn": admin, "type": "ROOT"}], "type"),
    }
    run = run_tasks([{**entries_task(name, entries), "ignore_errors": True} for name, (entries, _) in cases.items()])
    results = run.task_results()
    for name, (_, option) in cases.items():
        assert results[name].get("failed") is True, name
        assert option in results[name]["msg"], (name, results[name]["msg"])
    assert fresh_account.requests() == []
