"""Python Lambda functions run without Docker; Secrets Manager rotations run the platform's rotation function."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path

import pytest

from scripts.build_lambda_zip import PACKAGES, build
from tests.unit.emulator.shape_check import client, strict

ROOT = Path(__file__).resolve().parents[3]
ROTATION_ZIP = ROOT / "roles" / "hardening" / "files" / "secrets_rotation.zip"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})

HANDLER = '''
import json, os, time
import boto3

def handler(event, context):
    print("event", json.dumps(event))
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    identity = boto3.client("sts").get_caller_identity()
    return {"region": os.environ["AWS_REGION"], "greeting": os.environ["GREETING"], "account": identity["Account"],
            "function": context.function_name, "remaining_ms": context.get_remaining_time_in_millis()}
'''


def package(**files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture
def lambdas(emulator):
    return strict(client(emulator.url, "lambda"))


@pytest.fixture
def invoker(emulator):
    """Invoke's answer is the function's payload itself, not a shape: not strict."""
    return client(emulator.url, "lambda")


@pytest.fixture
def role(emulator):
    iam = client(emulator.url, "iam")
    return iam.create_role(RoleName="fn", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]


def test_a_python_function_runs_with_lambdas_environment_and_calls_back(lambdas, invoker, role, emulator):
    lambdas.create_function(FunctionName="hello", Runtime="python3.12", Role=role, Handler="app.handler",
                            Code={"ZipFile": package(**{"app.py": HANDLER})}, Timeout=5,
                            Environment={"Variables": {"GREETING": "hi"}})
    answer = invoker.invoke(FunctionName="hello", Payload=json.dumps({"a": 1}), LogType="Tail")
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    payload = json.loads(answer["Payload"].read())
    assert payload["region"] == "us-east-1" and payload["greeting"] == "hi" and payload["function"] == "hello"
    assert payload["account"] == "123456789012" and 0 < payload["remaining_ms"] <= 5000
    logs = base64.b64decode(answer["LogResult"]).decode()
    assert logs.startswith("START RequestId: ") and 'event {"a": 1}' in logs and "\nREPORT RequestId: " in logs
    streams = client(emulator.url, "logs").describe_log_streams(logGroupName="/aws/lambda/hello")["logStreams"]
    assert len(streams) == 1


def test_an_exception_and_a_timeout_are_lambdas_errors(lambdas, invoker, role):
    # a timeout long enough for the failure to be raised on a loaded machine; a second function times out
    lambdas.create_function(FunctionName="hello", Runtime="python3.12", Role=role, Handler="app.handler",
                            Code={"ZipFile": package(**{"app.py": HANDLER})}, Timeout=60,
                            Environment={"Variables": {"GREETING": "hi"}})
    lambdas.create_function(FunctionName="sleepy", Runtime="python3.12", Role=role, Handler="app.handler",
                            Code={"ZipFile": package(**{"app.py": HANDLER})}, Timeout=1,
                            Environment={"Variables": {"GREETING": "hi"}})
    failed = invoker.invoke(FunctionName="hello", Payload=json.dumps({"fail": True}))
    assert failed["FunctionError"]
    error = json.loads(failed["Payload"].read())
    assert (error["errorType"], error["errorMessage"]) == ("RuntimeError", "asked to fail")
    assert error["stackTrace"]
    slow = invoker.invoke(FunctionName="sleepy", Payload=json.dumps({"sleep": 30}))
    assert slow["FunctionError"]
    assert json.loads(slow["Payload"].read())["errorMessage"].endswith("Task timed out after 1.00 seconds")


def test_the_committed_rotation_package_is_the_reproducible_build():
    for source in PACKAGES:
        assert source.with_suffix(".zip").read_bytes() == build(source), f"run scripts/build_lambda_zip.py ({source})"
    assert build(PACKAGES[0]) == build(PACKAGES[0])


def test_a_rotation_generates_new_values_for_every_key(lambdas, role, emulator):
    secrets = strict(client(emulator.url, "secretsmanager"))
    function = lambdas.create_function(
        FunctionName="rotation", Runtime="python3.12", Role=role, Handler="lambda_function.lambda_handler",
        Code={"ZipFile": ROTATION_ZIP.read_bytes()}, Timeout=30,
        Environment={"Variables": {"PASSWORD_LENGTH": "24", "EXCLUDE_CHARACTERS": "\"'\\/@"}})["FunctionArn"]
    created = secrets.create_secret(Name="llmhub/demo/db", SecretString=json.dumps({"username": "u", "password": "p"}))
    first = created["VersionId"]
    secrets.rotate_secret(SecretId="llmhub/demo/db", RotationLambdaARN=function,
                          RotationRules={"AutomaticallyAfterDays": 30})
    described = secrets.describe_secret(SecretId="llmhub/demo/db")
    assert described["RotationEnabled"] and described["RotationLambdaARN"] == function
    assert described["RotationRules"]["AutomaticallyAfterDays"] == 30
    current = secrets.get_secret_value(SecretId="llmhub/demo/db")
    assert current["VersionId"] != first
    value = json.loads(current["SecretString"])
    assert sorted(value) == ["password", "username"]
    assert all(len(item) == 24 and not set(item) & set("\"'\\/@") for item in value.values())
    assert value != {"username": "u", "password": "p"}
    previous = secrets.get_secret_value(SecretId="llmhub/demo/db", VersionStage="AWSPREVIOUS")
    assert previous["VersionId"] == first
    listed = secrets.list_secrets()["SecretList"]  # strict: ListSecrets' entry shape
    assert [entry["Name"] for entry in listed] == ["llmhub/demo/db"] and listed[0]["RotationEnabled"]


def test_a_rotation_not_immediate_only_tests_the_function(lambdas, role, emulator):
    secrets = strict(client(emulator.url, "secretsmanager"))
    assert secrets.list_secrets()["SecretList"] == []
    function = lambdas.create_function(
        FunctionName="rotation", Runtime="python3.12", Role=role, Handler="lambda_function.lambda_handler",
        Code={"ZipFile": ROTATION_ZIP.read_bytes()}, Timeout=30)["FunctionArn"]
    first = secrets.create_secret(Name="s", SecretString=json.dumps({"password": "p"}))["VersionId"]
    secrets.rotate_secret(SecretId="s", RotationLambdaARN=function, RotationRules={"AutomaticallyAfterDays": 7},
                          RotateImmediately=False)
    described = secrets.describe_secret(SecretId="s")
    assert described["RotationEnabled"] and described["VersionIdsToStages"] == {first: ["AWSCURRENT"]}
    assert json.loads(secrets.get_secret_value(SecretId="s")["SecretString"]) == {"password": "p"}
    # and the next rotation is not refused as one still in progress
    secrets.rotate_secret(SecretId="s", RotationLambdaARN=function)
    assert json.loads(secrets.get_secret_value(SecretId="s")["SecretString"]) != {"password": "p"}


def test_a_finished_rotation_leaves_awspending_with_awscurrent_and_the_next_one_runs(lambdas, role, emulator):
    secrets = strict(client(emulator.url, "secretsmanager"))
    function = lambdas.create_function(
        FunctionName="rotation", Runtime="python3.12", Role=role, Handler="lambda_function.lambda_handler",
        Code={"ZipFile": ROTATION_ZIP.read_bytes()}, Timeout=30)["FunctionArn"]
    secrets.create_secret(Name="s", SecretString=json.dumps({"password": "p"}))
    seen = set()
    for _ in range(3):
        secrets.rotate_secret(SecretId="s", RotationLambdaARN=function, RotationRules={"AutomaticallyAfterDays": 7})
        seen.add(secrets.get_secret_value(SecretId="s")["SecretString"])
    assert len(seen) == 3


def test_a_rotation_without_a_function_uses_the_configured_one(lambdas, role, emulator):
    secrets = strict(client(emulator.url, "secretsmanager"))
    function = lambdas.create_function(
        FunctionName="rotation", Runtime="python3.12", Role=role, Handler="lambda_function.lambda_handler",
        Code={"ZipFile": ROTATION_ZIP.read_bytes()}, Timeout=30)["FunctionArn"]
    secrets.create_secret(Name="s", SecretString=json.dumps({"password": "p"}))
    secrets.rotate_secret(SecretId="s", RotationLambdaARN=function, RotationRules={"AutomaticallyAfterDays": 7})
    first = secrets.get_secret_value(SecretId="s")["SecretString"]
    secrets.rotate_secret(SecretId="s")  # "rotate now" in the console: the configured function and schedule
    described = secrets.describe_secret(SecretId="s")
    assert described["RotationLambdaARN"] == function and described["RotationRules"]["AutomaticallyAfterDays"] == 7
    second = json.loads(secrets.get_secret_value(SecretId="s")["SecretString"])
    assert sorted(second) == ["password"] and json.dumps(second) != first
