"""llmhub.eks.iam_oidc_provider against the emulator: the OIDC provider of a cluster's issuer."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import KNOWN_AFTER_APPLY, mutating_calls

pytestmark = pytest.mark.integration

MODULE = "llmhub.eks.iam_oidc_provider"
CLUSTER = "oidc-test-eks"
THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


def create_cluster(boto):
    ec2, iam, eks = boto("ec2"), boto("iam"), boto("eks")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.8.{i}.0/24", AvailabilityZone=f"us-east-1{az}")
               ["Subnet"]["SubnetId"] for i, az in enumerate("ab")]
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="oidc-test-cluster", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    eks.create_cluster(name=CLUSTER, roleArn=role, resourcesVpcConfig={"subnetIds": subnets})
    return eks.describe_cluster(name=CLUSTER)["cluster"]["identity"]["oidc"]["issuer"]


def task(name, **options):
    return {"name": name, MODULE: {"cluster_name": CLUSTER, **options}}


def providers(iam):
    return [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]


def test_lifecycle(fresh_account, run_tasks, boto):
    iam = boto("iam")

    # Check mode before the cluster exists (a plan of a fresh deploy): would be created, with a warning.
    early = run_tasks([task("plan early")], "--check")
    assert early.rc == 0, early.failure_messages()
    assert early.task_results()["plan early"]["changed"]
    assert any(CLUSTER in w for w in early.task_results()["plan early"].get("warnings", []))

    issuer = create_cluster(boto)
    arn = f"arn:aws:iam::123456789012:oidc-provider/{issuer.removeprefix('https://')}"

    # Check mode with diff, then create, then the same again: one playbook, request log checked around it.
    fresh_account.clear_requests()
    plan = run_tasks([task("plan", tags={"Project": "hub"})], "--check", "--diff")
    assert plan.rc == 0, plan.failure_messages()
    result = plan.task_results()["plan"]
    assert result["changed"] and result["arn"] == KNOWN_AFTER_APPLY and result["url"] == issuer
    assert result["diff"] == {"before": {}, "after": {"url": issuer, "client_ids": ["sts.amazonaws.com"],
                                                      "thumbprints": [], "tags": {"Project": "hub"}}}
    assert mutating_calls(fresh_account) == [] and providers(iam) == []

    created = run_tasks([task("create", tags={"Project": "hub"})])
    assert created.rc == 0, created.failure_messages()
    result = created.task_results()["create"]
    assert result["changed"] and result["arn"] == arn
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert provider["ClientIDList"] == ["sts.amazonaws.com"]
    assert provider["ThumbprintList"] == []  # none sent: IAM uses its trusted CAs for EKS issuers
    assert {t["Key"]: t["Value"] for t in provider["Tags"]} == {"Project": "hub"}

    fresh_account.clear_requests()
    again = run_tasks([task("again", tags={"Project": "hub"}),
                       {"name": "by url", MODULE: {"url": issuer, "tags": {"Project": "hub"}}}])
    assert again.rc == 0, again.failure_messages()
    assert again.changed == 0, again.task_results()
    assert again.task_results()["by url"]["arn"] == arn
    assert mutating_calls(fresh_account) == []

    # Thumbprints and tags change; afterwards omitting thumbprints keeps them.
    fresh_account.clear_requests()
    update = run_tasks([task("update", thumbprints=[THUMBPRINT.upper()], tags={"Team": "platform"}),
                        task("keep thumbprints", tags={"Team": "platform"})], "--diff")
    assert update.rc == 0, update.failure_messages()
    results = update.task_results()
    assert results["update"]["changed"] and not results["keep thumbprints"]["changed"]
    assert results["update"]["diff"]["before"]["thumbprints"] == []
    assert results["update"]["diff"]["after"]["thumbprints"] == [THUMBPRINT]
    assert results["update"]["diff"]["after"]["tags"] == {"Team": "platform"}
    assert results["keep thumbprints"]["thumbprints"] == [THUMBPRINT]
    assert sorted(mutating_calls(fresh_account)) == ["iam:TagOpenIDConnectProvider", "iam:UntagOpenIDConnectProvider",
                                                     "iam:UpdateOpenIDConnectProviderThumbprint"]
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert [t.lower() for t in provider["ThumbprintList"]] == [THUMBPRINT]
    assert {t["Key"]: t["Value"] for t in provider["Tags"]} == {"Team": "platform"}

    # Delete: check mode first, then for real, then nothing left to do.
    delete = run_tasks([dict(task("plan delete", state="absent"), check_mode=True),
                        task("delete", state="absent"), task("delete again", state="absent")])
    assert delete.rc == 0, delete.failure_messages()
    results = delete.task_results()
    assert results["plan delete"]["changed"] and results["delete"]["changed"]
    assert not results["delete again"]["changed"]
    assert providers(iam) == []


def test_bad_input_fails_before_any_aws_call(fresh_account, run_tasks):
    cases = {
        "http url": ({"url": "http://oidc.example.com/id/x"}, "url"),
        "url without scheme": ({"url": "oidc.example.com/id/x"}, "url"),
        "short thumbprint": ({"url": "https://oidc.example.com", "thumbprints": ["abc"]}, "thumbprints[0]"),
        "six thumbprints": ({"url": "https://oidc.example.com", "thumbprints": [THUMBPRINT] * 6}, "thumbprints"),
        "no client id": ({"url": "https://oidc.example.com", "client_ids": []}, "client_ids"),
        "url and cluster": ({"url": "https://oidc.example.com", "cluster_name": CLUSTER}, "cluster_name"),
        "neither url nor cluster": ({}, "cluster_name"),
    }
    run = run_tasks([{"name": case, "ignore_errors": True, MODULE: options} for case, (options, _o) in cases.items()])
    results = run.task_results()
    for case, (_options, option) in cases.items():
        assert results[case].get("failed"), case
        assert option in results[case]["msg"], (case, results[case]["msg"])
    assert fresh_account.requests() == []
