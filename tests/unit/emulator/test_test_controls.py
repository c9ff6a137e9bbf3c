"""Service Quotas, EKS cluster versions, instance type offerings and Regions, with the test controls."""

from __future__ import annotations

import urllib.error

import pytest
from botocore.exceptions import ClientError

from tests.unit.emulator.shape_check import client, error_code, make_network, make_roles, strict


@pytest.fixture
def quotas(emulator):
    return strict(client(emulator.url, "service-quotas"))


def test_quotas_answer_applied_then_default_values(quotas, emulator_client):
    default = quotas.get_aws_default_service_quota(ServiceCode="ec2", QuotaCode="L-1216C47A")["Quota"]
    assert default["Value"] == 5.0 and default["QuotaName"].startswith("Running On-Demand Standard")
    assert quotas.get_service_quota(ServiceCode="ec2", QuotaCode="L-1216C47A")["Quota"]["Value"] == 256.0
    assert quotas.get_service_quota(ServiceCode="vpc", QuotaCode="L-F678F1CE")["Quota"]["Value"] == 5.0
    emulator_client.set_test_controls(applied_quotas={"vpc/L-F678F1CE": 12, "ec2/L-0263D0A3": 2})
    assert quotas.get_service_quota(ServiceCode="vpc", QuotaCode="L-F678F1CE")["Quota"]["Value"] == 12.0
    assert quotas.get_service_quota(ServiceCode="ec2", QuotaCode="L-0263D0A3")["Quota"]["Value"] == 2.0
    assert quotas.get_aws_default_service_quota(ServiceCode="ec2", QuotaCode="L-0263D0A3")["Quota"]["Value"] == 5.0
    with pytest.raises(ClientError) as excinfo:
        quotas.get_service_quota(ServiceCode="ec2", QuotaCode="L-00000000")
    assert error_code(excinfo) == "NoSuchResourceException"
    emulator_client.reset()  # applied quotas are account state
    assert quotas.get_service_quota(ServiceCode="vpc", QuotaCode="L-F678F1CE")["Quota"]["Value"] == 5.0


def test_service_quotas_can_be_denied(quotas, emulator_client):
    emulator_client.set_test_controls(service_quotas_error="AccessDeniedException")
    with pytest.raises(ClientError) as excinfo:
        quotas.get_aws_default_service_quota(ServiceCode="vpc", QuotaCode="L-F678F1CE")
    assert error_code(excinfo) == "AccessDeniedException"
    assert "servicequotas:GetAWSDefaultServiceQuota" in str(excinfo.value)


def test_cluster_versions_as_eks_lists_them(emulator, emulator_client):
    eks = strict(client(emulator.url, "eks"))
    listed = eks.describe_cluster_versions()["clusterVersions"]
    assert [(v["clusterVersion"], v["versionStatus"]) for v in listed] == [
        ("1.35", "STANDARD_SUPPORT"), ("1.34", "STANDARD_SUPPORT"), ("1.33", "EXTENDED_SUPPORT"),
        ("1.32", "EXTENDED_SUPPORT")]
    assert [v["clusterVersion"] for v in listed if v["defaultVersion"]] == ["1.35"]
    everything = eks.get_paginator("describe_cluster_versions").paginate(
        includeAll=True, PaginationConfig={"PageSize": 2}).build_full_result()["clusterVersions"]
    assert [v["clusterVersion"] for v in everything][-3:] == ["1.31", "1.30", "1.29"]
    assert {v["status"] for v in everything if v["clusterVersion"] == "1.31"} == {"unsupported"}
    emulator_client.set_test_controls(eks_version_status={"1.32": "UNSUPPORTED"})
    assert "1.32" not in [v["clusterVersion"] for v in eks.describe_cluster_versions()["clusterVersions"]]
    make_roles(client(emulator.url, "iam"), "eks-cluster")
    network = make_network(client(emulator.url, "ec2"))
    with pytest.raises(ClientError) as excinfo:
        eks.create_cluster(name="old", version="1.32", roleArn="arn:aws:iam::123456789012:role/eks-cluster",
                           resourcesVpcConfig={"subnetIds": network["subnets"]})
    assert error_code(excinfo) == "InvalidParameterException"


def test_offerings_page_and_leave_out_unoffered_types(emulator, emulator_client):
    ec2 = client(emulator.url, "ec2")

    def zones_of(instance_type):
        pages = ec2.get_paginator("describe_instance_type_offerings").paginate(
            LocationType="availability-zone", Filters=[{"Name": "instance-type", "Values": [instance_type]}],
            PaginationConfig={"PageSize": 5})
        return sorted(o["Location"] for o in pages.build_full_result()["InstanceTypeOfferings"])

    assert zones_of("m5.xlarge") == ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1f"]
    first = ec2.describe_instance_type_offerings(LocationType="availability-zone", MaxResults=5)
    assert len(first["InstanceTypeOfferings"]) == 5 and first["NextToken"]
    emulator_client.set_test_controls(unoffered_instance_types={"us-east-1c": ["m5.xlarge"]})
    assert zones_of("m5.xlarge") == ["us-east-1a", "us-east-1b", "us-east-1d", "us-east-1f"]


def test_a_disabled_region_refuses_calls_and_is_reported_not_opted_in(emulator, emulator_client):
    emulator_client.set_test_controls(disabled_regions=["ap-east-1"])
    ec2 = client(emulator.url, "ec2")
    assert "ap-east-1" not in [r["RegionName"] for r in ec2.describe_regions()["Regions"]]
    status = ec2.describe_regions(AllRegions=True, RegionNames=["ap-east-1"])["Regions"][0]["OptInStatus"]
    assert status == "not-opted-in"
    with pytest.raises(ClientError) as excinfo:
        client(emulator.url, "sts", region_name="ap-east-1").get_caller_identity()
    assert error_code(excinfo) == "InvalidClientTokenId"
    with pytest.raises(ClientError) as excinfo:
        client(emulator.url, "ec2", region_name="ap-east-1").describe_availability_zones()
    assert error_code(excinfo) == "AuthFailure"


def test_unknown_or_invalid_controls_are_refused_whole(emulator_client):
    for bad in ({"bogus": 1}, {"applied_quotas": {"L-F678F1CE": 1}}, {"eks_version_status": {"1.32": "ENDED"}}):
        with pytest.raises(urllib.error.HTTPError) as excinfo:
            emulator_client.set_test_controls(**bad)
        assert excinfo.value.code == 400
    assert emulator_client.test_controls()["applied_quotas"] == {}
