"""llmhub.eks.cloudwatch_log_group against the emulator, asserted through boto3."""

from __future__ import annotations

import pytest

from .conftest import KNOWN_AFTER_APPLY, mutating_calls

pytestmark = pytest.mark.integration

MODULE = "llmhub.eks.cloudwatch_log_group"
NAME = "/aws/eks/hub-test/cluster"


def group_task(name="group", **options):
    keywords = {key: options.pop(key) for key in ("check_mode", "diff", "ignore_errors") if key in options}
    args = {"name": NAME, "retention_in_days": 30, "tags": {"Project": "llm-analytics-hub"}, **options}
    return {"name": name, MODULE: args, **keywords}


def group(logs):
    groups = [g for g in logs.describe_log_groups(logGroupNamePrefix=NAME)["logGroups"] if g["logGroupName"] == NAME]
    return groups[0] if groups else None


def test_log_group_lifecycle(fresh_account, run_tasks, boto):
    logs = boto("logs")
    first = run_tasks([group_task("plan", check_mode=True, diff=True), group_task("create", diff=True)])
    assert first.rc == 0, first.failure_messages()
    plan, created = first.task_results()["plan"], first.task_results()["create"]
    assert plan["changed"] and plan["log_group"]["arn"] == KNOWN_AFTER_APPLY
    assert plan["diff"] == {"before": {}, "after": {"retention_in_days": 30, "tags": {"Project": "llm-analytics-hub"}}}
    assert sorted(mutating_calls(fresh_account)) == ["logs:CreateLogGroup", "logs:PutRetentionPolicy"], \
        "check mode must not create"
    current = group(logs)
    assert current["retentionInDays"] == 30
    assert created["log_group"]["arn"] == current["arn"].removesuffix(":*")
    assert logs.list_tags_for_resource(resourceArn=created["log_group"]["arn"])["tags"] == {
        "Project": "llm-analytics-hub"}

    # Second run: nothing to do, no mutating call.
    fresh_account.clear_requests()
    again = run_tasks([group_task()])
    assert again.rc == 0 and not again.task_results()["group"]["changed"]
    assert mutating_calls(fresh_account) == []

    # Drift: retention changed and a foreign tag; check mode reports it, the run repairs exactly that.
    logs.put_retention_policy(logGroupName=NAME, retentionInDays=7)
    logs.tag_resource(resourceArn=created["log_group"]["arn"], tags={"stray": "x"})
    fresh_account.clear_requests()
    repair = run_tasks([group_task("check", check_mode=True, diff=True), group_task("repair")])
    assert repair.rc == 0, repair.failure_messages()
    check = repair.task_results()["check"]
    assert check["diff"]["before"] == {"retention_in_days": 7, "tags": {"Project": "llm-analytics-hub", "stray": "x"}}
    assert check["diff"]["after"] == {"retention_in_days": 30, "tags": {"Project": "llm-analytics-hub"}}
    assert sorted(mutating_calls(fresh_account)) == ["logs:PutRetentionPolicy", "logs:UntagResource"]
    assert group(logs)["retentionInDays"] == 30

    # Omitted retention and tags are left alone.
    fresh_account.clear_requests()
    untouched = run_tasks([{"name": "untouched", MODULE: {"name": NAME}}])
    assert untouched.rc == 0 and not untouched.task_results()["untouched"]["changed"]
    assert mutating_calls(fresh_account) == []

    # Absent deletes it; a second absent changes nothing.
    gone = run_tasks([group_task("delete", state="absent"), group_task("delete again", state="absent")])
    assert gone.rc == 0, gone.failure_messages()
    assert gone.task_results()["delete"]["changed"] and not gone.task_results()["delete again"]["changed"]
    assert group(logs) is None


def test_adopts_the_group_amazon_aws_made(fresh_account, run_tasks):
    made = run_tasks([{"name": "made", "amazon.aws.cloudwatchlogs_log_group": {
        "log_group_name": NAME, "retention": 30, "tags": {"Project": "llm-analytics-hub"}}}])
    assert made.rc == 0, made.failure_messages()
    fresh_account.clear_requests()
    run = run_tasks([group_task()])
    assert run.rc == 0 and not run.task_results()["group"]["changed"], run.failure_messages()
    assert mutating_calls(fresh_account) == []


def test_a_retention_cloudwatch_refuses_fails_before_any_call(fresh_account, run_tasks):
    fresh_account.clear_requests()
    run = run_tasks([group_task(retention_in_days=10, ignore_errors=True)])
    result = run.task_results()["group"]
    assert result["failed"] and result["msg"].startswith("retention_in_days: CloudWatch Logs does not accept 10;")
    assert "(nearest: 7)" in result["msg"] or "(nearest: 14)" in result["msg"]
    assert fresh_account.requests() == []
