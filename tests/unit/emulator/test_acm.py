"""ACM certificates validated by DNS through the account's Route 53 zones, as ACM does."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError, WaiterError

from emulator.acm import validation_record
from tests.unit.emulator.shape_check import client, error_code, strict

LONG = 120  # no validation ends by itself while a test looks; the test settles it (POST /_emulator/settle)


@pytest.fixture
def acm(emulator):
    return strict(client(emulator.url, "acm"))


@pytest.fixture
def route53(emulator):
    return client(emulator.url, "route53")


def zone(route53, name="example.com", private=False):
    request = {"Name": name, "CallerReference": f"{name}-{time.time()}"}
    if private:
        request["HostedZoneConfig"] = {"PrivateZone": True, "Comment": "private"}
        request["VPC"] = {"VPCRegion": "us-east-1", "VPCId": "vpc-12345678"}
    return route53.create_hosted_zone(**request)["HostedZone"]["Id"]


def write(route53, zone_id, record, action="UPSERT"):
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{
        "Action": action, "ResourceRecordSet": {"Name": record["Name"], "Type": record["Type"], "TTL": 300,
                                                "ResourceRecords": [{"Value": record["Value"]}]}}]})


def describe(acm, arn):
    return acm.describe_certificate(CertificateArn=arn)["Certificate"]


def test_pending_until_every_validation_record_is_in_a_zone(acm, route53, emulator_client):
    emulator_client.configure(profile={"acm_certificate_validation": LONG})
    arn = acm.request_certificate(DomainName="app.example.com", ValidationMethod="DNS",
                                  SubjectAlternativeNames=["app.example.com", "*.app.example.com", "api.example.com"],
                                  KeyAlgorithm="EC_prime256v1")["CertificateArn"]
    cert = describe(acm, arn)
    assert cert["Status"] == "PENDING_VALIDATION" and cert["Type"] == "AMAZON_ISSUED"
    assert cert["KeyAlgorithm"] == "EC_prime256v1"
    assert not {"IssuedAt", "NotBefore", "NotAfter", "Serial"} & set(cert)
    options = {o["DomainName"]: o for o in cert["DomainValidationOptions"]}
    assert set(options) == {"app.example.com", "*.app.example.com", "api.example.com"}
    assert {o["ValidationStatus"] for o in options.values()} == {"PENDING_VALIDATION"}
    assert {o["ValidationMethod"] for o in options.values()} == {"DNS"}
    record = options["app.example.com"]["ResourceRecord"]
    # ACM's form; a wildcard shares its base name's record; another name has its own
    assert record["Type"] == "CNAME" and record["Name"].startswith("_") and record["Name"].endswith(".app.example.com.")
    assert record["Value"].endswith(".acm-validations.aws.") and len(record["Name"].split(".")[0]) == 33
    assert options["*.app.example.com"]["ResourceRecord"] == record
    assert options["api.example.com"]["ResourceRecord"]["Name"] != record["Name"]

    zone_id = zone(route53)
    write(route53, zone_id, record)
    assert describe(acm, arn)["Status"] == "PENDING_VALIDATION"  # api.example.com's record is missing
    # a record with another value does not validate
    wrong = dict(options["api.example.com"]["ResourceRecord"], Value="_0.example.acm-validations.aws.")
    write(route53, zone_id, wrong)
    assert describe(acm, arn)["Status"] == "PENDING_VALIDATION"
    write(route53, zone_id, options["api.example.com"]["ResourceRecord"])
    # found: ACM takes acm_certificate_validation seconds to issue
    assert describe(acm, arn)["Status"] == "PENDING_VALIDATION"
    emulator_client.settle()
    cert = describe(acm, arn)
    assert cert["Status"] == "ISSUED"
    assert {o["ValidationStatus"] for o in cert["DomainValidationOptions"]} == {"SUCCESS"}
    assert {"IssuedAt", "NotBefore", "NotAfter", "Serial"} <= set(cert)
    assert any(e["kind"] == "acm_certificate" and e["to"] == "ISSUED" for e in emulator_client.events())


def test_the_certificate_validated_waiter_and_instant_profile(acm, route53):
    arn = acm.request_certificate(DomainName="example.com", ValidationMethod="DNS")["CertificateArn"]
    waiter = acm.get_waiter("certificate_validated")
    with pytest.raises(WaiterError):
        waiter.wait(CertificateArn=arn, WaiterConfig={"Delay": 0, "MaxAttempts": 2})
    record = describe(acm, arn)["DomainValidationOptions"][0]["ResourceRecord"]
    write(route53, zone(route53), record)
    waiter.wait(CertificateArn=arn, WaiterConfig={"Delay": 0, "MaxAttempts": 2})
    assert describe(acm, arn)["Status"] == "ISSUED"


def test_a_private_zone_does_not_validate(acm, route53):
    arn = acm.request_certificate(DomainName="internal.example.com", ValidationMethod="DNS")["CertificateArn"]
    record = describe(acm, arn)["DomainValidationOptions"][0]["ResourceRecord"]
    write(route53, zone(route53, "internal.example.com", private=True), record)
    assert describe(acm, arn)["Status"] == "PENDING_VALIDATION"


def test_records_are_per_account_and_the_same_across_certificates(acm):
    first = acm.request_certificate(DomainName="example.com", ValidationMethod="DNS")["CertificateArn"]
    second = acm.request_certificate(DomainName="example.com", ValidationMethod="DNS",
                                     SubjectAlternativeNames=["example.com", "*.example.com"])["CertificateArn"]
    assert first != second
    record = describe(acm, first)["DomainValidationOptions"][0]["ResourceRecord"]
    assert all(o["ResourceRecord"] == record for o in describe(acm, second)["DomainValidationOptions"])
    # another account has its own record for the same domain
    account = first.split(":")[4]
    other = f"{(int(account) + 1) % 10**12:012d}"
    assert validation_record(account, "example.com") == record
    assert validation_record(other, "example.com")["Name"] != record["Name"]
    assert validation_record(account, "*.example.com") == record


def test_email_validation_stays_pending_and_lists_the_addresses(acm, route53):
    arn = acm.request_certificate(DomainName="mail.example.com")["CertificateArn"]
    option = describe(acm, arn)["DomainValidationOptions"][0]
    assert option["ValidationMethod"] == "EMAIL" and "ResourceRecord" not in option
    assert "admin@mail.example.com" in option["ValidationEmails"]


@pytest.mark.parametrize("request_args, field", [
    ({"DomainName": "-bad-.example.com"}, "domainName"),
    ({"DomainName": "example.com", "SubjectAlternativeNames": ["ex ample.com"]}, "domainName"),
    ({"DomainName": "example.com", "KeyAlgorithm": "RSA_8192"}, "keyAlgorithm"),
])
def test_request_checks_names_and_key_algorithm(acm, request_args, field):
    with pytest.raises(ClientError) as excinfo:
        acm.request_certificate(ValidationMethod="DNS", **request_args)
    assert error_code(excinfo) == "ValidationException" and field in str(excinfo.value)


def test_list_default_key_types_and_statuses(acm):
    rsa = acm.request_certificate(DomainName="rsa.example.com", ValidationMethod="DNS")["CertificateArn"]
    ec = acm.request_certificate(DomainName="ec.example.com", ValidationMethod="DNS",
                                 KeyAlgorithm="EC_secp384r1")["CertificateArn"]
    listed = [c["CertificateArn"] for c in acm.list_certificates()["CertificateSummaryList"]]
    assert rsa in listed and ec not in listed
    listed = acm.list_certificates(Includes={"keyTypes": ["EC_secp384r1"]},
                                   CertificateStatuses=["PENDING_VALIDATION"])["CertificateSummaryList"]
    assert [c["CertificateArn"] for c in listed] == [ec]


def test_delete_in_use_is_refused_until_the_listener_is_gone(acm, route53, emulator):
    arn = acm.request_certificate(DomainName="alb.example.com", ValidationMethod="DNS")["CertificateArn"]
    write(route53, zone(route53), describe(acm, arn)["DomainValidationOptions"][0]["ResourceRecord"])
    assert describe(acm, arn)["Status"] == "ISSUED"
    ec2 = client(emulator.url, "ec2")
    elbv2 = client(emulator.url, "elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]
               ["SubnetId"] for i, z in enumerate("ab")]
    balancer = elbv2.create_load_balancer(Name="tls", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    listener = elbv2.create_listener(LoadBalancerArn=balancer, Protocol="HTTPS", Port=443,
                                     Certificates=[{"CertificateArn": arn}],
                                     DefaultActions=[{"Type": "fixed-response",
                                                      "FixedResponseConfig": {"StatusCode": "404"}}])
    assert describe(acm, arn)["InUseBy"] == [balancer]
    summary = [c for c in acm.list_certificates()["CertificateSummaryList"] if c["CertificateArn"] == arn]
    assert summary[0]["InUse"] is True
    with pytest.raises(ClientError) as excinfo:
        acm.delete_certificate(CertificateArn=arn)
    assert error_code(excinfo) == "ResourceInUseException"
    elbv2.delete_listener(ListenerArn=listener["Listeners"][0]["ListenerArn"])
    acm.delete_certificate(CertificateArn=arn)
    with pytest.raises(ClientError) as excinfo:
        describe(acm, arn)
    assert error_code(excinfo) == "ResourceNotFoundException"


def test_an_idempotency_token_goes_with_its_deleted_certificate(acm):
    first = acm.request_certificate(DomainName="example.com", ValidationMethod="DNS",
                                    IdempotencyToken="abc123")["CertificateArn"]
    again = acm.request_certificate(DomainName="example.com", ValidationMethod="DNS",
                                    IdempotencyToken="abc123")["CertificateArn"]
    assert again == first  # a retry within the hour: the same certificate
    acm.delete_certificate(CertificateArn=first)
    after = acm.request_certificate(DomainName="example.com", ValidationMethod="DNS",
                                    IdempotencyToken="abc123")["CertificateArn"]
    assert after != first and describe(acm, after)["Status"] == "PENDING_VALIDATION"
