"""llmhub.eks.iam_roles against the emulator: create, idempotence, check mode, diff, update, delete, bad input."""

from __future__ import annotations

import copy

import pytest

from tests.integration.conftest import KNOWN_AFTER_APPLY, mutating_calls

pytestmark = pytest.mark.integration

MODULE = "llmhub.eks.iam_roles"
EKS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
EBS_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Volumes", "Effect": "Allow", "Action": ["ec2:DescribeVolumes", "ec2:AttachVolume"],
                   "Resource": "*"}],
}
ROLES = [
    {
        "name": "t-cluster-role",
        "description": "EKS control plane",
        "assume_role_policy": EKS_TRUST,
        "managed_policies": ["AmazonEKSClusterPolicy", "AmazonEKSVPCResourceController"],
    },
    {
        "name": "t-node-role",
        "path": "/eks/",
        "assume_role_policy": EC2_TRUST,
        "managed_policies": ["AmazonEKSWorkerNodePolicy", "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"],
        "inline_policies": {"ebs-volumes": EBS_POLICY},
        "instance_profile": True,
        "max_session_duration": 7200,
        "tags": {"Tier": "nodes"},
    },
]
TAGS = {"Project": "llm-analytics-hub"}


def task(name, roles=None, **options):
    return {"name": name, MODULE: {"roles": roles if roles is not None else ROLES, "tags": TAGS, **options}}


def role_state(iam, name):
    role = iam.get_role(RoleName=name)["Role"]
    attached = sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"])
    inline = {p: iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
              for p in iam.list_role_policies(RoleName=name)["PolicyNames"]}
    profiles = [p["InstanceProfileName"] for p in iam.list_instance_profiles_for_role(RoleName=name)["InstanceProfiles"]]
    tags = {t["Key"]: t["Value"] for t in role.get("Tags", [])}
    return role, attached, inline, profiles, tags


def test_lifecycle(fresh_account, run_tasks, boto):
    iam = boto("iam")

    # Check mode + diff on an empty account: everything would be created, nothing is.
    plan = run_tasks([task("plan")], "--check", "--diff")
    assert plan.rc == 0, plan.failure_messages()
    result = plan.task_results()["plan"]
    assert result["changed"] and result["created"] == ["t-cluster-role", "t-node-role"]
    assert result["role_arns"] == {"t-cluster-role": KNOWN_AFTER_APPLY, "t-node-role": KNOWN_AFTER_APPLY}
    assert result["instance_profile_arns"] == {"t-node-role": KNOWN_AFTER_APPLY}
    after = result["diff"]["after"]
    assert after["t-node-role"]["managed_policies"] == [
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy", "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"]
    assert after["t-node-role"]["instance_profile"] is True
    assert result["diff"]["before"] == {}
    assert mutating_calls(fresh_account) == []
    assert iam.list_roles()["Roles"] == []

    # Create.
    fresh_account.clear_requests()
    created = run_tasks([task("create")])
    assert created.rc == 0, created.failure_messages()
    result = created.task_results()["create"]
    assert result["changed"] and sorted(result["created"]) == ["t-cluster-role", "t-node-role"]
    role, attached, inline, profiles, tags = role_state(iam, "t-node-role")
    assert result["role_arns"]["t-node-role"] == role["Arn"] == "arn:aws:iam::123456789012:role/eks/t-node-role"
    assert role["AssumeRolePolicyDocument"] == EC2_TRUST
    assert role["MaxSessionDuration"] == 7200
    assert attached == ["arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
                        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"]
    assert inline == {"ebs-volumes": EBS_POLICY}
    assert profiles == ["t-node-role"]
    assert tags == {"Project": "llm-analytics-hub", "Tier": "nodes"}
    profile_arn = iam.get_instance_profile(InstanceProfileName="t-node-role")["InstanceProfile"]["Arn"]
    assert result["instance_profile_arns"] == {"t-node-role": profile_arn}
    node = next(r for r in result["roles"] if r["name"] == "t-node-role")
    assert node == {"name": "t-node-role", "arn": role["Arn"], "role_id": role["RoleId"], "path": "/eks/",
                    "managed_policies": attached, "inline_policies": ["ebs-volumes"],
                    "instance_profile_arn": profile_arn}
    cluster_role = iam.get_role(RoleName="t-cluster-role")["Role"]
    assert cluster_role["Description"] == "EKS control plane"

    # Same input again, the documents reworded (order, single-element lists): no change, no mutating call.
    reworded = copy.deepcopy(ROLES)
    reworded[1]["inline_policies"]["ebs-volumes"]["Statement"][0]["Action"].reverse()
    reworded[1]["assume_role_policy"]["Statement"][0]["Action"] = ["sts:AssumeRole"]
    reworded[1]["managed_policies"].reverse()
    fresh_account.clear_requests()
    again = run_tasks([task("again", reworded)])
    assert again.rc == 0, again.failure_messages()
    assert again.changed == 0, again.task_results()["again"]
    assert mutating_calls(fresh_account) == []

    # Update in place, planned first in check mode (same playbook), with diff.
    updated_roles = copy.deepcopy(ROLES)
    updated_roles[0]["assume_role_policy"]["Statement"][0]["Principal"]["Service"] = [
        "eks.amazonaws.com", "eks-fargate-pods.amazonaws.com"]
    updated_roles[1]["managed_policies"] = ["AmazonEKSWorkerNodePolicy"]          # detach the CNI policy
    updated_roles[1]["inline_policies"]["ebs-volumes"]["Statement"][0]["Action"].append("ec2:DetachVolume")
    updated_roles[1]["tags"] = {"Tier": "workers"}
    update = run_tasks([dict(task("plan update", updated_roles), check_mode=True),
                        task("update", updated_roles)], "--diff")
    assert update.rc == 0, update.failure_messages()
    planned, applied = update.task_results()["plan update"], update.task_results()["update"]
    for result in (planned, applied):
        assert result["changed"] and result["created"] == []
        assert sorted(result["updated"]) == ["t-cluster-role", "t-node-role"]
    assert "t-node-role: detach arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy" in applied["actions"]
    diff = applied["diff"]
    assert diff["before"]["t-node-role"]["managed_policies"] == [
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy", "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"]
    assert diff["after"]["t-node-role"]["managed_policies"] == ["arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"]
    assert diff["after"]["t-node-role"]["tags"] == {"Project": "llm-analytics-hub", "Tier": "workers"}
    assert diff["after"]["t-cluster-role"]["assume_role_policy"]["Statement"][0]["Principal"]["Service"] == [
        "eks-fargate-pods.amazonaws.com", "eks.amazonaws.com"]
    role, attached, inline, profiles, tags = role_state(iam, "t-node-role")
    assert attached == ["arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"]
    assert "ec2:DetachVolume" in inline["ebs-volumes"]["Statement"][0]["Action"]
    assert tags == {"Project": "llm-analytics-hub", "Tier": "workers"}
    assert iam.get_role(RoleName="t-cluster-role")["Role"]["AssumeRolePolicyDocument"] == (
        updated_roles[0]["assume_role_policy"])

    # Delete: check mode first (the real run after it still finds both roles), then for real, then nothing to do.
    names = [{"name": "t-cluster-role"}, {"name": "t-node-role"}]
    delete = run_tasks([dict(task("plan delete", names, state="absent"), check_mode=True),
                        task("delete", names, state="absent"),
                        task("delete again", names, state="absent")])
    assert delete.rc == 0, delete.failure_messages()
    results = delete.task_results()
    assert results["plan delete"]["deleted"] == results["delete"]["deleted"] == ["t-cluster-role", "t-node-role"]
    assert not results["delete again"]["changed"] and results["delete again"]["deleted"] == []
    assert iam.list_roles()["Roles"] == []
    assert iam.list_instance_profiles()["InstanceProfiles"] == []


def test_bad_input_fails_before_any_aws_call(fresh_account, run_tasks):
    cases = {
        "bad name": ([{"name": "not a role name", "assume_role_policy": EKS_TRUST}], "roles[0].name"),
        "duplicate": ([ROLES[0], dict(ROLES[0])], "roles[1].name"),
        "no trust policy": ([{"name": "r"}], "roles[0].assume_role_policy"),
        "trust without Statement": ([{"name": "r", "assume_role_policy": {"Version": "2012-10-17"}}],
                                    "roles[0].assume_role_policy"),
        "bad managed policy": ([dict(ROLES[0], managed_policies=["arn:aws:iam::aws:user/x"])],
                               "roles[0].managed_policies[0]"),
        "bad inline document": ([dict(ROLES[0], inline_policies={"p": "{not json"})], "roles[0].inline_policies.p"),
        "session too long": ([dict(ROLES[0], max_session_duration=50000)], "roles[0].max_session_duration"),
    }
    run = run_tasks([dict(task(case, roles), ignore_errors=True) for case, (roles, _option) in cases.items()])
    results = run.task_results()
    for case, (_roles, option) in cases.items():
        assert results[case].get("failed"), case
        assert option in results[case]["msg"], (case, results[case]["msg"])
    assert fresh_account.requests() == []
