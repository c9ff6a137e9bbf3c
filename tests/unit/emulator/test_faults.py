"""Fault injection: protocol-correct errors that botocore retries, without side effects."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.retries.standard import ExponentialBackoff

NO_RETRY = Config(retries={"total_max_attempts": 1})
SESSION = boto3.session.Session()  # one session: service models load once

# service -> (protocol, a call without side effects)
CALLS = {
    "ec2": ("ec2", lambda c: c.describe_vpcs()),
    "iam": ("query", lambda c: c.list_roles()),
    "logs": ("json", lambda c: c.describe_log_groups()),
    "eks": ("rest-json", lambda c: c.list_clusters()),
    "s3": ("rest-xml", lambda c: c.list_buckets()),
}

EXPECTED = {
    "throttle": {"ec2": ("RequestLimitExceeded", 503), "iam": ("Throttling", 400),
                 "logs": ("ThrottlingException", 400), "eks": ("ThrottlingException", 429),
                 "s3": ("SlowDown", 503)},
    "5xx": {"ec2": ("InternalError", 500), "iam": ("InternalFailure", 500),
            "logs": ("InternalFailure", 500), "eks": ("InternalFailure", 500),
            "s3": ("InternalError", 500)},
}


def client(emulator, service, config=NO_RETRY):
    return SESSION.client(service, region_name="us-east-1", endpoint_url=emulator.url, config=config)


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_injected_fault_codes_per_protocol(emulator, emulator_client, kind):
    emulator_client.configure(fault_rate=1.0, faults=[kind])
    for service, (protocol, call) in CALLS.items():
        aws = client(emulator, service)
        assert aws.meta.service_model.resolved_protocol in (protocol, "smithy-rpc-v2-cbor")
        with pytest.raises(ClientError) as info:
            call(aws)
        error = info.value.response["Error"]
        meta = info.value.response["ResponseMetadata"]
        assert (service, error["Code"], meta["HTTPStatusCode"]) == (service, *EXPECTED[kind][service])
        assert error["Message"]
        assert meta["RetryAttempts"] == 0 and meta["MaxAttemptsReached"] is True

    log = emulator_client.requests()
    assert [(e["service"], e["fault"]) for e in log] == [(s, kind) for s in CALLS]
    assert [e["status"] for e in log] == [EXPECTED[kind][s][1] for s in CALLS]


def test_botocore_classifies_injected_faults_as_retryable(emulator, emulator_client):
    """With retries on, botocore retries every injected fault until it gives up."""
    emulator_client.configure(fault_rate=1.0, faults=["5xx"])
    aws = client(emulator, "eks", Config(retries={"mode": "standard", "total_max_attempts": 3}))
    with pytest.raises(ClientError) as info:
        aws.list_clusters()
    assert info.value.response["ResponseMetadata"]["RetryAttempts"] == 2
    assert len(emulator_client.requests()) == 3


def test_standard_retries_absorb_a_30_percent_fault_rate(emulator, emulator_client, monkeypatch):
    # Keep botocore's throttling backoff (up to seconds) short; the point here
    # is the emulator's behaviour, not botocore's timing.
    backoff = getattr(ExponentialBackoff, "_DEFAULT_BACKOFF_CONFIG", None)
    if isinstance(backoff, dict) and "throttling_base_scale" in backoff:
        monkeypatch.setitem(backoff, "throttling_base_scale", 0.01)
    emulator_client.configure(fault_rate=0.3, seed=20240611)
    ec2 = client(emulator, "ec2", Config(retries={"mode": "standard", "max_attempts": 10}))
    created = [ec2.create_vpc(CidrBlock=f"10.{i}.0.0/16")["Vpc"]["VpcId"] for i in range(30)]
    emulator_client.configure(fault_rate=0.0)

    log = [e for e in emulator_client.requests() if e["operation"] == "CreateVpc"]
    faulted = [e for e in log if e["fault"]]
    assert faulted, "a 30 % fault rate over 30+ calls should inject at least one fault"
    assert {e["fault"] for e in faulted} <= {"throttle", "5xx"}
    assert all(e["status"] in (500, 503) for e in faulted)
    assert len(log) - len(faulted) == 30  # exactly one successful CreateVpc per VPC
    vpcs = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]]
    assert sorted(vpcs) == sorted(created)  # faulted attempts created nothing


def test_faulted_mutating_call_has_no_effect(emulator, emulator_client):
    emulator_client.configure(fault_rate=1.0)
    ec2, dlm = client(emulator, "ec2"), client(emulator, "dlm")
    with pytest.raises(ClientError):
        ec2.create_vpc(CidrBlock="10.42.0.0/16")
    with pytest.raises(ClientError):
        dlm.create_lifecycle_policy(
            ExecutionRoleArn="arn:aws:iam::123456789012:role/r", Description="d", State="ENABLED",
            PolicyDetails={"ResourceTypes": ["VOLUME"], "TargetTags": [{"Key": "k", "Value": "v"}],
                           "Schedules": [{"CreateRule": {"Interval": 24, "IntervalUnit": "HOURS"},
                                          "RetainRule": {"Count": 1}}]})
    emulator_client.configure(fault_rate=0.0)
    assert [v["CidrBlock"] for v in ec2.describe_vpcs()["Vpcs"]] == ["172.31.0.0/16"]
    assert dlm.get_lifecycle_policies()["Policies"] == []
    assert [(e["operation"], e["fault"] is not None) for e in emulator_client.requests()] == [
        ("CreateVpc", True), ("CreateLifecyclePolicy", True),
        ("DescribeVpcs", False), ("GetLifecyclePolicies", False)]


def test_seeded_faults_are_reproducible(emulator, emulator_client):
    def pattern():
        emulator_client.configure(fault_rate=0.5, seed=7)
        emulator_client.clear_requests()
        iam = client(emulator, "iam")
        for _ in range(12):
            try:
                iam.list_roles()
            except ClientError:
                pass
        return [e["fault"] for e in emulator_client.requests()]

    first = pattern()
    assert any(first) and not all(first)
    assert pattern() == first
