"""Every IAM policy the roles ship is least privilege: parliament finds nothing.

Identity policies (inline and IRSA policies) are rendered with the role's
template variables and analysed by parliament, community auditors included.
Trust and key policies are resource policies, which parliament does not
analyse; they are checked here exactly: who is trusted, with what action.
"""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
import pytest
from parliament import analyze_policy_string

ROOT = Path(__file__).resolve().parents[3]
CONTEXT = {
    "iam_partition": "aws", "iam_aws_region": "us-east-1", "iam_account_id": "123456789012",
    "iam_cluster_name": "llm-analytics-hub-prod-eks", "iam_kms_alias": "alias/llm-analytics-hub-prod-eks",
    "iam_kms_admin_arns": [], "iam_cluster_role_arn": "arn:aws:iam::123456789012:role/hub-cluster-role",
    "eks_partition": "aws", "eks_aws_region": "us-east-1", "eks_account_id": "123456789012",
    "eks_cluster_name": "llm-analytics-hub-prod-eks", "eks_secrets_path": "llmhub/llm-analytics-hub-prod-eks/",
}
IDENTITY_POLICIES = [
    ("iam", "cluster-kms-policy.json.j2"),
    ("iam", "node-cloudwatch-policy.json.j2"),
    ("iam", "node-ebs-policy.json.j2"),
    ("eks", "cluster-autoscaler-policy.json.j2"),
    ("eks", "aws-load-balancer-controller-policy.json.j2"),
    ("eks", "ebs-csi-kms-policy.json.j2"),
    ("eks", "external-secrets-policy.json.j2"),
]


def render(role, template):
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(ROOT / "roles" / role / "templates"),
                                     undefined=jinja2.StrictUndefined)
    environment.filters["to_json"] = json.dumps
    return environment.get_template(template).render(**CONTEXT)


def test_every_policy_template_is_listed():
    templates = {(p.parent.parent.name, p.name) for p in ROOT.glob("roles/*/templates/*policy.json.j2")}
    assert templates == set(IDENTITY_POLICIES) | {("iam", "kms-key-policy.json.j2")}


# Findings that are the point of a policy, each for one reason: the load balancer controller creates ELB's
# service-linked role in a fresh account (that role's ARN only); the EBS CSI driver hands EC2 grants on the
# cluster's key (kms:GrantIsForAWSResource, keys tagged for the cluster only).
EXPECTED = {
    "aws-load-balancer-controller-policy.json.j2": [("PERMISSIONS_MANAGEMENT_ACTIONS", "")],
    "ebs-csi-kms-policy.json.j2": [("PERMISSIONS_MANAGEMENT_ACTIONS", "")],
}


@pytest.mark.parametrize("role, template", IDENTITY_POLICIES)
def test_identity_policy_has_no_parliament_findings(role, template):
    text = render(role, template)
    json.loads(text)
    findings = analyze_policy_string(text, include_community_auditors=True).findings
    assert [(f.issue, f.detail) for f in findings] == EXPECTED.get(template, [])


@pytest.mark.parametrize("name, service", [("cluster", "eks.amazonaws.com"), ("node", "ec2.amazonaws.com")])
def test_trust_policies_trust_exactly_one_service(name, service):
    policy = json.loads((ROOT / "roles" / "iam" / "files" / f"{name}-trust-policy.json").read_text())
    assert [(s["Effect"], s["Principal"], s["Action"]) for s in policy["Statement"]] == [
        ("Allow", {"Service": service}, "sts:AssumeRole")]


def test_key_policy_lets_the_cluster_role_use_the_key_and_nothing_more():
    policy = json.loads(render("iam", "kms-key-policy.json.j2"))
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["AccountAdministersTheKey"]["Principal"] == {"AWS": ["arn:aws:iam::123456789012:root"]}
    use = by_sid["ClusterRoleUsesTheKey"]
    assert use["Principal"] == {"AWS": CONTEXT["iam_cluster_role_arn"]}
    assert sorted(use["Action"]) == ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ListGrants"]
    grants = by_sid["ClusterRoleGrantsForAWSResources"]
    assert grants["Action"] == "kms:CreateGrant"
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
