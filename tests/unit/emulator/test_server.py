"""The in-process server, its control API and the timed lifecycles."""

from __future__ import annotations

import importlib.metadata
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest

from emulator import MOTO_VERSION, MotoVersionError, installed_moto_version
from emulator.client import EmulatorClient
from emulator.server import EmulatorServer

TIMEOUT = 15.0  # generous: lifecycles below take ~0.3 s each
SESSION = boto3.session.Session(region_name="us-east-1")  # one session: models load once


@pytest.fixture
def aws(emulator):
    """``aws("ec2")`` -> a boto3 client of the shared session against the emulator."""
    return lambda service: SESSION.client(service, endpoint_url=emulator.url)


def wait_for(predicate, timeout=TIMEOUT, interval=0.05):
    """Poll ``predicate`` until it returns a truthy value; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last value {value!r})")
        time.sleep(interval)


def control(url, method, path, body=None):
    """(status, parsed JSON) of a control API call, errors included."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(f"{url}/_emulator/{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# -- server ------------------------------------------------------------------------


def test_server_starts_on_a_free_port_and_stops():
    server = EmulatorServer(profile="demo", scale=0.5)
    with pytest.raises(RuntimeError):
        server.url  # noqa: B018 - not started yet
    with server as running:
        assert running is server
        host, port = server.url.rsplit(":", 1)
        assert host == "http://127.0.0.1" and int(port) > 0
        config = EmulatorClient(server.url).config()
        assert (config["profile"], config["scale"]) == ("demo", 0.5)
        url = server.url
    with pytest.raises(RuntimeError):
        server.url  # noqa: B018 - stopped
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/_emulator/config", timeout=2)  # noqa: S310
    server.stop()  # stopping twice is harmless


def test_two_servers_get_different_ports(emulator):
    with EmulatorServer() as other:
        assert other.url != emulator.url
        assert EmulatorClient(other.url).config()["profile"] == "instant"


def test_bad_settings_are_refused_at_construction():
    with pytest.raises(ValueError, match="unknown profile"):
        EmulatorServer(profile="no-such-profile")
    with pytest.raises(ValueError, match="fault_rate"):
        EmulatorServer(fault_rate=1.5)


def test_moto_version_is_the_one_pinned_and_installed():
    pins = (Path(__file__).resolve().parents[3] / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert f"moto[server]=={MOTO_VERSION}" in pins
    assert installed_moto_version() == MOTO_VERSION == importlib.metadata.version("moto")


@pytest.mark.parametrize("installed, found", [("5.3.0", "moto 5.3.0 is installed"), (None, "moto is not installed")])
def test_another_moto_version_is_refused_at_construction(monkeypatch, installed, found):
    monkeypatch.setattr("emulator.installed_moto_version", lambda: installed)
    with pytest.raises(MotoVersionError) as info:
        EmulatorServer()
    assert str(info.value) == (f"emulator/ patches moto 5.2.5 but {found}: "
                               "run `make venv` (requirements.txt pins moto[server]==5.2.5)")


# -- control API: config --------------------------------------------------------------


def test_config_get_and_post(emulator, emulator_client):
    config = emulator_client.config()
    assert config["profile"] == "instant" and config["fault_rate"] == 0.0
    assert set(config["faults"]) == {"throttle", "5xx"}
    assert config["effective_seconds"]["eks_cluster_create"] == 0

    changed = emulator_client.configure(profile="realistic", scale=0.5, seed=3, faults="throttle")
    assert changed == emulator_client.config()
    assert (changed["profile"], changed["scale"], changed["seed"]) == ("realistic", 0.5, 3)
    assert changed["faults"] == ["throttle"]
    assert changed["effective_seconds"]["eks_cluster_create"] == 300.0
    assert changed["effective_api_call_ms"] == [15.0, 50.0]

    inline = emulator_client.configure(profile={"nat_gateway_create": 2, "scale": 0.5})
    assert inline["profile"] == "inline"
    assert inline["effective_seconds"]["nat_gateway_create"] == 0.5  # 2 * 0.5 (file) * 0.5 (scale)
    assert inline["effective_seconds"]["nat_gateway_delete"] == 0


@pytest.mark.parametrize("body, message", [
    ({"fault_rate": 2}, "fault_rate must be between 0 and 1"),
    ({"scale": -1}, "scale must be >= 0"),
    ({"scale": "fast"}, "could not convert"),
    ({"profile": "no-such-profile"}, "unknown profile"),
    ({"profile": {"nat_gateway_create": -1}}, "must be >= 0"),
    ({"profile": {"nat_gateway_creat": 1}}, "unknown keys: nat_gateway_creat"),
    ({"faults": ["throttle", "boom"]}, "faults must be a non-empty subset"),
    ({"faults": []}, "faults must be a non-empty subset"),
    ({"colour": "blue"}, "unknown config keys: colour"),
    (["fault_rate", 1], "body must be a JSON object"),
    (b"{not json", "Expecting property name"),
])
def test_config_post_rejects_bad_values(emulator, body, message):
    before = control(emulator.url, "GET", "config")[1]
    status, answer = control(emulator.url, "POST", "config", body)
    assert status == 400
    assert message in answer["error"]
    assert control(emulator.url, "GET", "config")[1] == before  # nothing applied


def test_config_post_is_all_or_nothing(emulator, emulator_client):
    status, _ = control(emulator.url, "POST", "config", {"scale": 3, "fault_rate": 7})
    assert status == 400
    assert emulator_client.config()["scale"] == 1.0


def test_unknown_control_endpoint(emulator):
    status, answer = control(emulator.url, "GET", "nope")
    assert status == 404 and "nope" in answer["error"]


# -- control API: request log, reset ----------------------------------------------------


def test_request_log_and_clear(aws, emulator_client):
    ec2, iam = aws("ec2"), aws("iam")
    ec2.describe_vpcs()
    with pytest.raises(ec2.exceptions.ClientError):
        ec2.describe_vpcs(VpcIds=["vpc-00000000000000000"])
    iam.list_roles()
    emulator_client.config()  # control calls are not logged
    log = emulator_client.requests()
    assert [(e["service"], e["operation"], e["status"], e["fault"]) for e in log] == [
        ("ec2", "DescribeVpcs", 200, None),
        ("ec2", "DescribeVpcs", 400, None),
        ("iam", "ListRoles", 200, None),
    ]
    for entry in log:
        assert set(entry) == {"ts", "service", "operation", "status", "duration_ms", "fault"}
        assert entry["duration_ms"] >= 0 and abs(entry["ts"] - time.time()) < 60
    assert log[0]["ts"] <= log[1]["ts"] <= log[2]["ts"]

    emulator_client.clear_requests()
    assert emulator_client.requests() == []
    ec2.describe_vpcs()
    assert [e["operation"] for e in emulator_client.requests()] == ["DescribeVpcs"]


def test_reset_empties_state(aws, emulator_client):
    ec2 = aws("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    aws("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")
    aws("dlm").create_lifecycle_policy(
        ExecutionRoleArn="arn:aws:iam::123456789012:role/r", Description="d", State="ENABLED",
        PolicyDetails={"ResourceTypes": ["VOLUME"], "TargetTags": [{"Key": "k", "Value": "v"}],
                       "Schedules": [{"CreateRule": {"Interval": 24, "IntervalUnit": "HOURS"},
                                      "RetainRule": {"Count": 1}}]})

    emulator_client.reset()
    assert emulator_client.requests() == []
    assert emulator_client.events() == []
    assert vpc_id not in [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]]
    assert [v["IsDefault"] for v in ec2.describe_vpcs()["Vpcs"]] == [True]
    assert aws("iam").list_roles()["Roles"] == []
    assert aws("dlm").get_lifecycle_policies()["Policies"] == []


# -- lifecycles ----------------------------------------------------------------------

QUICK = {"nat_gateway_create": 0.3, "nat_gateway_delete": 0.3,
         "vpc_endpoint_create": 0.3, "vpc_endpoint_delete": 0.3}


@pytest.fixture
def network(aws, emulator_client):
    emulator_client.configure(profile=QUICK)
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    return ec2, vpc, subnet


def test_nat_gateway_lifecycle(network, emulator_client):
    ec2, _, subnet = network
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]
    nat_id = nat["NatGatewayId"]
    assert nat["State"] == "pending"

    def state():
        return ec2.describe_nat_gateways(NatGatewayIds=[nat_id])["NatGateways"][0]["State"]

    seen = {state()}
    wait_for(lambda: seen.add(state()) or "available" in seen)
    assert seen <= {"pending", "available"}
    # The waiter boto3 users rely on works as well.
    ec2.get_waiter("nat_gateway_available").wait(NatGatewayIds=[nat_id],
                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 10})

    ec2.delete_nat_gateway(NatGatewayId=nat_id)
    assert state() in ("deleting", "deleted")  # "deleted" only on a very slow machine
    wait_for(lambda: state() == "deleted")

    events = [(e["from"], e["to"]) for e in emulator_client.events() if e["id"] == nat_id]
    assert events == [(None, "pending"), ("pending", "available"),
                      ("available", "deleting"), ("deleting", "deleted")]
    stamps = [e["ts"] for e in emulator_client.events() if e["id"] == nat_id]
    assert stamps == sorted(stamps)
    assert {e["kind"] for e in emulator_client.events() if e["id"] == nat_id} == {"nat_gateway"}


def test_vpc_endpoint_lifecycle(network, emulator_client):
    ec2, vpc, _ = network
    route_table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    endpoint = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3",
                                       RouteTableIds=[route_table])["VpcEndpoint"]
    endpoint_id = endpoint["VpcEndpointId"]
    assert endpoint["State"] == "pending"

    def states():
        found = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]
        return [e["State"] for e in found]

    wait_for(lambda: states() == ["available"])
    ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id])
    assert states() in (["deleting"], [])  # [] only on a very slow machine
    wait_for(lambda: states() == [])
    with pytest.raises(ec2.exceptions.ClientError) as info:
        ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])
    assert info.value.response["Error"]["Code"] == "InvalidVpcEndpointId.NotFound"

    events = [(e["from"], e["to"]) for e in emulator_client.events() if e["id"] == endpoint_id]
    assert events == [(None, "pending"), ("pending", "available"),
                      ("available", "deleting"), ("deleting", "gone")]


def test_service_interfaces_are_the_services_and_go_with_them(network):
    """As on AWS: a NAT gateway's and an interface endpoint's network interfaces are requester-managed, typed and
    described by their owner; a deleted NAT gateway's goes (its Elastic IP disassociated), a deleted VPC's default
    network ACL with it."""
    ec2, vpc, subnet = network
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat_id = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]["NatGatewayId"]
    endpoint_id = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.sts",
                                          VpcEndpointType="Interface", SubnetIds=[subnet])["VpcEndpoint"]["VpcEndpointId"]
    interfaces = {(i["InterfaceType"], i["RequesterManaged"], i["Description"])
                  for i in ec2.describe_network_interfaces()["NetworkInterfaces"]}
    assert interfaces == {("nat_gateway", True, f"Interface for NAT Gateway {nat_id}"),
                          ("vpc_endpoint", True, f"VPC Endpoint Interface {endpoint_id}")}
    ec2.delete_nat_gateway(NatGatewayId=nat_id)
    ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id])
    assert ec2.describe_network_interfaces()["NetworkInterfaces"] == []
    [address] = ec2.describe_addresses(AllocationIds=[allocation])["Addresses"]
    assert not address.get("AssociationId") and not address.get("NetworkInterfaceId")
    ec2.delete_subnet(SubnetId=subnet)
    wait_for(lambda: ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"] == [])
    assert len(ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NetworkAcls"]) == 1
    ec2.delete_vpc(VpcId=vpc)
    assert ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NetworkAcls"] == []


def test_events_are_ordered_across_resources(network, emulator_client):
    ec2, _, subnet = network
    allocations = [ec2.allocate_address(Domain="vpc")["AllocationId"] for _ in range(2)]
    ids = [ec2.create_nat_gateway(SubnetId=subnet, AllocationId=a)["NatGateway"]["NatGatewayId"]
           for a in allocations]

    def events():
        return [e for e in emulator_client.events() if e["id"] in ids]

    wait_for(lambda: len(events()) == 4)
    found = events()
    assert [e["ts"] for e in found] == sorted(e["ts"] for e in found)
    assert found[0]["id"] == ids[0] and found[0]["to"] == "pending"
    for nat_id in ids:
        assert [(e["from"], e["to"]) for e in found if e["id"] == nat_id] == [
            (None, "pending"), ("pending", "available")]
    # 0.3 s after its creation, each gateway became available.
    for nat_id in ids:
        pending, available = [e["ts"] for e in found if e["id"] == nat_id]
        assert available - pending == pytest.approx(0.3, abs=1e-6)


def test_instant_profile_settles_at_once_and_scale_stretches(network, emulator_client):
    ec2, _, subnet = network
    emulator_client.configure(profile="instant")

    def new_nat():
        allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
        return ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]["NatGatewayId"]

    def state(nat_id):
        return ec2.describe_nat_gateways(NatGatewayIds=[nat_id])["NatGateways"][0]["State"]

    assert state(new_nat()) == "available"
    emulator_client.configure(profile=QUICK, scale=100)  # 30 s: still pending while we look
    assert state(new_nat()) == "pending"


def test_settle_ends_every_scheduled_transition_now(network, emulator_client):
    ec2, _, subnet = network
    emulator_client.configure(profile=QUICK, scale=1000)  # 300 s each: nothing ends by itself during the test
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat_id = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]["NatGatewayId"]

    def state():
        return ec2.describe_nat_gateways(NatGatewayIds=[nat_id])["NatGateways"][0]["State"]

    assert state() == "pending"
    assert emulator_client.settle() == 1
    assert state() == "available"
    assert emulator_client.settle() == 0  # nothing left to move
    ec2.delete_nat_gateway(NatGatewayId=nat_id)
    assert state() == "deleting"
    emulator_client.settle()
    assert state() == "deleted"
    events = [(e["from"], e["to"]) for e in emulator_client.events() if e["id"] == nat_id]
    assert events == [(None, "pending"), ("pending", "available"), ("available", "deleting"), ("deleting", "deleted")]
    stamps = [e["ts"] for e in emulator_client.events() if e["id"] == nat_id]
    assert stamps == sorted(stamps)
