"""The hardening checklist (plugins/filter/hardening.py): each item passes on a hardened cluster and fails, with
the reason, when its part is missing."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.llmhub.eks.plugins.filter.hardening import (
    hardening_checklist, hardening_kubernetes_facts, hardening_report_markdown)

ACL = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/hub-waf/1"
GROUPS = ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"]
FACTS = {
    "cluster": {"name": "hub", "endpoint_public_access": True, "public_access_cidrs": ["203.0.113.0/24"],
                "enabled_log_types": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
                "secrets_key_arn": "arn:aws:kms:us-east-1:123456789012:key/k", "secrets_key_rotation": True,
                "authentication_mode": "API", "oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/x",
                "tags": {"Project": "hub", "Environment": "prod"}},
    "nodegroups": [{"name": "system", "subnets": ["subnet-1"], "public_subnets": []}],
    "vpc_endpoints": ["com.amazonaws.us-east-1.s3", "com.amazonaws.us-east-1.ecr.api"],
    "flow_logs": [{"flow_log_id": "fl-1", "status": "ACTIVE", "traffic_type": "ALL"}],
    "open_ingress": ["hub-alb tcp/443-443", "hub-alb tcp/80-80"],
    "addons": {"amazon-cloudwatch-observability": "ACTIVE"},
    "web_acl": {"name": "hub-waf", "arn": ACL, "rule_groups": GROUPS},
    "guardduty": {"detector_id": "d1", "status": "ENABLED",
                  "features": {"EKS_AUDIT_LOGS": "ENABLED", "EKS_RUNTIME_MONITORING": "ENABLED"}},
    "dlm_policies": [{"policy_id": "policy-1", "state": "ENABLED"}],
    "secrets": [{"name": "/llmhub/hub/db", "rotation": True}],
}
K8S_RESULTS = [
    {"item": "Namespace", "resources": [{"metadata": {"name": "apps", "labels": {
        "pod-security.kubernetes.io/enforce": "restricted"}}}]},
    {"item": "NetworkPolicy", "resources": [{"metadata": {"namespace": "apps", "name": "default-deny"},
                                              "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}]},
    {"item": "StorageClass", "resources": [{"metadata": {"name": "gp3"}, "provisioner": "ebs.csi.aws.com",
                                             "parameters": {"type": "gp3", "encrypted": "true"}}]},
    {"item": "Ingress", "resources": [{"metadata": {"namespace": "apps", "name": "api", "annotations": {
        "alb.ingress.kubernetes.io/wafv2-acl-arn": ACL,
        "alb.ingress.kubernetes.io/certificate-arn": "arn:aws:acm:us-east-1:123456789012:certificate/c"}},
        "spec": {"ingressClassName": "alb"}}]},
    {"item": "Deployment", "resources": [{"metadata": {"name": "trivy-operator"}}]},
    {"item": "DaemonSet", "resources": [{"metadata": {"name": "falco"}}]},
]
SETTINGS = {"namespaces": ["apps"], "alb_security_group": "hub-alb", "waf_acl_name": "hub-waf",
            "waf_rule_groups": GROUPS, "common_tags": {"Project": "hub", "Environment": "prod"}}


def report(facts=FACTS, results=K8S_RESULTS, settings=SETTINGS):
    return hardening_checklist(facts, hardening_kubernetes_facts(results), settings)


def items(result):
    return {item["id"]: item for item in result["items"]}


def test_a_hardened_cluster_passes_every_item():
    result = report()
    assert result["passed"] == result["total"] == 21, [i for i in result["items"] if not i["ok"]]
    assert {i["mark"] for i in result["items"]} == {"\u2713"}


def changed(path, value):
    facts = copy.deepcopy(FACTS)
    target = facts
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return facts


@pytest.mark.parametrize("path, value, item, reason", [
    (("nodegroups",), [{"name": "system", "subnets": ["subnet-1"], "public_subnets": ["subnet-1"]}], "private_nodes",
     "node groups in public subnets: {'system': ['subnet-1']}"),
    (("vpc_endpoints",), [], "vpc_endpoints", "no VPC endpoint available"),
    (("open_ingress",), ["hub-alb tcp/443-443", "hub-node all/all"], "security_groups",
     "rules open to the internet: hub-node all/all"),
    (("cluster", "oidc_provider_arn"), None, "irsa", "no IAM OIDC provider"),
    (("cluster", "authentication_mode"), "CONFIG_MAP", "iam_access", "authentication mode CONFIG_MAP"),
    (("cluster", "public_access_cidrs"), ["0.0.0.0/0"], "public_endpoint", "public endpoint open to 0.0.0.0/0"),
    (("cluster", "secrets_key_rotation"), False, "secrets_encryption", "a key that does not rotate"),
    (("cluster", "enabled_log_types"), ["api"], "control_plane_logging",
     "log types off: audit, authenticator, controllerManager, scheduler"),
    (("flow_logs",), [], "flow_logs", "no active flow log"),
    (("addons",), {}, "monitoring", "amazon-cloudwatch-observability add-on not installed"),
    (("cluster", "tags"), {"Project": "hub"}, "cost_allocation_tags", "the cluster lacks the tags Environment"),
    (("web_acl",), None, "waf", "no web ACL named hub-waf"),
    (("web_acl", "rule_groups"), GROUPS[:1], "waf", "the web ACL lacks AWSManagedRulesKnownBadInputsRuleSet"),
    (("guardduty", "features", "EKS_RUNTIME_MONITORING"), "DISABLED", "guardduty", "off: EKS_RUNTIME_MONITORING"),
    (("guardduty",), None, "guardduty", "no GuardDuty detector"),
    (("dlm_policies",), [{"policy_id": "p", "state": "DISABLED"}], "backups", "run site.yml --tags backup"),
    (("secrets",), [], ["secrets_management", "secrets_rotation"], "no Secrets Manager secret tagged"),
    (("secrets",), [{"name": "/llmhub/hub/db", "rotation": False}], "secrets_rotation",
     "secrets without rotation: /llmhub/hub/db"),
])
def test_each_aws_item_fails_naming_what_is_missing(path, value, item, reason):
    result = report(facts=changed(path, value))
    failing = [i for i in result["items"] if not i["ok"]]
    expected = item if isinstance(item, list) else [item]
    assert [i["id"] for i in failing] == expected, failing
    assert all(reason in i["reason"] for i in failing)
    assert {i["mark"] for i in failing} == {"\u2717"}
    assert result["passed"] == result["total"] - len(expected)


@pytest.mark.parametrize("kind, resources, item, reason", [
    ("Namespace", [{"metadata": {"name": "apps", "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}}],
     "pod_security_admission", "without an enforced restricted or baseline level: apps"),
    ("NetworkPolicy", [], "network_policies", "no default-deny network policy in: apps"),
    ("StorageClass", [{"metadata": {"name": "gp2"}, "provisioner": "ebs.csi.aws.com", "parameters": {}}],
     "encrypted_volumes", "storage classes without encryption: gp2"),
    ("Deployment", [], None, None),
])
def test_each_kubernetes_item_fails_naming_what_is_missing(kind, resources, item, reason):
    results = [dict(r, resources=resources) if r["item"] == kind else r for r in K8S_RESULTS]
    failing = [i for i in report(results=results)["items"] if not i["ok"]]
    if item is None:  # Falco alone still scans
        assert failing == []
        return
    assert [i["id"] for i in failing] == [item]
    assert reason in failing[0]["reason"]


def test_an_ingress_without_the_acl_or_tls_fails_waf_and_transit():
    results = [dict(r, resources=[{"metadata": {"namespace": "apps", "name": "api", "annotations": {}},
                                   "spec": {"ingressClassName": "alb"}}]) if r["item"] == "Ingress" else r
               for r in K8S_RESULTS]
    failing = {i["id"]: i["reason"] for i in report(results=results)["items"] if not i["ok"]}
    assert failing == {"encryption_in_transit": "the API server is TLS only, but these Ingresses listen on HTTP only: "
                                                "apps/api (set hardening_tls_domain_name for an ACM certificate, or "
                                                "apps_example_app.ingress.certificate_arn)",
                       "waf": "ALB Ingresses without the web ACL: apps/api"}


def test_no_scanner_fails_security_scanning():
    results = [dict(r, resources=[]) if r["item"] in ("Deployment", "DaemonSet") else r for r in K8S_RESULTS]
    failing = [i for i in report(results=results)["items"] if not i["ok"]]
    assert [i["id"] for i in failing] == ["security_scanning"]


def test_the_markdown_has_a_table_per_section_with_every_item():
    result = report(facts=changed(("flow_logs",), []))
    markdown = hardening_report_markdown(result)
    assert markdown.startswith("# Hardening report: hub\n\n20 of 21 items pass.\n")
    for section in ("Network security", "Access control", "Data protection", "Audit and compliance",
                    "Hardening checklist"):
        assert f"\n## {section}\n\n| | Item | Why | Variable |\n|---|---|---|---|\n" in markdown
    assert "| \u2717 | VPC Flow Logs enabled | no active flow log on the cluster's VPC | `vpc_flow_logs_enabled` |" in markdown
    assert markdown.count("\n| \u2713 | ") + markdown.count("\n| \u2717 | ") == 21
