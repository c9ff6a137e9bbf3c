"""Data Lifecycle Manager in the emulator, through boto3.

Every answer (success or error) is checked against botocore's model by
:class:`ResponseShapeChecker` on the raw HTTP body.
"""

from __future__ import annotations

import re
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

try:
    from .dlm_shapes import ResponseShapeChecker
except ImportError:  # tests/unit/emulator is not a package
    from dlm_shapes import ResponseShapeChecker

ROLE = "arn:aws:iam::123456789012:role/AWSDataLifecycleManagerDefaultRole"
ACCOUNT = "123456789012"
NO_RETRY = Config(retries={"total_max_attempts": 1})
SESSION = boto3.session.Session()  # one session: the model loads once


def details(**overrides):
    base = {
        "ResourceTypes": ["VOLUME"],
        "TargetTags": [{"Key": "backup", "Value": "daily"}],
        "Schedules": [{
            "Name": "nightly",
            "CopyTags": True,
            "TagsToAdd": [{"Key": "created-by", "Value": "dlm"}],
            "CreateRule": {"Interval": 24, "IntervalUnit": "HOURS", "Times": ["03:00"]},
            "RetainRule": {"Count": 7},
        }],
    }
    base.update(overrides)
    return base


def schedule(create=None, retain=None, **extra):
    return {"Name": "s", "CreateRule": create or {"Interval": 12, "IntervalUnit": "HOURS"},
            "RetainRule": retain or {"Count": 3}, **extra}


@pytest.fixture
def checker():
    checker = ResponseShapeChecker()
    yield checker
    assert checker.problems == []


@pytest.fixture
def make_dlm(emulator, checker):
    """``make_dlm(region=..., account=..., **config)`` -> a checked DLM client."""

    def make(region="us-east-1", account=None, validate=True):
        client = SESSION.client(
            "dlm", region_name=region, endpoint_url=emulator.url,
            config=NO_RETRY.merge(Config(parameter_validation=validate)),
        )
        if account:
            def add_account(params, **_):
                params["headers"]["x-moto-account-id"] = account
            client.meta.events.register("before-call.dlm", add_account)
        return checker.attach(client)

    return make


@pytest.fixture
def dlm(make_dlm):
    return make_dlm()


def create(dlm, description="nightly volume snapshots", state="ENABLED", **kwargs):
    kwargs.setdefault("PolicyDetails", details())
    return dlm.create_lifecycle_policy(ExecutionRoleArn=ROLE, Description=description, State=state,
                                       **kwargs)["PolicyId"]


def error_of(call, *args, **kwargs):
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response


# -- create / get ----------------------------------------------------------------


def test_create_and_get_policy_with_materialized_defaults(dlm, checker):
    policy_id = create(dlm, Tags={"team": "platform"})
    assert re.fullmatch(r"policy-[0-9a-f]{17}", policy_id)

    policy = dlm.get_lifecycle_policy(PolicyId=policy_id)["Policy"]
    assert policy["PolicyId"] == policy_id
    assert policy["PolicyArn"] == f"arn:aws:dlm:us-east-1:{ACCOUNT}:policy/{policy_id}"
    assert policy["Description"] == "nightly volume snapshots"
    assert policy["State"] == "ENABLED"
    assert policy["ExecutionRoleArn"] == ROLE
    assert policy["Tags"] == {"team": "platform"}
    assert policy["DefaultPolicy"] is False
    assert policy["DateCreated"] == policy["DateModified"]
    assert abs(policy["DateCreated"].timestamp() - time.time()) < 60
    got = policy["PolicyDetails"]
    assert got["PolicyType"] == "EBS_SNAPSHOT_MANAGEMENT"
    assert got["PolicyLanguage"] == "STANDARD"
    assert got["ResourceLocations"] == ["CLOUD"]
    assert got["ResourceTypes"] == ["VOLUME"]
    assert got["TargetTags"] == [{"Key": "backup", "Value": "daily"}]
    (sched,) = got["Schedules"]
    assert sched["Name"] == "nightly" and sched["CopyTags"] is True
    assert sched["CreateRule"] == {"Location": "CLOUD", "Interval": 24, "IntervalUnit": "HOURS",
                                   "Times": ["03:00"]}
    assert sched["RetainRule"] == {"Count": 7, "Interval": 0}
    assert checker.checked == ["CreateLifecyclePolicy", "GetLifecyclePolicy"]


def test_policy_types_and_cron_schedules(dlm):
    cron = create(dlm, PolicyDetails=details(Schedules=[schedule(
        create={"CronExpression": "cron(0 5 ? * MON *)"},
        retain={"Interval": 2, "IntervalUnit": "WEEKS"})]))
    rule = dlm.get_lifecycle_policy(PolicyId=cron)["Policy"]["PolicyDetails"]["Schedules"][0]
    assert rule["CreateRule"] == {"CronExpression": "cron(0 5 ? * MON *)"}
    assert rule["RetainRule"] == {"Interval": 2, "IntervalUnit": "WEEKS"}

    ami = create(dlm, PolicyDetails={
        "PolicyType": "IMAGE_MANAGEMENT",
        "TargetTags": [{"Key": "ami", "Value": "yes"}],
        "Schedules": [schedule()],
        "Parameters": {"NoReboot": True},
    })
    got = dlm.get_lifecycle_policy(PolicyId=ami)["Policy"]["PolicyDetails"]
    assert got["PolicyType"] == "IMAGE_MANAGEMENT" and got["ResourceTypes"] == ["INSTANCE"]

    event = create(dlm, PolicyDetails={
        "PolicyType": "EVENT_BASED_POLICY",
        "EventSource": {"Type": "MANAGED_CWE", "Parameters": {
            "EventType": "shareSnapshot", "SnapshotOwner": ["210987654321"], "DescriptionRegex": ".*"}},
        "Actions": [{"Name": "copy", "CrossRegionCopy": [{
            "Target": "us-west-2", "EncryptionConfiguration": {"Encrypted": False}}]}],
    })
    summaries = {p["PolicyId"]: p["PolicyType"] for p in dlm.get_lifecycle_policies()["Policies"]}
    assert summaries == {cron: "EBS_SNAPSHOT_MANAGEMENT", ami: "IMAGE_MANAGEMENT",
                         event: "EVENT_BASED_POLICY"}


def test_default_policy(dlm):
    policy_id = dlm.create_lifecycle_policy(
        ExecutionRoleArn=ROLE, Description="default volume policy", State="ENABLED",
        DefaultPolicy="VOLUME", CreateInterval=2, RetainInterval=10)["PolicyId"]
    policy = dlm.get_lifecycle_policy(PolicyId=policy_id)["Policy"]
    assert policy["DefaultPolicy"] is True
    got = policy["PolicyDetails"]
    assert got["PolicyLanguage"] == "SIMPLIFIED" and got["ResourceType"] == "VOLUME"
    assert (got["CreateInterval"], got["RetainInterval"]) == (2, 10)

    dlm.update_lifecycle_policy(PolicyId=policy_id, RetainInterval=14)
    assert dlm.get_lifecycle_policy(PolicyId=policy_id)["Policy"]["PolicyDetails"]["RetainInterval"] == 14

    code, status, _ = error_of(dlm.create_lifecycle_policy, ExecutionRoleArn=ROLE, Description="again",
                               State="ENABLED", DefaultPolicy="VOLUME")
    assert (code, status) == ("InvalidRequestException", 400)
    code, _, resp = error_of(dlm.create_lifecycle_policy, ExecutionRoleArn=ROLE, Description="x",
                             State="ENABLED", DefaultPolicy="INSTANCE", RetainInterval=30)
    assert code == "InvalidRequestException" and "RetainInterval" in resp["Error"]["Message"]
    code, _, resp = error_of(dlm.create_lifecycle_policy, ExecutionRoleArn=ROLE, Description="x",
                             State="ENABLED", PolicyDetails=details(), CreateInterval=1)
    assert code == "InvalidRequestException" and "default policies" in resp["Error"]["Message"]

    custom = create(dlm)
    assert [p["PolicyId"] for p in dlm.get_lifecycle_policies(DefaultPolicyType="VOLUME")["Policies"]] == [policy_id]
    assert [p["PolicyId"] for p in dlm.get_lifecycle_policies(DefaultPolicyType="INSTANCE")["Policies"]] == []
    assert {p["PolicyId"] for p in dlm.get_lifecycle_policies()["Policies"]} == {policy_id, custom}


# -- list filters --------------------------------------------------------------------


def test_get_lifecycle_policies_filters(dlm):
    volume = create(dlm, description="volumes")
    instance = create(dlm, description="instances", state="DISABLED", PolicyDetails=details(
        ResourceTypes=["INSTANCE"], TargetTags=[{"Key": "backup", "Value": "weekly"}],
        Schedules=[schedule(TagsToAdd=[{"Key": "kind", "Value": "instance"}])]))

    def ids(**filters):
        return [p["PolicyId"] for p in dlm.get_lifecycle_policies(**filters)["Policies"]]

    assert ids() == [volume, instance]
    summary = dlm.get_lifecycle_policies(PolicyIds=[instance])["Policies"]
    assert summary == [{"PolicyId": instance, "Description": "instances", "State": "DISABLED",
                        "Tags": {}, "PolicyType": "EBS_SNAPSHOT_MANAGEMENT", "DefaultPolicy": False}]
    assert ids(State="ENABLED") == [volume]
    assert ids(State="ERROR") == []
    assert ids(ResourceTypes=["INSTANCE"]) == [instance]
    assert ids(TargetTags=["backup=daily"]) == [volume]
    assert ids(TargetTags=["backup=daily", "backup=weekly"]) == [volume, instance]
    assert ids(TargetTags=["backup=monthly"]) == []
    assert ids(TagsToAdd=["kind=instance"]) == [instance]
    assert ids(TagsToAdd=["created-by=dlm"], State="ENABLED") == [volume]
    assert ids(TagsToAdd=["created-by=dlm"], State="DISABLED") == []

    code, status, resp = error_of(dlm.get_lifecycle_policies, PolicyIds=[volume, "policy-0123456789abcdef0"])
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert resp["ResourceIds"] == ["policy-0123456789abcdef0"]
    code, status, _ = error_of(dlm.get_lifecycle_policies, TargetTags=["no-equals-sign"])
    assert (code, status) == ("InvalidRequestException", 400)
    code, _, resp = error_of(dlm.get_lifecycle_policies, State="PAUSED")
    assert code == "InvalidRequestException" and "enum" in resp["Error"]["Message"]


def test_policies_are_per_region_and_account(dlm, make_dlm):
    policy_id = create(dlm)
    west = make_dlm(region="us-west-2")
    other = make_dlm(account="210987654321")
    assert west.get_lifecycle_policies()["Policies"] == []
    assert other.get_lifecycle_policies()["Policies"] == []
    assert error_of(west.get_lifecycle_policy, PolicyId=policy_id)[0] == "ResourceNotFoundException"
    other_id = create(other)
    arn = other.get_lifecycle_policy(PolicyId=other_id)["Policy"]["PolicyArn"]
    assert arn == f"arn:aws:dlm:us-east-1:210987654321:policy/{other_id}"
    assert [p["PolicyId"] for p in dlm.get_lifecycle_policies()["Policies"]] == [policy_id]


# -- update / delete ---------------------------------------------------------------


def test_update_policy(dlm):
    policy_id = create(dlm)
    before = dlm.get_lifecycle_policy(PolicyId=policy_id)["Policy"]
    time.sleep(0.01)
    assert dlm.update_lifecycle_policy(PolicyId=policy_id, State="DISABLED",
                                       Description="paused")["ResponseMetadata"]["HTTPStatusCode"] == 200
    after = dlm.get_lifecycle_policy(PolicyId=policy_id)["Policy"]
    assert (after["State"], after["Description"]) == ("DISABLED", "paused")
    assert after["PolicyDetails"] == before["PolicyDetails"]
    assert after["DateCreated"] == before["DateCreated"]
    assert after["DateModified"] > before["DateModified"]

    # What GetLifecyclePolicy returns can be sent back as is.
    dlm.update_lifecycle_policy(PolicyId=policy_id, PolicyDetails=after["PolicyDetails"])
    new = details(Schedules=[schedule(retain={"Interval": 30, "IntervalUnit": "DAYS"})])
    dlm.update_lifecycle_policy(PolicyId=policy_id, PolicyDetails=new, ExecutionRoleArn=ROLE + "2")
    got = dlm.get_lifecycle_policy(PolicyId=policy_id)["Policy"]
    assert got["PolicyDetails"]["Schedules"][0]["RetainRule"] == {"Interval": 30, "IntervalUnit": "DAYS"}
    assert got["ExecutionRoleArn"] == ROLE + "2"

    code, _, resp = error_of(dlm.update_lifecycle_policy, PolicyId=policy_id,
                             PolicyDetails=details(PolicyType="IMAGE_MANAGEMENT", ResourceTypes=["INSTANCE"]))
    assert code == "InvalidRequestException" and "PolicyType" in resp["Error"]["Message"]
    code, status, _ = error_of(dlm.update_lifecycle_policy, PolicyId="policy-0123456789abcdef0", State="ENABLED")
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_delete_policy(dlm):
    policy_id = create(dlm)
    keep = create(dlm, description="keep")
    assert dlm.delete_lifecycle_policy(PolicyId=policy_id)["ResponseMetadata"]["HTTPStatusCode"] == 200
    code, status, resp = error_of(dlm.get_lifecycle_policy, PolicyId=policy_id)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert policy_id in resp["Error"]["Message"] and resp["ResourceIds"] == [policy_id]
    assert error_of(dlm.delete_lifecycle_policy, PolicyId=policy_id)[:2] == ("ResourceNotFoundException", 404)
    assert [p["PolicyId"] for p in dlm.get_lifecycle_policies()["Policies"]] == [keep]


# -- tags ------------------------------------------------------------------------


def test_tags(dlm):
    policy_id = create(dlm, Tags={"a": "1"})
    arn = dlm.get_lifecycle_policy(PolicyId=policy_id)["Policy"]["PolicyArn"]
    assert dlm.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"a": "1"}
    dlm.tag_resource(ResourceArn=arn, Tags={"b": "2", "a": "one"})
    assert dlm.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"a": "one", "b": "2"}
    dlm.untag_resource(ResourceArn=arn, TagKeys=["a", "missing"])
    assert dlm.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"b": "2"}
    assert dlm.get_lifecycle_policies()["Policies"][0]["Tags"] == {"b": "2"}

    unknown = f"arn:aws:dlm:us-east-1:{ACCOUNT}:policy/policy-0123456789abcdef0"
    for call, kwargs in ((dlm.list_tags_for_resource, {}), (dlm.tag_resource, {"Tags": {"x": "y"}}),
                         (dlm.untag_resource, {"TagKeys": ["x"]})):
        assert error_of(call, ResourceArn=unknown, **kwargs)[:2] == ("ResourceNotFoundException", 404)
    assert error_of(dlm.list_tags_for_resource, ResourceArn="arn:aws:s3:::bucket")[:2] == (
        "InvalidRequestException", 400)
    code, _, resp = error_of(dlm.tag_resource, ResourceArn=arn, Tags={"aws:reserved": "x"})
    assert code == "InvalidRequestException" and "aws:reserved" in resp["Error"]["Message"]


# -- validation --------------------------------------------------------------------

INVALID = {
    "resource type": ({"PolicyDetails": details(ResourceTypes=["BUCKET"])}, "enum value set: [VOLUME, INSTANCE]"),
    "two resource types": ({"PolicyDetails": details(ResourceTypes=["VOLUME", "INSTANCE"])}, "length less than or equal to 1"),
    "no resource types": ({"PolicyDetails": details(ResourceTypes=None)}, "ResourceTypes is required"),
    "no target tags": ({"PolicyDetails": details(TargetTags=None)}, "TargetTags is required"),
    "no schedules": ({"PolicyDetails": details(Schedules=None)}, "Schedules is required"),
    "five schedules": ({"PolicyDetails": details(Schedules=[schedule(Name=f"s{i}") for i in range(5)])},
                       "length less than or equal to 4"),
    "duplicate schedule names": ({"PolicyDetails": details(Schedules=[schedule(), schedule()])}, "unique"),
    "no create rule": ({"PolicyDetails": details(Schedules=[{"Name": "s", "RetainRule": {"Count": 1}}])},
                       "CreateRule is required"),
    "no retain rule": ({"PolicyDetails": details(Schedules=[{"Name": "s", "CreateRule": {"Interval": 1, "IntervalUnit": "HOURS"}}])},
                       "RetainRule is required"),
    "empty create rule": ({"PolicyDetails": details(Schedules=[schedule(create={"Times": ["01:00"]})])},
                          "either Interval and IntervalUnit, or CronExpression"),
    "interval without unit": ({"PolicyDetails": details(Schedules=[schedule(create={"Interval": 12})])},
                              "IntervalUnit is required"),
    "unsupported interval": ({"PolicyDetails": details(Schedules=[schedule(create={"Interval": 5, "IntervalUnit": "HOURS"})])},
                             "1, 2, 3, 4, 6, 8, 12, 24"),
    "interval unit": ({"PolicyDetails": details(Schedules=[schedule(create={"Interval": 1, "IntervalUnit": "DAYS"})])},
                      "enum value set: [HOURS]"),
    "interval and cron": ({"PolicyDetails": details(Schedules=[schedule(create={
        "Interval": 1, "IntervalUnit": "HOURS", "CronExpression": "cron(0 5 * * ? *)"})])}, "not both"),
    "cron fields": ({"PolicyDetails": details(Schedules=[schedule(create={"CronExpression": "cron(0 5 * * ? * *)"})])},
                    "6 fields"),
    "cron syntax": ({"PolicyDetails": details(Schedules=[schedule(create={"CronExpression": "every day at 05:00 UTC"})])},
                    "regular expression pattern"),
    "bad time": ({"PolicyDetails": details(Schedules=[schedule(create={"Interval": 1, "IntervalUnit": "HOURS", "Times": ["25:00"]})])},
                 "regular expression pattern"),
    "empty retain rule": ({"PolicyDetails": details(Schedules=[schedule(retain={"IntervalUnit": "DAYS"})])},
                          "Interval is required"),
    "retain count zero": ({"PolicyDetails": details(Schedules=[schedule(retain={"Count": 0})])},
                          "either Count (1-1000), or Interval and IntervalUnit"),
    "retain count too big": ({"PolicyDetails": details(Schedules=[schedule(retain={"Count": 1001})])},
                             "less than or equal to 1000"),
    "count and interval": ({"PolicyDetails": details(Schedules=[schedule(retain={"Count": 1, "Interval": 1, "IntervalUnit": "DAYS"})])},
                           "not both"),
    "reserved tag to add": ({"PolicyDetails": details(Schedules=[schedule(TagsToAdd=[{"Key": "aws:x", "Value": "y"}])])},
                            "reserved"),
    "no policy details": ({"PolicyDetails": None}, "PolicyDetails is required"),
    "description": ({"Description": "nightly/backups!"}, "at 'Description' failed to satisfy constraint"),
    "role arn": ({"ExecutionRoleArn": "arn:aws:iam::123456789012:user/bob"}, "at 'ExecutionRoleArn'"),
    "state": ({"State": "PAUSED"}, "enum value set: [ENABLED, DISABLED]"),
    "image policy on volumes": ({"PolicyDetails": details(PolicyType="IMAGE_MANAGEMENT")}, "[INSTANCE]"),
    "event policy with schedules": ({"PolicyDetails": details(PolicyType="EVENT_BASED_POLICY", ResourceTypes=None, TargetTags=None)},
                                    "EventSource is required"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_create_requests(dlm, case):
    changes, message = INVALID[case]
    kwargs = {"ExecutionRoleArn": ROLE, "Description": "d", "State": "ENABLED", "PolicyDetails": details()}
    kwargs.update(changes)
    if isinstance(kwargs.get("PolicyDetails"), dict):
        kwargs["PolicyDetails"] = {k: v for k, v in kwargs["PolicyDetails"].items() if v is not None}
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    code, status, resp = error_of(dlm.create_lifecycle_policy, **kwargs)
    assert (code, status) == ("InvalidRequestException", 400)
    assert message in resp["Error"]["Message"]
    assert dlm.get_lifecycle_policies()["Policies"] == []


def test_required_members_checked_server_side(make_dlm):
    raw = make_dlm(validate=False)  # botocore would refuse to send these
    code, status, resp = error_of(raw.create_lifecycle_policy, ExecutionRoleArn=ROLE, PolicyDetails=details())
    assert (code, status) == ("InvalidRequestException", 400)
    assert resp["Error"]["Message"] == (
        "2 validation errors detected: Value null at 'Description' failed to satisfy constraint: "
        "Member must not be null; Value null at 'State' failed to satisfy constraint: Member must not be null")
    code, _, resp = error_of(raw.create_lifecycle_policy, ExecutionRoleArn=ROLE, Description="d",
                             State="ENABLED", PolicyDetails=details(Schedules=[schedule(retain={"Count": "7"})]))
    assert code == "InvalidRequestException" and "Member must be a number" in resp["Error"]["Message"]


def test_policy_quota(dlm, monkeypatch):
    from emulator import dlm as dlm_module

    monkeypatch.setattr(dlm_module, "POLICY_QUOTA", 2)
    create(dlm)
    create(dlm)
    code, status, _ = error_of(create, dlm)
    assert (code, status) == ("LimitExceededException", 429)


def test_reset_forgets_policies(dlm, emulator_client):
    create(dlm)
    emulator_client.reset()
    assert dlm.get_lifecycle_policies()["Policies"] == []


def test_calls_are_logged(dlm, emulator_client):
    policy_id = create(dlm)
    error_of(dlm.get_lifecycle_policy, PolicyId="policy-0123456789abcdef0")
    dlm.delete_lifecycle_policy(PolicyId=policy_id)
    log = [(e["service"], e["operation"], e["status"]) for e in emulator_client.requests()]
    assert log == [("dlm", "CreateLifecyclePolicy", 200), ("dlm", "GetLifecyclePolicy", 404),
                   ("dlm", "DeleteLifecyclePolicy", 200)]


def test_shape_checker_is_not_vacuous():
    from emulator.protocols import load_model

    try:
        from .dlm_shapes import shape_problems
    except ImportError:
        from dlm_shapes import shape_problems

    output = load_model("dlm").operation_model("GetLifecyclePolicy").output_shape
    good = {"Policy": {"PolicyId": "policy-0123456789abcdef0", "State": "ENABLED",
                       "DateCreated": "2024-01-01T00:00:00.000Z", "Tags": {"a": "b"}}}
    assert shape_problems(good, output) == []
    bad = {"Policy": {"PolicyId": 7, "State": "PAUSED", "DateCreated": 1700000000, "Extra": 1,
                      "PolicyDetails": {"Schedules": [{"RetainRule": {"Count": "7"}}]}}}
    problems = shape_problems(bad, output)
    assert len(problems) == 5, problems
