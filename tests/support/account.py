"""What ``playbooks/setup.yml`` makes once per account and region, made through boto3 for tests.

Tests start from an empty emulator account many times a session; running
setup.yml (~5 s) before each would cost minutes, so the fixtures make its
deploy lock table with the same request setup.yml's task sends
(community.aws.dynamodb_table: partition key ``lock_name`` (S), on demand).
tests/integration/test_setup.py checks that setup.yml makes this same table.
"""

from __future__ import annotations

import boto3

LOCK_TABLE = "llmhub-deploy-locks"
LOCK_TABLE_KEY = [{"AttributeName": "lock_name", "KeyType": "HASH"}]
LOCK_TABLE_ATTRIBUTES = [{"AttributeName": "lock_name", "AttributeType": "S"}]


def create_lock_table(url: str, region: str = "us-east-1") -> None:
    client = boto3.session.Session(region_name=region).client("dynamodb", endpoint_url=url)
    try:
        client.create_table(TableName=LOCK_TABLE, BillingMode="PAY_PER_REQUEST", KeySchema=LOCK_TABLE_KEY,
                            AttributeDefinitions=LOCK_TABLE_ATTRIBUTES)
    except client.exceptions.ResourceInUseException:
        pass
