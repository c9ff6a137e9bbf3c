"""llmhub.eks.acm_certificate against the emulator (ACM issues once the validation CNAMEs are in Route 53)."""

from __future__ import annotations

import time

import pytest

from .conftest import KNOWN_AFTER_APPLY

pytestmark = pytest.mark.integration

MODULE = "llmhub.eks.acm_certificate"
DOMAIN = "llm-analytics.example.com"
SANS = ["*.llm-analytics.example.com", "api.llm-analytics.example.com"]
TAGS = {"Project": "llm-analytics-hub", "llmhub.io/cluster": "hub-test"}
# Writing calls of ACM and Route 53 (the request log's operations)
WRITES = ("RequestCertificate", "DeleteCertificate", "AddTagsToCertificate", "RemoveTagsFromCertificate",
          "ChangeResourceRecordSets")


def certificate_task(name="certificate", **options):
    keywords = {key: options.pop(key) for key in ("check_mode", "diff", "ignore_errors") if key in options}
    args = {"domain_name": DOMAIN, "subject_alternative_names": SANS, "name": "hub-test-tls",
            "hosted_zone": "example.com", "tags": TAGS, "wait_timeout": 60, **options}
    return {"name": name, MODULE: args, **keywords}


def writes(control, services=("acm", "route53")):
    return [f"{e['service']}:{e['operation']}" for e in control.requests()
            if e["service"] in services and e["operation"] in WRITES]


def zone(boto, name="example.com"):
    return boto("route53").create_hosted_zone(Name=name, CallerReference=f"{name}-{time.time()}")["HostedZone"]["Id"]


def cnames(boto, zone_id):
    sets = boto("route53").list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return {s["Name"]: s["ResourceRecords"][0]["Value"] for s in sets if s["Type"] == "CNAME"}


def test_certificate_lifecycle_through_a_zone(fresh_account, run_tasks, boto):
    acm = boto("acm")
    zone_id = zone(boto)
    first = run_tasks([certificate_task("plan", check_mode=True, diff=True), certificate_task("create", diff=True)])
    assert first.rc == 0, first.failure_messages()
    plan, created = first.task_results()["plan"], first.task_results()["create"]
    assert plan["changed"] and plan["certificate"]["arn"] == KNOWN_AFTER_APPLY
    assert plan["diff"]["before"] == {} and plan["diff"]["after"]["domain_name"] == DOMAIN
    assert plan["actions"][0] == f"request certificate for {DOMAIN}, {', '.join(SANS)}"
    assert plan["hosted_zone_id"] == zone_id.split("/")[-1]
    # check mode wrote nothing: one request and one record change, from the real run
    assert writes(fresh_account) == ["acm:RequestCertificate", "route53:ChangeResourceRecordSets"]

    certificate = created["certificate"]
    assert created["changed"] and certificate["status"] == "ISSUED"
    assert created["actions"] == [f"request certificate for {DOMAIN}, {', '.join(SANS)}",
                                  "write 2 validation record(s) into example.com",
                                  "wait until ACM issues the certificate"]
    described = acm.describe_certificate(CertificateArn=certificate["arn"])["Certificate"]
    assert described["Status"] == "ISSUED" and described["KeyAlgorithm"] == "RSA_2048"
    assert sorted(described["SubjectAlternativeNames"]) == sorted([DOMAIN, *SANS])
    tags = {t["Key"]: t["Value"] for t in acm.list_tags_for_certificate(CertificateArn=certificate["arn"])["Tags"]}
    assert tags == {**TAGS, "Name": "hub-test-tls"}
    # the domain and its wildcard share one record; api.* has its own: both in the zone with ACM's values
    records = certificate["validation_records"]
    assert len(records) == 2 and sorted(records[0]["domains"] + records[1]["domains"]) == sorted([DOMAIN, *SANS])
    assert cnames(boto, zone_id) == {r["name"]: r["value"] for r in records}
    assert {r["validation_status"] for r in records} == {"SUCCESS"}

    # Second run (and a check-mode one): the same certificate, nothing written
    fresh_account.clear_requests()
    again = run_tasks([certificate_task("check", check_mode=True, diff=True), certificate_task("again")])
    assert again.rc == 0, again.failure_messages()
    for name in ("check", "again"):
        result = again.task_results()[name]
        assert not result["changed"] and result["actions"] == [], result["actions"]
        assert result["certificate"]["arn"] == certificate["arn"]
        assert result["diff"]["before"] == result["diff"]["after"]
    assert writes(fresh_account) == []

    # A tag changed: only the tags are written
    fresh_account.clear_requests()
    retag = run_tasks([certificate_task("retag", tags={"Project": "llm-analytics-hub"})])
    assert retag.rc == 0 and retag.task_results()["retag"]["actions"] == ["untag certificate llmhub.io/cluster"]
    assert writes(fresh_account) == ["acm:RemoveTagsFromCertificate"]

    # Other names: ACM cannot change them; a new certificate, the older one named in superseded and kept
    wider = run_tasks([certificate_task("wider", subject_alternative_names=[*SANS, "www.llm-analytics.example.com"])])
    assert wider.rc == 0, wider.failure_messages()
    result = wider.task_results()["wider"]
    assert result["certificate"]["arn"] != certificate["arn"] and result["certificate"]["status"] == "ISSUED"
    assert result["superseded"] == [certificate["arn"]]

    # absent: both certificates of the name go, and their records (no other certificate of the account uses them)
    fresh_account.clear_requests()
    gone = run_tasks([certificate_task("plan absent", state="absent", check_mode=True),
                      certificate_task("absent", state="absent"), certificate_task("absent again", state="absent")])
    assert gone.rc == 0, gone.failure_messages()
    assert gone.task_results()["plan absent"]["changed"]
    assert sorted(gone.task_results()["absent"]["actions"]) == sorted(
        [f"delete certificate {certificate['arn']}", f"delete certificate {result['certificate']['arn']}",
         "delete 3 validation record(s) from example.com"])
    assert not gone.task_results()["absent again"]["changed"]
    assert writes(fresh_account) == ["acm:DeleteCertificate", "acm:DeleteCertificate",
                                     "route53:ChangeResourceRecordSets"]
    assert acm.list_certificates(Includes={"keyTypes": ["RSA_2048"]})["CertificateSummaryList"] == []
    assert cnames(boto, zone_id) == {}


def test_without_a_zone_the_records_are_returned_and_the_wait_names_them(fresh_account, run_tasks, boto):
    runs = run_tasks([certificate_task("no wait", hosted_zone=None, wait=False, key_algorithm="EC_prime256v1"),
                      certificate_task("wait", hosted_zone=None, wait_timeout=2, key_algorithm="EC_prime256v1",
                                       ignore_errors=True)])
    no_wait, waited = runs.task_results()["no wait"], runs.task_results()["wait"]
    assert no_wait["changed"] and no_wait["certificate"]["status"] == "PENDING_VALIDATION"
    assert no_wait["certificate"]["key_algorithm"] == "EC_prime256v1" and no_wait["hosted_zone_id"] is None
    records = no_wait["certificate"]["validation_records"]
    assert records and all(r["value"].endswith(".acm-validations.aws.") for r in records)
    assert waited["failed"] and "still PENDING_VALIDATION" in waited["msg"] and records[0]["name"] in waited["msg"]
    assert writes(fresh_account) == ["acm:RequestCertificate"], "the second task found the first one's certificate"

    # the records made by hand in a zone of the account: the next run finds the certificate issued
    zone_id = zone(boto)
    boto("route53").change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{
        "Action": "UPSERT", "ResourceRecordSet": {"Name": r["name"], "Type": "CNAME", "TTL": 300,
                                                  "ResourceRecords": [{"Value": r["value"]}]}} for r in records]})
    later = run_tasks([certificate_task("later", hosted_zone=None, key_algorithm="EC_prime256v1")])
    assert later.rc == 0, later.failure_messages()
    assert later.task_results()["later"]["certificate"]["status"] == "ISSUED"
    assert later.task_results()["later"]["certificate"]["arn"] == no_wait["certificate"]["arn"]


@pytest.mark.parametrize("options, message", [
    ({"domain_name": "llm_analytics.example.com"}, "must be fully qualified domain names"),
    ({"subject_alternative_names": [f"n{i}.example.com" for i in range(10)]}, "at most 10 names"),
    ({"hosted_zone": "nowhere.example.org"}, "no public Route 53 hosted zone named nowhere.example.org"),
    ({"hosted_zone": "other.example.net"}, "would not be inside the zone other.example.net"),
])
def test_bad_input_fails_before_any_write(fresh_account, run_tasks, boto, options, message):
    zone(boto, "other.example.net")
    fresh_account.clear_requests()
    run = run_tasks([certificate_task("bad", ignore_errors=True, **options)])
    result = run.task_results()["bad"]
    assert result["failed"] and message in result["msg"], result["msg"]
    if "domain_name" in options or "subject_alternative_names" in options:
        assert fresh_account.requests() == [], "checked before any AWS call"
    assert writes(fresh_account) == []
