"""GuardDuty detectors: one per account and Region, features merged, tags, publishing destinations."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.unit.emulator.shape_check import client, error_code, strict

EKS_FEATURES = [
    {"Name": "EKS_AUDIT_LOGS", "Status": "ENABLED"},
    {"Name": "EKS_RUNTIME_MONITORING", "Status": "ENABLED",
     "AdditionalConfiguration": [{"Name": "EKS_ADDON_MANAGEMENT", "Status": "ENABLED"}]},
]


@pytest.fixture
def guardduty(emulator):
    return strict(client(emulator.url, "guardduty"))


def features(detector):
    """name -> status, additional configurations as FEATURE/NAME."""
    flat = {}
    for feature in detector["Features"]:
        flat[feature["Name"]] = feature["Status"]
        for extra in feature.get("AdditionalConfiguration", []):
            flat[f"{feature['Name']}/{extra['Name']}"] = extra["Status"]
    return flat


def test_create_get_one_detector_per_region(guardduty):
    detector_id = guardduty.create_detector(Enable=True, Features=EKS_FEATURES, Tags={"Project": "x"})["DetectorId"]
    assert guardduty.list_detectors()["DetectorIds"] == [detector_id]
    detector = guardduty.get_detector(DetectorId=detector_id)
    flat = features(detector)
    assert flat["EKS_AUDIT_LOGS"] == "ENABLED" and flat["EKS_RUNTIME_MONITORING"] == "ENABLED"
    assert flat["EKS_RUNTIME_MONITORING/EKS_ADDON_MANAGEMENT"] == "ENABLED"
    assert flat["S3_DATA_EVENTS"] == "DISABLED" and flat["CLOUD_TRAIL"] == "ENABLED"
    assert detector["DataSources"]["Kubernetes"]["AuditLogs"]["Status"] == "ENABLED"
    assert detector["Status"] == "ENABLED" and detector["FindingPublishingFrequency"] == "SIX_HOURS"
    assert detector["Tags"] == {"Project": "x"}

    with pytest.raises(ClientError) as excinfo:
        guardduty.create_detector(Enable=True)
    assert error_code(excinfo) == "BadRequestException"
    assert "already exists" in str(excinfo.value)
    # another Region has its own detector
    other = strict(client(guardduty.meta.endpoint_url, "guardduty", region_name="eu-west-1"))
    assert other.create_detector(Enable=True)["DetectorId"] != detector_id


def test_update_changes_only_the_features_named(guardduty):
    detector_id = guardduty.create_detector(Enable=True, Features=EKS_FEATURES)["DetectorId"]
    before = guardduty.get_detector(DetectorId=detector_id)
    guardduty.update_detector(DetectorId=detector_id, FindingPublishingFrequency="FIFTEEN_MINUTES",
                              Features=[{"Name": "EKS_RUNTIME_MONITORING", "Status": "DISABLED"}])
    after = guardduty.get_detector(DetectorId=detector_id)
    flat = features(after)
    assert flat["EKS_RUNTIME_MONITORING"] == "DISABLED"
    assert flat["EKS_AUDIT_LOGS"] == "ENABLED"  # not named: unchanged
    assert flat["EKS_RUNTIME_MONITORING/EKS_ADDON_MANAGEMENT"] == "ENABLED"
    assert after["FindingPublishingFrequency"] == "FIFTEEN_MINUTES"
    runtime = {f["Name"]: f for f in after["Features"]}["EKS_RUNTIME_MONITORING"]
    audit = {f["Name"]: f for f in after["Features"]}["EKS_AUDIT_LOGS"]
    assert runtime["UpdatedAt"] >= {f["Name"]: f for f in before["Features"]}["EKS_RUNTIME_MONITORING"]["UpdatedAt"]
    assert audit["UpdatedAt"] == {f["Name"]: f for f in before["Features"]}["EKS_AUDIT_LOGS"]["UpdatedAt"]
    # the legacy data sources map onto their features
    guardduty.update_detector(DetectorId=detector_id, DataSources={"Kubernetes": {"AuditLogs": {"Enable": False}}})
    assert features(guardduty.get_detector(DetectorId=detector_id))["EKS_AUDIT_LOGS"] == "DISABLED"


@pytest.mark.parametrize("bad", [
    [{"Name": "EKS_AUDIT_LOGS", "Status": "ENABLED",
      "AdditionalConfiguration": [{"Name": "EKS_ADDON_MANAGEMENT", "Status": "ENABLED"}]}],
    [{"Name": "EKS_AUDIT_LOGS", "Status": "ENABLED"}, {"Name": "EKS_AUDIT_LOGS", "Status": "DISABLED"}],
])
def test_invalid_features_are_refused(guardduty, bad):
    with pytest.raises(ClientError) as excinfo:
        guardduty.create_detector(Enable=True, Features=bad)
    assert error_code(excinfo) == "BadRequestException"
    assert guardduty.list_detectors()["DetectorIds"] == []


def test_features_and_data_sources_together_are_refused(guardduty):
    with pytest.raises(ClientError) as excinfo:
        guardduty.create_detector(Enable=True, Features=EKS_FEATURES, DataSources={"S3Logs": {"Enable": True}})
    assert error_code(excinfo) == "BadRequestException"


def test_tags(guardduty, emulator):
    detector_id = guardduty.create_detector(Enable=True, Tags={"a": "1"})["DetectorId"]
    account = client(emulator.url, "sts").get_caller_identity()["Account"]
    arn = f"arn:aws:guardduty:us-east-1:{account}:detector/{detector_id}"
    guardduty.tag_resource(ResourceArn=arn, Tags={"b": "2"})
    assert guardduty.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"a": "1", "b": "2"}
    guardduty.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert guardduty.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"b": "2"}
    assert guardduty.get_detector(DetectorId=detector_id)["Tags"] == {"b": "2"}
    with pytest.raises(ClientError) as excinfo:
        guardduty.list_tags_for_resource(ResourceArn=arn[:-4] + "ffff")
    assert error_code(excinfo) == "BadRequestException"


def test_publishing_destination(guardduty, emulator):
    s3 = client(emulator.url, "s3")
    s3.create_bucket(Bucket="findings-bucket")
    key = client(emulator.url, "kms").create_key()["KeyMetadata"]["Arn"]
    detector_id = guardduty.create_detector(Enable=True)["DetectorId"]
    with pytest.raises(ClientError) as excinfo:  # no KMS key
        guardduty.create_publishing_destination(DetectorId=detector_id, DestinationType="S3",
                                                DestinationProperties={"DestinationArn": "arn:aws:s3:::findings-bucket"})
    assert error_code(excinfo) == "BadRequestException"
    with pytest.raises(ClientError):  # no such bucket
        guardduty.create_publishing_destination(
            DetectorId=detector_id, DestinationType="S3",
            DestinationProperties={"DestinationArn": "arn:aws:s3:::nope-bucket", "KmsKeyArn": key})
    properties = {"DestinationArn": "arn:aws:s3:::findings-bucket/guardduty", "KmsKeyArn": key}
    destination_id = guardduty.create_publishing_destination(
        DetectorId=detector_id, DestinationType="S3", DestinationProperties=properties)["DestinationId"]
    listed = guardduty.list_publishing_destinations(DetectorId=detector_id)["Destinations"]
    assert listed == [{"DestinationId": destination_id, "DestinationType": "S3", "Status": "PUBLISHING"}]
    described = guardduty.describe_publishing_destination(DetectorId=detector_id, DestinationId=destination_id)
    assert described["DestinationProperties"] == properties
    with pytest.raises(ClientError):  # one per detector
        guardduty.create_publishing_destination(DetectorId=detector_id, DestinationType="S3",
                                                DestinationProperties=properties)
    moved = {"DestinationArn": "arn:aws:s3:::findings-bucket/other", "KmsKeyArn": key}
    guardduty.update_publishing_destination(DetectorId=detector_id, DestinationId=destination_id,
                                            DestinationProperties=moved)
    assert guardduty.describe_publishing_destination(
        DetectorId=detector_id, DestinationId=destination_id)["DestinationProperties"] == moved
    guardduty.delete_publishing_destination(DetectorId=detector_id, DestinationId=destination_id)
    assert guardduty.list_publishing_destinations(DetectorId=detector_id)["Destinations"] == []


def test_unknown_detector(guardduty):
    with pytest.raises(ClientError) as excinfo:
        guardduty.get_detector(DetectorId="0" * 32)
    assert error_code(excinfo) == "BadRequestException"
