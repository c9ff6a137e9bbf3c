"""Calls the emulator cannot serve get an AWS error in their protocol, never an HTML page."""

from __future__ import annotations

import logging

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from emulator import middleware

SESSION = boto3.session.Session()  # one session: service models load once
NO_RETRY = Config(retries={"total_max_attempts": 1})


def call(emulator, service, operation, config=NO_RETRY, **params):
    """(ClientError, raw body) of a call that must fail, parsed by botocore's own parsers."""
    client = SESSION.client(service, region_name="us-east-1", endpoint_url=emulator.url, config=config)
    raw = []
    client.meta.events.register("after-call", lambda http_response, **_: raw.append(http_response.content))
    with pytest.raises(ClientError) as info:
        getattr(client, operation)(**params)
    assert b"<html" not in raw[-1].lower() and b"traceback" not in raw[-1].lower()
    return info.value, raw[-1]


# service, protocol, call moto 5.2.5 does not serve (and how: exception, no route, no service)
UNIMPLEMENTED = [
    ("ec2", "ec2", "describe_capacity_block_offerings", {"CapacityDurationHours": 24}),  # NotImplementedError
    ("iam", "query", "generate_service_last_accessed_details", {"Arn": "arn:aws:iam::123456789012:role/r"}),
    ("logs", "json", "list_anomalies", {}),
    ("eks", "rest-json", "list_insights", {"clusterName": "c"}),  # no route in moto: Flask's 404 page
    ("route53", "rest-xml", "list_cidr_collections", {}),  # no route in moto
    ("pcs", "json", "list_clusters", {}),  # no such service in moto
]


@pytest.mark.parametrize("service, protocol, operation, params", UNIMPLEMENTED,
                         ids=[f"{s}-{p}" for s, p, _, _ in UNIMPLEMENTED])
def test_unimplemented_operations_answer_not_implemented(emulator, emulator_client, service, protocol, operation,
                                                         params):
    retrying = Config(retries={"mode": "standard", "total_max_attempts": 3})
    error, _ = call(emulator, service, operation, config=retrying, **params)
    name = error.operation_name
    assert SESSION.client(service, region_name="us-east-1").meta.service_model.resolved_protocol == protocol
    assert error.response["Error"]["Code"] == "NotImplemented"
    assert error.response["Error"]["Message"].startswith(f"This emulator does not implement {service}:{name}")
    meta = error.response["ResponseMetadata"]
    assert (meta["HTTPStatusCode"], meta["RetryAttempts"]) == (501, 0)  # botocore does not retry it
    assert [(e["operation"], e["status"]) for e in emulator_client.requests()] == [(name, 501)]


def test_an_unimplemented_part_of_an_operation_says_which(emulator):
    error, _ = call(emulator, "ec2", "describe_vpcs", Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
    assert error.response["Error"]["Code"] == "NotImplemented"
    message = error.response["Error"]["Message"]
    assert message.startswith("This emulator does not implement ec2:DescribeVpcs (") and "'no-such-filter'" in message


def boom(*args, **kwargs):
    raise RuntimeError("boom\n  on two lines")


# service, protocol, where the unexpected exception is raised, call
FAILING = [
    ("ec2", "ec2", "moto.ec2.models.EC2Backend.describe_vpcs", "describe_vpcs"),
    ("iam", "query", "moto.iam.models.IAMBackend.list_roles", "list_roles"),
    ("logs", "json", "moto.logs.models.LogsBackend.describe_log_groups", "describe_log_groups"),
    ("eks", "rest-json", "moto.eks.models.EKSBackend.list_clusters", "list_clusters"),
    ("s3", "rest-xml", "moto.s3.models.S3Backend.list_buckets", "list_buckets"),
    ("dlm", "rest-json", None, "get_lifecycle_policies"),  # an emulator handler
]


@pytest.mark.parametrize("service, protocol, target, operation", FAILING, ids=[f"{s}-{p}" for s, p, _, _ in FAILING])
def test_unexpected_exceptions_answer_internal_failure(emulator, emulator_client, monkeypatch, caplog, service,
                                                       protocol, target, operation):
    if target is None:
        monkeypatch.setitem(middleware.HANDLERS, ("dlm", "GetLifecyclePolicies"), boom)
    else:
        monkeypatch.setattr(target, boom)
    with caplog.at_level(logging.ERROR, logger="emulator"):
        error, body = call(emulator, service, operation)
    name = error.operation_name
    assert SESSION.client(service, region_name="us-east-1").meta.service_model.resolved_protocol == protocol
    assert (error.response["Error"]["Code"], error.response["Error"]["Message"]) == (
        "InternalFailure", f"The emulator failed serving {service}:{name}: RuntimeError: boom on two lines")
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert emulator_client.requests()[-1]["status"] == 500
    # the traceback goes to the log, not to the client
    record = next(r for r in caplog.records if r.name == "emulator" and r.exc_info)
    assert record.getMessage() == f"{service}:{name} failed" and record.exc_info[0] is RuntimeError
