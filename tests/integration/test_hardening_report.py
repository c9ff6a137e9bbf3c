"""playbooks/hardening_report.yml on the built platform: the overview's security checklist read from the emulator's
AWS and Kubernetes APIs, each item with its mark and reason; an item flips when its variable is turned off."""

from __future__ import annotations

import json

import pytest

from .conftest import CLUSTER, mutating_calls

pytestmark = pytest.mark.integration
# Reads the platform the other sharing modules read (tests/support/shared_platform.py).
SHARES_PLATFORM = True

# The default deploy (inventories/local) passes every item: its ACM certificate gives the ingress an HTTPS
# listener, site.yml makes the DLM policy (tag backup) and the local inventory runs the Trivy operator.


def read_report(run_playbook, directory, *args):
    run = run_playbook("hardening_report.yml", "-e", f"hardening_report_dir={directory}", *args)
    assert run.rc == 0, run.failure_messages()
    report = json.loads((directory / f"{CLUSTER}.json").read_text(encoding="utf-8"))
    return run, report, {item["id"]: item for item in report["items"]}


def test_the_report_of_the_default_deploy_passes_every_item(built_platform, run_playbook, control,
                                                                        tmp_path):
    control.clear_requests()
    run, report, items = read_report(run_playbook, tmp_path)
    # nothing changed in AWS or the cluster: only the report's own files are written
    assert [name.split(" : ")[-1] for name in run.changed_tasks()] == ["Make the report directory",
                                                                      "Write the report as Markdown and JSON"]
    assert mutating_calls(control) == []
    assert {name: item["reason"] for name, item in items.items() if not item["ok"]} == {}
    assert report["total"] == 21 and report["passed"] == 21
    assert items["encryption_in_transit"]["reason"] == (
        "the API server is TLS only; every ALB Ingress has an HTTPS listener")
    assert items["backups"]["ok"] and items["backups"]["reason"].endswith("enabled for the cluster's volumes")
    assert items["backups"]["variable"] == "backup_dlm_enabled"
    assert items["security_scanning"]["reason"] == "running: trivy-operator"
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
    assert markdown.startswith(f"# Hardening report: {CLUSTER}\n\n21 of 21 items pass.\n")
    shown = run.task_results()["Show the report"]["msg"]
    assert shown == markdown.splitlines()


def test_the_ingress_listens_on_https_with_the_hardening_certificate(built_platform, boto):
    """The local inventory's domain: an ACM certificate issued through the hosted zone the hardening role made
    (validation CNAMEs in it), on the example ALB's HTTPS:443 listener, HTTP:80 redirecting to it."""
    acm, route53, elbv2 = boto("acm"), boto("route53"), boto("elbv2")
    summaries = [c for c in acm.list_certificates(CertificateStatuses=["ISSUED"])["CertificateSummaryList"]
                 if c["DomainName"] == "llm-analytics.example.com"]
    assert len(summaries) == 1
    certificate = acm.describe_certificate(CertificateArn=summaries[0]["CertificateArn"])["Certificate"]
    tags = {t["Key"]: t["Value"] for t in acm.list_tags_for_certificate(CertificateArn=certificate["CertificateArn"])
            ["Tags"]}
    assert tags["Name"] == f"{CLUSTER}-tls" and tags["llmhub.io/cluster"] == CLUSTER
    zones = route53.list_hosted_zones_by_name(DNSName="llm-analytics.example.com.")["HostedZones"]
    zone_id = [z["Id"] for z in zones if z["Name"] == "llm-analytics.example.com."][0]
    cnames = {s["Name"]: s["ResourceRecords"][0]["Value"]
              for s in route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
              if s["Type"] == "CNAME"}
    record = certificate["DomainValidationOptions"][0]["ResourceRecord"]
    assert cnames == {record["Name"]: record["Value"]}
    balancers = [b["LoadBalancerArn"] for b in elbv2.describe_load_balancers()["LoadBalancers"]
                 if b["LoadBalancerArn"] in certificate["InUseBy"]]
    assert len(balancers) == 1
    listeners = {(l["Protocol"], l["Port"]): l for l in elbv2.describe_listeners(LoadBalancerArn=balancers[0])["Listeners"]}
    assert set(listeners) == {("HTTP", 80), ("HTTPS", 443)}
    assert listeners[("HTTPS", 443)]["Certificates"] == [{"CertificateArn": certificate["CertificateArn"]}]


@pytest.mark.mutates_platform
def test_items_flip_with_their_variables(built_platform, run_playbook, tmp_path):
    off = ["-e", "hardening_guardduty_eks_runtime_monitoring=false", "-e", "hardening_secrets_rotation_days=0",
           "-e", "addons_trivy_operator_enabled=false"]
    applied = run_playbook("site.yml", "--tags", "hardening,addons", *off)
    assert applied.rc == 0, applied.failure_messages()
    assert [name.split(" : ")[-1] for name in applied.changed_tasks()] == [
        "Ensure the GuardDuty detector (EKS audit logs, EKS runtime monitoring with its managed add-on)",
        "Ensure the secrets under the cluster's path (generated values, rotation every hardening_secrets_rotation_days)",
        "Ensure the Trivy operator release (image and configuration scanning; optional)"]
    _run, report, items = read_report(run_playbook, tmp_path, *off)
    # turned off, the operator's release was uninstalled
    assert not items["security_scanning"]["ok"]
    assert items["security_scanning"]["variable"] == "addons_trivy_operator_enabled"
    assert not items["guardduty"]["ok"]
    assert items["guardduty"]["reason"].endswith("off: EKS_RUNTIME_MONITORING")
    assert items["guardduty"]["variable"] == "hardening_guardduty_eks_runtime_monitoring"
    assert not items["secrets_rotation"]["ok"]
    assert items["secrets_rotation"]["reason"] == (
        "secrets without rotation: llmhub/llm-analytics-hub-prod-eks/llm-analytics/api-keys")
    assert items["secrets_rotation"]["variable"] == "hardening_secrets_rotation_days"
    assert report["passed"] == 18
