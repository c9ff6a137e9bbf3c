"""Upgrade and AMI refresh rules: the pre-checks of eks_upgrade_info, the roll filters, the report, no AWS."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / ".collections"))
sys.path.insert(0, str(ROOT / "plugins" / "filter"))

import eks as eks_filters  # noqa: E402
import nodegroups as nodegroup_filters  # noqa: E402
from ansible_collections.llmhub.eks.plugins.module_utils import nodegroups as ng  # noqa: E402
from ansible_collections.llmhub.eks.plugins.module_utils.upgrade import compatible_versions  # noqa: E402
from ansible_collections.llmhub.eks.plugins.module_utils.upgrade import upgrade_plan  # noqa: E402

DEFAULTS = yaml.safe_load((ROOT / "roles" / "nodegroups" / "defaults" / "main.yml").read_text())


def cluster(version="1.33", status="ACTIVE"):
    return {"name": "hub", "version": version, "status": status}


def group(name, version="1.33", status="ACTIVE", release=None):
    return {"nodegroupName": name, "version": version, "status": status,
            "releaseVersion": release or f"{version}.5-20261118"}


def versions(*entries):
    """A DescribeAddonVersions ``addonVersions`` list: (version, [cluster versions])."""
    return [{"addonVersion": v, "compatibilities": [{"clusterVersion": c} for c in cs]} for v, cs in entries]


KUBE_PROXY_134 = versions(("v1.34.2-eksbuild.1", ["1.34"]), ("v1.34.0-eksbuild.4", ["1.34"]))
VPC_CNI_134 = versions(("v1.20.4-eksbuild.2", ["1.32", "1.33", "1.34", "1.35"]))


def plan(target="1.34", **changes):
    args = dict(cluster=cluster(), target=target, nodegroups=[group("system"), group("database")],
                installed_addons={"kube-proxy": {"addonVersion": "v1.33.5-eksbuild.2"},
                                  "vpc-cni": {"addonVersion": "v1.20.4-eksbuild.2"}},
                addon_versions={"kube-proxy": KUBE_PROXY_134, "vpc-cni": VPC_CNI_134},
                declared_addons=[{"name": "vpc-cni", "version": "latest"}, {"name": "kube-proxy", "version": "latest"}])
    args.update(changes)
    return upgrade_plan(**args)


def test_one_minor_version_up_plans_control_plane_addons_and_every_node_group():
    result = plan()
    assert result["problems"] == []
    assert result["control_plane"] == {"from": "1.33", "to": "1.34"}
    assert {a["name"]: (a["from"], a["to"], a["changes"]) for a in result["addons"]} == {
        "kube-proxy": ("v1.33.5-eksbuild.2", "v1.34.2-eksbuild.1", True),
        "vpc-cni": ("v1.20.4-eksbuild.2", "v1.20.4-eksbuild.2", False)}
    assert [(g["name"], g["from"], g["to"]) for g in result["nodegroups"]] == [
        ("database", "1.33", "1.34"), ("system", "1.33", "1.34")]


def test_a_jump_of_two_versions_is_refused_naming_the_step_between():
    [problem] = plan(target="1.35", addon_versions={})["problems"]
    assert problem.startswith("eks_version: the cluster runs Kubernetes 1.33; EKS upgrades one minor version at a time")
    assert "set eks_version to 1.34" in problem
    assert plan(target="1.35", addon_versions={})["control_plane"] is None


def test_a_downgrade_and_a_bad_version_are_refused():
    assert "cannot downgrade" in plan(target="1.32")["problems"][0]
    assert plan(target="1.x")["problems"] == ["eks_version: '1.x' must be a Kubernetes minor version such as '1.35'"]
    assert "cannot go to 2.0 directly" in plan(target="2.0")["problems"][0]


def test_a_node_group_behind_the_control_plane_stops_the_next_upgrade():
    result = plan(nodegroups=[group("system", version="1.32"), group("database")])
    [problem] = result["problems"]
    assert problem.startswith("node group system runs Kubernetes 1.32 and the control plane 1.33")
    assert "-e eks_version=1.33" in problem
    # the same target as the cluster (finishing that upgrade) is allowed
    assert plan(target="1.33", nodegroups=[group("system", version="1.32")],
                addon_versions={"vpc-cni": versions(("v1.20.4-eksbuild.2", ["1.33"])),
                                "kube-proxy": versions(("v1.33.5-eksbuild.2", ["1.33"]))})["problems"] == []


def test_a_pinned_addon_incompatible_with_the_target_is_caught_before_any_change():
    declared = [{"name": "vpc-cni", "version": "latest"},
                {"name": "kube-proxy", "version": "v1.33.5-eksbuild.2", "where": "eks_addons_before_compute[1]"}]
    [problem] = plan(declared_addons=declared)["problems"]
    assert problem == ("eks_addons_before_compute[1].version: kube-proxy v1.33.5-eksbuild.2 is not compatible with Kubernetes "
                       "1.34; set it to latest or to one of ['v1.34.2-eksbuild.1', 'v1.34.0-eksbuild.4']")


def test_an_addon_nobody_declares_is_checked_too_and_latest_never_downgrades():
    installed = {"kube-proxy": {"addonVersion": "v1.33.5-eksbuild.2"}, "vpc-cni": {"addonVersion": "v1.99.0-eksbuild.1"},
                 "snapshot-controller": {"addonVersion": "v8.0.0-eksbuild.1"}}
    result = plan(installed_addons=installed,
                  addon_versions={"kube-proxy": KUBE_PROXY_134, "vpc-cni": VPC_CNI_134,
                                  "snapshot-controller": versions(("v8.2.0-eksbuild.1", ["1.34"]))})
    [problem] = result["problems"]
    assert problem.startswith("add-on snapshot-controller v8.0.0-eksbuild.1 (not managed by the eks role)")
    assert {a["name"]: a["to"] for a in result["addons"]}["vpc-cni"] == "v1.99.0-eksbuild.1"


def test_settling_cluster_and_node_groups_and_foreign_release_pins_stop_it():
    result = plan(cluster=cluster(status="UPDATING"), nodegroups=[group("system", status="DEGRADED")],
                  pinned_releases={"system": "1.33.5-20261118"})
    assert [p.split(":")[0] for p in result["problems"]] == [
        "the cluster is UPDATING", "node group system is DEGRADED",
        "nodegroups_definitions (system).release_version pins 1.33.5-20261118, an AMI release of another Kubernetes "
        "version than 1.34"]
    assert plan(cluster=None)["problems"] == ["the cluster does not exist: build it with site.yml (make apply) first"]


def test_compatible_versions_newest_first():
    assert compatible_versions(versions(("v1.9.0-eksbuild.1", ["1.34"]), ("v1.10.1-eksbuild.1", ["1.34"]),
                                        ("v1.11.0-eksbuild.1", ["1.35"])), "1.34") == [
        "v1.10.1-eksbuild.1", "v1.9.0-eksbuild.1"]


# --------------------------------------------------------------------------- node groups


def test_version_change_carries_the_kubernetes_version_with_the_release():
    current = {"version": "1.33", "releaseVersion": "1.33.5-20261118"}
    assert ng.version_change(current, None, "1.34.2-20261118", "1.34") == {
        "version": "1.34", "releaseVersion": "1.34.2-20261118"}
    assert ng.version_change(current, None, "1.33.5-20261201") == {"releaseVersion": "1.33.5-20261201"}
    assert ng.version_change(current, None, "1.33.5-20261118", "1.33") is None


def test_the_ssm_parameter_of_each_ami_type():
    assert ng.ami_release_parameter("AL2023_x86_64_STANDARD", "1.35") == (
        "/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/standard/recommended/release_version")
    assert ng.ami_release_parameter("BOTTLEROCKET_ARM_64", "1.34") == (
        "/aws/service/bottlerocket/aws-k8s-1.34/arm64/latest/image_version")
    assert ng.ami_release_parameter("CUSTOM", "1.34") is None


def test_node_group_input_checks_version_and_latest():
    spec = {"name": "system", "node_role": "r", "subnets": ["s"], "instance_types": ["m5.large"],
            "scaling": {"min_size": 1, "desired_size": 1, "max_size": 2}, "ami_type": "CUSTOM",
            "release_version": "latest", "version": "1.3x"}
    problems = ng.validate_nodegroups([spec], [], "present")
    assert any(p.startswith("nodegroups[0].version: '1.3x' must be a Kubernetes minor version") for p in problems)
    assert any(p.startswith("nodegroups[0].release_version: latest is known for the AMI types") for p in problems)


def plan_settings(**changes):
    base = {
        "nodegroups_cluster_name": "hub", "nodegroups_tags": {},
        "nodegroups_definitions": copy.deepcopy(DEFAULTS["nodegroups_definitions"]),
        "nodegroups_ami_type": "AL2023_x86_64_STANDARD", "nodegroups_max_unavailable": 1,
        "nodegroups_volume_kms_key": None, "nodegroups_node_role": "hub-node-role",
        "nodegroups_security_groups": ["hub-node"], "nodegroups_recreate": [],
    }
    base.update(changes)
    return base


def test_nodegroups_only_names_defined_groups_and_the_roll_version_is_checked():
    assert nodegroup_filters.nodegroups_plan(plan_settings(nodegroups_only="system, database"))["only"] == [
        "system", "database"]
    assert nodegroup_filters.nodegroups_plan(plan_settings())["only"] == []
    with pytest.raises(AnsibleFilterError, match=r"nodegroups_only: 'sytem' is not a node group .*did you mean 'system'"):
        nodegroup_filters.nodegroups_plan(plan_settings(nodegroups_only="sytem"))
    with pytest.raises(AnsibleFilterError, match="nodegroups_roll_version: '1.35.1' must be a Kubernetes minor"):
        nodegroup_filters.nodegroups_plan(plan_settings(nodegroups_roll_version="1.35.1"))


def test_rolled_groups_get_latest_unless_pinned_and_the_version_when_given():
    placed = [{"name": "system"}, {"name": "database", "release_version": "1.35.0-20261118"}, {"name": "application"}]
    assert nodegroup_filters.nodegroups_rolled(placed, ["system", "database"], "1.35") == [
        {"name": "system", "release_version": "latest", "version": "1.35"},
        {"name": "database", "release_version": "1.35.0-20261118", "version": "1.35"}]
    assert nodegroup_filters.nodegroups_rolled(placed, [], "") == [
        {"name": "system", "release_version": "latest"},
        {"name": "database", "release_version": "1.35.0-20261118"},
        {"name": "application", "release_version": "latest"}]


# --------------------------------------------------------------------------- report


def test_the_report_lists_every_component_before_planned_after_and_the_problems():
    before = plan()
    after = plan(target="1.34", cluster=cluster("1.34"),
                 nodegroups=[group("system", "1.34"), group("database", "1.34")],
                 installed_addons={"kube-proxy": {"addonVersion": "v1.34.2-eksbuild.1"},
                                   "vpc-cni": {"addonVersion": "v1.20.4-eksbuild.2"}})
    report = eks_filters.eks_upgrade_report_markdown(before, after)
    assert report.startswith("# Upgrade of hub to Kubernetes 1.34\n\nStatus: done.")
    assert "| control plane | 1.33 | 1.34 | 1.34 |" in report
    assert "| add-on kube-proxy | v1.33.5-eksbuild.2 | v1.34.2-eksbuild.1 | v1.34.2-eksbuild.1 |" in report
    assert ("| node group system | 1.33 (1.33.5-20261118) | 1.34 (latest AMI release) | 1.34 (1.34.5-20261118) |"
            in report)
    refused = eks_filters.eks_upgrade_report_markdown(plan(target="1.35", addon_versions={}), None, True)
    assert "Status: check mode" in refused and "- eks_version: the cluster runs Kubernetes 1.33; EKS upgrades one minor version" in refused
    assert "| control plane | 1.33 | 1.33 |" in refused
