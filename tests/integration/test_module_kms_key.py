"""llmhub.eks.kms_key against the emulator, asserted through boto3."""

from __future__ import annotations

import json

import pytest

from .conftest import KNOWN_AFTER_APPLY, mutating_calls

pytestmark = pytest.mark.integration

MODULE = "llmhub.eks.kms_key"
ALIAS = "alias/hub"


def policy(*principals: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "Admins", "Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": "kms:*",
         "Resource": "*"}]}


ROOT = "arn:aws:iam::123456789012:root"


def key_task(name="key", **options):
    keywords = {key: options.pop(key) for key in ("check_mode", "diff", "ignore_errors") if key in options}
    args = {"alias": ALIAS, "description": "secrets of hub", "policy": policy(ROOT),
            "tags": {"Project": "llm-analytics-hub"}, **options}
    return {"name": name, MODULE: args, "register": "key", **keywords}


def test_key_lifecycle(fresh_account, run_tasks, boto):
    kms = boto("kms")

    first = run_tasks([key_task("plan", check_mode=True, diff=True), key_task("create")])
    assert first.rc == 0, first.failure_messages()
    plan, created = first.task_results()["plan"], first.task_results()["create"]
    assert plan["changed"] and plan["key_arn"] == KNOWN_AFTER_APPLY and plan["diff"]["after"]["enable_key_rotation"] is True
    assert mutating_calls(fresh_account).count("kms:CreateKey") == 1, "check mode must not create"
    key_id = created["key_id"]
    metadata = kms.describe_key(KeyId=ALIAS)["KeyMetadata"]
    assert metadata["KeyId"] == key_id and metadata["Arn"] == created["key_arn"]
    assert metadata["Description"] == "secrets of hub" and metadata["KeyState"] == "Enabled"
    assert metadata["KeySpec"] == "SYMMETRIC_DEFAULT" and metadata["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    assert json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]) == policy(ROOT)
    assert {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]} == {
        "Project": "llm-analytics-hub"}

    # Second run: nothing changes, no mutating call.
    fresh_account.clear_requests()
    again = run_tasks([key_task()])
    assert again.rc == 0 and not again.task_results()["key"]["changed"]
    assert mutating_calls(fresh_account) == []

    # Drift in rotation, tags and policy: check mode reports it, the run repairs exactly that.
    kms.disable_key_rotation(KeyId=key_id)
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "stray", "TagValue": "x"}])
    widened = policy(ROOT, ROOT.replace(":root", ":user/x"))
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(widened))
    fresh_account.clear_requests()
    repair = run_tasks([key_task("check", check_mode=True, diff=True), key_task("repair")])
    assert repair.rc == 0, repair.failure_messages()
    check = repair.task_results()["check"]
    assert check["changed"] and check["diff"]["before"]["enable_key_rotation"] is False
    assert sorted(mutating_calls(fresh_account)) == ["kms:EnableKeyRotation", "kms:PutKeyPolicy", "kms:UntagResource"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    assert json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]) == policy(ROOT)

    # Absent schedules the deletion; a present run within the window brings the same key back.
    gone = run_tasks([key_task("delete", state="absent", deletion_window_days=7),
                      key_task("delete again", state="absent", deletion_window_days=7)])
    assert gone.rc == 0, gone.failure_messages()
    assert gone.task_results()["delete"]["changed"] and not gone.task_results()["delete again"]["changed"]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    back = run_tasks([key_task()])
    assert back.rc == 0 and back.task_results()["key"]["changed"], back.failure_messages()
    assert back.task_results()["key"]["key_id"] == key_id
    assert kms.describe_key(KeyId=ALIAS)["KeyMetadata"]["KeyState"] == "Enabled"


def test_a_key_left_without_its_alias_is_adopted_not_duplicated(fresh_account, run_tasks, boto):
    """A run interrupted between CreateKey and CreateAlias leaves a tagged key with no alias."""
    kms = boto("kms")
    identity = {"llmhub.io/cluster": "hub"}
    orphan = kms.create_key(Description="secrets of hub", Tags=[
        {"TagKey": "llmhub.io/cluster", "TagValue": "hub"}, {"TagKey": "Project", "TagValue": "llm-analytics-hub"}])
    orphan_id = orphan["KeyMetadata"]["KeyId"]
    kms.create_key(Description="someone else's key", Tags=[{"TagKey": "llmhub.io/cluster", "TagValue": "other"}])
    fresh_account.clear_requests()
    tags = {"Project": "llm-analytics-hub", **identity}
    run = run_tasks([key_task("plan", check_mode=True, diff=True, tags=tags, identity_tags=identity),
                     key_task("adopt", tags=tags, identity_tags=identity),
                     key_task("again", tags=tags, identity_tags=identity)])
    assert run.rc == 0, run.failure_messages()
    plan, adopt, again = (run.task_results()[name] for name in ("plan", "adopt", "again"))
    assert plan["changed"] and plan["adopted"] and plan["key_id"] == orphan_id
    assert plan["diff"]["before"]["alias"] is None and plan["diff"]["after"]["alias"] == ALIAS
    assert adopt["changed"] and adopt["adopted"] and adopt["key_id"] == orphan_id
    assert again["changed"] is False and again["adopted"] is False and again["key_id"] == orphan_id
    assert kms.describe_key(KeyId=ALIAS)["KeyMetadata"]["KeyId"] == orphan_id
    calls = mutating_calls(fresh_account)
    assert "kms:CreateKey" not in calls and calls.count("kms:CreateAlias") == 1


def test_identity_tags_must_be_among_the_tags(fresh_account, run_tasks):
    run = run_tasks([key_task(ignore_errors=True, identity_tags={"llmhub.io/cluster": "hub"})])
    assert run.task_results()["key"]["msg"].startswith("identity_tags: {'llmhub.io/cluster': 'hub'} must also be in tags")
    assert fresh_account.requests() == []


@pytest.mark.parametrize(("options", "expected"), [
    ({"alias": "alias/aws/ebs"}, "alias: 'alias/aws/ebs' is not usable"),
    ({"deletion_window_days": 3}, "deletion_window_days: 3 must be from 7 to 30"),
    ({"policy": "{not json"}, "policy: is not valid JSON"),
    ({"policy": {"Version": "2012-10-17"}}, "policy: has no Statement element"),
])
def test_bad_input_fails_before_any_aws_call(fresh_account, run_tasks, options, expected):
    run = run_tasks([key_task(ignore_errors=True, **options)])
    assert run.task_results()["key"]["msg"].startswith(expected)
    assert fresh_account.requests() == []
