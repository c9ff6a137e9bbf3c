"""The hardening, kubeconfig and plan roles' validation filters: what their argument specs cannot say, each error
naming the variable (the preflight runs them with every other layer's, before any AWS call)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.llmhub.eks.plugins.filter.cost import plan_validate_settings
from ansible_collections.llmhub.eks.plugins.filter.hardening import hardening_validate_settings
from ansible_collections.llmhub.eks.plugins.filter.k8s import kubeconfig_validate_settings

HARDENING = {
    "waf_enabled": True, "waf_rule_groups": ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"],
    "waf_name": "llm-analytics-hub-prod-eks-waf", "guardduty_export_findings": False,
    "guardduty_findings_kms_key_arn": "", "secrets_enabled": True, "secrets_path": "llmhub/hub/",
    "secrets": [{"name": "llm-analytics/api-keys", "keys": ["signing_key"]}], "secrets_rotation_days": 30,
    "secrets_password_length": 32, "tls_domain_name": "llm-analytics.example.com",
    "tls_subject_alternative_names": ["*.llm-analytics.example.com"], "tls_hosted_zone": "example.com",
    "tls_create_hosted_zone": "false", "tls_wait_timeout": 600,
}
PLAN = {"spot_discount": 0.7, "hours_per_month": 730, "nat_data_gb_per_month": 100, "data_transfer_monthly": 0,
        "alb_lcu_per_hour": 1, "load_balancers": None, "log_gb_per_month": {"eks_control_plane": 5}}


def test_valid_settings_are_returned_unchanged():
    assert hardening_validate_settings(HARDENING) is HARDENING
    assert plan_validate_settings(PLAN) is PLAN
    settings = {"verify_timeout": "300", "wait_for_nodes": 0}
    assert kubeconfig_validate_settings(settings) is settings


@pytest.mark.parametrize("changes, variable", [
    ({"waf_rule_groups": []}, "hardening_waf_rule_groups: name at least one"),
    ({"waf_rule_groups": ["A", "A"]}, r"hardening_waf_rule_groups: each managed rule group once \(repeated: A\)"),
    ({"waf_name": "bad name"}, "hardening_waf_name: 'bad name' is not a web ACL name"),
    ({"guardduty_export_findings": "yes"}, "hardening_guardduty_findings_kms_key_arn: needed by"),
    ({"secrets_path": "llmhub/hub"}, "hardening_secrets_path"),
    ({"secrets": [{"name": "api keys"}]}, r"hardening_secrets\[0\].name \(llmhub_app_secrets\): 'api keys'"),
    ({"secrets": [{"keys": ["k"]}]}, r"hardening_secrets\[0\].name"),
    ({"secrets": [{"name": "a"}, {"name": "a"}]}, r"hardening_secrets \(llmhub_app_secrets\): each name once"),
    ({"secrets_rotation_days": 1001}, "hardening_secrets_rotation_days: 1001 is out of range: 0 to 1000"),
    ({"secrets_password_length": 3}, "hardening_secrets_password_length: 3 is out of range: 4 to 4096"),
    ({"tls_domain_name": "bad_domain"}, "hardening_tls_domain_name: bad_domain: a fully qualified domain name"),
    ({"tls_subject_alternative_names": ["ok.example.com", "-bad.example.com"]},
     "hardening_tls_subject_alternative_names: -bad.example.com"),
    ({"tls_subject_alternative_names": [f"n{i}.example.com" for i in range(10)]},
     "hardening_tls_subject_alternative_names: at most 9 names"),
    ({"tls_create_hosted_zone": True, "tls_hosted_zone": ""}, "hardening_tls_hosted_zone: '': "),
    ({"tls_wait_timeout": -1}, "hardening_tls_wait_timeout: -1 is out of range"),
    ({"waf_enabled": "sometimes"}, "hardening_waf_enabled: 'sometimes' is not a boolean"),
])
def test_bad_hardening_settings_name_the_variable(changes, variable):
    with pytest.raises(AnsibleFilterError, match=variable):
        hardening_validate_settings({**HARDENING, **changes})


def test_what_is_off_is_not_checked():
    off = {**HARDENING, "waf_enabled": False, "waf_rule_groups": [], "secrets_enabled": "no", "secrets_path": "x",
           "tls_domain_name": "", "tls_subject_alternative_names": ["bad_domain"]}
    assert hardening_validate_settings(off) is off


@pytest.mark.parametrize("changes, variable", [
    ({"verify_timeout": 0}, "kubeconfig_verify_timeout: 0 is out of range: at least 1"),
    ({"verify_timeout": "soon"}, "kubeconfig_verify_timeout: 'soon' is not a whole number"),
    ({"wait_for_nodes": -1}, "kubeconfig_wait_for_nodes: -1 is out of range: at least 0"),
])
def test_bad_kubeconfig_settings_name_the_variable(changes, variable):
    with pytest.raises(AnsibleFilterError, match=variable):
        kubeconfig_validate_settings({"verify_timeout": 300, "wait_for_nodes": 600, **changes})


@pytest.mark.parametrize("changes, variable", [
    ({"spot_discount": 0.96}, "plan_spot_discount: 0.96 must be between 0 and 0.95"),
    ({"hours_per_month": 0}, "plan_hours_per_month: 0 must be between 1 and 744"),
    ({"nat_data_gb_per_month": -1}, "plan_nat_data_gb_per_month"),
    ({"data_transfer_monthly": "lots"}, "plan_data_transfer_monthly: 'lots' is not a number"),
    ({"alb_lcu_per_hour": True}, "plan_alb_lcu_per_hour: True is not a number"),
    ({"load_balancers": -2}, "plan_load_balancers: -2 must be at least 0"),
    ({"log_gb_per_month": {"nat": 1}}, "plan_log_gb_per_month: unknown keys nat"),
])
def test_bad_plan_settings_name_the_variable(changes, variable):
    with pytest.raises(AnsibleFilterError, match=variable):
        plan_validate_settings({**PLAN, **changes})
