"""Policy documents: canonical form, the IRSA trust policy builder, and the role-spec checks built on them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.llmhub.eks.plugins.module_utils import iam  # noqa: E402
from ansible_collections.llmhub.eks.plugins.module_utils import policy  # noqa: E402

ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
HOST = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
PROVIDER = f"arn:aws:iam::123456789012:oidc-provider/{HOST}"

NODE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:PutLogEvents", "logs:CreateLogStream"], "Resource": "*"},
        {"Effect": "Allow", "Action": "ec2:DescribeVolumes", "Resource": ["*"]},
    ],
}


# --------------------------------------------------------------------------- normalisation


def test_statement_and_value_order_do_not_matter():
    reordered = {
        "Version": "2012-10-17",
        "Statement": [
            {"Resource": "*", "Action": "ec2:DescribeVolumes", "Effect": "Allow"},
            {"Resource": ["*"], "Effect": "Allow", "Sid": "Logs", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"]},
        ],
    }
    assert policy.policies_equal(NODE_POLICY, reordered)


def test_single_string_equals_one_element_list_everywhere():
    a = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Allow",
            "Principal": {"Service": "eks.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
        },
    }
    b = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": ["eks.amazonaws.com"]},
            "Action": ["sts:AssumeRole"],
            "Condition": {"StringEquals": {"aws:SourceAccount": ["123456789012"]}},
        }],
    }
    assert policy.policies_equal(a, b)
    assert policy.normalize_policy(a)["Statement"][0]["Action"] == ["sts:AssumeRole"]


def test_json_string_and_url_encoded_string_are_parsed():
    text = json.dumps(NODE_POLICY)
    assert policy.policies_equal(text, NODE_POLICY)
    encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D"
    assert policy.normalize_policy(encoded) == {"Statement": [], "Version": "2012-10-17"}


def test_missing_version_is_the_aws_default():
    without = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    assert policy.normalize_policy(without)["Version"] == "2008-10-17"
    assert policy.policies_equal(without, dict(without, Version="2008-10-17"))
    assert not policy.policies_equal(without, dict(without, Version="2012-10-17"))


def test_sid_is_kept_and_an_empty_sid_is_none():
    with_sid = {"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    empty_sid = {"Version": "2012-10-17", "Statement": [{"Sid": "", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    no_sid = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    assert policy.normalize_policy(with_sid)["Statement"][0]["Sid"] == "A"
    assert policy.policies_equal(empty_sid, no_sid)
    assert not policy.policies_equal(with_sid, no_sid)


def test_equivalent_spellings_of_principals_and_condition_values():
    a = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": True}, "NumericLessThan": {"s3:max-keys": 10}},
    }]}
    b = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["kms:Decrypt"], "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "true"}, "NumericLessThan": {"s3:max-keys": "10"}},
    }]}
    assert policy.policies_equal(a, b)
    root = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                                                     "Action": "kms:*", "Resource": "*"}]}
    account = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "123456789012"},
                                                        "Action": "kms:*", "Resource": "*"}]}
    assert policy.policies_equal(root, account)


def test_duplicate_values_collapse_but_real_changes_show():
    a = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObject"], "Resource": "*"}]}
    b = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    c = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}]}
    assert policy.policies_equal(a, b)
    assert not policy.policies_equal(b, c)


def test_normalize_is_idempotent():
    once = policy.normalize_policy(NODE_POLICY)
    assert policy.normalize_policy(once) == once


@pytest.mark.parametrize("document, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ({"Version": "2012-10-17"}, "no Statement"),
    ({"Statement": []}, "non-empty"),
    ({"Statement": [{"Effect": "Maybe", "Action": "s3:*"}]}, "Effect must be Allow or Deny"),
    (42, "JSON object or a JSON string"),
])
def test_invalid_documents_say_why(document, message):
    with pytest.raises(policy.PolicyError, match=message):
        policy.validate_policy(document)


# --------------------------------------------------------------------------- IRSA trust policy


def test_provider_arn_and_issuer_without_scheme():
    assert policy.oidc_provider_arn("aws", "123456789012", ISSUER) == PROVIDER
    assert policy.oidc_provider_arn("aws-cn", "123456789012", ISSUER + "/") == PROVIDER.replace("arn:aws:", "arn:aws-cn:")
    assert policy.issuer_host_path(ISSUER) == HOST


def test_trust_policy_for_one_service_account_is_exact():
    built = policy.build_irsa_trust_policy(PROVIDER, ISSUER, [{"namespace": "kube-system", "name": "ebs-csi-controller-sa"}])
    assert json.dumps(built) == json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": PROVIDER},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{HOST}:sub": "system:serviceaccount:kube-system:ebs-csi-controller-sa",
                f"{HOST}:aud": "sts.amazonaws.com",
            }},
        }],
    })


def test_trust_policy_for_several_service_accounts_is_a_sorted_list():
    built = policy.build_irsa_trust_policy(
        PROVIDER, ISSUER,
        [{"namespace": "monitoring", "name": "agent"}, ("kube-system", "autoscaler"), {"namespace": "monitoring", "name": "agent"}],
        audience="custom-audience",
    )
    condition = built["Statement"][0]["Condition"]["StringEquals"]
    assert condition == {
        f"{HOST}:sub": ["system:serviceaccount:kube-system:autoscaler", "system:serviceaccount:monitoring:agent"],
        f"{HOST}:aud": "custom-audience",
    }


def test_trust_policy_needs_a_service_account():
    with pytest.raises(policy.PolicyError):
        policy.build_irsa_trust_policy(PROVIDER, ISSUER, [])


@pytest.mark.parametrize("url, ok", [
    (ISSUER, True),
    ("https://token.actions.githubusercontent.com", True),
    ("http://oidc.example.com/id/x", False),
    ("oidc.eks.us-east-1.amazonaws.com/id/x", False),
    ("https://", False),
    ("https://host/path?query=1", False),
])
def test_issuer_urls(url, ok):
    assert (policy.issuer_problem(url) is None) is ok


# --------------------------------------------------------------------------- role specs (module_utils/iam.py)


def role(**overrides):
    base = {"name": "hub-node-role", "assume_role_policy": json.dumps(NODE_POLICY), "managed_policies": None,
            "inline_policies": None, "path": None, "description": None, "max_session_duration": None, "tags": None}
    base.update(overrides)
    return base


def test_managed_policy_names_map_to_aws_managed_arns():
    assert iam.managed_policy_arn("AmazonEKSClusterPolicy", "aws") == "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"
    assert (iam.managed_policy_arn("service-role/AmazonEBSCSIDriverPolicy", "aws-us-gov")
            == "arn:aws-us-gov:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy")
    arn = "arn:aws:iam::123456789012:policy/team/Custom"
    assert iam.managed_policy_arn(arn, "aws") == arn


def test_valid_roles_have_no_problems():
    roles = [role(managed_policies=["AmazonEKSWorkerNodePolicy", "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"],
                  inline_policies={"ebs": NODE_POLICY}, path="/eks/", max_session_duration=7200),
             role(name="hub-cluster-role")]
    assert iam.validate_roles(roles, "present") == []


def test_role_problems_name_their_option_path():
    roles = [
        role(name="a" * 65),
        role(name="hub-node-role", managed_policies=["arn:aws:iam::aws:role/Nope", "Bad Name"]),
        role(name="hub-node-role"),
        role(name="x", assume_role_policy=None, path="eks", max_session_duration=60,
             inline_policies={"bad name": NODE_POLICY, "ok": "{broken"}),
    ]
    problems = iam.validate_roles(roles, "present")
    text = "\n".join(problems)
    for expected in ("roles[0].name:", "roles[1].managed_policies[0]:", "roles[1].managed_policies[1]:",
                     "roles[2].name: 'hub-node-role' is already roles[1]", "roles[3].assume_role_policy: required",
                     "roles[3].path:", "roles[3].max_session_duration:", "roles[3].inline_policies: 'bad name'",
                     "roles[3].inline_policies.ok: is not valid JSON"):
        assert expected in text, text


def test_absent_only_checks_names():
    assert iam.validate_roles([{"name": "r"}, {"name": "s", "assume_role_policy": "{broken"}], "absent") == []
    assert iam.validate_roles([{"name": "r"}, {"name": "r"}], "absent") != []


def test_plan_of_an_unchanged_role_has_no_action():
    spec = iam.role_spec(role(managed_policies=["AmazonEKSWorkerNodePolicy"], inline_policies={"p": NODE_POLICY},
                              tags={"a": "1"}), {"Project": "hub"}, "aws", NODE_POLICY)
    reordered = json.loads(json.dumps(NODE_POLICY))
    reordered["Statement"].reverse()
    current = {
        "role": {"RoleName": "hub-node-role", "RoleId": "AROAX", "Arn": "arn:aws:iam::123456789012:role/hub-node-role",
                 "Path": "/", "MaxSessionDuration": 3600, "AssumeRolePolicyDocument": reordered},
        "managed_policies": ["arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"],
        "inline_policies": {"p": reordered},
        "instance_profiles": [],
        "tags": {"Project": "hub", "a": "1"},
    }
    plan = iam.RolePlan(spec, current, purge_policies=True, purge_tags=True)
    assert plan.actions == []
    extra = dict(current, managed_policies=current["managed_policies"] + ["arn:aws:iam::aws:policy/Other"],
                 tags={"Project": "hub", "a": "1", "stale": "x"})
    assert iam.RolePlan(spec, extra, True, True).actions == [
        "detach arn:aws:iam::aws:policy/Other", "untag ['stale']"]
    assert iam.RolePlan(spec, extra, purge_policies=False, purge_tags=False).actions == []


def test_trust_policy_calls_wait_for_a_principal_iam_does_not_know_yet():
    from botocore.exceptions import ClientError

    def malformed(message):
        return ClientError({"Error": {"Code": "MalformedPolicyDocument", "Message": message}}, "CreateRole")

    attempts, sleeps = [], []

    def create_role(**params):
        attempts.append(params)
        if len(attempts) < 3:
            raise malformed('Invalid principal in policy: "AWS":"arn:aws:iam::123456789012:role/new"')
        return {"Role": {"RoleName": params["RoleName"]}}

    assert iam._with_principal_retry(create_role, sleep=sleeps.append, RoleName="r") == {"Role": {"RoleName": "r"}}
    assert sleeps == [1, 2] and all(a == {"aws_retry": True, "RoleName": "r"} for a in attempts)

    def broken(**_params):
        raise malformed("Syntax errors in policy.")

    with pytest.raises(ClientError):
        iam._with_principal_retry(broken, sleep=sleeps.append, RoleName="r")
    assert sleeps == [1, 2]

    # A principal that never appears: retried with doubling delays, then the error (not a silent success).
    def never(**_params):
        raise malformed('Invalid principal in policy: "AWS":"arn:aws:iam::123456789012:role/gone"')

    sleeps.clear()
    with pytest.raises(ClientError):
        iam._with_principal_retry(never, sleep=sleeps.append, RoleName="r")
    assert sum(sleeps) <= iam.PRINCIPAL_WAIT_SECONDS and sleeps[:4] == [1, 2, 4, 8]


def test_same_verdict_as_amazon_aws_compare_policies_where_both_apply():
    from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies

    base = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}]}
    reworded = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ["123456789012"]}, "Action": ["kms:*"], "Resource": ["*"]},
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "*"}]}
    changed = {"Version": "2012-10-17", "Statement": [dict(base["Statement"][0], Effect="Deny"), base["Statement"][1]]}
    no_version = {"Statement": base["Statement"]}
    for other in (reworded, changed, no_version):
        assert policy.policies_equal(base, other) is (not compare_policies(base, other))
