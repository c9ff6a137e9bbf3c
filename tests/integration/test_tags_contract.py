"""Per-role tags are a contract (README, "Tags are a contract").

On one built platform: each layer's tag alone works and changes nothing, and
skipping any one layer leaves the others working (nothing changed either).
test_tags_prerequisites.py: on an empty account, each layer that builds on
earlier ones stops at once. AWX job templates rely on this: their job tags and
skip tags are these.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration
# Reads the platform the other sharing modules read (tests/support/shared_platform.py).
SHARES_PLATFORM = True

LAYERS = ["iam", "vpc", "eks", "hardening", "backup", "nodegroups", "kubeconfig", "storage", "addons", "apps"]


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
