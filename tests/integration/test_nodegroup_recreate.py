"""Node group recovery (the overview's `terraform taint aws_eks_node_group.application`): `nodegroups_recreate`.

First through llmhub.eks.eks_nodegroups directly (option ``recreate``), then
once through ``site.yml --tags nodegroups -e nodegroups_recreate=...`` on a
platform built by site.yml. Each recreated node group must be deleted and
created again from its definition, the others untouched.
"""

from __future__ import annotations

import pytest

from .conftest import CLUSTER as PLATFORM_CLUSTER
from .conftest import KNOWN_AFTER_APPLY, mutating_calls
from .test_module_eks_nodegroups import CLUSTER, describe_all, groups, make_cluster, nodegroups_task, templates

pytestmark = pytest.mark.integration

# What a recreated node group keeps from its definition (and so from the node group it replaces).
DEFINITION_KEYS = ("scalingConfig", "labels", "taints", "launchTemplate", "instanceTypes", "capacityType",
                   "amiType", "nodeRole", "subnets", "updateConfig", "tags")


def nodegroup_events(events, since):
    """[(node group, from, to)] of the node group lifecycle transitions at or after ``since``."""
    return [(event["id"].split("/", 1)[1], event["from"], event["to"]) for event in events
            if event["kind"] == "eks_nodegroup" and event["ts"] >= since]


def request_times(client, operation):
    return [entry["ts"] for entry in client.requests() if entry["operation"] == operation]


def definition(nodegroup):
    kept = {key: nodegroup.get(key) for key in DEFINITION_KEYS}
    kept["subnets"] = sorted(kept["subnets"])  # the same subnets, in whichever order they were given
    return kept


def assert_recreated(before, after, recreated):
    """``recreated`` are new node groups with the same definition; every other one is exactly as it was."""
    assert sorted(after) == sorted(before)
    for name in recreated:
        old, new = before[name], after[name]
        assert new["nodegroupArn"] != old["nodegroupArn"], name
        assert new["createdAt"] > old["createdAt"], name
        assert new["status"] == "ACTIVE", name
        assert definition(new) == definition(old), name
    for name in set(before) - set(recreated):
        assert after[name] == before[name], name


def test_module_recreates_the_named_group_only(fresh_account, run_tasks, boto):
    eks = boto("eks")
    make_cluster(fresh_account, boto)
    built = run_tasks([templates(), nodegroups_task()])
    assert built.rc == 0, built.failure_messages()
    before = describe_all(eks)
    assert sorted(before) == ["application", "database", "system"]
    # long enough for the module to be seen waiting on the deletion (and for createdAt to move on)
    fresh_account.configure(profile={"eks_nodegroup_delete": 1.0, "eks_nodegroup_create": 0.5})

    # Check mode says which group would be recreated and shows it in the diff, without any mutating call.
    fresh_account.clear_requests()
    plan = run_tasks([templates(), nodegroups_task("plan", recreate=["database"], check_mode=True, diff=True)])
    assert plan.rc == 0, plan.failure_messages()
    planned = plan.task_results()["plan"]
    assert planned["changed"] and planned["recreated"] == ["database"]
    assert planned["created"] == [] and planned["updated"] == [] and planned["deleted"] == []
    assert planned["diff"]["before"]["database"]["arn"] == before["database"]["nodegroupArn"]
    assert planned["diff"]["after"]["database"]["arn"] == KNOWN_AFTER_APPLY
    assert "arn" not in planned["diff"]["after"]["system"]  # unchanged groups: no ARN noise in the diff
    assert planned["diff"]["before"]["system"] == planned["diff"]["after"]["system"]
    assert mutating_calls(fresh_account) == []

    # Recreate the tainted database group ("database," as -e would give it): DeleteNodegroup, the wait until it is
    # gone, then CreateNodegroup; nothing else changes.
    fresh_account.clear_requests()
    run = run_tasks([templates(), nodegroups_task("recreate", recreate="database, ", diff=True)])
    assert run.rc == 0, run.failure_messages()
    result = run.task_results()["recreate"]
    assert result["changed"] and result["recreated"] == ["database"]
    assert result["created"] == [] and result["updated"] == [] and result["deleted"] == []
    assert mutating_calls(fresh_account) == ["eks:DeleteNodegroup", "eks:CreateNodegroup"]
    deleted_at = request_times(fresh_account, "DeleteNodegroup")[0]
    created_at = request_times(fresh_account, "CreateNodegroup")[0]
    transitions = nodegroup_events(fresh_account.events(), deleted_at)
    assert {name for name, _from, _to in transitions} == {"database"}, transitions
    gone_at = [event["ts"] for event in fresh_account.events() if event["kind"] == "eks_nodegroup"
               and event["id"] == f"{CLUSTER}/database" and event["from"] == "DELETING"]
    assert len(gone_at) == 1 and deleted_at < gone_at[0] <= created_at, "created again before the old one was gone"
    after = describe_all(eks)
    assert_recreated(before, after, ["database"])
    assert after["database"]["taints"] == [{"key": "workload", "value": "database", "effect": "NO_SCHEDULE"}]
    assert after["database"]["labels"] == {"role": "database"}
    assert result["diff"]["before"]["database"]["arn"] == before["database"]["nodegroupArn"]
    assert result["diff"]["after"]["database"]["arn"] == after["database"]["nodegroupArn"]
    assert [group["status"] for group in result["nodegroups"]] == ["ACTIVE"] * 3

    # The next run without recreate changes nothing.
    fresh_account.clear_requests()
    again = run_tasks([templates(), nodegroups_task()])
    assert again.rc == 0, again.failure_messages()
    assert again.changed == 0, again.changed_tasks()
    assert mutating_calls(fresh_account) == []
    assert describe_all(eks) == after


def test_module_deletes_the_named_groups_together_and_waits_once(fresh_account, run_tasks, boto):
    eks = boto("eks")
    make_cluster(fresh_account, boto)
    built = run_tasks([templates(), nodegroups_task()])
    assert built.rc == 0, built.failure_messages()
    before = describe_all(eks)
    fresh_account.configure(profile={"eks_nodegroup_delete": 3.0, "eks_nodegroup_create": 0.5})
    fresh_account.clear_requests()

    # Two groups recreated while the third is updated in place (max size 10 -> 12). The default callback, to read
    # the progress lines of llmhub.eks.progress printed during the wait.
    task = nodegroups_task("recreate", nodegroups=groups(application_max=12), recreate=["system", "database"])
    run = run_tasks([templates(), task], "-v",
                    env={"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default", "LLMHUB_PROGRESS_INTERVAL": "1"})
    assert run.rc == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "recreated:\n    - system\n    - database\n" in run.stdout, run.stdout[-3000:]
    assert "updated:\n    - application\n" in run.stdout, run.stdout[-3000:]
    # one wait for both deletions, so one progress line names both groups
    waiting = [line for line in run.stdout.splitlines()
               if line.startswith("Still waiting [") and "node groups to be deleted before they are created again" in line]
    assert any(line.endswith(": database DELETING, system DELETING") for line in waiting), run.stdout[-3000:]
    calls = mutating_calls(fresh_account)
    assert sorted(calls[:2]) == ["eks:DeleteNodegroup"] * 2, calls
    assert calls[2:] == ["eks:UpdateNodegroupConfig", "eks:CreateNodegroup", "eks:CreateNodegroup"], calls
    # both deletions overlapped, and the update went out meanwhile: all requested before the first group was gone
    deletes = request_times(fresh_account, "DeleteNodegroup")
    update = request_times(fresh_account, "UpdateNodegroupConfig")
    gone = [event["ts"] for event in fresh_account.events()
            if event["kind"] == "eks_nodegroup" and event["from"] == "DELETING" and event["ts"] >= deletes[0]]
    assert len(gone) == 2 and max(deletes + update) < min(gone), (deletes, update, gone)
    after = describe_all(eks)
    assert after["application"]["nodegroupArn"] == before["application"]["nodegroupArn"]
    assert after["application"]["scalingConfig"]["maxSize"] == 12
    assert_recreated({name: before[name] for name in ("system", "database")},
                     {name: after[name] for name in ("system", "database")}, ["system", "database"])


# --- site.yml ----------------------------------------------------------------------------------


def platform_nodegroups(eks):
    names = eks.list_nodegroups(clusterName=PLATFORM_CLUSTER)["nodegroups"]
    return {name: eks.describe_nodegroup(clusterName=PLATFORM_CLUSTER, nodegroupName=name)["nodegroup"]
            for name in names}


def test_site_tags_nodegroups_recreates_one_group(built_platform, run_playbook, control, boto):
    eks = boto("eks")
    before = platform_nodegroups(eks)
    assert sorted(before) == ["application", "database", "system"]

    # An unknown name stops the run in the preflight, before any AWS call, naming the variable and the closest name.
    control.clear_requests()
    typo = run_playbook("site.yml", "--tags", "nodegroups", "-e", "nodegroups_recreate=aplication")
    assert typo.rc != 0
    message = typo.failure_messages()
    assert "nodegroups_recreate" in message and "did you mean 'application'?" in message, message
    assert "['system', 'application', 'database']" in message, message
    assert control.requests() == []

    # Check mode (the full site.yml form): says which group would be recreated, no mutating call.
    control.clear_requests()
    check = run_playbook("site.yml", "--check", "-e", "nodegroups_recreate=application")
    assert check.rc == 0, check.failure_messages()
    planned = check.task_results()["Ensure the managed node groups, all requested together"]
    assert planned["changed"] and planned["recreated"] == ["application"]
    assert mutating_calls(control) == []
    assert platform_nodegroups(eks) == before

    # The recovery itself: the application group is deleted and created again, the others untouched.
    control.clear_requests()
    run = run_playbook("site.yml", "--tags", "nodegroups", "-e", "nodegroups_recreate=application")
    assert run.rc == 0, run.failure_messages()
    result = run.task_results()["Ensure the managed node groups, all requested together"]
    assert result["recreated"] == ["application"] and result["created"] == [] and result["updated"] == []
    assert mutating_calls(control) == ["eks:DeleteNodegroup", "eks:CreateNodegroup"], mutating_calls(control)
    assert {name for name, _from, _to in nodegroup_events(control.events(), run_started(control))} == {"application"}
    after = platform_nodegroups(eks)
    assert_recreated(before, after, ["application"])

    # Without the variable the next run changes nothing.
    control.clear_requests()
    again = run_playbook("site.yml", "--tags", "nodegroups")
    assert again.rc == 0, again.failure_messages()
    assert again.changed == 0, again.changed_tasks()
    assert mutating_calls(control) == []
    assert platform_nodegroups(eks) == after


def run_started(client):
    """When the request log (cleared before the run) began."""
    return min(entry["ts"] for entry in client.requests())
