"""Per-role tags are a contract (README, "Tags are a contract"), on an empty account.

Each layer that builds on earlier ones, run alone on an empty account, stops
at once, before any change, naming the tag to run first
(test_tags_contract.py: the tags on a built platform).
"""

from __future__ import annotations

import pytest

from .conftest import mutating_calls

pytestmark = pytest.mark.integration

# what a layer run alone on an empty account says to run first
RUN_FIRST = {
    "eks": "Run `--tags vpc` (then `iam`) first",
    "nodegroups": "Run `--tags vpc` (then `iam` and `eks`) first",
    "kubeconfig": "--tags eks",
    "storage": "--tags eks",
    "addons": "--tags eks",
    "apps": "--tags eks",
}


@pytest.mark.parametrize("tag", sorted(RUN_FIRST))
def test_on_an_empty_account_a_layer_stops_at_once_naming_the_tag_to_run_first(fresh_account, run_playbook, tag):
    run = run_playbook("site.yml", "--tags", tag)
    assert run.rc != 0
    message = run.failure_messages()
    assert RUN_FIRST[tag] in message, message
    assert "does not exist" in message, message
    # nothing made (the deploy lock's own PutItem/DeleteItem aside)
    assert mutating_calls(fresh_account) == []
