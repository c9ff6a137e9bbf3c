"""Secrets Manager rotation function for the platform's generated secrets.

Deployed by the hardening role as ``<cluster>-secrets-rotation`` and attached to
every secret under the cluster's path (``llmhub/<cluster>/``). A secret's value
is a JSON object whose values were generated (``GetRandomPassword``) when the
secret was created; a rotation generates a new value for every key and keeps
the keys. Nothing outside Secrets Manager holds them: the applications read them
through the External Secrets Operator, which picks up the new ``AWSCURRENT``
version at its next refresh. A secret that must also be changed elsewhere (a
database user's password) needs a rotation function of its own that does so in
``setSecret`` (``rotation_lambda_arn`` of that secret).

The four steps are those of AWS's rotation function template
(https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html):
``createSecret`` puts the new value as ``AWSPENDING``, ``setSecret`` and
``testSecret`` have nothing to do here, ``finishSecret`` moves ``AWSCURRENT``.
Settings (environment): ``PASSWORD_LENGTH`` (32), ``EXCLUDE_CHARACTERS``.
"""

import json
import logging
import os

import boto3

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)


def lambda_handler(event, context):
    """Run one rotation step (``event["Step"]``) for ``event["SecretId"]``, version ``ClientRequestToken``."""
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    client = boto3.client("secretsmanager")
    metadata = client.describe_secret(SecretId=arn)
    if not metadata.get("RotationEnabled"):
        raise ValueError(f"Secret {arn} is not enabled for rotation")
    versions = metadata.get("VersionIdsToStages", {})
    if token not in versions:
        raise ValueError(f"Secret version {token} has no stage for rotation of secret {arn}")
    if "AWSCURRENT" in versions[token]:
        LOGGER.info("Secret version %s already set as AWSCURRENT for secret %s", token, arn)
        return
    if "AWSPENDING" not in versions[token]:
        raise ValueError(f"Secret version {token} not set as AWSPENDING for rotation of secret {arn}")
    steps = {"createSecret": create_secret, "setSecret": set_secret, "testSecret": test_secret,
             "finishSecret": finish_secret}
    if step not in steps:
        raise ValueError(f"Invalid step parameter {step}")
    steps[step](client, arn, token)


def create_secret(client, arn, token):
    """Put a new value as AWSPENDING, unless this version already has one."""
    current = json.loads(client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
    try:
        client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        LOGGER.info("createSecret: Successfully retrieved secret for %s.", arn)
        return
    except client.exceptions.ResourceNotFoundException:
        pass
    length = int(os.environ.get("PASSWORD_LENGTH", "32"))
    exclude = os.environ.get("EXCLUDE_CHARACTERS", "")
    rotated = {}
    for key in sorted(current):
        rotated[key] = client.get_random_password(PasswordLength=length, ExcludeCharacters=exclude)["RandomPassword"]
    client.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(rotated),
                            VersionStages=["AWSPENDING"])
    LOGGER.info("createSecret: Successfully put secret for ARN %s and version %s.", arn, token)


def set_secret(client, arn, token):
    """Nothing outside Secrets Manager holds a generated value: the consumers read the new one."""
    LOGGER.info("setSecret: nothing to set for %s version %s.", arn, token)


def test_secret(client, arn, token):
    """The pending version must be a JSON object with the current version's keys."""
    current = json.loads(client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
    pending = json.loads(client.get_secret_value(SecretId=arn, VersionId=token,
                                                 VersionStage="AWSPENDING")["SecretString"])
    if sorted(pending) != sorted(current):
        raise ValueError(f"testSecret: the pending version of {arn} has keys {sorted(pending)}, not {sorted(current)}")
    LOGGER.info("testSecret: version %s of %s has the keys %s.", token, arn, sorted(pending))


def finish_secret(client, arn, token):
    """Move AWSCURRENT to the new version."""
    metadata = client.describe_secret(SecretId=arn)
    current_version = None
    for version, stages in metadata["VersionIdsToStages"].items():
        if "AWSCURRENT" in stages:
            if version == token:
                LOGGER.info("finishSecret: Version %s already marked as AWSCURRENT for %s", version, arn)
                return
            current_version = version
            break
    client.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                       RemoveFromVersionId=current_version)
    LOGGER.info("finishSecret: Successfully set AWSCURRENT stage to version %s for secret %s.", token, arn)
