"""llmhub.eks.irsa_role against the emulator: trust policies from the cluster's OIDC issuer and service accounts."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import KNOWN_AFTER_APPLY, mutating_calls

pytestmark = pytest.mark.integration

MODULE = "llmhub.eks.irsa_role"
CLUSTER = "irsa-test-eks"
ACCOUNT = "123456789012"
EBS_CSI = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
READ_LOGS = {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "logs:GetLogEvents", "Resource": "*"}]}


def create_cluster(boto):
    """An EKS cluster (with its OIDC issuer) and its IAM OIDC provider, made directly with boto3."""
    ec2, iam, eks = boto("ec2"), boto("iam"), boto("eks")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"us-east-1{az}")
               ["Subnet"]["SubnetId"] for i, az in enumerate("ab")]
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="irsa-test-cluster", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    eks.create_cluster(name=CLUSTER, roleArn=role, resourcesVpcConfig={"subnetIds": subnets})
    issuer = eks.describe_cluster(name=CLUSTER)["cluster"]["identity"]["oidc"]["issuer"]
    iam.create_open_id_connect_provider(Url=issuer, ClientIDList=["sts.amazonaws.com"])
    return issuer


def host_of(issuer):
    return issuer.removeprefix("https://")


def task(name, roles, **options):
    return {"name": name, MODULE: {"cluster_name": CLUSTER, "roles": roles, **options}}


ROLES = [
    {"name": "t-ebs-csi", "service_accounts": [{"namespace": "kube-system", "name": "ebs-csi-controller-sa"}],
     "managed_policies": ["service-role/AmazonEBSCSIDriverPolicy"], "tags": {"Addon": "ebs-csi"}},
    {"name": "t-log-reader", "service_accounts": [{"namespace": "monitoring", "name": "reader"}],
     "inline_policies": {"read-logs": READ_LOGS}},
]


def test_lifecycle(fresh_account, run_tasks, boto):
    iam = boto("iam")
    issuer = create_cluster(boto)
    host = host_of(issuer)
    provider = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"

    # Check mode with diff: both roles would be created, nothing is.
    fresh_account.clear_requests()
    plan = run_tasks([task("plan", ROLES, tags={"Project": "hub"})], "--check", "--diff")
    assert plan.rc == 0, plan.failure_messages()
    result = plan.task_results()["plan"]
    assert result["changed"] and result["created"] == ["t-ebs-csi", "t-log-reader"]
    assert result["role_arns"] == {"t-ebs-csi": KNOWN_AFTER_APPLY, "t-log-reader": KNOWN_AFTER_APPLY}
    assert result["issuer"] == issuer and result["oidc_provider_arn"] == provider
    trust = result["diff"]["after"]["t-ebs-csi"]["assume_role_policy"]
    assert trust["Statement"][0]["Condition"]["StringEquals"][f"{host}:sub"] == [
        "system:serviceaccount:kube-system:ebs-csi-controller-sa"]
    assert mutating_calls(fresh_account) == []
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["irsa-test-cluster"]

    # Create: the trust policy is exactly the IRSA one, the service-role/ policy is attached.
    created = run_tasks([task("create", ROLES, tags={"Project": "hub"})])
    assert created.rc == 0, created.failure_messages()
    result = created.task_results()["create"]
    assert result["created"] == ["t-ebs-csi", "t-log-reader"]
    role = iam.get_role(RoleName="t-ebs-csi")["Role"]
    assert result["role_arns"]["t-ebs-csi"] == role["Arn"]
    assert role["AssumeRolePolicyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{host}:sub": "system:serviceaccount:kube-system:ebs-csi-controller-sa",
                f"{host}:aud": "sts.amazonaws.com",
            }},
        }],
    }
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="t-ebs-csi")["AttachedPolicies"]] == [
        EBS_CSI]
    assert {t["Key"]: t["Value"] for t in role["Tags"]} == {"Project": "hub", "Addon": "ebs-csi"}
    assert iam.list_role_policies(RoleName="t-log-reader")["PolicyNames"] == ["read-logs"]

    # Second run, and the same roles through oidc_issuer instead of cluster_name: no change, no mutating call.
    fresh_account.clear_requests()
    same_issuer = {"name": "by issuer", MODULE: {"oidc_issuer": issuer, "roles": ROLES, "tags": {"Project": "hub"}}}
    again = run_tasks([task("again", ROLES, tags={"Project": "hub"}), same_issuer])
    assert again.rc == 0, again.failure_messages()
    assert again.changed == 0, again.task_results()
    assert mutating_calls(fresh_account) == []

    # A second service account on one role, the inline policy of the other deleted (purge), with diff.
    changed_roles = [
        dict(ROLES[0], service_accounts=[{"namespace": "kube-system", "name": "ebs-csi-node-sa"},
                                         {"namespace": "kube-system", "name": "ebs-csi-controller-sa"}]),
        dict(ROLES[1], managed_policies=[], inline_policies={}),
    ]
    fresh_account.clear_requests()
    update = run_tasks([task("update", changed_roles, tags={"Project": "hub"})], "--diff")
    assert update.rc == 0, update.failure_messages()
    result = update.task_results()["update"]
    assert result["updated"] == ["t-ebs-csi", "t-log-reader"] and result["created"] == []
    subjects = ["system:serviceaccount:kube-system:ebs-csi-controller-sa",
                "system:serviceaccount:kube-system:ebs-csi-node-sa"]
    trust = iam.get_role(RoleName="t-ebs-csi")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Condition"]["StringEquals"][f"{host}:sub"] == subjects
    before = result["diff"]["before"]["t-ebs-csi"]["assume_role_policy"]["Statement"][0]["Condition"]
    after = result["diff"]["after"]["t-ebs-csi"]["assume_role_policy"]["Statement"][0]["Condition"]
    assert before["StringEquals"][f"{host}:sub"] == subjects[:1]
    assert after["StringEquals"][f"{host}:sub"] == subjects
    assert result["diff"]["after"]["t-log-reader"]["inline_policies"] == {}
    assert iam.list_role_policies(RoleName="t-log-reader")["PolicyNames"] == []
    assert sorted(mutating_calls(fresh_account)) == ["iam:DeleteRolePolicy", "iam:UpdateAssumeRolePolicy"]

    # Delete (check mode first: the real run after it still finds both).
    names = [{"name": "t-ebs-csi"}, {"name": "t-log-reader"}]
    delete = run_tasks([dict(task("plan delete", names, state="absent"), check_mode=True),
                        task("delete", names, state="absent")])
    assert delete.rc == 0, delete.failure_messages()
    results = delete.task_results()
    assert results["plan delete"]["deleted"] == results["delete"]["deleted"] == ["t-ebs-csi", "t-log-reader"]
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["irsa-test-cluster"]


def test_missing_cluster_or_provider(fresh_account, run_tasks, boto):
    """Check mode plans without the cluster; a real run fails before changing a role."""
    issuer = "https://oidc.eks.us-east-1.amazonaws.com/id/NOPROVIDER"
    run = run_tasks([
        dict(task("plan without cluster", ROLES), check_mode=True),
        dict(task("no cluster", ROLES), ignore_errors=True),
        {"name": "no provider", "ignore_errors": True, MODULE: {"oidc_issuer": issuer, "roles": ROLES}},
    ])
    results = run.task_results()
    planned = results["plan without cluster"]
    assert planned["created"] == ["t-ebs-csi", "t-log-reader"] and planned["issuer"] == KNOWN_AFTER_APPLY
    assert any(CLUSTER in warning for warning in planned.get("warnings", []))
    assert results["no cluster"]["failed"] and "cluster_name" in results["no cluster"]["msg"]
    assert results["no provider"]["failed"] and "llmhub.eks.iam_oidc_provider" in results["no provider"]["msg"]
    assert mutating_calls(fresh_account) == []
    assert boto("iam").list_roles()["Roles"] == []


def test_bad_input_fails_before_any_aws_call(fresh_account, run_tasks):
    sa = [{"namespace": "kube-system", "name": "ok"}]
    cases = {
        "bad namespace": ({"cluster_name": CLUSTER, "roles": [{"name": "r", "service_accounts": [
            {"namespace": "Kube_System", "name": "ok"}]}]}, "roles[0].service_accounts[0].namespace"),
        "bad service account": ({"cluster_name": CLUSTER, "roles": [{"name": "r", "service_accounts": [
            {"namespace": "ok", "name": "-bad-"}]}]}, "roles[0].service_accounts[0].name"),
        "no service account": ({"cluster_name": CLUSTER, "roles": [{"name": "r", "service_accounts": []}]},
                               "roles[0].service_accounts"),
        "http issuer": ({"oidc_issuer": "http://oidc.example.com", "roles": [{"name": "r", "service_accounts": sa}]},
                        "oidc_issuer"),
        "bad role name": ({"cluster_name": CLUSTER, "roles": [{"name": "r", "service_accounts": sa},
                                                              {"name": "x" * 65, "service_accounts": sa}]},
                          "roles[1].name"),
        "both issuer sources": ({"cluster_name": CLUSTER, "oidc_issuer": "https://oidc.example.com",
                                 "roles": [{"name": "r", "service_accounts": sa}]}, "cluster_name"),
        "no issuer source": ({"roles": [{"name": "r", "service_accounts": sa}]}, "cluster_name"),
        "bad inline policy": ({"cluster_name": CLUSTER, "roles": [{"name": "r", "service_accounts": sa,
                                                                   "inline_policies": {"p": {"Statement": "x"}}}]},
                              "roles[0].inline_policies.p"),
    }
    run = run_tasks([{"name": case, "ignore_errors": True, MODULE: options} for case, (options, _o) in cases.items()])
    results = run.task_results()
    for case, (_options, option) in cases.items():
        assert results[case].get("failed"), case
        assert option in results[case]["msg"], (case, results[case]["msg"])
    assert fresh_account.requests() == []
