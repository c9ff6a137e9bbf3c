"""What ``playbooks/setup.yml`` makes once per account and region, made through boto3 for tests.

Tests start from an empty emulator account many times a session; running
setup.yml (~5 s) before each would cost minutes, so the fixtures make its
deploy lock table with the same request setup.yml's task sends
(community.aws.dynamodb_table: partition key ``lock_name`` (S), on demand, the
local inventory's common tags ``llmhub_tags``, as ``setup_tags`` defaults to them).
tests/integration/test_setup.py checks that setup.yml makes this same table.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import yaml

ROOT = Path(__file__).resolve().parents[2]
LOCK_TABLE = "llmhub-deploy-locks"
LOCK_TABLE_KEY = [{"AttributeName": "lock_name", "KeyType": "HASH"}]
LOCK_TABLE_ATTRIBUTES = [{"AttributeName": "lock_name", "AttributeType": "S"}]


def common_tags() -> dict[str, str]:
    """``llmhub_tags`` of inventories/local (the tags setup.yml puts on the table there)."""
    variables = yaml.safe_load((ROOT / "inventories/local/group_vars/all/main.yml").read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in variables["llmhub_tags"].items()}


def create_lock_table(url: str, region: str = "us-east-1") -> None:
    """Make the lock table in the emulator at ``url``, with the emulator's fake credentials (whatever the
    environment holds: ``make bench`` runs from a plain shell)."""
    session = boto3.session.Session(region_name=region, aws_access_key_id="testing",
                                    aws_secret_access_key="testing")  # noqa: S106 - the emulator's fake credentials
    client = session.client("dynamodb", endpoint_url=url)
    try:
        client.create_table(TableName=LOCK_TABLE, BillingMode="PAY_PER_REQUEST", KeySchema=LOCK_TABLE_KEY,
                            AttributeDefinitions=LOCK_TABLE_ATTRIBUTES,
                            Tags=[{"Key": k, "Value": v} for k, v in common_tags().items()])
    except client.exceptions.ResourceInUseException:
        pass
