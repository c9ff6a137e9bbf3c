"""The plan and drift reports: what check-mode results would change, counted as Terraform's plan counts it."""

from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.llmhub.eks.plugins.filter.operations import deploy_lock_validate_settings
from ansible_collections.llmhub.eks.plugins.filter.operations import setup_validate_settings
from ansible_collections.llmhub.eks.plugins.filter.plan_report import plan_report
from ansible_collections.llmhub.eks.plugins.plugin_utils.plan_changes import changes_of
from ansible_collections.llmhub.eks.plugins.plugin_utils.plan_changes import split_task_name
from ansible_collections.llmhub.eks.plugins.plugin_utils.plan_changes import summarize


def test_set_modules_name_what_they_add_change_destroy_and_replace():
    result = {"changed": True, "created": ["a"], "updated": ["b"], "deleted": ["c"], "recreated": ["d"],
              "diff": {"before": {"b": {"size": 1}, "c": {"size": 2}}, "after": {"a": {"size": 3}, "b": {"size": 4}}}}
    changes = changes_of(result, "task")
    assert [(c["action"], c["name"]) for c in changes] == [
        ("add", "a"), ("change", "b"), ("destroy", "c"), ("destroy", "d"), ("add", "d")]
    assert changes[1]["fields"] == {"size": {"before": 1, "after": 4}}
    assert changes[3]["replace"] and changes[4]["replace"]


def test_keyed_and_single_diffs_k8s_methods_loops_and_unchanged_results():
    keyed = {"changed": True, "diff": {"before": {"x": {"v": 1}, "y": {"v": 1}}, "after": {"y": {"v": 2}, "z": {"v": 1}}}}
    assert [(c["action"], c["name"]) for c in changes_of(keyed, "t")] == [
        ("destroy", "x"), ("change", "y"), ("add", "z")]
    single = {"changed": True, "diff": {"before": {}, "after": {"name": "hub-vpc", "cidr": "10.0.0.0/16"}}}
    assert changes_of(single, "Ensure the VPC") == [{"action": "add", "name": "hub-vpc", "fields": {}}]
    gone = {"changed": True, "diff": {"before": {"retention": 30}, "after": {}}}
    assert changes_of(gone, "log group")[0]["action"] == "destroy"
    k8s = {"changed": True, "method": "patch", "result": {"kind": "Namespace", "metadata": {"name": "apps"}},
           "diff": {"before": {"metadata": {"labels": {}}}, "after": {"metadata": {"labels": {"a": "b"}}}}}
    [change] = changes_of(k8s, "t")
    assert change["action"] == "change" and change["name"] == "Namespace/apps" and "metadata" in change["fields"]
    loop = {"changed": True, "results": [{"changed": True, "item": "x"}, {"changed": False, "item": "y"}]}
    assert [c["name"] for c in changes_of(loop, "write")] == ["write (x)"]
    assert changes_of({"changed": False, "created": ["a"]}, "t") == []
    assert changes_of({"changed": True}, "Write the file") == [{"action": "change", "name": "Write the file",
                                                                 "fields": {}}]


def test_summary_orders_layers_counts_each_address_once():
    records = [{"layer": "nodegroups", "module": "eks_nodegroups", "action": "add", "name": "system", "fields": {}},
               {"layer": "vpc", "module": "ec2_vpc", "action": "add", "name": "hub", "fields": {}},
               {"layer": "eks", "module": "eks_cluster", "action": "add", "name": "hub", "fields": {}},
               {"layer": "eks", "module": "eks_cluster", "action": "add", "name": "hub", "fields": {}},
               {"layer": "vpc", "module": "ec2_security_groups", "action": "change", "name": "hub-db",
                "fields": {"ingress": {"before": [], "after": [1]}}, "task": "Ensure the SGs"}]
    summary = summarize(records)
    assert list(summary["layers"]) == ["vpc", "eks", "nodegroups"]
    assert summary["totals"] == {"add": 3, "change": 1, "destroy": 0}
    assert summary["layers"]["vpc"]["details"][0]["address"] == "ec2_security_groups.hub-db"
    assert split_task_name("llmhub.eks.vpc : Ensure the subnets") == ("vpc", "Ensure the subnets")
    assert split_task_name("Show what was built") == ("", "Show what was built")


def test_report_markdown_plan_and_drift():
    record = {"hosts": {"hub": [
        {"layer": "vpc", "module": "ec2_security_groups", "action": "change", "name": "hub-db", "task": "t",
         "fields": {"ingress": {"before": [], "after": ["0.0.0.0/0:5432"]}}}]}}
    plan = plan_report(json.dumps(record), "hub", {"total": 3108.31, "lines": [{"component": "EKS", "monthly": 73}]})
    assert plan["totals"] == {"add": 0, "change": 1, "destroy": 0} and plan["changes"] == 1
    assert "**Plan: 0 to add, 1 to change, 0 to destroy.**" in plan["markdown"]
    assert "~ ec2_security_groups.hub-db" in plan["markdown"] and "ingress: [] -> " in plan["markdown"]
    assert plan["monthly_cost"]["total"] == 3108.31 and "$3,108.31" in plan["markdown"]
    drift = plan_report(record, "hub", mode="drift")
    assert drift["drift"] is True and "Drift: 1 differences" in drift["markdown"]
    clean = plan_report({"hosts": {}}, "hub", mode="drift")
    assert clean["drift"] is False and "No drift" in clean["markdown"]
    with pytest.raises(AnsibleFilterError, match="llmhub.eks.plan_report callback"):
        plan_report("", "hub")
    with pytest.raises(AnsibleFilterError, match="mode must be plan or drift"):
        plan_report(record, "hub", mode="apply")


SETUP = {"region": "us-east-1", "bucket": "", "noncurrent_version_days": 90, "abort_multipart_days": 7,
         "lock_table": "llmhub-deploy-locks", "inventory_name": "", "inventory_cluster_name": "",
         "inventory_region": "us-east-1", "inventory_azs": [], "inventory_vpc_cidr": "10.0.0.0/16",
         "inventory_public_access_cidrs": []}
NEW = {"inventory_name": "staging", "inventory_cluster_name": "hub-staging",
       "inventory_public_access_cidrs": ["203.0.113.0/24"]}


@pytest.mark.parametrize("change, variable", [
    ({"region": "us-moon-1"}, "setup_aws_region"),
    ({"bucket": "Bad_Bucket"}, "setup_artifacts_bucket"),
    ({"noncurrent_version_days": 0}, "setup_artifacts_noncurrent_version_days"),
    ({"abort_multipart_days": "x"}, "setup_artifacts_abort_multipart_days"),
    ({"lock_table": "a b"}, "setup_lock_table"),
    ({**NEW, "inventory_name": "local"}, "setup_inventory_name"),
    ({**NEW, "inventory_cluster_name": "-bad"}, "setup_inventory_cluster_name"),
    ({**NEW, "inventory_azs": ["eu-west-1a"]}, "setup_inventory_azs"),
    ({**NEW, "inventory_vpc_cidr": "10.0.0.0/8"}, "setup_inventory_vpc_cidr"),
    ({**NEW, "inventory_vpc_cidr": "10.0.0.1/16"}, "setup_inventory_vpc_cidr"),
    ({**NEW, "inventory_public_access_cidrs": []}, "setup_inventory_public_access_cidrs"),
    ({**NEW, "inventory_public_access_cidrs": ["0.0.0.0/0"]}, "setup_inventory_public_access_cidrs"),
])
def test_setup_settings_refused_naming_the_variable(change, variable):
    with pytest.raises(AnsibleFilterError, match=f"^{variable}: "):
        setup_validate_settings({**SETUP, **change})


def test_setup_and_lock_settings_accepted():
    assert setup_validate_settings(SETUP) == SETUP
    assert setup_validate_settings({**SETUP, **NEW})["inventory_name"] == "staging"
    lock = {"name": "hub", "table": "llmhub-deploy-locks", "lease_seconds": 7200}
    assert deploy_lock_validate_settings(lock) == lock
    with pytest.raises(AnsibleFilterError, match="^deploy_lock_lease_seconds: "):
        deploy_lock_validate_settings({**lock, "lease_seconds": 30})
    with pytest.raises(AnsibleFilterError, match="^deploy_lock_table: "):
        deploy_lock_validate_settings({**lock, "table": "x"})
