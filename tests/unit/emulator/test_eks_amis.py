"""EKS optimized AMI releases: the SSM public parameters, CreateNodegroup's default release, an unknown release
refused, a newer release published with the ``eks_ami_releases`` test control (emulator/eks_amis.py)."""

from __future__ import annotations

import json
import urllib.error

import pytest
from botocore.exceptions import ClientError

from emulator import eks_amis
from tests.unit.emulator.shape_check import client, error_code, make_network, make_roles, strict

ROLE = "arn:aws:iam::123456789012:role/eks-cluster"
NODE_ROLE = "arn:aws:iam::123456789012:role/eks-node"
RECOMMENDED = "/aws/service/eks/optimized-ami/{}/amazon-linux-2023/{}/{}/recommended/{}"


@pytest.fixture
def eks(emulator):
    return strict(client(emulator.url, "eks"))


@pytest.fixture
def ssm(emulator):
    return client(emulator.url, "ssm")


@pytest.fixture
def network(emulator):
    make_roles(client(emulator.url, "iam"), "eks-cluster", "eks-node")
    return make_network(client(emulator.url, "ec2"))


def test_ssm_answers_the_recommended_release_and_image_of_every_variant(ssm):
    name = RECOMMENDED.format("1.35", "x86_64", "standard", "release_version")
    parameter = ssm.get_parameter(Name=name)["Parameter"]
    assert parameter["ARN"] == f"arn:aws:ssm:us-east-1::parameter{name}"
    assert {k: parameter[k] for k in ("Name", "Type", "Value", "Version", "DataType")} == {
        "Name": name, "Type": "String", "Value": "1.35.0-20261118", "Version": 3, "DataType": "text"}
    assert parameter["LastModifiedDate"].strftime("%Y%m%d") == "20261118"
    for version in ("1.32", "1.33", "1.34", "1.35"):
        for arch, variant, ami_type in (("x86_64", "standard", "AL2023_x86_64_STANDARD"),
                                        ("arm64", "standard", "AL2023_ARM_64_STANDARD"),
                                        ("x86_64", "nvidia", "AL2023_x86_64_NVIDIA"),
                                        ("arm64", "nvidia", "AL2023_ARM_64_NVIDIA")):
            names = [RECOMMENDED.format(version, arch, variant, leaf) for leaf in ("release_version", "image_id")]
            found = {p["Name"]: p["Value"] for p in ssm.get_parameters(Names=names)["Parameters"]}
            release = eks_amis.BUILTIN_RELEASES[version][-1]
            assert found == {names[0]: release, names[1]: eks_amis.image_id(ami_type, release, "us-east-1")}
    old = "/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/standard/" \
          "amazon-eks-node-al2023-x86_64-standard-1.35-v20261021/image_id"
    assert ssm.get_parameter(Name=old)["Parameter"]["Value"] == eks_amis.image_id(
        "AL2023_x86_64_STANDARD", "1.35.0-20261021", "us-east-1")
    bottlerocket = ssm.get_parameters_by_path(Path="/aws/service/bottlerocket/aws-k8s-1.35/x86_64",
                                              Recursive=True)["Parameters"]
    assert {p["Name"].rsplit("/", 1)[1]: p["Value"] for p in bottlerocket}["image_version"] == \
        eks_amis.BOTTLEROCKET_VERSION
    by_path = ssm.get_parameters_by_path(Path="/aws/service/eks/optimized-ami/1.34/amazon-linux-2023/arm64/nvidia/"
                                              "recommended")["Parameters"]
    assert sorted(p["Name"].rsplit("/", 1)[1] for p in by_path) == ["image_id", "release_version"]


def test_unknown_public_parameters_are_not_found(ssm):
    with pytest.raises(ClientError) as excinfo:
        ssm.get_parameter(Name=RECOMMENDED.format("1.29", "x86_64", "standard", "release_version"))
    assert error_code(excinfo) == "ParameterNotFound"
    known, unknown = (RECOMMENDED.format("1.34", "x86_64", "standard", "image_id"),
                      RECOMMENDED.format("1.34", "x86_64", "gpu", "image_id"))
    answer = ssm.get_parameters(Names=[known, unknown])
    assert [p["Name"] for p in answer["Parameters"]] == [known]
    assert answer["InvalidParameters"] == [unknown]


def test_a_published_release_becomes_the_latest_in_ssm_and_for_new_node_groups(eks, ssm, network, emulator_client):
    eks.create_cluster(name="demo", roleArn=ROLE, resourcesVpcConfig={"subnetIds": network["subnets"]})
    before = eks.create_nodegroup(clusterName="demo", nodegroupName="before", nodeRole=NODE_ROLE,
                                  subnets=network["subnets"])["nodegroup"]
    assert before["releaseVersion"] == "1.35.0-20261118"
    name = RECOMMENDED.format("1.35", "x86_64", "standard", "release_version")

    emulator_client.set_test_controls(eks_ami_releases={"1.35": "1.35.0-20261215"})
    parameter = ssm.get_parameter(Name=name)["Parameter"]
    assert (parameter["Value"], parameter["Version"]) == ("1.35.0-20261215", 4)
    assert ssm.get_parameter(Name=RECOMMENDED.format("1.35", "x86_64", "standard", "image_id"))["Parameter"][
        "Value"] == eks_amis.image_id("AL2023_x86_64_STANDARD", "1.35.0-20261215", "us-east-1")
    assert ssm.get_parameter(Name=RECOMMENDED.format("1.34", "x86_64", "standard", "release_version"))[
        "Parameter"]["Value"] == "1.34.2-20261118"  # other versions keep theirs
    after = eks.create_nodegroup(clusterName="demo", nodegroupName="after", nodeRole=NODE_ROLE,
                                 subnets=network["subnets"])["nodegroup"]
    assert after["releaseVersion"] == "1.35.0-20261215"
    assert eks.describe_nodegroup(clusterName="demo", nodegroupName="before")["nodegroup"]["releaseVersion"] == \
        "1.35.0-20261118"  # behind until it is updated
    earlier = eks.create_nodegroup(clusterName="demo", nodegroupName="earlier", nodeRole=NODE_ROLE,
                                   subnets=network["subnets"], releaseVersion="1.35.0-20261104")["nodegroup"]
    assert earlier["releaseVersion"] == "1.35.0-20261104"


def test_an_unknown_release_version_is_refused(eks, network):
    eks.create_cluster(name="demo", roleArn=ROLE, resourcesVpcConfig={"subnetIds": network["subnets"]})
    for release in ("1.35.0-20200101", "1.34.2-20261118", "1.35.0-20261215"):
        with pytest.raises(ClientError) as excinfo:
            eks.create_nodegroup(clusterName="demo", nodegroupName="workers", nodeRole=NODE_ROLE,
                                 subnets=network["subnets"], releaseVersion=release)
        assert error_code(excinfo) == "InvalidParameterException"
        assert excinfo.value.response["Error"]["Message"] == \
            f"Requested release version {release} is not valid for kubernetes version 1.35."
    eks.create_nodegroup(clusterName="demo", nodegroupName="workers", nodeRole=NODE_ROLE, subnets=network["subnets"],
                         releaseVersion="1.35.0-20261021")
    with pytest.raises(ClientError) as excinfo:
        eks.update_nodegroup_version(clusterName="demo", nodegroupName="workers", releaseVersion="1.35.0-20261216")
    assert error_code(excinfo) == "InvalidParameterException"
    assert excinfo.value.response["Error"]["Message"] == \
        "Requested release version 1.35.0-20261216 is not valid for kubernetes version 1.35."


def test_the_release_control_is_validated(emulator_client):
    for bad in ({"1.35": "1.35.0-20261118"}, {"1.35": "1.34.2-20261215"}, {"1.99": "1.99.0-20261215"},
                {"1.35": "20261215"}, ["1.35.0-20261215"]):
        with pytest.raises(urllib.error.HTTPError) as excinfo:
            emulator_client.set_test_controls(eks_ami_releases=bad)
        assert excinfo.value.code == 400
        assert "eks_ami_releases" in json.loads(excinfo.value.read())["error"]
    assert emulator_client.set_test_controls(eks_ami_releases={"1.34": "1.34.3-20261202"})["eks_ami_releases"] == \
        {"1.34": "1.34.3-20261202"}
