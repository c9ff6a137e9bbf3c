"""Bad eks/nodegroups input fails before any AWS call; log group adoption; node groups overlap."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from .conftest import CLUSTER, ROOT

pytestmark = pytest.mark.integration

DEFINITIONS = yaml.safe_load((ROOT / "roles/nodegroups/defaults/main.yml").read_text())["nodegroups_definitions"]


def definitions(index, **changes):
    changed = copy.deepcopy(DEFINITIONS)
    changed[index].update(changes)
    return changed


BAD_EKS = {
    "version below 1.32 (EKS extended support over)": ({"eks_version": "1.31"}, "eks_version"),
    "public endpoint open to the internet": ({"eks_public_access_cidrs": ["0.0.0.0/0"]}, "eks_public_access_cidrs"),
    "no public CIDR with public access": ({"eks_public_access_cidrs": []}, "eks_public_access_cidrs"),
    "malformed CIDR": ({"eks_public_access_cidrs": ["203.0.113.0/33"]}, "eks_public_access_cidrs"),
    "unknown log type": ({"eks_log_types": ["api", "kubelet"]}, "eks_log_types"),
    "unknown add-on": ({"eks_addons_after_compute": [{"name": "corends"}]}, "eks_addons_after_compute[0].name"),
}
BAD_NODEGROUPS = {
    "min > desired": (definitions(0, scaling={"min_size": 3, "desired_size": 2, "max_size": 4}),
                      "nodegroups_definitions[0].scaling"),
    "desired > max": (definitions(1, scaling={"min_size": 3, "desired_size": 11, "max_size": 10}),
                      "nodegroups_definitions[1].scaling"),
    "unknown capacity type": (definitions(1, capacity_type="PREEMPTIBLE"), "nodegroups_definitions[1].capacity_type"),
    "bad taint effect": (definitions(2, taints=[{"key": "workload", "value": "database", "effect": "NoWay"}]),
                         "nodegroups_definitions[2].taints[0].effect"),
    "no instance types": (definitions(0, instance_types=[]), "nodegroups_definitions[0].instance_types"),
    "disk below the AMI minimum": (definitions(0, disk={"size_gb": 8}), "nodegroups_definitions[0].disk.size_gb"),
    "duplicate names": (definitions(2, name="system"), "nodegroups_definitions[2].name"),
}


@pytest.mark.parametrize("case", sorted(BAD_EKS))
def test_bad_eks_input_fails_before_any_aws_call(case, fresh_account, run_playbook):
    extra_vars, variable = BAD_EKS[case]
    run = run_playbook("site.yml", "--tags", "eks", "-e", json.dumps(extra_vars))
    assert run.rc != 0
    assert variable in run.failure_messages(), run.failure_messages()
    assert fresh_account.requests() == []


@pytest.mark.parametrize("case", sorted(BAD_NODEGROUPS))
def test_bad_nodegroup_input_fails_before_any_aws_call(case, fresh_account, run_playbook):
    value, field = BAD_NODEGROUPS[case]
    run = run_playbook("site.yml", "--tags", "nodegroups", "-e", json.dumps({"nodegroups_definitions": value}))
    assert run.rc != 0
    assert field in run.failure_messages(), run.failure_messages()
    assert fresh_account.requests() == []


def _interval(events, kind, ident, start, end):
    began = [e["ts"] for e in events if e["kind"] == kind and e["id"] == ident and e["to"] == start]
    ended = [e["ts"] for e in events if e["kind"] == kind and e["id"] == ident and e["to"] == end]
    return min(began), max(ended)


def test_surviving_log_group_is_adopted_and_node_groups_are_created_together(fresh_account, run_playbook, boto):
    logs = boto("logs")
    group = f"/aws/eks/{CLUSTER}/cluster"
    logs.create_log_group(logGroupName=group)
    logs.put_retention_policy(logGroupName=group, retentionInDays=7)
    fresh_account.configure(profile={"eks_nodegroup_create": 1.5, "eks_cluster_create": 0.5,
                                     "eks_addon_create": 0.2})
    run = run_playbook("site.yml")
    assert run.rc == 0, run.failure_messages()
    groups = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in groups] == [(group, 30)]

    events = fresh_account.events()
    nodegroup_ids = sorted({e["id"] for e in events if e["kind"] == "eks_nodegroup"})
    assert len(nodegroup_ids) == 3, nodegroup_ids
    intervals = [_interval(events, "eks_nodegroup", ident, "CREATING", "ACTIVE") for ident in nodegroup_ids]
    # Created together: every group started before any became ACTIVE, so the
    # waits overlap and the total is one group's time, not the sum.
    assert max(start for start, _ in intervals) < min(end for _, end in intervals)
