"""The node group planning filter: the overview's three groups and validation naming the field."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "plugins" / "filter"))

import nodegroups  # noqa: E402

DEFAULTS = yaml.safe_load((ROOT / "roles" / "nodegroups" / "defaults" / "main.yml").read_text())
CLUSTER = "hub"


def settings(**changes):
    base = {
        "nodegroups_cluster_name": CLUSTER, "nodegroups_tags": {"Project": "p"},
        "nodegroups_definitions": copy.deepcopy(DEFAULTS["nodegroups_definitions"]),
        "nodegroups_ami_type": "AL2023_x86_64_STANDARD", "nodegroups_max_unavailable": 1,
        "nodegroups_volume_kms_key": None, "nodegroups_node_role": "hub-node-role",
        "nodegroups_security_groups": ["hub-node"], "nodegroups_recreate": [],
    }
    base.update(changes)
    return base


def definitions_with(index, **changes):
    definitions = copy.deepcopy(DEFAULTS["nodegroups_definitions"])
    definitions[index].update(changes)
    return definitions


def test_overview_groups():
    plan = nodegroups.nodegroups_plan(settings())
    groups = {g["name"]: g for g in plan["nodegroups"]}
    assert groups["system"]["instance_types"] == ["m5.xlarge"]
    assert groups["system"]["scaling"] == {"min_size": 2, "desired_size": 3, "max_size": 4}
    assert groups["application"]["capacity_type"] == "SPOT"
    assert groups["application"]["instance_types"] == ["m5.2xlarge", "m5a.2xlarge", "m5n.2xlarge"]
    assert groups["application"]["scaling"] == {"min_size": 3, "desired_size": 5, "max_size": 10}
    assert groups["database"]["taints"] == [{"key": "workload", "value": "database", "effect": "NO_SCHEDULE"}]
    assert groups["database"]["labels"] == {"role": "database"}
    assert groups["database"]["tags"]["k8s.io/cluster-autoscaler/enabled"] == "true"
    assert groups["database"]["tags"][f"k8s.io/cluster-autoscaler/{CLUSTER}"] == "owned"
    templates = {t["name"]: t for t in plan["launch_templates"]}
    database = templates[f"{CLUSTER}-database"]
    assert database["root_volume"] == {"device_name": "/dev/xvda", "size_gb": 500, "type": "gp3", "iops": 3000,
                                       "throughput": 125, "encrypted": True}
    assert database["metadata"] == {"http_tokens": "required", "http_put_response_hop_limit": 2,
                                    "http_endpoint": "enabled"}
    assert database["ebs_optimized"] is True and database["monitoring"] is True
    assert database["instance_tags"]["llmhub.io/nodegroup"] == "database"
    assert templates[f"{CLUSTER}-system"]["root_volume"]["size_gb"] == 100


def test_placed_groups_get_subnets_and_template_versions():
    plan = nodegroups.nodegroups_plan(settings())
    placed = nodegroups.nodegroups_placed(plan["nodegroups"], ["a", "b"], {f"{CLUSTER}-system": {"id": "lt-1", "version": 3}})
    assert placed[0]["subnets"] == ["a", "b"]
    assert placed[0]["launch_template"] == {"name": f"{CLUSTER}-system", "version": "3"}
    assert placed[1]["launch_template"] == {"name": f"{CLUSTER}-application"}


def test_a_template_planned_in_check_mode_is_named_without_version():
    plan = nodegroups.nodegroups_plan(settings())
    unknown = {"id": "(known after apply)", "version": "(known after apply)"}
    placed = nodegroups.nodegroups_placed(plan["nodegroups"], ["a"], {f"{CLUSTER}-system": unknown})
    assert placed[0]["launch_template"] == {"name": f"{CLUSTER}-system"}


@pytest.mark.parametrize("definitions, message", [
    (definitions_with(0, scaling={"min_size": 3, "desired_size": 2, "max_size": 4}),
     "nodegroups_definitions[0].scaling: sizes must satisfy min_size <= desired_size <= max_size"),
    (definitions_with(1, scaling={"min_size": 1, "desired_size": 5, "max_size": 4}),
     "nodegroups_definitions[1].scaling"),
    (definitions_with(1, capacity_type="RESERVED"), "nodegroups_definitions[1].capacity_type: 'RESERVED'"),
    (definitions_with(2, taints=[{"key": "workload", "effect": "NoPlease"}]),
     "nodegroups_definitions[2].taints[0].effect"),
    (definitions_with(0, instance_types=[]), "nodegroups_definitions[0].instance_types: must list at least one"),
    (definitions_with(0, disk={"size_gb": 10}), "nodegroups_definitions[0].disk.size_gb: 10 GiB is below the 20 GiB"),
    (definitions_with(2, disk={"size_gb": 500, "iops": 1000}), "nodegroups_definitions[2].disk.iops"),
    (definitions_with(2, disk={"size_gb": 500, "type": "gp2", "throughput": 125}),
     "nodegroups_definitions[2].disk.throughput"),
    (definitions_with(1, name="system"), "nodegroups_definitions[1].name: 'system' is defined twice"),
    ([], "nodegroups_definitions: must list at least one"),
])
def test_bad_definitions_name_the_field(definitions, message):
    with pytest.raises(AnsibleFilterError) as error:
        nodegroups.nodegroups_plan(settings(nodegroups_definitions=definitions))
    assert message in str(error.value)


def test_recreate_must_name_a_defined_group():
    assert nodegroups.nodegroups_plan(settings(nodegroups_recreate="application"))["recreate"] == ["application"]
    with pytest.raises(AnsibleFilterError, match="nodegroups_recreate"):
        nodegroups.nodegroups_plan(settings(nodegroups_recreate=["gpu"]))


@pytest.mark.parametrize("given, wanted", [
    ([], []),
    (None, []),
    ("", []),
    ("application", ["application"]),                      # -e nodegroups_recreate=application
    ("application,database", ["application", "database"]),  # -e nodegroups_recreate=application,database
    (" database , application ,", ["database", "application"]),
    ("system,system", ["system"]),
    (["database", " system", "database"], ["database", "system"]),
])
def test_recreate_is_normalised_to_a_list_of_names(given, wanted):
    assert nodegroups.nodegroups_plan(settings(nodegroups_recreate=given))["recreate"] == wanted


@pytest.mark.parametrize("given, message", [
    ("aplication", "nodegroups_recreate: 'aplication' is not a node group of nodegroups_definitions; did you mean "
                   "'application'? the node groups are ['system', 'application', 'database']"),
    ("system,gpu", "nodegroups_recreate: 'gpu' is not a node group of nodegroups_definitions; the node groups are "
                   "['system', 'application', 'database']"),
    (["database", 3], "nodegroups_recreate[1]: 3 is not a node group name"),
    ({"application": True}, "nodegroups_recreate: {'application': True} must be a node group name"),
    (True, "nodegroups_recreate: True must be a node group name"),
])
def test_recreate_refuses_what_is_not_a_defined_group(given, message):
    with pytest.raises(AnsibleFilterError) as error:
        nodegroups.nodegroups_plan(settings(nodegroups_recreate=given))
    assert message in str(error.value)
