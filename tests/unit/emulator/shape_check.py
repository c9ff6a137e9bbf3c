"""Helpers of the emulator's EKS tests: output-shape checks, polling, a VPC, IAM roles.

:func:`strict` makes a boto3 client check every successful answer twice:
the raw JSON body (no key the model does not know, right JSON types, enum
values) and the dict boto3 parsed from it (required members, types, enum
values). A mismatch raises ``AssertionError`` from the boto3 call.
"""

from __future__ import annotations

import datetime
import functools
import json
import time
from typing import Any, Callable, TypeVar

import boto3
from botocore.config import Config
from botocore.model import Shape

T = TypeVar("T")


def shape_errors(value: Any, shape: Shape, path: str = "$", raw: bool = False) -> list[str]:
    """Every way ``value`` departs from ``shape`` (``raw``: a JSON body, else boto3's parsed dict)."""
    kind = shape.type_name
    errors: list[str] = []
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        members = {
            name: member for name, member in shape.members.items()
            if not (raw and member.serialization.get("location"))
        }
        wire_names = {member.serialization.get("name", name): name for name, member in members.items()}
        for key, item in value.items():
            name = wire_names.get(key, key) if raw else key
            if name not in members:
                errors.append(f"{path}: unknown member {key!r}")
                continue
            errors += shape_errors(item, members[name], f"{path}.{key}", raw)
        for name in shape.required_members:
            key = members[name].serialization.get("name", name) if raw and name in members else name
            if name in members and key not in value:
                errors.append(f"{path}: missing required member {name!r}")
    elif kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        for index, item in enumerate(value):
            errors += shape_errors(item, shape.member, f"{path}[{index}]", raw)
    elif kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a map, got {type(value).__name__}"]
        for key, item in value.items():
            errors += shape_errors(key, shape.key, f"{path}<key>", raw)
            errors += shape_errors(item, shape.value, f"{path}[{key!r}]", raw)
    elif kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {type(value).__name__}"]
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} is not one of {shape.enum}")
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append(f"{path}: expected an integer, got {value!r}")
    elif kind in ("float", "double"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            errors.append(f"{path}: expected a number, got {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            errors.append(f"{path}: expected a boolean, got {value!r}")
    elif kind == "timestamp":
        expected = (int, float, str) if raw else (datetime.datetime,)
        if not isinstance(value, expected) or isinstance(value, bool):
            errors.append(f"{path}: expected a timestamp, got {value!r}")
    return errors


def check_response(client: Any, operation_name: str, response: dict[str, Any]) -> None:
    """Assert that a parsed boto3 ``response`` matches the operation's output shape."""
    output_shape = client.meta.service_model.operation_model(operation_name).output_shape
    body = {key: value for key, value in response.items() if key != "ResponseMetadata"}
    if output_shape is None:
        assert not body, f"{operation_name}: unexpected output {body}"
        return
    errors = shape_errors(body, output_shape)
    assert not errors, f"{operation_name} answer does not match its output shape:\n" + "\n".join(errors)


def strict(client: Any) -> Any:
    """``client``, checking every successful answer against botocore's model."""

    def after_call(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if http_response.status_code >= 300:
            return
        output_shape = model.output_shape
        content = http_response.content or b""
        if output_shape is not None and content.strip():
            raw = json.loads(content)
            errors = shape_errors(raw, output_shape, raw=True)
            assert not errors, f"{model.name} raw answer does not match its output shape:\n" + "\n".join(errors)
        check_response(client, model.name, parsed)

    client.meta.events.register(f"after-call.{client.meta.service_model.service_id.hyphenize()}", after_call)
    return client


@functools.lru_cache(maxsize=None)
def _session() -> boto3.session.Session:
    return boto3.session.Session(region_name="us-east-1")


def client(url: str, service: str, **kwargs: Any) -> Any:
    """A boto3 client for the emulator at ``url`` from one shared session (faster than a session per test)."""
    config = Config(retries={"mode": "standard", "max_attempts": 10})
    return _session().client(service, endpoint_url=url, config=config, **kwargs)


def wait_until(probe: Callable[[], T], timeout: float = 15.0, interval: float = 0.05) -> T:
    """Call ``probe`` until it returns something truthy; that value, or AssertionError at ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last value: {value!r})")
        time.sleep(interval)


def make_network(ec2: Any, cidr: str = "10.0.0.0/16") -> dict[str, Any]:
    """A VPC with one subnet in each of two AZs: ``{"vpc": id, "subnets": [id, id]}``."""
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    base = cidr.rsplit(".", 2)[0]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"{base}.{index}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for index, zone in enumerate(("us-east-1a", "us-east-1b"))
    ]
    return {"vpc": vpc, "subnets": subnets}


def make_roles(iam: Any, *names: str) -> list[str]:
    """Create IAM roles (trusting EKS and EC2) and return their ARNs."""
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"Service": ["eks.amazonaws.com", "ec2.amazonaws.com"]},
    }]})
    return [iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"] for name in names]


def error_code(excinfo: Any) -> str:
    """The AWS error code of a ``pytest.raises(ClientError)`` result."""
    return excinfo.value.response["Error"]["Code"]
