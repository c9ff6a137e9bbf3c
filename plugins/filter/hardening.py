# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the hardening role: the WAFv2 rules of AWS managed rule groups, the GuardDuty EKS features."""

from __future__ import annotations

import re

from ansible_collections.llmhub.eks.plugins.plugin_utils import validation

# WAFv2 CreateWebACL: 1-128 letters, digits, - and _.
WAF_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
# A Secrets Manager path: names each ended by '/'; a secret's name: Secrets Manager's characters, '/'-separated.
SECRETS_PATH = re.compile(r"^([A-Za-z0-9_+=.@-]+/)+$")
SECRET_NAME = re.compile(r"^[A-Za-z0-9_+=.@-]+(/[A-Za-z0-9_+=.@-]+)*$")
# A certificate's domain name: ACM's RequestCertificate pattern (labels of letters, digits and '-', a leading '*.').
DOMAIN_NAME = re.compile(r"^(\*\.)?(((?!-)[A-Za-z0-9-]{0,62}[A-Za-z0-9])\.)+((?!-)[A-Za-z0-9-]{1,62}[A-Za-z0-9])$")


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


EKS_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
PASS = "\u2713"
FAIL = "\u2717"
SECTIONS = ("Network security", "Access control", "Data protection", "Audit and compliance", "Hardening checklist")


def _item(section, item_id, title, ok, reason, variable=None):
    return {"id": item_id, "section": section, "title": title, "ok": bool(ok), "mark": PASS if ok else FAIL,
            "reason": reason, "variable": variable}


def _is_default_deny(policy):
    spec = policy.get("spec") or {}
    return (spec.get("podSelector") in ({}, None) and set(spec.get("policyTypes") or []) >= {"Ingress", "Egress"}
            and not spec.get("ingress") and not spec.get("egress"))


def _network_items(facts, kubernetes, settings):
    groups = facts.get("nodegroups") or []
    public = {g["name"]: g["public_subnets"] for g in groups if g.get("public_subnets")}
    endpoints = facts.get("vpc_endpoints") or []
    allowed = {f"{settings.get('alb_security_group', '')} tcp/{port}-{port}" for port in (80, 443)}
    open_rules = [rule for rule in facts.get("open_ingress") or [] if rule not in allowed]
    namespaces = settings.get("namespaces") or []
    policies = kubernetes.get("network_policies") or []
    denied = {p.get("namespace") for p in policies if _is_default_deny(p)}
    missing = [ns for ns in namespaces if ns not in denied]
    section = SECTIONS[0]
    return [
        _item(section, "private_nodes", "Private subnets for all nodes", groups and not public,
              f"{len(groups)} node groups, all in subnets without a route to an internet gateway" if groups and not public
              else (f"node groups in public subnets: {public}" if public else "no node group found"),
              "nodegroups_definitions"),
        _item(section, "vpc_endpoints", "VPC endpoints reduce internet exposure", endpoints,
              f"{len(endpoints)} endpoints available: {', '.join(e.rsplit('.', 1)[-1] for e in endpoints)}" if endpoints
              else "no VPC endpoint available in the cluster's VPC", "vpc_endpoints"),
        _item(section, "security_groups", "Security groups with least privilege", not open_rules,
              "only the ALB's HTTP and HTTPS listeners are open to the internet" if not open_rules
              else f"rules open to the internet: {', '.join(open_rules)}", "vpc_security_groups"),
        _item(section, "network_policies", "Network policies", namespaces and not missing,
              f"default-deny policies in {', '.join(namespaces)}" if namespaces and not missing
              else f"no default-deny network policy in: {', '.join(missing) or '(no namespace declared)'}",
              "apps_namespaces[].default_deny"),
    ]


def _access_items(facts):
    cluster = facts.get("cluster") or {}
    cidrs = cluster.get("public_access_cidrs") or []
    public = cluster.get("endpoint_public_access")
    restricted = not public or (cidrs and not set(cidrs) & {"0.0.0.0/0", "::/0"})
    mode = cluster.get("authentication_mode")
    section = SECTIONS[1]
    return [
        _item(section, "irsa", "IRSA for pod-level IAM permissions", cluster.get("oidc_provider_arn"),
              f"IAM OIDC provider {cluster.get('oidc_provider_arn')}" if cluster.get("oidc_provider_arn")
              else "no IAM OIDC provider for the cluster's issuer", "eks_irsa_roles"),
        _item(section, "iam_access", "IAM authentication and RBAC through access entries",
              mode in ("API", "API_AND_CONFIG_MAP"), f"authentication mode {mode}", "eks_authentication_mode"),
        _item(section, "public_endpoint", "Public endpoint restricted to named CIDRs", restricted,
              "the API endpoint is private only" if not public
              else (f"public endpoint open to {', '.join(cidrs)}" if restricted
                    else f"public endpoint open to {', '.join(cidrs) or 'everyone'}"), "eks_public_access_cidrs"),
    ]


def _data_items(facts, kubernetes):
    cluster = facts.get("cluster") or {}
    key, rotation = cluster.get("secrets_key_arn"), cluster.get("secrets_key_rotation")
    classes = [c for c in kubernetes.get("storage_classes") or [] if c.get("provisioner") == "ebs.csi.aws.com"]
    plain = [c["name"] for c in classes if str((c.get("parameters") or {}).get("encrypted", "")).lower() != "true"]
    ingresses = [i for i in kubernetes.get("ingresses") or [] if i.get("class_name") == "alb"]
    without_tls = [f"{i['namespace']}/{i['name']}" for i in ingresses
                   if not (i.get("annotations") or {}).get("alb.ingress.kubernetes.io/certificate-arn")]
    secrets = facts.get("secrets") or []
    section = SECTIONS[2]
    return [
        _item(section, "secrets_encryption", "Encryption at rest (KMS) of Kubernetes secrets", key and rotation,
              f"secrets encrypted with {key}, key rotation on" if key and rotation
              else ("secrets encrypted with a key that does not rotate" if key else "secrets are not encrypted with KMS"),
              "iam_kms_key_rotation"),
        _item(section, "encryption_in_transit", "Encryption in transit (TLS)", not without_tls,
              "the API server is TLS only; every ALB Ingress has an HTTPS listener" if not without_tls
              else f"the API server is TLS only, but these Ingresses listen on HTTP only: {', '.join(without_tls)} (set "
                   "hardening_tls_domain_name for an ACM certificate, or apps_example_app.ingress.certificate_arn)",
              "hardening_tls_domain_name"),
        _item(section, "encrypted_volumes", "Encrypted EBS volumes", classes and not plain,
              f"every EBS storage class encrypts ({', '.join(c['name'] for c in classes)})" if classes and not plain
              else (f"storage classes without encryption: {', '.join(plain)}" if plain else "no EBS storage class"),
              "storage_classes"),
        _item(section, "secrets_management", "Secrets management (AWS Secrets Manager)", secrets,
              f"{len(secrets)} Secrets Manager secrets tagged for the cluster" if secrets
              else "no Secrets Manager secret tagged llmhub.io/cluster for the cluster (declare the applications' "
                   "secrets in llmhub_app_secrets)", "hardening_secrets_enabled"),
    ]


def _audit_items(facts, settings):
    cluster = facts.get("cluster") or {}
    missing_logs = [t for t in EKS_LOG_TYPES if t not in (cluster.get("enabled_log_types") or [])]
    active = [f for f in facts.get("flow_logs") or [] if f.get("status") == "ACTIVE"]
    insights = (facts.get("addons") or {}).get("amazon-cloudwatch-observability")
    wanted = settings.get("common_tags") or {}
    tags = cluster.get("tags") or {}
    untagged = sorted(k for k, v in wanted.items() if tags.get(k) != v)
    section = SECTIONS[3]
    return [
        _item(section, "control_plane_logging", "Control plane logging enabled", not missing_logs,
              "all five log types to CloudWatch Logs" if not missing_logs else f"log types off: {', '.join(missing_logs)}",
              "eks_log_types"),
        _item(section, "flow_logs", "VPC Flow Logs enabled", active,
              f"flow log {active[0]['flow_log_id']} ({active[0].get('traffic_type')}) active" if active
              else "no active flow log on the cluster's VPC", "vpc_flow_logs_enabled"),
        _item(section, "monitoring", "CloudWatch monitoring (Container Insights)", insights == "ACTIVE",
              f"amazon-cloudwatch-observability add-on {insights or 'not installed'}", "addons_managed"),
        _item(section, "cost_allocation_tags", "Cost allocation tags", wanted and not untagged,
              f"the cluster carries {', '.join(sorted(wanted))}" if wanted and not untagged
              else (f"the cluster lacks the tags {', '.join(untagged)}" if wanted else "no common tags declared"),
              "llmhub_tags"),
    ]


def _hardening_items(facts, kubernetes, settings):
    namespaces = settings.get("namespaces") or []
    labels = {n["name"]: n.get("labels") or {} for n in kubernetes.get("namespaces") or []}
    weak = [ns for ns in namespaces
            if labels.get(ns, {}).get("pod-security.kubernetes.io/enforce") not in ("restricted", "baseline")]
    acl = facts.get("web_acl")
    expected = settings.get("waf_rule_groups") or []
    lacking = [g for g in expected if not acl or g not in acl.get("rule_groups", [])]
    ingresses = [i for i in kubernetes.get("ingresses") or [] if i.get("class_name") == "alb"]
    unprotected = [f"{i['namespace']}/{i['name']}" for i in ingresses
                   if not acl or (i.get("annotations") or {}).get("alb.ingress.kubernetes.io/wafv2-acl-arn") != acl["arn"]]
    detector = facts.get("guardduty") or {}
    features = detector.get("features") or {}
    guardduty_off = [name for name in ("EKS_AUDIT_LOGS", "EKS_RUNTIME_MONITORING") if features.get(name) != "ENABLED"]
    policies = [p for p in facts.get("dlm_policies") or [] if p.get("state") == "ENABLED"]
    scanners = sorted(set(kubernetes.get("workloads") or []) & {"trivy-operator", "falco"})
    secrets = facts.get("secrets") or []
    unrotated = [s["name"] for s in secrets if not s.get("rotation")]
    section = SECTIONS[4]
    return [
        _item(section, "pod_security_admission", "Pod Security Admission", namespaces and not weak,
              f"{', '.join(namespaces)} enforce {', '.join(sorted({labels[ns]['pod-security.kubernetes.io/enforce'] for ns in namespaces}))}"
              if namespaces and not weak else f"namespaces without an enforced restricted or baseline level: "
              f"{', '.join(weak) or '(no namespace declared)'}", "apps_pod_security"),
        _item(section, "waf", "AWS WAF for ALBs", acl and not lacking and not unprotected,
              (f"web ACL {acl['name']} with {', '.join(acl['rule_groups'])}; "
               f"{len(ingresses)} ALB Ingress(es) use it") if acl and not lacking and not unprotected
              else ("no web ACL named " + str(settings.get("waf_acl_name")) if not acl
                    else (f"the web ACL lacks {', '.join(lacking)}" if lacking
                          else f"ALB Ingresses without the web ACL: {', '.join(unprotected)}")),
              "hardening_waf_enabled"),
        _item(section, "guardduty", "GuardDuty threat detection (EKS audit logs, runtime monitoring)",
              detector.get("status") == "ENABLED" and not guardduty_off,
              f"detector {detector.get('detector_id')} enabled with EKS audit logs and runtime monitoring"
              if detector.get("status") == "ENABLED" and not guardduty_off
              else ("no GuardDuty detector in the region" if not detector
                    else f"detector {detector.get('status', '').lower()}, off: {', '.join(guardduty_off) or '-'}"),
              "hardening_guardduty_eks_runtime_monitoring" if guardduty_off == ["EKS_RUNTIME_MONITORING"]
              and detector.get("status") == "ENABLED" else "hardening_guardduty_enabled"),
        _item(section, "secrets_rotation", "Secrets rotation", secrets and not unrotated,
              f"rotation on for {len(secrets)} secrets" if secrets and not unrotated
              else (f"secrets without rotation: {', '.join(unrotated)}" if secrets
                    else "no Secrets Manager secret tagged for the cluster"), "hardening_secrets_rotation_days"),
        _item(section, "backups", "Backup solution (EBS snapshots by Data Lifecycle Manager)", policies,
              f"DLM policy {policies[0]['policy_id']} enabled for the cluster's volumes" if policies
              else ("no enabled DLM policy snapshots the cluster's volumes: set backup_dlm_enabled: true and run "
                    "site.yml --tags backup (or backup.yml)"),
              "backup_dlm_enabled"),
        _item(section, "security_scanning", "Security scanning (Trivy, Falco)", scanners,
              f"running: {', '.join(scanners)}" if scanners
              else "neither the Trivy operator nor Falco runs in the cluster (optional add-ons, off by default)",
              "addons_trivy_operator_enabled"),
    ]


def hardening_kubernetes_facts(results):
    """The registered loop of kubernetes.core.k8s_info over Namespace, NetworkPolicy, StorageClass, Ingress,
    Deployment and DaemonSet, as the few fields the checklist reads."""
    by_kind = {r.get("item"): r.get("resources") or [] for r in results or []}

    def meta(obj):
        return obj.get("metadata") or {}

    return {
        "namespaces": [{"name": meta(n).get("name"), "labels": meta(n).get("labels") or {}}
                       for n in by_kind.get("Namespace", [])],
        "network_policies": [{"namespace": meta(p).get("namespace"), "name": meta(p).get("name"), "spec": p.get("spec")}
                             for p in by_kind.get("NetworkPolicy", [])],
        "storage_classes": [{"name": meta(c).get("name"), "provisioner": c.get("provisioner"),
                             "parameters": c.get("parameters") or {}} for c in by_kind.get("StorageClass", [])],
        "ingresses": [{"namespace": meta(i).get("namespace"), "name": meta(i).get("name"),
                       "class_name": (i.get("spec") or {}).get("ingressClassName"),
                       "annotations": meta(i).get("annotations") or {}} for i in by_kind.get("Ingress", [])],
        "workloads": sorted({meta(w).get("name") for kind in ("Deployment", "DaemonSet") for w in by_kind.get(kind, [])}),
    }


def hardening_checklist(facts, kubernetes=None, settings=None):
    """The overview's security checklist for one cluster: each item with its mark and the reason, from what
    llmhub.eks.eks_hardening_info read in AWS and what the Kubernetes API holds."""
    kubernetes, settings = kubernetes or {}, settings or {}
    items = (_network_items(facts, kubernetes, settings) + _access_items(facts) + _data_items(facts, kubernetes)
             + _audit_items(facts, settings) + _hardening_items(facts, kubernetes, settings))
    return {"cluster": (facts.get("cluster") or {}).get("name"), "passed": sum(i["ok"] for i in items),
            "total": len(items), "items": items}


def hardening_report_markdown(report):
    """The checklist as Markdown: a table per section, the mark, the item, the reason and the variable."""
    lines = [f"# Hardening report: {report['cluster']}", "",
             f"{report['passed']} of {report['total']} items pass.", ""]
    for section in SECTIONS:
        items = [i for i in report["items"] if i["section"] == section]
        if not items:
            continue
        lines += [f"## {section}", "", "| | Item | Why | Variable |", "|---|---|---|---|"]
        lines += [f"| {i['mark']} | {i['title']} | {i['reason'].replace('|', '/')} | "
                  f"{'`' + i['variable'] + '`' if i['variable'] else '-'} |" for i in items]
        lines.append("")
    return "\n".join(lines)


def _flag(variable, value):
    """A boolean setting as Ansible's ``bool`` filter reads it."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("yes", "on", "1", "true", "t", "y"):
        return True
    if text in ("no", "off", "0", "false", "f", "n", ""):
        return False
    return validation.fail(variable, f"{value!r} is not a boolean")


def hardening_validate_settings(settings):
    """``settings`` (the hardening role's ``hardening_role_settings``) unchanged, or an error naming the variable.

    What the argument spec cannot say: the WAF's rule groups and name, the GuardDuty export's key, the secrets
    (checked when ``hardening_secrets_enabled``) and the TLS certificate's names (when ``hardening_tls_domain_name``
    is set).
    """
    groups = list(settings.get("waf_rule_groups") or [])
    if _flag("hardening_waf_enabled", settings.get("waf_enabled")) and not groups:
        validation.fail("hardening_waf_rule_groups", "name at least one AWS managed rule group while "
                                                     "hardening_waf_enabled is true")
    repeated = sorted({group for group in groups if groups.count(group) > 1})
    if repeated:
        validation.fail("hardening_waf_rule_groups", f"each managed rule group once (repeated: {', '.join(repeated)})")
    name = str(settings.get("waf_name") or "")
    if not WAF_NAME.match(name):
        validation.fail("hardening_waf_name", f"{name!r} is not a web ACL name (1 to 128 letters, digits, - or _)")
    if (_flag("hardening_guardduty_export_findings", settings.get("guardduty_export_findings"))
            and not settings.get("guardduty_findings_kms_key_arn")):
        validation.fail("hardening_guardduty_findings_kms_key_arn",
                        "needed by hardening_guardduty_export_findings (GuardDuty encrypts the exported findings with it)")
    if _flag("hardening_secrets_enabled", settings.get("secrets_enabled")):
        path = str(settings.get("secrets_path") or "")
        if not SECRETS_PATH.match(path):
            validation.fail("hardening_secrets_path", f"{path!r}: names of letters, digits and _+=.@-, each ended "
                                                      "by '/' (llmhub/<cluster>/)")
        secrets = settings.get("secrets") or []
        names = [secret.get("name") if isinstance(secret, dict) else None for secret in secrets]
        for index, secret_name in enumerate(names):
            if not isinstance(secret_name, str) or not SECRET_NAME.match(secret_name):
                validation.fail(f"hardening_secrets[{index}].name (llmhub_app_secrets)",
                                f"{secret_name!r}: a name of letters, digits and _+=.@- separated by '/'")
        repeated = sorted({secret_name for secret_name in names if names.count(secret_name) > 1})
        if repeated:
            validation.fail("hardening_secrets (llmhub_app_secrets)", f"each name once (repeated: {', '.join(repeated)})")
        validation.check_int("hardening_secrets_rotation_days", settings.get("secrets_rotation_days"), 0, 1000,
                             what=" days (0: no rotation)")
        validation.check_int("hardening_secrets_password_length", settings.get("secrets_password_length"), 4, 4096)
    domain = str(settings.get("tls_domain_name") or "")
    if domain:
        alternatives = list(settings.get("tls_subject_alternative_names") or [])
        bad = [str(name) for name in [domain] + alternatives if not DOMAIN_NAME.match(str(name))]
        if bad:
            validation.fail("hardening_tls_domain_name" if domain in bad else "hardening_tls_subject_alternative_names",
                            f"{', '.join(bad)}: a fully qualified domain name such as llm-analytics.example.com "
                            "or *.example.com")
        if len(alternatives) > 9:
            validation.fail("hardening_tls_subject_alternative_names", f"at most 9 names (ACM's limit), got "
                                                                       f"{len(alternatives)}")
        zone = str(settings.get("tls_hosted_zone") or "")
        if (_flag("hardening_tls_create_hosted_zone", settings.get("tls_create_hosted_zone"))
                and not DOMAIN_NAME.match(zone)):
            validation.fail("hardening_tls_hosted_zone", f"{zone!r}: hardening_tls_create_hosted_zone needs the "
                                                         "zone's name (example.com)")
        validation.check_int("hardening_tls_wait_timeout", settings.get("tls_wait_timeout"), 0,
                             what=" seconds (0: do not wait)")
    return settings


class FilterModule:
    """Hardening filters."""

    def filters(self):
        return {
            "waf_managed_rules": waf_managed_rules,
            "guardduty_eks_features": guardduty_eks_features,
            "hardening_checklist": hardening_checklist,
            "hardening_kubernetes_facts": hardening_kubernetes_facts,
            "hardening_report_markdown": hardening_report_markdown,
            "hardening_validate_settings": hardening_validate_settings,
        }
