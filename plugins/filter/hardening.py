# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the hardening role: the WAFv2 rules of AWS managed rule groups, the GuardDuty EKS features."""

from __future__ import annotations


def waf_managed_rules(rule_groups, sampled_requests=True):
    """One WAFv2 rule per AWS managed rule group, in order (priority 0, 1, ...), in community.aws.wafv2_web_acl's
    ``rules`` format: the group's own actions (override none), CloudWatch metrics named after the group."""
    return [{
        "name": group,
        "priority": index,
        "override_action": {"none": {}},
        "statement": {"managed_rule_group_statement": {"vendor_name": "AWS", "name": group}},
        "visibility_config": {"sampled_requests_enabled": bool(sampled_requests), "cloud_watch_metrics_enabled": True,
                              "metric_name": group},
    } for index, group in enumerate(rule_groups or [])]


def guardduty_eks_features(runtime_monitoring=True):
    """The GuardDuty detector features of EKS protection: audit logs always, runtime monitoring with its managed
    EKS add-on (EKS_ADDON_MANAGEMENT) on or off, in llmhub.eks.guardduty_detector's ``features`` format."""
    status = "ENABLED" if runtime_monitoring else "DISABLED"
    return [
        {"name": "EKS_AUDIT_LOGS", "status": "ENABLED"},
        {"name": "EKS_RUNTIME_MONITORING", "status": status,
         "additional_configuration": [{"name": "EKS_ADDON_MANAGEMENT", "status": status}]},
    ]


class FilterModule:
    """Hardening filters."""

    def filters(self):
        return {
            "waf_managed_rules": waf_managed_rules,
            "guardduty_eks_features": guardduty_eks_features,
        }
