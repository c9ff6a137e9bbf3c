"""Per-role tags are a contract (README, "Tags are a contract").

On one built platform: each layer's tag alone works and changes nothing, and
skipping any one layer leaves the others working (nothing changed either). On
an empty account, each layer that builds on earlier ones stops at once, before
any change, naming the tag to run first. AWX job templates rely on this: their
job tags and skip tags are these.
"""

from __future__ import annotations

import pytest

from .conftest import mutating_calls

pytestmark = pytest.mark.integration

LAYERS = ["iam", "vpc", "eks", "hardening", "nodegroups", "kubeconfig", "storage", "addons", "apps"]
# what a layer run alone on an empty account says to run first
RUN_FIRST = {
    "eks": "Run `--tags vpc` (then `iam`) first",
    "nodegroups": "Run `--tags vpc` (then `iam` and `eks`) first",
    "kubeconfig": "--tags eks",
    "storage": "--tags eks",
    "addons": "--tags eks",
    "apps": "--tags eks",
}


@pytest.mark.parametrize("tag", LAYERS)
def test_each_tag_alone_works_on_the_built_platform_and_changes_nothing(built_platform, run_playbook, tag):
    run = run_playbook("site.yml", "--tags", tag)
    assert run.rc == 0, run.failure_messages()
    assert run.changed_tasks() == [], run.changed_tasks()
    # the summary says which layers were not in this run
    summary = run.task_results()["Show what was built"]["msg"]
    assert summary["run"] == "built"


# Every layer is skipped in one of two runs, and every layer that runs in them
# has its predecessor skipped: the layers that run find what the skipped ones
# made in AWS, as a layer run alone does (a run per layer would cost as much as
# eight no-op deploys for the same code paths).
@pytest.mark.parametrize("skipped", [LAYERS[0::2], LAYERS[1::2]], ids=",".join)
def test_skipping_layers_leaves_the_others_working(built_platform, run_playbook, skipped):
    run = run_playbook("site.yml", "--skip-tags", ",".join(skipped))
    assert run.rc == 0, run.failure_messages()
    assert run.changed_tasks() == [], run.changed_tasks()


# Last in this file: each test empties the account the tests above share.
@pytest.mark.parametrize("tag", sorted(RUN_FIRST))
def test_on_an_empty_account_a_layer_stops_at_once_naming_the_tag_to_run_first(fresh_account, run_playbook, tag):
    run = run_playbook("site.yml", "--tags", tag)
    assert run.rc != 0
    message = run.failure_messages()
    assert RUN_FIRST[tag] in message, message
    assert "does not exist" in message, message
    # nothing made (the deploy lock's own PutItem/DeleteItem aside)
    assert mutating_calls(fresh_account) == []
