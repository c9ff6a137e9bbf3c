"""EKS add-ons: catalogue, lifecycle, DEGRADED without nodes, updates, validation."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from emulator.eks_addons import CATALOGUE
from emulator.eks_common import SUPPORTED_VERSIONS
from tests.unit.emulator.shape_check import client, error_code, make_network, make_roles, strict, wait_until

LONG = 120  # no transition ends by itself while a test looks; the test settles it (POST /_emulator/settle)

ROLE = "arn:aws:iam::123456789012:role/eks-cluster"
NODE_ROLE = "arn:aws:iam::123456789012:role/eks-node"
ADDON_ROLE = "arn:aws:iam::123456789012:role/ebs-csi"


@pytest.fixture
def eks(emulator):
    return strict(client(emulator.url, "eks"))


@pytest.fixture
def network(emulator):
    """A VPC with two subnets, and the IAM roles the tests use."""
    make_roles(client(emulator.url, "iam"), "eks-cluster", "eks-node")
    return make_network(client(emulator.url, "ec2"))


@pytest.fixture
def cluster(eks, network):
    eks.create_cluster(name="demo", roleArn=ROLE, version="1.34", resourcesVpcConfig={"subnetIds": network["subnets"]})
    return "demo"


def addon(eks, name, cluster="demo"):
    return eks.describe_addon(clusterName=cluster, addonName=name)["addon"]


def test_describe_addon_versions(eks):
    everything = eks.describe_addon_versions()["addons"]
    assert {info["addonName"] for info in everything} == set(CATALOGUE)
    for info in everything:
        for version in SUPPORTED_VERSIONS:
            defaults = [v["addonVersion"] for v in info["addonVersions"] for c in v["compatibilities"]
                        if c["clusterVersion"] == version and c["defaultVersion"]]
            assert len(defaults) == 1, (info["addonName"], version, defaults)

    coredns = eks.describe_addon_versions(addonName="coredns", kubernetesVersion="1.35")["addons"]
    assert [info["addonName"] for info in coredns] == ["coredns"]
    versions = coredns[0]["addonVersions"]
    assert [v["addonVersion"] for v in versions] == ["v1.13.1-eksbuild.1"]
    assert versions[0]["compatibilities"] == [
        {"clusterVersion": "1.35", "platformVersions": ["*"], "defaultVersion": True},
        {"clusterVersion": "1.34", "platformVersions": ["*"], "defaultVersion": False}]

    page = eks.describe_addon_versions(maxResults=2)
    assert len(page["addons"]) == 2 and page["nextToken"]
    rest = eks.describe_addon_versions(maxResults=10, nextToken=page["nextToken"])["addons"]
    assert [i["addonName"] for i in page["addons"] + rest] == [i["addonName"] for i in everything]
    assert eks.describe_addon_versions(types=["storage"])["addons"][0]["addonName"] == "aws-ebs-csi-driver"
    assert eks.describe_addon_versions(addonName="nope")["addons"] == []


def test_addon_lifecycle(eks, cluster, emulator_client):
    emulator_client.configure(profile={"eks_addon_create": LONG, "eks_addon_update": LONG, "eks_addon_delete": LONG})
    created = eks.create_addon(clusterName=cluster, addonName="vpc-cni", serviceAccountRoleArn=ADDON_ROLE,
                               resolveConflicts="OVERWRITE", tags={"team": "net"},
                               configurationValues='{"env": {"ENABLE_PREFIX_DELEGATION": "true"}}')["addon"]
    assert created["status"] == "CREATING"
    assert created["addonVersion"] == "v1.20.4-eksbuild.2"  # the default for 1.34
    assert created["addonArn"].startswith("arn:aws:eks:us-east-1:123456789012:addon/demo/vpc-cni/")
    assert eks.list_addons(clusterName=cluster)["addons"] == ["vpc-cni"]
    with pytest.raises(ClientError) as excinfo:
        eks.update_addon(clusterName=cluster, addonName="vpc-cni", addonVersion="v1.21.1-eksbuild.1")
    assert error_code(excinfo) == "ResourceInUseException"
    emulator_client.settle()
    wait_until(lambda: addon(eks, "vpc-cni")["status"] == "ACTIVE")

    update = eks.update_addon(clusterName=cluster, addonName="vpc-cni", addonVersion="v1.21.1-eksbuild.1",
                              configurationValues="env:\n  WARM_IP_TARGET: '5'\n", resolveConflicts="PRESERVE")
    update = update["update"]
    assert (update["type"], update["status"]) == ("AddonUpdate", "InProgress")
    assert {p["type"] for p in update["params"]} == {"AddonVersion", "ConfigurationValues", "ResolveConflicts"}
    assert addon(eks, "vpc-cni")["status"] == "UPDATING"
    emulator_client.settle()
    wait_until(lambda: addon(eks, "vpc-cni")["status"] == "ACTIVE")
    described = addon(eks, "vpc-cni")
    assert described["addonVersion"] == "v1.21.1-eksbuild.1"
    assert described["configurationValues"] == "env:\n  WARM_IP_TARGET: '5'\n"
    assert described["serviceAccountRoleArn"] == ADDON_ROLE
    assert described["tags"] == {"team": "net"}
    finished = eks.describe_update(name=cluster, updateId=update["id"], addonName="vpc-cni")["update"]
    assert finished["status"] == "Successful"
    assert eks.list_updates(name=cluster, addonName="vpc-cni")["updateIds"] == [update["id"]]
    assert eks.list_updates(name=cluster)["updateIds"] == []

    assert eks.delete_addon(clusterName=cluster, addonName="vpc-cni")["addon"]["status"] == "DELETING"
    assert addon(eks, "vpc-cni")["status"] == "DELETING"
    emulator_client.settle()
    wait_until(lambda: eks.list_addons(clusterName=cluster)["addons"] == [])
    with pytest.raises(ClientError) as excinfo:
        addon(eks, "vpc-cni")
    assert error_code(excinfo) == "ResourceNotFoundException"
    kinds = {(e["from"], e["to"]) for e in emulator_client.events() if e["kind"] == "eks_addon"}
    assert kinds == {(None, "CREATING"), ("CREATING", "ACTIVE"), ("ACTIVE", "UPDATING"), ("UPDATING", "ACTIVE"),
                     ("ACTIVE", "DELETING"), ("DELETING", "gone")}


def test_coredns_is_degraded_until_a_nodegroup_is_active(eks, cluster, network, emulator_client):
    for name in ("coredns", "aws-ebs-csi-driver", "kube-proxy"):
        eks.create_addon(clusterName=cluster, addonName=name)
    degraded = addon(eks, "coredns")
    assert degraded["status"] == "DEGRADED"
    assert [issue["code"] for issue in degraded["health"]["issues"]] == ["InsufficientNumberOfReplicas"]
    assert addon(eks, "aws-ebs-csi-driver")["status"] == "DEGRADED"
    assert addon(eks, "kube-proxy")["status"] == "ACTIVE"
    # DEGRADED add-ons can still be updated.
    eks.update_addon(clusterName=cluster, addonName="coredns", addonVersion="v1.13.1-eksbuild.1")

    emulator_client.configure(profile={"eks_nodegroup_create": LONG})
    eks.create_nodegroup(clusterName=cluster, nodegroupName="workers", subnets=network["subnets"],
                         nodeRole=NODE_ROLE)
    assert addon(eks, "coredns")["status"] == "DEGRADED"
    emulator_client.settle()
    wait_until(lambda: addon(eks, "coredns")["status"] == "ACTIVE")
    assert addon(eks, "coredns")["health"] == {"issues": []}
    assert addon(eks, "aws-ebs-csi-driver")["status"] == "ACTIVE"
    eks.update_nodegroup_config(clusterName=cluster, nodegroupName="workers",
                                scalingConfig={"minSize": 0, "desiredSize": 0})
    assert addon(eks, "coredns")["status"] == "DEGRADED"


def test_addon_validation_role_and_tags(eks, cluster, network, emulator_client):
    cases = [
        ({"addonName": "flannel"}, "InvalidParameterException"),
        ({"addonName": "coredns", "addonVersion": "v1.11.4-eksbuild.22"}, "InvalidParameterException"),
        ({"addonName": "kube-proxy", "addonVersion": "v9.9.9-eksbuild.1"}, "InvalidParameterException"),
        ({"addonName": "coredns", "serviceAccountRoleArn": "not-an-arn"}, "InvalidParameterException"),
        ({"addonName": "coredns", "configurationValues": "{not json: [yaml"}, "InvalidParameterException"),
        ({"addonName": "coredns", "configurationValues": "- a list"}, "InvalidParameterException"),
        ({"addonName": "coredns", "resolveConflicts": "MERGE"}, "InvalidParameterException"),
        ({"addonName": "coredns", "clusterName": "ghost"}, "ResourceNotFoundException"),
    ]
    for kwargs, code in cases:
        kwargs.setdefault("clusterName", cluster)
        with pytest.raises(ClientError) as excinfo:
            eks.create_addon(**kwargs)
        assert error_code(excinfo) == code, kwargs
    assert eks.list_addons(clusterName=cluster)["addons"] == []

    eks.create_addon(clusterName=cluster, addonName="coredns", addonVersion="v1.12.4-eksbuild.1")
    with pytest.raises(ClientError) as excinfo:
        eks.create_addon(clusterName=cluster, addonName="coredns")
    assert error_code(excinfo) == "ResourceInUseException"
    for kwargs in ({"addonVersion": "v1.12.1-eksbuild.2"},  # downgrade
                   {"addonVersion": "v1.11.4-eksbuild.22"},  # not for 1.34
                   {"configurationValues": "[]"}):
        with pytest.raises(ClientError) as excinfo:
            eks.update_addon(clusterName=cluster, addonName="coredns", **kwargs)
        assert error_code(excinfo) == "InvalidParameterException", kwargs
    for call in (eks.describe_addon, eks.delete_addon, eks.update_addon):
        with pytest.raises(ClientError) as excinfo:
            call(clusterName=cluster, addonName="vpc-cni")
        assert error_code(excinfo) == "ResourceNotFoundException"

    # Role updates and tags.
    created = eks.create_addon(clusterName=cluster, addonName="aws-ebs-csi-driver",
                               serviceAccountRoleArn=ADDON_ROLE)["addon"]
    eks.update_addon(clusterName=cluster, addonName="aws-ebs-csi-driver",
                     serviceAccountRoleArn="arn:aws:iam::123456789012:role/other")
    assert addon(eks, "aws-ebs-csi-driver")["serviceAccountRoleArn"] == "arn:aws:iam::123456789012:role/other"
    eks.tag_resource(resourceArn=created["addonArn"], tags={"k": "v"})
    assert eks.list_tags_for_resource(resourceArn=created["addonArn"])["tags"] == {"k": "v"}
    assert addon(eks, "aws-ebs-csi-driver")["tags"] == {"k": "v"}

    # Add-ons need an ACTIVE cluster.
    emulator_client.configure(profile={"eks_cluster_create": 30})
    eks.create_cluster(name="slow", roleArn=ROLE, resourcesVpcConfig={"subnetIds": network["subnets"]})
    with pytest.raises(ClientError) as excinfo:
        eks.create_addon(clusterName="slow", addonName="vpc-cni")
    assert error_code(excinfo) == "InvalidRequestException"


def test_observability_addons_in_the_catalogue(eks):
    infos = eks.describe_addon_versions(kubernetesVersion="1.35", types=["observability"])["addons"]
    assert [i["addonName"] for i in infos] == ["amazon-cloudwatch-observability", "metrics-server"]
    cloudwatch, metrics = infos
    assert (metrics["owner"], metrics["publisher"], metrics["defaultNamespace"]) == ("community", "eks",
                                                                                     "kube-system")
    assert (cloudwatch["owner"], cloudwatch["publisher"], cloudwatch["defaultNamespace"]) == (
        "aws", "eks", "amazon-cloudwatch")
    assert [v["addonVersion"] for v in metrics["addonVersions"]] == ["v0.8.0-eksbuild.1", "v0.7.2-eksbuild.4"]
    assert [v["addonVersion"] for v in cloudwatch["addonVersions"]] == ["v4.7.0-eksbuild.1", "v4.6.0-eksbuild.1"]
    assert all(v["requiresIamPermissions"] for v in cloudwatch["addonVersions"])
    assert not any(v["requiresIamPermissions"] for v in metrics["addonVersions"])
    every = eks.describe_addon_versions(addonName="metrics-server")["addons"][0]["addonVersions"]
    assert [v["addonVersion"] for v in every] == ["v0.8.0-eksbuild.1", "v0.7.2-eksbuild.4", "v0.7.2-eksbuild.3"]
    defaults = {c["clusterVersion"]: v["addonVersion"] for v in every for c in v["compatibilities"]
                if c["defaultVersion"]}
    assert defaults == {"1.35": "v0.8.0-eksbuild.1", "1.34": "v0.8.0-eksbuild.1", "1.33": "v0.7.2-eksbuild.4",
                        "1.32": "v0.7.2-eksbuild.4"}
    assert [i["addonName"] for i in eks.describe_addon_versions(owners=["community"])["addons"]] == [
        "metrics-server"]
    assert "metrics-server" not in {i["addonName"] for i in eks.describe_addon_versions(owners=["aws"])["addons"]}
    assert eks.describe_addon_versions(addonName="amazon-cloudwatch-observability",
                                       kubernetesVersion="1.31")["addons"] == []


def test_observability_addons_on_a_1_35_cluster(eks, network):
    eks.create_cluster(name="obs", roleArn=ROLE, version="1.35", resourcesVpcConfig={"subnetIds": network["subnets"]})
    cloudwatch_role = "arn:aws:iam::123456789012:role/cloudwatch-agent"
    created = eks.create_addon(clusterName="obs", addonName="amazon-cloudwatch-observability",
                               serviceAccountRoleArn=cloudwatch_role)["addon"]
    assert created["addonVersion"] == "v4.7.0-eksbuild.1" and created["serviceAccountRoleArn"] == cloudwatch_role
    metrics = eks.create_addon(clusterName="obs", addonName="metrics-server",
                               configurationValues='{"replicas": 1}')["addon"]
    assert metrics["addonVersion"] == "v0.8.0-eksbuild.1"
    assert sorted(eks.list_addons(clusterName="obs")["addons"]) == ["amazon-cloudwatch-observability",
                                                                  "metrics-server"]
    for name in ("metrics-server", "amazon-cloudwatch-observability"):  # both run pods: no nodes, no health
        described = addon(eks, name, "obs")
        assert described["status"] == "DEGRADED"
        assert [i["code"] for i in described["health"]["issues"]] == ["InsufficientNumberOfReplicas"]
    with pytest.raises(ClientError) as excinfo:
        eks.create_addon(clusterName="obs", addonName="metrics-server", addonVersion="v0.7.2-eksbuild.3")
    assert error_code(excinfo) == "ResourceInUseException"
    eks.delete_addon(clusterName="obs", addonName="metrics-server")
    wait_until(lambda: eks.list_addons(clusterName="obs")["addons"] == ["amazon-cloudwatch-observability"])
    with pytest.raises(ClientError) as excinfo:  # v0.7.2-eksbuild.3 stops at 1.34
        eks.create_addon(clusterName="obs", addonName="metrics-server", addonVersion="v0.7.2-eksbuild.3")
    assert error_code(excinfo) == "InvalidParameterException"
