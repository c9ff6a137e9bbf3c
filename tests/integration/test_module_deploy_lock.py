"""llmhub.eks.deploy_lock against the emulator's DynamoDB, asserted through boto3."""

from __future__ import annotations

import time

import pytest

from .conftest import mutating_calls

pytestmark = pytest.mark.integration

MODULE = "llmhub.eks.deploy_lock"
TABLE = "llmhub-deploy-locks"


def lock_task(name, owner, **options):
    keywords = {key: options.pop(key) for key in ("check_mode", "ignore_errors") if key in options}
    return {"name": name, MODULE: {"name": options.pop("lock", "cluster-a"), "owner": owner, **options},
            "register": "lock", **keywords}


@pytest.fixture
def table(fresh_account, boto):
    """The lock table the fresh account has (setup.yml's, made by the fixture)."""
    return boto("dynamodb")


def test_one_holder_per_cluster_and_clusters_apart(table, run_tasks, fresh_account):
    taken = run_tasks([lock_task("check", "alice@ops-1:1", playbook="site.yml", check_mode=True),
                       lock_task("take", "alice@ops-1:1", playbook="site.yml"),
                       lock_task("again", "alice@ops-1:1", playbook="site.yml"),
                       lock_task("other cluster", "bob@ops-2:2", lock="cluster-b", playbook="site.yml")])
    assert taken.rc == 0, taken.failure_messages()
    results = taken.task_results()
    assert results["check"]["changed"] and results["take"]["changed"]
    assert not results["again"]["changed"]  # re-entrant: its own lock, lease extended
    assert results["other cluster"]["changed"]
    assert mutating_calls(fresh_account, lock=True).count("dynamodb:PutItem") == 3  # check mode wrote nothing
    item = table.get_item(TableName=TABLE, Key={"lock_name": {"S": "cluster-a"}})["Item"]
    assert item["owner"]["S"] == "alice@ops-1:1" and item["playbook"]["S"] == "site.yml"

    refused = run_tasks([lock_task("second run", "bob@ops-2:2", playbook="destroy.yml")])
    assert refused.rc != 0
    message = refused.failure_messages()
    assert "cluster-a is locked by alice@ops-1:1 running site.yml since" in message and "lease until" in message
    assert "wait for it to finish" in message
    forced = run_tasks([lock_task("force a running lease", "bob@ops-2:2", force=True)])
    assert forced.rc != 0 and "locked by alice@ops-1:1" in forced.failure_messages()

    released = run_tasks([lock_task("not mine", "bob@ops-2:2", state="absent"),
                          lock_task("release", "alice@ops-1:1", state="absent"),
                          lock_task("release again", "alice@ops-1:1", state="absent")])
    assert released.rc == 0, released.failure_messages()
    results = released.task_results()
    assert not results["not mine"]["changed"] and results["release"]["released"]
    assert not results["release again"]["changed"]
    assert "Item" not in table.get_item(TableName=TABLE, Key={"lock_name": {"S": "cluster-a"}})


def test_an_expired_lease_is_taken_over_only_when_forced(table, run_tasks):
    past = int(time.time()) - 60
    table.put_item(TableName=TABLE, Item={"lock_name": {"S": "cluster-a"}, "owner": {"S": "ci@runner-9:7"},
                                          "playbook": {"S": "site.yml"}, "acquired_at": {"S": "2026-12-01T10:00:00+00:00"},
                                          "expires_at": {"N": str(past)}})
    refused = run_tasks([lock_task("take", "alice@ops-1:1")])
    assert refused.rc != 0 and "its lease has expired" in refused.failure_messages()
    assert "deploy_lock_force=true" in refused.failure_messages()
    forced = run_tasks([lock_task("take over", "alice@ops-1:1", force=True)])
    assert forced.rc == 0, forced.failure_messages()
    item = table.get_item(TableName=TABLE, Key={"lock_name": {"S": "cluster-a"}})["Item"]
    assert item["owner"]["S"] == "alice@ops-1:1" and int(item["expires_at"]["N"]) > time.time()


def test_bad_input_and_a_missing_table(fresh_account, run_tasks, boto):
    bad = run_tasks([lock_task("short lease", "alice@ops-1:1", lease_seconds=5, ignore_errors=True),
                     lock_task("empty owner", " ", ignore_errors=True)])
    results = bad.task_results()
    assert "lease_seconds must be at least 60" in results["short lease"]["msg"]
    assert "owner must not be empty" in results["empty owner"]["msg"]
    assert fresh_account.requests() == []
    boto("dynamodb").delete_table(TableName=TABLE)  # an account setup.yml has not been run in
    missing = run_tasks([lock_task("no table", "alice@ops-1:1")])
    assert missing.rc != 0 and "does not exist" in missing.failure_messages()
    assert "make setup" in missing.failure_messages()
