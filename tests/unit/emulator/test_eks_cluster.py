"""EKS clusters and node groups: lifecycles, DescribeCluster fields, updates, tagging."""

from __future__ import annotations

import base64

import pytest
from botocore.exceptions import ClientError

from emulator.eks_common import DEFAULT_VERSION
from tests.unit.emulator.shape_check import client, error_code, make_network, make_roles, strict, wait_until

ROLE = "arn:aws:iam::123456789012:role/eks-cluster"
NODE_ROLE = "arn:aws:iam::123456789012:role/eks-node"


@pytest.fixture
def eks(emulator):
    return strict(client(emulator.url, "eks"))


@pytest.fixture
def ec2(emulator):
    return client(emulator.url, "ec2")


@pytest.fixture
def network(emulator, ec2):
    """A VPC with two subnets, and the IAM roles the tests use."""
    make_roles(client(emulator.url, "iam"), "eks-cluster", "eks-node")
    return make_network(ec2)


# A transition long enough that no test sees it end by itself: tests look at the
# transient state, then settle it (POST /_emulator/settle) instead of sleeping.
LONG = 120


def create_cluster(eks, network, name="demo", **kwargs):
    kwargs.setdefault("resourcesVpcConfig", {"subnetIds": network["subnets"]})
    return eks.create_cluster(name=name, roleArn=ROLE, **kwargs)["cluster"]


def create_nodegroup(eks, network, cluster="demo", name="workers", **kwargs):
    kwargs.setdefault("nodeRole", NODE_ROLE)
    return eks.create_nodegroup(clusterName=cluster, nodegroupName=name, subnets=network["subnets"],
                                **kwargs)["nodegroup"]


def cluster_status(eks, name="demo"):
    return eks.describe_cluster(name=name)["cluster"]["status"]


def nodegroup_status(eks, name="workers", cluster="demo"):
    return eks.describe_nodegroup(clusterName=cluster, nodegroupName=name)["nodegroup"]["status"]


def test_describe_cluster_has_eks_defaults_and_requested_settings(eks, ec2, network):
    create_cluster(eks, network)
    create_cluster(eks, network, name="other", version="1.33")
    cluster = eks.describe_cluster(name="demo")["cluster"]
    other = eks.describe_cluster(name="other")["cluster"]
    assert cluster["status"] == "ACTIVE"
    assert cluster["version"] == DEFAULT_VERSION and other["version"] == "1.33"
    assert cluster["platformVersion"].startswith("eks.")
    assert cluster["accessConfig"] == {"bootstrapClusterCreatorAdminPermissions": True,
                                       "authenticationMode": "CONFIG_MAP"}
    vpc = cluster["resourcesVpcConfig"]
    assert vpc["vpcId"] == network["vpc"]
    assert vpc["endpointPublicAccess"] is True and vpc["endpointPrivateAccess"] is False
    assert vpc["publicAccessCidrs"] == ["0.0.0.0/0"]
    group = ec2.describe_security_groups(GroupIds=[vpc["clusterSecurityGroupId"]])["SecurityGroups"][0]
    assert group["VpcId"] == network["vpc"]
    assert {"Key": "aws:eks:cluster-name", "Value": "demo"} in group["Tags"]
    assert cluster["kubernetesNetworkConfig"] == {"serviceIpv4Cidr": "10.100.0.0/16", "ipFamily": "ipv4"}
    assert cluster["endpoint"] != other["endpoint"]
    assert cluster["identity"]["oidc"]["issuer"] != other["identity"]["oidc"]["issuer"]
    assert base64.b64decode(cluster["certificateAuthority"]["data"]).startswith(b"-----BEGIN CERTIFICATE-----")
    assert cluster["logging"] == {"clusterLogging": [
        {"types": ["api", "audit", "authenticator", "controllerManager", "scheduler"], "enabled": False}]}
    assert "encryptionConfig" not in cluster

    # What the caller asks for is kept.
    group = ec2.create_security_group(GroupName="extra", Description="extra", VpcId=network["vpc"])["GroupId"]
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    create_cluster(
        eks, network, name="custom", version="1.34",
        resourcesVpcConfig={"subnetIds": network["subnets"], "securityGroupIds": [group],
                            "endpointPublicAccess": True, "endpointPrivateAccess": True,
                            "publicAccessCidrs": ["203.0.113.0/24"]},
        kubernetesNetworkConfig={"serviceIpv4Cidr": "172.20.0.0/16"},
        logging={"clusterLogging": [{"types": ["api", "audit"], "enabled": True}]},
        encryptionConfig=[{"resources": ["secrets"], "provider": {"keyArn": key}}],
        accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
        upgradePolicy={"supportType": "STANDARD"},
        tags={"team": "platform"},
    )
    cluster = eks.describe_cluster(name="custom")["cluster"]
    vpc = cluster["resourcesVpcConfig"]
    assert vpc["securityGroupIds"] == [group]
    assert (vpc["endpointPublicAccess"], vpc["endpointPrivateAccess"]) == (True, True)
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert cluster["kubernetesNetworkConfig"]["serviceIpv4Cidr"] == "172.20.0.0/16"
    assert cluster["logging"]["clusterLogging"][0] == {"types": ["api", "audit"], "enabled": True}
    assert cluster["encryptionConfig"][0]["provider"]["keyArn"] == key
    assert cluster["accessConfig"] == {"bootstrapClusterCreatorAdminPermissions": False,
                                       "authenticationMode": "API"}
    assert cluster["upgradePolicy"] == {"supportType": "STANDARD"}
    assert cluster["tags"] == {"team": "platform"}


def test_create_cluster_is_validated(eks, network):
    cases = [
        ({"version": "1.19"}, "InvalidParameterException"),
        ({"name": "-bad-name"}, "InvalidParameterException"),
        ({"single_az": True}, "InvalidParameterException"),
        ({"subnets": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]}, "InvalidParameterException"),
        ({"endpoints_off": True}, "InvalidParameterException"),
        ({"logging": {"clusterLogging": [{"types": ["kubelet"], "enabled": True}]}}, "InvalidParameterException"),
        ({"accessConfig": {"authenticationMode": "LDAP"}}, "InvalidParameterException"),
        ({"roleArn": "arn:aws:iam::123456789012:role/missing"}, "InvalidParameterException"),
    ]
    for overrides, code in cases:
        subnets = overrides.pop("subnets", network["subnets"])
        if overrides.pop("single_az", False):
            subnets = subnets[:1]
        vpc_config = {"subnetIds": subnets}
        if overrides.pop("endpoints_off", False):
            vpc_config.update(endpointPublicAccess=False, endpointPrivateAccess=False)
        name, role = overrides.pop("name", "demo"), overrides.pop("roleArn", ROLE)
        with pytest.raises(ClientError) as excinfo:
            eks.create_cluster(name=name, roleArn=role, resourcesVpcConfig=vpc_config, **overrides)
        assert error_code(excinfo) == code, overrides
    assert eks.list_clusters()["clusters"] == []
    create_cluster(eks, network)
    with pytest.raises(ClientError) as excinfo:
        create_cluster(eks, network)
    assert error_code(excinfo) == "ResourceInUseException"


def test_cluster_lifecycle(eks, ec2, network, emulator_client):
    emulator_client.configure(profile={"eks_cluster_create": LONG, "eks_cluster_delete": LONG})
    created = create_cluster(eks, network)
    assert created["status"] == "CREATING"
    assert "endpoint" not in created and "certificateAuthority" not in created  # only once ACTIVE
    with pytest.raises(ClientError) as excinfo:
        create_nodegroup(eks, network)
    assert error_code(excinfo) == "InvalidRequestException"
    emulator_client.settle()
    wait_until(lambda: cluster_status(eks) == "ACTIVE")
    active = eks.describe_cluster(name="demo")["cluster"]
    assert active["endpoint"].startswith("https://") and active["certificateAuthority"]["data"]

    group = eks.describe_cluster(name="demo")["cluster"]["resourcesVpcConfig"]["clusterSecurityGroupId"]
    assert eks.delete_cluster(name="demo")["cluster"]["status"] == "DELETING"
    assert cluster_status(eks) == "DELETING"
    assert eks.list_clusters()["clusters"] == ["demo"]
    with pytest.raises(ClientError) as excinfo:
        create_cluster(eks, network)
    assert error_code(excinfo) == "ResourceInUseException"
    emulator_client.settle()
    wait_until(lambda: eks.list_clusters()["clusters"] == [])
    with pytest.raises(ClientError) as excinfo:
        eks.describe_cluster(name="demo")
    assert error_code(excinfo) == "ResourceNotFoundException"
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroups"]
    assert groups == []
    transitions = [(e["from"], e["to"]) for e in emulator_client.events() if e["kind"] == "eks_cluster"]
    assert transitions == [(None, "CREATING"), ("CREATING", "ACTIVE"), ("ACTIVE", "DELETING"), ("DELETING", "gone")]


def test_nodegroup_lifecycle_and_validation(eks, network, emulator_client):
    emulator_client.configure(profile={"eks_nodegroup_create": LONG, "eks_nodegroup_delete": LONG})
    create_cluster(eks, network, version="1.34")
    nodegroup = create_nodegroup(eks, network, updateConfig={"maxUnavailablePercentage": 25},
                                 scalingConfig={"minSize": 1, "maxSize": 4, "desiredSize": 2},
                                 labels={"role": "worker"})
    assert nodegroup["status"] == "CREATING"
    assert nodegroup["version"] == "1.34" and nodegroup["releaseVersion"].startswith("1.34.")
    assert nodegroup["updateConfig"] == {"maxUnavailablePercentage": 25}
    assert "remoteAccess" not in nodegroup
    emulator_client.settle()
    wait_until(lambda: nodegroup_status(eks) == "ACTIVE")
    assert eks.describe_nodegroup(clusterName="demo", nodegroupName="workers")["nodegroup"]["updateConfig"] == {
        "maxUnavailablePercentage": 25}

    with pytest.raises(ClientError) as excinfo:
        eks.delete_cluster(name="demo")
    assert error_code(excinfo) == "ResourceInUseException"
    assert eks.delete_nodegroup(clusterName="demo", nodegroupName="workers")["nodegroup"]["status"] == "DELETING"
    assert eks.list_nodegroups(clusterName="demo")["nodegroups"] == ["workers"]
    with pytest.raises(ClientError) as excinfo:
        eks.delete_cluster(name="demo")
    assert error_code(excinfo) == "ResourceInUseException"
    emulator_client.settle()
    wait_until(lambda: eks.list_nodegroups(clusterName="demo")["nodegroups"] == [])
    with pytest.raises(ClientError) as excinfo:
        eks.describe_nodegroup(clusterName="demo", nodegroupName="workers")
    assert error_code(excinfo) == "ResourceNotFoundException"
    eks.delete_cluster(name="demo")

    # Node group creation is validated like EKS.
    create_cluster(eks, network, name="v130", version="1.33")
    for kwargs in ({"version": "1.34"}, {"releaseVersion": "1.32.0-20240101"},
                   {"scalingConfig": {"minSize": 3, "maxSize": 2, "desiredSize": 2}},
                   {"updateConfig": {"maxUnavailable": 1, "maxUnavailablePercentage": 10}},
                   {"nodeRole": "arn:aws:iam::123456789012:role/missing"},
                   {"launchTemplate": {"name": "missing"}}):
        with pytest.raises(ClientError) as excinfo:
            create_nodegroup(eks, network, cluster="v130", **kwargs)
        assert error_code(excinfo) == "InvalidParameterException", kwargs
    create_nodegroup(eks, network, cluster="v130", version="1.32")
    with pytest.raises(ClientError) as excinfo:
        create_nodegroup(eks, network, cluster="v130")
    assert error_code(excinfo) == "ResourceInUseException"


def test_update_cluster_config_logging(eks, network, emulator_client):
    create_cluster(eks, network)
    emulator_client.configure(profile={"eks_cluster_update": LONG})
    update = eks.update_cluster_config(
        name="demo", logging={"clusterLogging": [{"types": ["api", "audit"], "enabled": True}]})["update"]
    assert (update["type"], update["status"]) == ("LoggingUpdate", "InProgress")
    assert update["params"][0]["type"] == "ClusterLogging"
    assert cluster_status(eks) == "UPDATING"
    with pytest.raises(ClientError) as excinfo:
        eks.update_cluster_config(name="demo", logging={"clusterLogging": [{"types": ["scheduler"], "enabled": True}]})
    assert error_code(excinfo) == "ResourceInUseException"
    emulator_client.settle()
    wait_until(lambda: eks.describe_update(name="demo", updateId=update["id"])["update"]["status"] == "Successful")
    assert cluster_status(eks) == "ACTIVE"
    logging = eks.describe_cluster(name="demo")["cluster"]["logging"]["clusterLogging"]
    assert logging == [{"types": ["api", "audit"], "enabled": True},
                       {"types": ["authenticator", "controllerManager", "scheduler"], "enabled": False}]
    with pytest.raises(ClientError) as excinfo:
        eks.update_cluster_config(name="demo", logging={"clusterLogging": [{"types": ["api"], "enabled": True}]})
    assert error_code(excinfo) == "InvalidParameterException"
    assert eks.list_updates(name="demo")["updateIds"] == [update["id"]]


def test_update_cluster_config_endpoint_access(eks, ec2, network):
    create_cluster(eks, network)
    update = eks.update_cluster_config(
        name="demo", resourcesVpcConfig={"endpointPrivateAccess": True, "publicAccessCidrs": ["198.51.100.0/24"]},
    )["update"]
    assert update["type"] == "EndpointAccessUpdate"
    assert {p["type"]: p["value"] for p in update["params"]} == {
        "EndpointPublicAccess": "true", "EndpointPrivateAccess": "true", "PublicAccessCidrs": '["198.51.100.0/24"]'}
    vpc = eks.describe_cluster(name="demo")["cluster"]["resourcesVpcConfig"]
    assert (vpc["endpointPrivateAccess"], vpc["publicAccessCidrs"]) == (True, ["198.51.100.0/24"])
    # The whole block may be sent back: only the part that changes is the update.
    whole = {key: vpc[key] for key in ("subnetIds", "securityGroupIds", "endpointPrivateAccess",
                                       "publicAccessCidrs")}
    update = eks.update_cluster_config(name="demo", resourcesVpcConfig={**whole, "endpointPublicAccess": False})
    assert update["update"]["type"] == "EndpointAccessUpdate"
    group = ec2.create_security_group(GroupName="extra", Description="extra", VpcId=network["vpc"])["GroupId"]
    update = eks.update_cluster_config(name="demo", resourcesVpcConfig={**whole, "securityGroupIds": [group]})
    assert update["update"]["type"] == "VpcConfigUpdate"
    assert update["update"]["params"] == [{"type": "SecurityGroups", "value": f'["{group}"]'}]
    assert eks.describe_cluster(name="demo")["cluster"]["resourcesVpcConfig"]["securityGroupIds"] == [group]
    for kwargs in (
        {"resourcesVpcConfig": {"endpointPrivateAccess": True}},  # no change
        {"resourcesVpcConfig": {"endpointPublicAccess": False, "endpointPrivateAccess": False}},
        {"resourcesVpcConfig": {"endpointPrivateAccess": False},
         "logging": {"clusterLogging": [{"types": ["api"], "enabled": True}]}},  # two kinds at once
        {},
    ):
        with pytest.raises(ClientError) as excinfo:
            eks.update_cluster_config(name="demo", **kwargs)
        assert error_code(excinfo) == "InvalidParameterException", kwargs


def test_update_cluster_config_other_settings(eks, network):
    create_cluster(eks, network)
    assert eks.update_cluster_config(name="demo", upgradePolicy={"supportType": "STANDARD"})["update"]["type"] == \
        "UpgradePolicyUpdate"
    assert eks.update_cluster_config(name="demo", deletionProtection=True)["update"]["type"] == \
        "DeletionProtectionUpdate"
    cluster = eks.describe_cluster(name="demo")["cluster"]
    assert cluster["upgradePolicy"] == {"supportType": "STANDARD"} and cluster["deletionProtection"] is True
    with pytest.raises(ClientError) as excinfo:
        eks.delete_cluster(name="demo")
    assert error_code(excinfo) == "InvalidRequestException"
    eks.update_cluster_config(name="demo", deletionProtection=False)

    config = [{"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:us-east-1:123456789012:key/abc"}}]
    update = eks.associate_encryption_config(clusterName="demo", encryptionConfig=config)["update"]
    assert update["type"] == "AssociateEncryptionConfig"
    assert eks.describe_cluster(name="demo")["cluster"]["encryptionConfig"] == config
    with pytest.raises(ClientError) as excinfo:
        eks.associate_encryption_config(clusterName="demo", encryptionConfig=config)
    assert error_code(excinfo) == "InvalidRequestException"
    eks.delete_cluster(name="demo")

    # Authentication mode: CONFIG_MAP -> API_AND_CONFIG_MAP -> API only.
    create_cluster(eks, network, name="auth")
    with pytest.raises(ClientError) as excinfo:
        eks.update_cluster_config(name="auth", accessConfig={"authenticationMode": "API"})
    assert error_code(excinfo) == "InvalidParameterException"
    for mode in ("API_AND_CONFIG_MAP", "API"):
        update = eks.update_cluster_config(name="auth", accessConfig={"authenticationMode": mode})["update"]
        assert update["type"] == "AccessConfigUpdate"
        assert update["params"] == [{"type": "AuthenticationMode", "value": mode}]
        assert eks.describe_cluster(name="auth")["cluster"]["accessConfig"]["authenticationMode"] == mode
    with pytest.raises(ClientError) as excinfo:
        eks.update_cluster_config(name="auth", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})
    assert error_code(excinfo) == "InvalidParameterException"


def test_update_cluster_version(eks, network, emulator_client):
    create_cluster(eks, network, version="1.33")
    for version in ("1.35", "1.33", "1.32", "1.99"):
        with pytest.raises(ClientError) as excinfo:
            eks.update_cluster_version(name="demo", version=version)
        assert error_code(excinfo) == "InvalidParameterException", version
    emulator_client.configure(profile={"eks_cluster_update": LONG})
    update = eks.update_cluster_version(name="demo", version="1.34")["update"]
    assert (update["type"], update["status"]) == ("VersionUpdate", "InProgress")
    assert {"type": "Version", "value": "1.34"} in update["params"]
    cluster = eks.describe_cluster(name="demo")["cluster"]
    assert (cluster["status"], cluster["version"]) == ("UPDATING", "1.33")  # EKS flips the version at the end
    with pytest.raises(ClientError) as excinfo:
        eks.update_cluster_version(name="demo", version="1.35")
    assert error_code(excinfo) == "ResourceInUseException"
    emulator_client.settle()
    wait_until(lambda: cluster_status(eks) == "ACTIVE")
    assert eks.describe_update(name="demo", updateId=update["id"])["update"]["status"] == "Successful"
    assert eks.describe_cluster(name="demo")["cluster"]["version"] == "1.34"


def test_describe_update_errors_and_tagging(eks, network):
    create_cluster(eks, network)
    create_nodegroup(eks, network)
    update = eks.update_nodegroup_config(clusterName="demo", nodegroupName="workers",
                                         scalingConfig={"desiredSize": 1, "minSize": 1})["update"]
    for kwargs in ({"updateId": "nope"}, {"updateId": update["id"]}):
        with pytest.raises(ClientError) as excinfo:
            eks.describe_update(name="demo", **kwargs)
        assert error_code(excinfo) == "ResourceNotFoundException"
    described = eks.describe_update(name="demo", updateId=update["id"], nodegroupName="workers")["update"]
    assert described["id"] == update["id"]
    assert eks.list_updates(name="demo")["updateIds"] == []
    assert eks.list_updates(name="demo", nodegroupName="workers")["updateIds"] == [update["id"]]
    with pytest.raises(ClientError) as excinfo:
        eks.list_updates(name="demo", nodegroupName="ghost")
    assert error_code(excinfo) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        eks.describe_update(name="ghost", updateId=update["id"])
    assert error_code(excinfo) == "ResourceNotFoundException"

    # Tagging covers node groups.
    cluster = create_cluster(eks, network, name="tagged", tags={"a": "1"})
    nodegroup = create_nodegroup(eks, network, cluster="tagged", tags={"b": "2"})
    for arn, before in ((cluster["arn"], {"a": "1"}), (nodegroup["nodegroupArn"], {"b": "2"})):
        assert eks.list_tags_for_resource(resourceArn=arn)["tags"] == before
        eks.tag_resource(resourceArn=arn, tags={"env": "test"})
        assert eks.list_tags_for_resource(resourceArn=arn)["tags"] == {**before, "env": "test"}
        eks.untag_resource(resourceArn=arn, tagKeys=["env"])
        assert eks.list_tags_for_resource(resourceArn=arn)["tags"] == before
    assert eks.describe_nodegroup(clusterName="tagged", nodegroupName="workers")["nodegroup"]["tags"] == {"b": "2"}
    with pytest.raises(ClientError) as excinfo:
        eks.list_tags_for_resource(resourceArn=cluster["arn"] + "-ghost")
    assert error_code(excinfo) == "NotFoundException"


def test_update_nodegroup_config(eks, network, emulator_client):
    create_cluster(eks, network)
    create_nodegroup(eks, network, labels={"role": "worker", "old": "yes"},
                     taints=[{"key": "dedicated", "value": "ci", "effect": "NO_SCHEDULE"}])
    emulator_client.configure(profile={"eks_nodegroup_update": LONG})
    update = eks.update_nodegroup_config(
        clusterName="demo", nodegroupName="workers",
        labels={"addOrUpdateLabels": {"tier": "general"}, "removeLabels": ["old"]},
        taints={"addOrUpdateTaints": [{"key": "gpu", "value": "true", "effect": "NO_EXECUTE"}],
                "removeTaints": [{"key": "dedicated", "effect": "NO_SCHEDULE"}]},
        scalingConfig={"minSize": 1, "maxSize": 5, "desiredSize": 3},
        updateConfig={"maxUnavailablePercentage": 33},
    )["update"]
    assert (update["type"], update["status"]) == ("ConfigUpdate", "InProgress")
    types = {param["type"] for param in update["params"]}
    assert types == {"LabelsToAdd", "LabelsToRemove", "TaintsToAdd", "TaintsToRemove", "MinSize", "MaxSize",
                     "DesiredSize", "MaxUnavailablePercentage"}
    assert nodegroup_status(eks) == "UPDATING"
    with pytest.raises(ClientError) as excinfo:
        eks.update_nodegroup_config(clusterName="demo", nodegroupName="workers", scalingConfig={"desiredSize": 2})
    assert error_code(excinfo) == "ResourceInUseException"
    emulator_client.settle()
    wait_until(lambda: nodegroup_status(eks) == "ACTIVE")
    nodegroup = eks.describe_nodegroup(clusterName="demo", nodegroupName="workers")["nodegroup"]
    assert nodegroup["labels"] == {"role": "worker", "tier": "general"}
    assert nodegroup["taints"] == [{"key": "gpu", "value": "true", "effect": "NO_EXECUTE"}]
    assert nodegroup["scalingConfig"] == {"minSize": 1, "maxSize": 5, "desiredSize": 3}
    assert nodegroup["updateConfig"] == {"maxUnavailablePercentage": 33}
    assert eks.describe_update(name="demo", updateId=update["id"], nodegroupName="workers")["update"]["status"] == \
        "Successful"
    for kwargs in ({"scalingConfig": {"desiredSize": 9}},
                   {"updateConfig": {"maxUnavailable": 2, "maxUnavailablePercentage": 10}},
                   {"labels": {"addOrUpdateLabels": {"a": "1"}, "removeLabels": ["a"]}},
                   {}):
        with pytest.raises(ClientError) as excinfo:
            eks.update_nodegroup_config(clusterName="demo", nodegroupName="workers", **kwargs)
        assert error_code(excinfo) == "InvalidParameterException", kwargs


def test_update_nodegroup_version(eks, ec2, network, emulator_client):
    create_cluster(eks, network, version="1.33")
    create_nodegroup(eks, network, version="1.32")
    template = ec2.create_launch_template(LaunchTemplateName="nodes",
                                          LaunchTemplateData={"InstanceType": "t3.large"})["LaunchTemplate"]
    create_nodegroup(eks, network, name="custom", launchTemplate={"name": "nodes", "version": "1"})
    with pytest.raises(ClientError) as excinfo:
        eks.update_nodegroup_version(clusterName="demo", nodegroupName="workers", version="1.34")
    assert error_code(excinfo) == "InvalidParameterException"
    with pytest.raises(ClientError) as excinfo:
        eks.update_nodegroup_version(clusterName="demo", nodegroupName="workers",
                                     launchTemplate={"name": "nodes", "version": "2"})
    assert error_code(excinfo) == "InvalidParameterException"

    emulator_client.configure(profile={"eks_nodegroup_update": LONG})
    update = eks.update_nodegroup_version(clusterName="demo", nodegroupName="workers")["update"]
    assert (update["type"], update["status"]) == ("VersionUpdate", "InProgress")
    assert {"type": "Version", "value": "1.33"} in update["params"]
    nodegroup = eks.describe_nodegroup(clusterName="demo", nodegroupName="workers")["nodegroup"]
    assert (nodegroup["status"], nodegroup["version"]) == ("UPDATING", "1.32")
    emulator_client.settle()
    wait_until(lambda: nodegroup_status(eks) == "ACTIVE")
    nodegroup = eks.describe_nodegroup(clusterName="demo", nodegroupName="workers")["nodegroup"]
    assert nodegroup["version"] == "1.33" and nodegroup["releaseVersion"].startswith("1.33.")

    with pytest.raises(ClientError) as excinfo:
        eks.update_nodegroup_version(clusterName="demo", nodegroupName="custom",
                                     launchTemplate={"name": "nodes", "version": "2"})
    assert error_code(excinfo) == "InvalidParameterException"
    ec2.create_launch_template_version(LaunchTemplateName="nodes", LaunchTemplateData={"InstanceType": "m5.large"})
    update = eks.update_nodegroup_version(clusterName="demo", nodegroupName="custom",
                                          launchTemplate={"name": "nodes", "version": "2"})["update"]
    assert {"type": "LaunchTemplateVersion", "value": "2"} in update["params"]
    emulator_client.settle()
    wait_until(lambda: nodegroup_status(eks, "custom") == "ACTIVE")
    launch_template = eks.describe_nodegroup(clusterName="demo", nodegroupName="custom")["nodegroup"]["launchTemplate"]
    assert launch_template == {"name": "nodes", "version": "2", "id": template["LaunchTemplateId"]}
