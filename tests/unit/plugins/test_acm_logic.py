"""Pure logic of llmhub.eks.acm_certificate: names, identity, validation records, zones."""

from __future__ import annotations

from ansible_collections.llmhub.eks.plugins.module_utils.acm import (bad_domain_names, certificate_names,
                                                                      hosted_zone_id, idempotency_token, matches,
                                                                      names_outside_zone, pick, record_changes,
                                                                      validation_records)

RECORD = {"Name": "_aa.example.com.", "Type": "CNAME", "Value": "_bb.xyz.acm-validations.aws."}


def described(**extra):
    return {"CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/1", "Type": "AMAZON_ISSUED",
            "DomainName": "example.com", "SubjectAlternativeNames": ["example.com", "*.example.com"],
            "KeyAlgorithm": "RSA-2048", "Status": "ISSUED", **extra}


def test_domain_names_follow_acms_pattern():
    assert bad_domain_names(["example.com", "*.example.com", "a-b.c.example.com"]) == []
    assert bad_domain_names(["example", "-a.example.com", "a_b.example.com", "*.*.example.com", "a" * 250 + ".com"]) \
        == ["example", "-a.example.com", "a_b.example.com", "*.*.example.com", "a" * 250 + ".com"]


def test_names_and_token_ignore_order_case_and_the_repeated_domain():
    assert certificate_names("Example.com.", ["example.com", "*.example.com"]) == ["example.com", "*.example.com"]
    token = idempotency_token("example.com", ["*.example.com", "api.example.com"], "RSA_2048", "tls")
    assert token == idempotency_token("example.com", ["api.example.com", "*.example.com", "example.com"],
                                      "RSA_2048", "tls")
    assert len(token) == 32 and token.isalnum()
    assert token != idempotency_token("example.com", ["*.example.com"], "RSA_2048", "tls")
    assert token != idempotency_token("example.com", ["*.example.com", "api.example.com"], "EC_prime256v1", "tls")
    # each module run's own nonce: a later run is a new request
    assert idempotency_token("example.com", [], "RSA_2048", "tls", nonce="a") != idempotency_token(
        "example.com", [], "RSA_2048", "tls", nonce="b")


def test_matches_names_key_algorithm_and_name_tag():
    names = ["example.com", "*.example.com"]
    assert matches(described(), "example.com", names, "RSA_2048", "tls", {"Name": "tls"})
    assert not matches(described(), "example.com", names, "RSA_2048", "tls", {"Name": "other"})
    assert matches(described(), "example.com", names, "RSA_2048", None, {})
    assert not matches(described(), "example.com", ["example.com"], "RSA_2048", None, {})
    assert not matches(described(), "example.com", names, "EC_prime256v1", None, {})
    assert not matches(described(Type="IMPORTED"), "example.com", names, "RSA_2048", None, {})


def test_pick_prefers_issued_then_newest():
    pending = described(Status="PENDING_VALIDATION", CreatedAt="2026-12-03T10:00:00")
    old = described(CertificateArn="old", CreatedAt="2026-01-01T00:00:00")
    new = described(CertificateArn="new", CreatedAt="2026-06-01T00:00:00")
    assert pick([pending, old, new])["CertificateArn"] == "new"
    assert pick([]) is None


def test_validation_records_one_per_record_none_until_published():
    options = [{"DomainName": "example.com", "ValidationMethod": "DNS", "ValidationStatus": "SUCCESS",
                "ResourceRecord": RECORD},
               {"DomainName": "*.example.com", "ValidationMethod": "DNS", "ValidationStatus": "PENDING_VALIDATION",
                "ResourceRecord": RECORD}]
    assert validation_records({"DomainValidationOptions": options}) == [{
        "name": RECORD["Name"], "type": "CNAME", "value": RECORD["Value"], "domains": ["example.com", "*.example.com"],
        "validation_status": "PENDING_VALIDATION"}]
    options[1] = {k: v for k, v in options[1].items() if k != "ResourceRecord"}
    assert validation_records({"DomainValidationOptions": options}) is None


def test_zones_ids_names_and_what_is_outside():
    assert hosted_zone_id("Z0123456789ABC") == "Z0123456789ABC"
    assert hosted_zone_id("/hostedzone/Z0123456789ABC") == "Z0123456789ABC"
    assert hosted_zone_id("example.com") is None
    assert names_outside_zone(["example.com", "*.example.com", "api.example.org"], "example.com.") == ["api.example.org"]
    assert names_outside_zone(["*.llm.example.com"], "llm.example.com") == []


def test_record_changes_only_for_missing_or_different_values():
    records = [{"name": RECORD["Name"], "type": "CNAME", "value": RECORD["Value"]},
               {"name": "_cc.api.example.com.", "type": "CNAME", "value": "_dd.xyz.acm-validations.aws."}]
    existing = {"_aa.example.com": "_BB.xyz.acm-validations.aws", "_cc.api.example.com": "_old.acm-validations.aws."}
    assert record_changes(records, existing, 300) == [{"Action": "UPSERT", "ResourceRecordSet": {
        "Name": "_cc.api.example.com.", "Type": "CNAME", "TTL": 300,
        "ResourceRecords": [{"Value": "_dd.xyz.acm-validations.aws."}]}}]
