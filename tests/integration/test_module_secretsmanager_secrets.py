"""llmhub.eks.secretsmanager_secrets against the emulator, asserted through boto3; rotations run the real function."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import KNOWN_AFTER_APPLY, mutating_calls

pytestmark = pytest.mark.integration

MODULE = "llmhub.eks.secretsmanager_secrets"
PATH = "llmhub/hub-test/"
TAGS = {"Project": "llm-analytics-hub", "llmhub.io/cluster": "hub-test"}
ROTATION_ZIP = Path(__file__).resolve().parents[2] / "roles" / "hardening" / "files" / "secrets_rotation.zip"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
SECRETS = [
    {"name": "llm-analytics/api", "description": "API signing keys", "keys": ["signing_key", "webhook_secret"]},
    {"name": "llm-analytics/database", "keys": ["username", "password"], "rotation_days": 7},
]


def secrets_task(name="secrets", **options):
    keywords = {key: options.pop(key) for key in ("check_mode", "diff", "ignore_errors", "no_log") if key in options}
    args = {"path": PATH, "secrets": SECRETS, "tags": TAGS, **options}
    return {"name": name, MODULE: args, **keywords}


@pytest.fixture
def rotation_function(fresh_account, boto):
    role = boto("iam").create_role(RoleName="rotation", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    return boto("lambda").create_function(
        FunctionName="hub-test-secrets-rotation", Runtime="python3.12", Role=role,
        Handler="lambda_function.lambda_handler", Code={"ZipFile": ROTATION_ZIP.read_bytes()}, Timeout=30,
        Environment={"Variables": {"PASSWORD_LENGTH": "32", "EXCLUDE_CHARACTERS": "\"'\\/@:`$ "}},
    )["FunctionArn"]


def value(secrets, name, **version):
    return json.loads(secrets.get_secret_value(SecretId=PATH + name, **version)["SecretString"])


def test_the_set_is_created_generated_rotated_and_left_alone(fresh_account, run_tasks, boto, rotation_function):
    secrets = boto("secretsmanager")
    first = run_tasks([secrets_task("plan", check_mode=True, diff=True, rotation_lambda_arn=rotation_function),
                       secrets_task(diff=True, rotation_lambda_arn=rotation_function)])
    assert first.rc == 0, first.failure_messages()
    plan, made = first.task_results()["plan"], first.task_results()["secrets"]
    assert plan["changed"] and plan["created"] == [PATH + "llm-analytics/api", PATH + "llm-analytics/database"]
    assert [item["arn"] for item in plan["secrets"]] == [KNOWN_AFTER_APPLY] * 2
    assert plan["diff"]["before"] == {}
    assert plan["diff"]["after"][PATH + "llm-analytics/database"]["rotation_days"] == 7
    assert mutating_calls(fresh_account).count("secretsmanager:CreateSecret") == 2, "check mode must not create"

    assert made["created"] == plan["created"]
    by_name = {item["name"]: item for item in made["secrets"]}
    api, database = by_name[PATH + "llm-analytics/api"], by_name[PATH + "llm-analytics/database"]
    assert api["key_names"] == ["signing_key", "webhook_secret"] and database["key_names"] == ["password", "username"]
    assert api["rotation_days"] == 30 and database["rotation_days"] == 7
    assert api["rotation_enabled"] and api["rotation_lambda_arn"] == rotation_function
    assert api["arn"].startswith("arn:aws:secretsmanager:") and api["tags"] == TAGS
    described = secrets.describe_secret(SecretId=PATH + "llm-analytics/database")
    assert described["RotationEnabled"] and described["RotationRules"]["AutomaticallyAfterDays"] == 7
    assert described["LastRotatedDate"]  # a new secret is rotated at once, which ran the function
    stages = [stage for stages in described["VersionIdsToStages"].values() for stage in stages]
    assert stages.count("AWSCURRENT") == stages.count("AWSPREVIOUS") == 1  # AWSPENDING may stay with AWSCURRENT
    generated = value(secrets, "llm-analytics/database")
    assert sorted(generated) == ["password", "username"] and all(len(item) == 32 for item in generated.values())
    assert not set("".join(generated.values())) & set("\"'\\/@:`$ ")
    output = json.dumps(first.report)
    assert all(item not in output for item in generated.values()), "a secret value reached the output"

    # Second run: nothing to do, no mutating call, values unchanged.
    fresh_account.clear_requests()
    again = run_tasks([secrets_task(rotation_lambda_arn=rotation_function)])
    assert again.rc == 0, again.failure_messages()
    assert not again.task_results()["secrets"]["changed"]
    assert mutating_calls(fresh_account) == []
    assert value(secrets, "llm-analytics/database") == generated


def test_changes_keys_tags_rotation_and_purge(fresh_account, run_tasks, boto, rotation_function):
    secrets = boto("secretsmanager")
    assert run_tasks([secrets_task(rotation_lambda_arn=rotation_function)]).rc == 0
    before = value(secrets, "llm-analytics/api")
    secrets.create_secret(Name=PATH + "stray", SecretString="{}")
    changed = [
        {"name": "llm-analytics/api", "description": "API keys", "keys": ["signing_key", "extra"]},
        {"name": "llm-analytics/database", "keys": ["username", "password"], "rotation_days": 0},
    ]
    fresh_account.clear_requests()
    run = run_tasks([secrets_task(secrets=changed, rotation_lambda_arn=rotation_function, rotation_days=14,
                                  tags={"Project": "llm-analytics-hub"}, purge=True, recovery_window_days=0,
                                  diff=True)])
    assert run.rc == 0, run.failure_messages()
    result = run.task_results()["secrets"]
    assert result["updated"] == [PATH + "llm-analytics/api", PATH + "llm-analytics/database"]
    assert result["deleted"] == [PATH + "stray"]
    after = value(secrets, "llm-analytics/api")
    assert sorted(after) == ["extra", "signing_key"] and after["signing_key"] == before["signing_key"]
    api = secrets.describe_secret(SecretId=PATH + "llm-analytics/api")
    assert api["Description"] == "API keys" and api["RotationRules"]["AutomaticallyAfterDays"] == 14
    assert {tag["Key"] for tag in api["Tags"]} == {"Project"}
    assert not secrets.describe_secret(SecretId=PATH + "llm-analytics/database").get("RotationEnabled")
    calls = mutating_calls(fresh_account)
    assert "secretsmanager:CancelRotateSecret" in calls and "secretsmanager:DeleteSecret" in calls
    # a changed schedule does not rotate now: the value kept its version
    assert value(secrets, "llm-analytics/api")["signing_key"] == before["signing_key"]
    assert sorted(entry["Name"] for entry in secrets.list_secrets()["SecretList"]) == [
        PATH + "llm-analytics/api", PATH + "llm-analytics/database"]


def test_bad_input_fails_before_any_call_and_absent_removes_all(fresh_account, run_tasks, boto):
    fresh_account.clear_requests()
    run = run_tasks([secrets_task("bad path", path="llmhub/no-slash", ignore_errors=True),
                     secrets_task("bad days", secrets=[{"name": "x", "rotation_days": 2000}], ignore_errors=True),
                     secrets_task("twice", secrets=[{"name": "x"}, {"name": "x"}], ignore_errors=True)])
    results = run.task_results()
    assert "path: 'llmhub/no-slash' must be" in results["bad path"]["msg"]
    assert "secrets[0].rotation_days: 2000" in results["bad days"]["msg"]
    assert "secrets[1].name: 'x' is declared twice" in results["twice"]["msg"]
    assert fresh_account.requests() == []
    assert run_tasks([secrets_task(secrets=[{"name": "a"}, {"name": "b"}])]).rc == 0
    gone = run_tasks([secrets_task(state="absent", recovery_window_days=0)])
    assert gone.task_results()["secrets"]["deleted"] == [PATH + "a", PATH + "b"]
    assert boto("secretsmanager").list_secrets()["SecretList"] == []
