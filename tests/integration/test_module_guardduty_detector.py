"""llmhub.eks.guardduty_detector against the emulator, asserted through boto3."""

from __future__ import annotations

import pytest

from .conftest import KNOWN_AFTER_APPLY, mutating_calls

pytestmark = pytest.mark.integration

MODULE = "llmhub.eks.guardduty_detector"
TAGS = {"Project": "llm-analytics-hub", "llmhub.io/cluster": "hub-test"}
EKS_FEATURES = [
    {"name": "EKS_AUDIT_LOGS"},
    {"name": "EKS_RUNTIME_MONITORING", "additional_configuration": [{"name": "EKS_ADDON_MANAGEMENT"}]},
]


def detector_task(name="detector", **options):
    keywords = {key: options.pop(key) for key in ("check_mode", "diff", "ignore_errors") if key in options}
    args = {"features": EKS_FEATURES, "tags": TAGS, **options}
    return {"name": name, MODULE: args, **keywords}


def features(guardduty, detector_id):
    flat = {}
    for feature in guardduty.get_detector(DetectorId=detector_id)["Features"]:
        flat[feature["Name"]] = feature["Status"]
        for extra in feature.get("AdditionalConfiguration", []):
            flat[f"{feature['Name']}/{extra['Name']}"] = extra["Status"]
    return flat


def test_detector_lifecycle(fresh_account, run_tasks, boto):
    guardduty = boto("guardduty")
    first = run_tasks([detector_task("plan", check_mode=True, diff=True), detector_task("create", diff=True)])
    assert first.rc == 0, first.failure_messages()
    plan, created = first.task_results()["plan"], first.task_results()["create"]
    assert plan["changed"] and plan["detector"]["detector_id"] == KNOWN_AFTER_APPLY and not plan["adopted"]
    assert plan["diff"]["before"] == {}
    assert plan["diff"]["after"]["features"] == {"EKS_AUDIT_LOGS": "ENABLED", "EKS_RUNTIME_MONITORING": "ENABLED",
                                                 "EKS_RUNTIME_MONITORING/EKS_ADDON_MANAGEMENT": "ENABLED"}
    assert mutating_calls(fresh_account) == ["guardduty:CreateDetector"], "check mode must not create"
    ids = guardduty.list_detectors()["DetectorIds"]
    assert ids == [created["detector"]["detector_id"]]
    current = features(guardduty, ids[0])
    assert current["EKS_AUDIT_LOGS"] == current["EKS_RUNTIME_MONITORING"] == "ENABLED"
    assert current["EKS_RUNTIME_MONITORING/EKS_ADDON_MANAGEMENT"] == "ENABLED"
    assert guardduty.get_detector(DetectorId=ids[0])["Status"] == "ENABLED"
    assert guardduty.list_tags_for_resource(ResourceArn=created["detector"]["arn"])["Tags"] == TAGS

    # Second run: nothing to do, no mutating call.
    fresh_account.clear_requests()
    again = run_tasks([detector_task()])
    assert again.rc == 0 and not again.task_results()["detector"]["changed"]
    assert again.task_results()["detector"]["adopted"]
    assert mutating_calls(fresh_account) == []

    # A feature turned off, then on again: only that feature is sent, the other stays as it is.
    fresh_account.clear_requests()
    off = [{"name": "EKS_RUNTIME_MONITORING", "status": "DISABLED"}]
    runs = run_tasks([detector_task("check off", features=off, check_mode=True, diff=True),
                      detector_task("off", features=off)])
    assert runs.rc == 0, runs.failure_messages()
    check = runs.task_results()["check off"]
    assert check["diff"]["before"]["features"] == {"EKS_RUNTIME_MONITORING": "ENABLED"}
    assert check["diff"]["after"]["features"] == {"EKS_RUNTIME_MONITORING": "DISABLED"}
    assert runs.task_results()["off"]["actions"] == ["disable feature EKS_RUNTIME_MONITORING"]
    assert mutating_calls(fresh_account) == ["guardduty:UpdateDetector"]
    current = features(guardduty, ids[0])
    assert current["EKS_RUNTIME_MONITORING"] == "DISABLED" and current["EKS_AUDIT_LOGS"] == "ENABLED"
    on = run_tasks([detector_task("on")])
    assert on.rc == 0 and on.task_results()["on"]["changed"]
    assert features(guardduty, ids[0])["EKS_RUNTIME_MONITORING"] == "ENABLED"
    assert guardduty.list_detectors()["DetectorIds"] == ids, "never a second detector"

    # Tags: new ones added, others (another cluster's) kept unless purge_tags.
    guardduty.tag_resource(ResourceArn=created["detector"]["arn"], Tags={"other": "x"})
    kept = run_tasks([detector_task("tags", tags={**TAGS, "Environment": "prod"})])
    assert kept.rc == 0 and kept.task_results()["tags"]["changed"]
    assert guardduty.list_tags_for_resource(ResourceArn=created["detector"]["arn"])["Tags"] == {
        **TAGS, "Environment": "prod", "other": "x"}


def test_adopts_an_existing_detector_and_exports_findings(fresh_account, run_tasks, boto):
    guardduty, s3 = boto("guardduty"), boto("s3")
    existing = guardduty.create_detector(Enable=False, FindingPublishingFrequency="ONE_HOUR",
                                         Features=[{"Name": "S3_DATA_EVENTS", "Status": "ENABLED"}])["DetectorId"]
    s3.create_bucket(Bucket="llmhub-artifacts-test")
    key = boto("kms").create_key()["KeyMetadata"]["Arn"]
    export = {"destination_arn": "arn:aws:s3:::llmhub-artifacts-test/guardduty", "kms_key_arn": key}
    fresh_account.clear_requests()
    run = run_tasks([detector_task("adopt", publishing_destination=export, diff=True),
                     detector_task("again", publishing_destination=export)])
    assert run.rc == 0, run.failure_messages()
    adopt, again = run.task_results()["adopt"], run.task_results()["again"]
    assert adopt["adopted"] and adopt["detector"]["detector_id"] == existing
    assert "enable detector" in adopt["actions"]
    assert not again["changed"]
    assert "guardduty:CreateDetector" not in mutating_calls(fresh_account)
    assert guardduty.list_detectors()["DetectorIds"] == [existing]
    detector = guardduty.get_detector(DetectorId=existing)
    assert detector["Status"] == "ENABLED" and detector["FindingPublishingFrequency"] == "ONE_HOUR"
    flat = features(guardduty, existing)
    assert flat["S3_DATA_EVENTS"] == "ENABLED", "features the task does not name are left as they are"
    assert flat["EKS_AUDIT_LOGS"] == "ENABLED"
    destinations = guardduty.list_publishing_destinations(DetectorId=existing)["Destinations"]
    assert len(destinations) == 1
    described = guardduty.describe_publishing_destination(DetectorId=existing,
                                                          DestinationId=destinations[0]["DestinationId"])
    assert described["DestinationProperties"] == {"DestinationArn": export["destination_arn"], "KmsKeyArn": key}

    removed = run_tasks([detector_task("no export", publishing_destination={"state": "absent"})])
    assert removed.rc == 0 and removed.task_results()["no export"]["changed"]
    assert guardduty.list_publishing_destinations(DetectorId=existing)["Destinations"] == []

    bad = run_tasks([detector_task("bad", features=[{"name": "EKS_AUDIT_LOGS"}, {"name": "EKS_AUDIT_LOGS"}],
                                   ignore_errors=True)])
    assert "EKS_AUDIT_LOGS given more than once" in bad.task_results()["bad"]["msg"]
