"""playbooks/hardening_report.yml on the built platform: the overview's security checklist read from the emulator's
AWS and Kubernetes APIs, each item with its mark and reason; an item flips when its variable is turned off."""

from __future__ import annotations

import json

import pytest

from .conftest import CLUSTER, mutating_calls

pytestmark = pytest.mark.integration
# Reads the platform the other sharing modules read (tests/support/shared_platform.py).
SHARES_PLATFORM = True

# What the default deploy of site.yml does not make: an HTTPS listener needs an ACM certificate the local
# inventory lacks, and the Trivy operator and Falco are optional add-ons, off. (The DLM policy of the backups
# item is site.yml's, tag backup.)
NOT_BY_SITE = {
    "encryption_in_transit": "these Ingresses listen on HTTP only: llm-analytics/analytics-api",
    "security_scanning": "optional add-ons, off by default",
}


def read_report(run_playbook, directory, *args):
    run = run_playbook("hardening_report.yml", "-e", f"hardening_report_dir={directory}", *args)
    assert run.rc == 0, run.failure_messages()
    report = json.loads((directory / f"{CLUSTER}.json").read_text(encoding="utf-8"))
    return run, report, {item["id"]: item for item in report["items"]}


def test_the_report_of_the_default_deploy_passes_every_item_site_builds(built_platform, run_playbook, control,
                                                                        tmp_path):
    control.clear_requests()
    run, report, items = read_report(run_playbook, tmp_path)
    # nothing changed in AWS or the cluster: only the report's own files are written
    assert [name.split(" : ")[-1] for name in run.changed_tasks()] == ["Make the report directory",
                                                                      "Write the report as Markdown and JSON"]
    assert mutating_calls(control) == []
    assert {name: item["reason"] for name, item in items.items() if not item["ok"]}.keys() == NOT_BY_SITE.keys()
    for name, reason in NOT_BY_SITE.items():
        assert reason in items[name]["reason"], items[name]
    assert report["total"] == 21 and report["passed"] == 19
    assert items["backups"]["ok"] and items["backups"]["reason"].endswith("enabled for the cluster's volumes")
    assert items["backups"]["variable"] == "backup_dlm_enabled"
    assert items["secrets_management"]["reason"] == "1 Secrets Manager secrets tagged for the cluster"
    assert items["secrets_rotation"]["reason"] == "rotation on for 1 secrets"
    assert items["waf"]["reason"].startswith(f"web ACL {CLUSTER}-waf with AWSManagedRulesCommonRuleSet, "
                                             "AWSManagedRulesKnownBadInputsRuleSet, AWSManagedRulesAmazonIpReputationList")
    assert items["guardduty"]["reason"].endswith("enabled with EKS audit logs and runtime monitoring")
    assert items["public_endpoint"]["reason"] == "public endpoint open to 198.51.100.0/24, 203.0.113.0/24"
    assert items["private_nodes"]["reason"].startswith("3 node groups, all in subnets without a route")
    assert items["pod_security_admission"]["reason"] == "llm-analytics enforce restricted"
    # Markdown beside it and in the output; the report handed to AWX
    markdown = (tmp_path / f"{CLUSTER}.md").read_text(encoding="utf-8")
    assert markdown.startswith(f"# Hardening report: {CLUSTER}\n\n19 of 21 items pass.\n")
    shown = run.task_results()["Show the report"]["msg"]
    assert shown == markdown.splitlines()


@pytest.mark.mutates_platform
def test_items_flip_with_their_variables(built_platform, run_playbook, tmp_path):
    off = ["-e", "hardening_guardduty_eks_runtime_monitoring=false", "-e", "hardening_secrets_rotation_days=0",
           "-e", "addons_trivy_operator_enabled=true", "-e", "addons_falco_enabled=true"]
    applied = run_playbook("site.yml", "--tags", "hardening,addons", *off)
    assert applied.rc == 0, applied.failure_messages()
    assert [name.split(" : ")[-1] for name in applied.changed_tasks()] == [
        "Ensure the GuardDuty detector (EKS audit logs, EKS runtime monitoring with its managed add-on)",
        "Ensure the secrets under the cluster's path (generated values, rotation every hardening_secrets_rotation_days)",
        "Ensure the Trivy operator release (image and configuration scanning; optional)",
        "Ensure the Falco release (runtime threat detection on every node; optional)"]
    _run, report, items = read_report(run_playbook, tmp_path, *off)
    assert items["security_scanning"]["ok"] and items["security_scanning"]["reason"] == "running: falco, trivy-operator"
    assert not items["guardduty"]["ok"]
    assert items["guardduty"]["reason"].endswith("off: EKS_RUNTIME_MONITORING")
    assert items["guardduty"]["variable"] == "hardening_guardduty_eks_runtime_monitoring"
    assert not items["secrets_rotation"]["ok"]
    assert items["secrets_rotation"]["reason"] == (
        "secrets without rotation: llmhub/llm-analytics-hub-prod-eks/llm-analytics/api-keys")
    assert items["secrets_rotation"]["variable"] == "hardening_secrets_rotation_days"
    assert report["passed"] == 18
