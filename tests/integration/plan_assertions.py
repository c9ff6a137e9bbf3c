"""What site.yml --check --diff on an empty account plans for every layer, as Terraform's plan does.

Assertions for test_operations_workflow.py (plan.yml runs site.yml in check mode). Every layer's task runs and reports what it would create (changed, with a
diff), the values AWS assigns on creation show as ``(known after apply)``
rather than null, and the summary says what the run *would* build. Applying
afterwards still works, and a plan of the built platform changes nothing.
"""

from __future__ import annotations

import json

from .conftest import CLUSTER, KNOWN_AFTER_APPLY

ACCOUNT = "123456789012"  # the emulator's (moto's) account
# The local inventory lists no access entry and the emulator's caller is no IAM principal (its cluster creator
# entry covers it): one entry for a role the platform creates gives that layer something to plan, in every run.
VIEWER = f"arn:aws:iam::{ACCOUNT}:role/{CLUSTER}-cluster-role"
EXTRA_VARS = ["-e", json.dumps({"eks_access_entries": [
    {"principal_arn": VIEWER,
     "access_policies": [{"policy": "AmazonEKSViewPolicy", "access_scope": {"type": "cluster"}}]}]})]

# Task names (without the role prefix) of every layer's AWS tasks, in the order site.yml runs them.
IAM_ROLES = "Ensure the EKS cluster role and the node role with its instance profile"
KMS_KEY = "Ensure the KMS key encrypting Kubernetes secrets (rotation on, usable by the cluster role)"
VPC = "Ensure the VPC with DNS support and hostnames"
SUBNETS = "Ensure the private, public and intra subnets of every AZ"
SECURITY_GROUPS = "Ensure the security groups and their rules"
CLUSTER_TASK = "Ensure the EKS cluster (encryption, logging, endpoint access)"
NAT_GATEWAYS = "Ensure the NAT gateways and their Elastic IPs (requested together, waited on once)"
LAUNCH_TEMPLATES = ("Ensure one launch template per group (gp3 root volume, IMDSv2, EBS-optimized; new version only "
                    "on change)")
NODEGROUPS = "Ensure the managed node groups, all requested together"
OIDC_PROVIDER = "Ensure the cluster's IAM OIDC provider"
IRSA_ROLES = "Ensure the IRSA roles of the cluster controllers"
ADDONS_BEFORE = "Request the add-ons the nodes need (vpc-cni, kube-proxy); addons_after_compute.yml waits for them"
ACCESS_ENTRIES = "Ensure the cluster access entries (the deploying principal as admin, nothing unlisted)"
ADDONS_AFTER = "Ensure the add-ons that need nodes (coredns, aws-ebs-csi-driver) and wait for every add-on at once"
SUMMARY = "Show what was built"
LAYER_TASKS = [IAM_ROLES, KMS_KEY, VPC, SUBNETS, SECURITY_GROUPS, CLUSTER_TASK, NAT_GATEWAYS, LAUNCH_TEMPLATES,
               NODEGROUPS, OIDC_PROVIDER, IRSA_ROLES, ADDONS_BEFORE, ACCESS_ENTRIES, ADDONS_AFTER]
IRSA = [f"{CLUSTER}-{name}" for name in ("ebs-csi-driver", "cluster-autoscaler", "aws-load-balancer-controller",
                                         "cloudwatch-observability", "external-secrets")]
GROUPS = ["system", "application", "database"]


def planned(result):
    """The ``after`` side of a task's diff (the JSON callback gives a list of diffs or one)."""
    diff = result["diff"]
    return (diff[0] if isinstance(diff, list) else diff)["after"]


def nulls(value, path="msg"):
    """Paths of every null inside ``value``."""
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in nulls(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in nulls(item, f"{path}[{index}]")]
    return []


def assert_network_planned(results):
    assert results[VPC]["vpc_id"] == KNOWN_AFTER_APPLY
    assert set(results[SUBNETS]["subnets_by_name"].values()) == {KNOWN_AFTER_APPLY}
    assert set(results[SECURITY_GROUPS]["security_groups_by_name"].values()) == {KNOWN_AFTER_APPLY}
    # The NAT gateways' public subnets are made by the same run: their ids are known after apply, not null.
    gateways = planned(results[NAT_GATEWAYS])
    assert sorted(gateways) == [f"{CLUSTER}-nat-us-east-1{az}" for az in "abc"]
    assert {name: g["subnet_id"] for name, g in gateways.items()} == dict.fromkeys(gateways, KNOWN_AFTER_APPLY)
    assert set(results[NAT_GATEWAYS]["nat_gateways_by_name"].values()) == {KNOWN_AFTER_APPLY}


def assert_iam_and_cluster_planned(results):
    assert results[IAM_ROLES]["role_arns"] == {f"{CLUSTER}-cluster-role": KNOWN_AFTER_APPLY,
                                               f"{CLUSTER}-node-role": KNOWN_AFTER_APPLY}
    assert results[KMS_KEY]["key_arn"] == KNOWN_AFTER_APPLY
    cluster = results[CLUSTER_TASK]
    assert (cluster["arn"], cluster["oidc_issuer"], cluster["endpoint"]) == (KNOWN_AFTER_APPLY,) * 3
    assert planned(cluster)["subnet_ids"] == [f"{CLUSTER}-private-us-east-1{az}" for az in "abc"]


def assert_control_plane_planned(results):
    # The OIDC provider of the issuer the cluster will have.
    oidc = results[OIDC_PROVIDER]
    assert (oidc["arn"], oidc["url"], planned(oidc)["url"]) == (KNOWN_AFTER_APPLY,) * 3
    assert planned(oidc)["client_ids"] == ["sts.amazonaws.com"]
    # The IRSA roles trust the provider that would be made, for their own service account only.
    irsa = results[IRSA_ROLES]
    assert irsa["oidc_provider_arn"] == KNOWN_AFTER_APPLY
    assert irsa["role_arns"] == dict.fromkeys(IRSA, KNOWN_AFTER_APPLY)
    roles = planned(irsa)
    assert sorted(roles) == sorted(IRSA)
    for name, role in roles.items():
        statement = role["assume_role_policy"]["Statement"][0]
        assert statement["Principal"] == {"Federated": [KNOWN_AFTER_APPLY]}, name
        assert statement["Condition"]["StringEquals"][f"{KNOWN_AFTER_APPLY}:aud"] == ["sts.amazonaws.com"], name
    ebs_sa = roles[f"{CLUSTER}-ebs-csi-driver"]["assume_role_policy"]["Statement"][0]["Condition"]["StringEquals"]
    assert ebs_sa[f"{KNOWN_AFTER_APPLY}:sub"] == ["system:serviceaccount:kube-system:ebs-csi-controller-sa"]
    # The add-ons before compute and the access entries of the cluster that would be created.
    assert sorted(planned(results[ADDONS_BEFORE])) == ["kube-proxy", "vpc-cni"]
    assert {a["name"]: a["arn"] for a in results[ADDONS_BEFORE]["addons"]} == {
        "vpc-cni": KNOWN_AFTER_APPLY, "kube-proxy": KNOWN_AFTER_APPLY}
    entries = planned(results[ACCESS_ENTRIES])
    assert list(entries) == [VIEWER]
    assert entries[VIEWER]["username"] == KNOWN_AFTER_APPLY
    assert [p["policy_arn"].rsplit("/", 1)[1] for p in entries[VIEWER]["access_policies"]] == ["AmazonEKSViewPolicy"]
    assert [e["access_entry_arn"] for e in results[ACCESS_ENTRIES]["access_entries"]] == [KNOWN_AFTER_APPLY]


def assert_compute_planned(results):
    templates = results[LAUNCH_TEMPLATES]["launch_templates_by_name"]
    assert templates == {f"{CLUSTER}-{g}": {"id": KNOWN_AFTER_APPLY, "version": KNOWN_AFTER_APPLY} for g in GROUPS}
    groups = planned(results[NODEGROUPS])
    assert sorted(groups) == sorted(GROUPS)
    for name, group in groups.items():
        assert group["launch_template"] == {"id": KNOWN_AFTER_APPLY, "name": f"{CLUSTER}-{name}",
                                            "version": KNOWN_AFTER_APPLY}, name
        assert group["subnets"] == [f"{CLUSTER}-private-us-east-1{az}" for az in "abc"], name
    assert {g["name"]: g["arn"] for g in results[NODEGROUPS]["nodegroups"]} == dict.fromkeys(GROUPS, KNOWN_AFTER_APPLY)
    assert sorted(planned(results[ADDONS_AFTER])) == ["aws-ebs-csi-driver", "coredns", "kube-proxy", "vpc-cni"]
    ebs = next(a for a in results[ADDONS_AFTER]["addons"] if a["name"] == "aws-ebs-csi-driver")
    assert ebs["service_account_role_arn"] == KNOWN_AFTER_APPLY  # the IRSA role is made by the same run


def assert_summary_is_a_plan(summary):
    assert summary["run"].startswith("would build"), summary["run"]
    assert nulls(summary) == []
    assert summary["iam"]["cluster_role_name"] == f"{CLUSTER}-cluster-role"
    assert summary["iam"]["cluster_role_arn"] == KNOWN_AFTER_APPLY
    assert (summary["eks"]["cluster_name"], summary["eks"]["arn"]) == (CLUSTER, KNOWN_AFTER_APPLY)
    assert summary["eks"]["oidc_provider_arn"] == KNOWN_AFTER_APPLY
    assert summary["eks"]["irsa_role_arns"] == dict.fromkeys(IRSA, KNOWN_AFTER_APPLY)
    assert summary["network"]["vpc"] == f"{KNOWN_AFTER_APPLY} 10.0.0.0/16"
    assert summary["network"]["nat_gateways"] == [KNOWN_AFTER_APPLY] * 3
