"""Every IAM policy the roles ship is least privilege: parliament finds nothing.

Identity policies (inline and IRSA policies) are rendered with the values the
roles give their placeholders (llmhub.eks.policy_document) and analysed by
parliament, community auditors included.
Trust and key policies are resource policies, which parliament does not
analyse; they are checked here exactly: who is trusted, with what action.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from parliament import analyze_policy_string

from ansible_collections.llmhub.eks.plugins.plugin_utils.policy_documents import load

ROOT = Path(__file__).resolve().parents[3]
# The values iam_policy_values / eks_policy_values (and the iam role's key policy task) give.
VALUES = {
    "partition": "aws", "region": "us-east-1", "account_id": "123456789012",
    "cluster_name": "llm-analytics-hub-prod-eks", "secrets_path": "llmhub/llm-analytics-hub-prod-eks/",
    "administrators": ["arn:aws:iam::123456789012:root"],
    "cluster_role_arn": "arn:aws:iam::123456789012:role/hub-cluster-role",
}
IDENTITY_POLICIES = [
    ("iam", "cluster-kms-policy.json"),
    ("iam", "node-cloudwatch-policy.json"),
    ("iam", "node-ebs-policy.json"),
    ("eks", "cluster-autoscaler-policy.json"),
    ("eks", "aws-load-balancer-controller-policy.json"),
    ("eks", "ebs-csi-kms-policy.json"),
    ("eks", "external-secrets-policy.json"),
]


def render(role, name):
    return json.dumps(load(ROOT / "roles" / role / "files" / name, VALUES))


def test_every_policy_document_is_listed():
    documents = {(p.parent.parent.name, p.name) for p in ROOT.glob("roles/*/files/*-policy.json")}
    trust = {("iam", "cluster-trust-policy.json"), ("iam", "node-trust-policy.json")}
    assert documents == set(IDENTITY_POLICIES) | {("iam", "kms-key-policy.json")} | trust


# Findings that are the point of a policy, each for one reason: the load balancer controller creates ELB's
# service-linked role in a fresh account (that role's ARN only); the EBS CSI driver hands EC2 grants on the
# cluster's key (kms:GrantIsForAWSResource, keys tagged for the cluster only).
EXPECTED = {
    "aws-load-balancer-controller-policy.json": [("PERMISSIONS_MANAGEMENT_ACTIONS", "")],
    "ebs-csi-kms-policy.json": [("PERMISSIONS_MANAGEMENT_ACTIONS", "")],
}


@pytest.mark.parametrize("role, template", IDENTITY_POLICIES)
def test_identity_policy_has_no_parliament_findings(role, template):
    text = render(role, template)
    assert "${" not in text
    json.loads(text)
    findings = analyze_policy_string(text, include_community_auditors=True).findings
    assert [(f.issue, f.detail) for f in findings] == EXPECTED.get(template, [])


@pytest.mark.parametrize("name, service", [("cluster", "eks.amazonaws.com"), ("node", "ec2.amazonaws.com")])
def test_trust_policies_trust_exactly_one_service(name, service):
    policy = json.loads((ROOT / "roles" / "iam" / "files" / f"{name}-trust-policy.json").read_text())
    assert [(s["Effect"], s["Principal"], s["Action"]) for s in policy["Statement"]] == [
        ("Allow", {"Service": service}, "sts:AssumeRole")]


def test_key_policy_lets_the_cluster_role_use_the_key_and_nothing_more():
    policy = json.loads(render("iam", "kms-key-policy.json"))
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["AccountAdministersTheKey"]["Principal"] == {"AWS": ["arn:aws:iam::123456789012:root"]}
    use = by_sid["ClusterRoleUsesTheKey"]
    assert use["Principal"] == {"AWS": VALUES["cluster_role_arn"]}
    assert sorted(use["Action"]) == ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ListGrants"]
    grants = by_sid["ClusterRoleGrantsForAWSResources"]
    assert grants["Action"] == "kms:CreateGrant"
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
