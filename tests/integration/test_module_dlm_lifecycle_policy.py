"""llmhub.eks.dlm_lifecycle_policy against the emulator, asserted through boto3."""

from __future__ import annotations

import json

import pytest

from .conftest import KNOWN_AFTER_APPLY, mutating_calls

pytestmark = pytest.mark.integration

MODULE = "llmhub.eks.dlm_lifecycle_policy"
DESCRIPTION = "Daily snapshots of hub volumes"
TARGET_TAGS = {"llmhub.io/cluster": "hub", "llmhub.io/backup": "daily"}
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "dlm.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
ROLE_ARN = "arn:aws:iam::123456789012:role/hub-dlm"


def execution_role(boto):
    """The role DLM assumes, as the iam role would make it (trusting dlm.amazonaws.com)."""
    iam = boto("iam")
    arn = iam.create_role(RoleName="hub-dlm", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    iam.attach_role_policy(RoleName="hub-dlm",
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole")
    return arn


def policy_task(name="policy", role=ROLE_ARN, **options):
    keywords = {key: options.pop(key) for key in ("check_mode", "diff", "ignore_errors") if key in options}
    args = {"description": DESCRIPTION, "execution_role_arn": role, "target_tags": TARGET_TAGS,
            "tags": {"Project": "llm-analytics-hub"}, **options}
    return {"name": name, MODULE: args, **keywords}


def schedule(**overrides):
    return {"name": "daily", "interval": 24, "times": ["03:00"], "retain_count": 7, **overrides}


def find(dlm, description=DESCRIPTION):
    """GetLifecyclePolicy's Policy of the policy described ``description``, or None."""
    ids = [p["PolicyId"] for p in dlm.get_lifecycle_policies()["Policies"] if p["Description"] == description]
    assert len(ids) <= 1, ids
    return dlm.get_lifecycle_policy(PolicyId=ids[0])["Policy"] if ids else None


def test_policy_lifecycle(fresh_account, run_tasks, boto):
    dlm = boto("dlm")
    role = execution_role(boto)
    fresh_account.clear_requests()

    # Check mode plans the creation without calling; the run creates it with the default daily schedule.
    first = run_tasks([policy_task("plan", role, check_mode=True, diff=True), policy_task("create", role)])
    assert first.rc == 0, first.failure_messages()
    plan, created = first.task_results()["plan"], first.task_results()["create"]
    assert plan["changed"] and plan["policy"]["policy_id"] == KNOWN_AFTER_APPLY
    assert plan["diff"]["before"] == {} and plan["diff"]["after"]["policy_details"]["schedules"][0]["retain_rule"] == {
        "count": 7}
    assert mutating_calls(fresh_account) == ["dlm:CreateLifecyclePolicy"], "check mode must not create"
    policy = find(dlm)
    assert created["changed"] and created["policy"]["policy_id"] == policy["PolicyId"]
    assert created["policy"]["policy_arn"] == policy["PolicyArn"] and created["policy"]["tags"] == {
        "Project": "llm-analytics-hub"}
    assert policy["State"] == "ENABLED" and policy["ExecutionRoleArn"] == role
    assert policy["Tags"] == {"Project": "llm-analytics-hub"}
    details = policy["PolicyDetails"]
    assert details["ResourceTypes"] == ["VOLUME"]
    assert {t["Key"]: t["Value"] for t in details["TargetTags"]} == TARGET_TAGS
    (daily,) = details["Schedules"]
    assert daily["Name"] == "daily" and daily["CopyTags"] is True
    assert daily["CreateRule"]["Interval"] == 24 and daily["CreateRule"]["IntervalUnit"] == "HOURS"
    assert daily["CreateRule"]["Times"] == ["03:00"] and daily["RetainRule"]["Count"] == 7

    # Second identical run (the defaults DLM filled in do not count as a difference): no mutating call.
    fresh_account.clear_requests()
    again = run_tasks([policy_task(role=role, diff=True)])
    assert again.rc == 0, again.failure_messages()
    assert again.task_results()["policy"]["changed"] is False
    assert again.task_results()["policy"]["diff"]["before"] == again.task_results()["policy"]["diff"]["after"]
    assert mutating_calls(fresh_account) == []

    # Retention 14: check mode shows the diff without calling, the run updates only the details.
    fresh_account.clear_requests()
    longer = [schedule(retain_count=14)]
    update = run_tasks([policy_task("check", role, schedules=longer, check_mode=True, diff=True),
                        policy_task("update", role, schedules=longer)])
    assert update.rc == 0, update.failure_messages()
    check, updated = update.task_results()["check"], update.task_results()["update"]
    assert check["changed"] and updated["changed"]
    assert check["diff"]["before"]["policy_details"]["schedules"][0]["retain_rule"] == {"count": 7}
    assert check["diff"]["after"]["policy_details"]["schedules"][0]["retain_rule"] == {"count": 14}
    assert mutating_calls(fresh_account) == ["dlm:UpdateLifecyclePolicy"]
    assert find(dlm)["PolicyDetails"]["Schedules"][0]["RetainRule"]["Count"] == 14
    assert updated["policy"]["policy_details"]["schedules"][0]["retain_rule"]["count"] == 14

    # The policy's own tags: added and purged with TagResource/UntagResource only; omitted, left alone.
    dlm.tag_resource(ResourceArn=policy["PolicyArn"], Tags={"stray": "x"})
    fresh_account.clear_requests()
    tags = {"Project": "llm-analytics-hub", "llmhub.io/cluster": "hub"}
    retag = run_tasks([policy_task("check", role, schedules=longer, tags=tags, check_mode=True, diff=True),
                       policy_task("retag", role, schedules=longer, tags=tags),
                       policy_task("untouched", role, schedules=longer, tags=None)])
    assert retag.rc == 0, retag.failure_messages()
    check, retagged, untouched = (retag.task_results()[name] for name in ("check", "retag", "untouched"))
    assert check["diff"]["before"]["tags"] == {"Project": "llm-analytics-hub", "stray": "x"}
    assert check["diff"]["after"]["tags"] == tags
    assert retagged["changed"] and retagged["policy"]["tags"] == tags and not untouched["changed"]
    assert sorted(mutating_calls(fresh_account)) == ["dlm:TagResource", "dlm:UntagResource"]
    assert find(dlm)["Tags"] == tags

    # Disabled, then absent: deleted once, the second absent has nothing to do.
    fresh_account.clear_requests()
    gone = run_tasks([policy_task("disable", role, schedules=longer, tags=tags, policy_state="DISABLED"),
                      {"name": "check delete", MODULE: {"description": DESCRIPTION, "state": "absent"},
                       "check_mode": True, "diff": True},
                      {"name": "delete", MODULE: {"description": DESCRIPTION, "state": "absent"}},
                      {"name": "delete again", MODULE: {"description": DESCRIPTION, "state": "absent"}}])
    assert gone.rc == 0, gone.failure_messages()
    results = gone.task_results()
    assert results["disable"]["changed"] and results["disable"]["policy"]["state"] == "DISABLED"
    assert results["check delete"]["changed"] and results["check delete"]["diff"]["after"] == {}
    assert results["check delete"]["diff"]["before"]["state"] == "DISABLED"
    assert results["delete"]["changed"] and results["delete"]["policy"] is None
    assert results["delete again"]["changed"] is False
    assert mutating_calls(fresh_account) == ["dlm:UpdateLifecyclePolicy", "dlm:DeleteLifecyclePolicy"]
    assert find(dlm) is None


def test_equivalent_policy_made_elsewhere_is_left_alone(fresh_account, run_tasks, boto):
    """A policy written without the defaults, tags in another order, is what the module wants: no update."""
    dlm = boto("dlm")
    role = execution_role(boto)
    dlm.create_lifecycle_policy(
        ExecutionRoleArn=role, Description=DESCRIPTION, State="ENABLED", Tags={"Project": "llm-analytics-hub"},
        PolicyDetails={
            "ResourceTypes": ["VOLUME"],
            "TargetTags": [{"Key": "llmhub.io/cluster", "Value": "hub"}, {"Key": "llmhub.io/backup", "Value": "daily"}],
            "Schedules": [
                {"Name": "hourly", "CreateRule": {"Interval": 6, "IntervalUnit": "HOURS"}, "RetainRule": {"Count": 4},
                 "TagsToAdd": [{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}]},
                {"Name": "weekly", "CopyTags": True, "CreateRule": {"CronExpression": "cron(0 4 ? * SUN *)"},
                 "RetainRule": {"Count": 8}}]})
    fresh_account.clear_requests()
    schedules = [{"name": "hourly", "interval": 6, "retain_count": 4, "copy_tags": False,
                  "tags_to_add": {"a": "1", "b": "2"}},
                 {"name": "weekly", "cron_expression": "cron(0 4 ? * SUN *)", "retain_count": 8}]
    run = run_tasks([policy_task(role=role, schedules=schedules)])
    assert run.rc == 0, run.failure_messages()
    assert run.task_results()["policy"]["changed"] is False
    assert mutating_calls(fresh_account) == []


def test_two_policies_with_the_description_fail_naming_them(fresh_account, run_tasks, boto):
    dlm = boto("dlm")
    role = execution_role(boto)
    details = {"ResourceTypes": ["VOLUME"], "TargetTags": [{"Key": "llmhub.io/backup", "Value": "daily"}],
               "Schedules": [{"Name": "daily", "CreateRule": {"Interval": 24, "IntervalUnit": "HOURS"},
                              "RetainRule": {"Count": 7}}]}
    ids = sorted(dlm.create_lifecycle_policy(ExecutionRoleArn=role, Description=DESCRIPTION, State="ENABLED",
                                             PolicyDetails=details)["PolicyId"] for _ in range(2))
    fresh_account.clear_requests()
    run = run_tasks([policy_task(role=role, ignore_errors=True),
                     {"name": "absent", MODULE: {"description": DESCRIPTION, "state": "absent"}, "ignore_errors": True}])
    for name in ("policy", "absent"):
        message = run.task_results()[name]["msg"]
        assert message.startswith(f"description: 2 lifecycle policies are described '{DESCRIPTION}'"), message
        assert ids[0] in message and ids[1] in message
    assert mutating_calls(fresh_account) == []


BAD_INPUT = [
    ({"description": "snapshots of hub.example/volumes"}, "description: 'snapshots of hub.example/volumes' is not a"),
    ({"execution_role_arn": "arn:aws:iam::123456789012:user/hub"}, "execution_role_arn: 'arn:aws:iam::123456789012:user"),
    ({"execution_role_arn": None}, "execution_role_arn: required with state=present"),
    ({"target_tags": {}}, "target_tags: give at least one tag"),
    ({"resource_types": ["VOLUME", "INSTANCE"]}, "resource_types: DLM takes exactly one resource type"),
    ({"schedules": [schedule(interval=5)]}, "schedules[0].interval: DLM does not accept 5 hours"),
    ({"schedules": [schedule(), schedule(name="twice", interval=12, retain_count=0)]},
     "schedules[1].retain_count: 0 is out of range"),
    ({"schedules": [schedule(retain_count=1001)]}, "schedules[0].retain_count: 1001 is out of range"),
    ({"schedules": [schedule(times=["3:00"])]}, "schedules[0].times: '3:00' is not a time HH:MM"),
    ({"schedules": [schedule(times=["03:00", "15:00"])]}, "schedules[0].times: DLM takes at most one start time"),
    ({"schedules": [schedule(cron_expression="cron(0 3 ? * SUN *)")]},
     "schedules[0]: give exactly one of interval (hours) and cron_expression (got both)"),
    ({"schedules": [{"name": "daily", "retain_count": 7}]},
     "schedules[0]: give exactly one of interval (hours) and cron_expression (got neither)"),
    ({"schedules": [schedule(retain_cont=7)]}, "schedules[0].retain_cont: unknown key; did you mean retain_count?"),
    ({"schedules": [{"name": "daily", "interval": 24}]}, "schedules[0].retain_count: required"),
    ({"schedules": [schedule(), schedule()]}, "schedules[1].name: 'daily' is already the name of schedules[0]"),
    ({"schedules": [schedule(name=None, cron_expression="cron(0 3 ? * SUN)", interval=None)]},
     "schedules[0].name: every schedule needs a name"),
    ({"schedules": [schedule(cron_expression="cron(0 3 ? * SUN)", interval=None, times=None)]},
     "schedules[0].cron_expression: 'cron(0 3 ? * SUN)' is not a cron expression"),
    ({"tags": {"aws:owner": "me"}}, "tags: 'aws:owner' is not a tag key DLM accepts"),
]


def test_bad_input_fails_before_any_aws_call(fresh_account, run_tasks):
    """Each case fails naming its option, and none of them reaches AWS (one playbook for the whole table)."""
    tasks = [policy_task(f"case {index}", ignore_errors=True, **options)
             for index, (options, _expected) in enumerate(BAD_INPUT)]
    run = run_tasks(tasks)
    results = run.task_results()
    for index, (options, expected) in enumerate(BAD_INPUT):
        result = results[f"case {index}"]
        assert result.get("failed"), (options, result)
        assert result["msg"].startswith(expected), (options, result["msg"])
    assert fresh_account.requests() == []
