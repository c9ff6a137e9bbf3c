"""The hardening role's WAF tasks (community.aws.wafv2_web_acl) against the emulator, read back through boto3."""

from __future__ import annotations

import pytest

from .conftest import mutating_calls

pytestmark = pytest.mark.integration

GROUPS = ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
          "AWSManagedRulesAmazonIpReputationList"]


def role_task(name="hardening", **variables):
    variables = {"hardening_guardduty_enabled": False, "hardening_cluster_name": "hub-test",
                 "hardening_tags": {"Project": "llm-analytics-hub", "Environment": "test"}, **variables}
    return {"name": name, "ansible.builtin.include_role": {"name": "llmhub.eks.hardening"}, "vars": variables}


def show_outputs():
    return {"name": "outputs", "ansible.builtin.debug": {"var": "hardening_outputs"}}


def web_acl(wafv2):
    summaries = [acl for acl in wafv2.list_web_acls(Scope="REGIONAL")["WebACLs"] if acl["Name"] == "hub-test-waf"]
    assert len(summaries) == 1
    acl = wafv2.get_web_acl(Name="hub-test-waf", Scope="REGIONAL", Id=summaries[0]["Id"])["WebACL"]
    tags = wafv2.list_tags_for_resource(ResourceARN=acl["ARN"])["TagInfoForResource"]["TagList"]
    return acl, {tag["Key"]: tag["Value"] for tag in tags}


def test_waf_web_acl(fresh_account, run_tasks, boto):
    wafv2 = boto("wafv2")
    first = run_tasks([role_task(), show_outputs()])
    assert first.rc == 0, first.failure_messages()
    acl, tags = web_acl(wafv2)
    assert acl["DefaultAction"] == {"Allow": {}}
    assert acl["VisibilityConfig"] == {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True,
                                       "MetricName": "hub_test_waf"}
    rules = sorted(acl["Rules"], key=lambda rule: rule["Priority"])
    assert [rule["Statement"]["ManagedRuleGroupStatement"] for rule in rules] == [
        {"VendorName": "AWS", "Name": group} for group in GROUPS]
    assert [rule["Priority"] for rule in rules] == [0, 1, 2]
    assert all(rule["OverrideAction"] == {"None": {}} for rule in rules)
    assert all(rule["VisibilityConfig"]["CloudWatchMetricsEnabled"] for rule in rules)
    assert tags == {"Project": "llm-analytics-hub", "Environment": "test", "llmhub.io/cluster": "hub-test"}
    outputs = first.task_results()["outputs"]["hardening_outputs"]
    assert outputs["web_acl_arn"] == acl["ARN"] and ":regional/webacl/hub-test-waf/" in acl["ARN"]
    assert outputs["detector_id"] == ""

    # Again: nothing changes, no mutating call.
    fresh_account.clear_requests()
    again = run_tasks([role_task()])
    assert again.rc == 0, again.failure_messages()
    assert not any(result.get("changed") for result in again.task_results().values())
    assert mutating_calls(fresh_account) == []

    # One rule group fewer: the web ACL follows.
    fewer = run_tasks([role_task(hardening_waf_rule_groups=GROUPS[:2])])
    assert fewer.rc == 0, fewer.failure_messages()
    acl, _ = web_acl(wafv2)
    assert sorted(rule["Name"] for rule in acl["Rules"]) == sorted(GROUPS[:2])

    # Metrics turned off outside the role: the module would not repair it, the role says so.
    acl_id = acl["Id"]
    lock = wafv2.get_web_acl(Name="hub-test-waf", Scope="REGIONAL", Id=acl_id)["LockToken"]
    wafv2.update_web_acl(Name="hub-test-waf", Scope="REGIONAL", Id=acl_id, LockToken=lock,
                         DefaultAction={"Allow": {}}, Rules=acl["Rules"],
                         VisibilityConfig={**acl["VisibilityConfig"], "CloudWatchMetricsEnabled": False})
    drift = run_tasks([role_task(hardening_waf_rule_groups=GROUPS[:2])])
    assert drift.rc != 0
    assert "CloudWatch metrics" in drift.failure_messages()


def test_role_guardduty_outputs(fresh_account, run_tasks, boto):
    """The role's GuardDuty tasks (llmhub.eks.guardduty_detector): features from the role's flags, outputs set."""
    run = run_tasks([role_task(hardening_waf_enabled=False, hardening_guardduty_enabled=True,
                               hardening_guardduty_eks_runtime_monitoring=False), show_outputs()])
    assert run.rc == 0, run.failure_messages()
    outputs = run.task_results()["outputs"]["hardening_outputs"]
    assert outputs["web_acl_arn"] == ""
    assert boto("guardduty").list_detectors()["DetectorIds"] == [outputs["detector_id"]]
    assert outputs["features"]["EKS_AUDIT_LOGS"] == "ENABLED"
    assert outputs["features"]["EKS_RUNTIME_MONITORING"] == "DISABLED"
    assert outputs["features"]["EKS_RUNTIME_MONITORING/EKS_ADDON_MANAGEMENT"] == "DISABLED"
