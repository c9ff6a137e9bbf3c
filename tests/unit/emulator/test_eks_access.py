"""EKS access entries and access policies."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.unit.emulator.shape_check import client, error_code, make_network, make_roles, strict

ROLE = "arn:aws:iam::123456789012:role/eks-cluster"
NODE_ROLE = "arn:aws:iam::123456789012:role/eks-node"
ADMIN_ROLE = "arn:aws:iam::123456789012:role/platform-admins"
POLICY = "arn:aws:eks::aws:cluster-access-policy/"
CLUSTER_ADMIN = POLICY + "AmazonEKSClusterAdminPolicy"


@pytest.fixture
def eks(emulator):
    return strict(client(emulator.url, "eks"))


@pytest.fixture
def network(emulator):
    """A VPC with two subnets, and the IAM roles the tests use."""
    make_roles(client(emulator.url, "iam"), "eks-cluster", "eks-node", "platform-admins")
    return make_network(client(emulator.url, "ec2"))


def create_cluster(eks, network, name="demo", mode="API_AND_CONFIG_MAP", **access):
    access_config = {"authenticationMode": mode, **access}
    eks.create_cluster(name=name, roleArn=ROLE, resourcesVpcConfig={"subnetIds": network["subnets"]},
                       accessConfig=access_config)
    return name


def test_list_access_policies(eks):
    policies = eks.list_access_policies()["accessPolicies"]
    names = {policy["name"] for policy in policies}
    assert {"AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSEditPolicy",
            "AmazonEKSViewPolicy"} <= names
    assert all(policy["arn"] == POLICY + policy["name"] for policy in policies)
    page = eks.list_access_policies(maxResults=2)
    assert len(page["accessPolicies"]) == 2 and page["nextToken"]


def test_cluster_creator_gets_an_admin_entry(eks, network, emulator):
    creator = client(emulator.url, "sts").get_caller_identity()["Arn"]
    cluster = create_cluster(eks, network)
    assert eks.list_access_entries(clusterName=cluster)["accessEntries"] == [creator]
    entry = eks.describe_access_entry(clusterName=cluster, principalArn=creator)["accessEntry"]
    assert entry["type"] == "STANDARD" and entry["kubernetesGroups"] == []
    policies = eks.list_associated_access_policies(clusterName=cluster, principalArn=creator)
    assert [p["policyArn"] for p in policies["associatedAccessPolicies"]] == [CLUSTER_ADMIN]
    assert policies["associatedAccessPolicies"][0]["accessScope"] == {"type": "cluster", "namespaces": []}
    assert eks.list_access_entries(clusterName=cluster, associatedPolicyArn=CLUSTER_ADMIN)["accessEntries"] == [
        creator]

    other = create_cluster(eks, network, name="no-bootstrap", bootstrapClusterCreatorAdminPermissions=False)
    assert eks.list_access_entries(clusterName=other)["accessEntries"] == []

    # A CONFIG_MAP cluster has no access entries until its mode allows them.
    cluster = create_cluster(eks, network, name="config-map", mode="CONFIG_MAP")
    for call, kwargs in ((eks.list_access_entries, {}),
                         (eks.create_access_entry, {"principalArn": ADMIN_ROLE})):
        with pytest.raises(ClientError) as excinfo:
            call(clusterName=cluster, **kwargs)
        assert error_code(excinfo) == "InvalidRequestException"
    eks.update_cluster_config(name=cluster, accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})
    # The creator's entry appears once access entries are enabled.
    assert len(eks.list_access_entries(clusterName=cluster)["accessEntries"]) == 1


def test_assumed_role_creator_is_recorded_as_its_role(eks, network, emulator):
    credentials = client(emulator.url, "sts").assume_role(RoleArn=ADMIN_ROLE, RoleSessionName="ci")["Credentials"]
    as_role = client(emulator.url, "eks", aws_access_key_id=credentials["AccessKeyId"],
                     aws_secret_access_key=credentials["SecretAccessKey"],
                     aws_session_token=credentials["SessionToken"])
    create_cluster(as_role, network)
    assert eks.list_access_entries(clusterName="demo")["accessEntries"] == [ADMIN_ROLE]


def test_access_entry_crud(eks, network):
    cluster = create_cluster(eks, network, mode="API", bootstrapClusterCreatorAdminPermissions=False)
    entry = eks.create_access_entry(clusterName=cluster, principalArn=ADMIN_ROLE, kubernetesGroups=["admins"],
                                    tags={"team": "platform"})["accessEntry"]
    assert entry["type"] == "STANDARD"
    assert entry["username"] == "arn:aws:sts::123456789012:assumed-role/platform-admins/{{SessionName}}"
    assert entry["accessEntryArn"].startswith(
        "arn:aws:eks:us-east-1:123456789012:access-entry/demo/role/123456789012/platform-admins/")
    with pytest.raises(ClientError) as excinfo:
        eks.create_access_entry(clusterName=cluster, principalArn=ADMIN_ROLE)
    assert error_code(excinfo) == "ResourceInUseException"

    updated = eks.update_access_entry(clusterName=cluster, principalArn=ADMIN_ROLE, kubernetesGroups=["ops"],
                                      username="platform-admin")["accessEntry"]
    assert (updated["kubernetesGroups"], updated["username"]) == (["ops"], "platform-admin")
    assert eks.describe_access_entry(clusterName=cluster, principalArn=ADMIN_ROLE)["accessEntry"]["tags"] == {
        "team": "platform"}
    eks.tag_resource(resourceArn=entry["accessEntryArn"], tags={"env": "ci"})
    assert eks.list_tags_for_resource(resourceArn=entry["accessEntryArn"])["tags"] == {"team": "platform",
                                                                                       "env": "ci"}

    associated = eks.associate_access_policy(clusterName=cluster, principalArn=ADMIN_ROLE,
                                             policyArn=POLICY + "AmazonEKSViewPolicy",
                                             accessScope={"type": "cluster"})
    assert associated["associatedAccessPolicy"]["accessScope"]["type"] == "cluster"
    eks.associate_access_policy(clusterName=cluster, principalArn=ADMIN_ROLE, policyArn=POLICY + "AmazonEKSEditPolicy",
                                accessScope={"type": "namespace", "namespaces": ["apps", "jobs"]})
    # Associating again replaces the scope.
    eks.associate_access_policy(clusterName=cluster, principalArn=ADMIN_ROLE, policyArn=POLICY + "AmazonEKSEditPolicy",
                                accessScope={"type": "namespace", "namespaces": ["apps"]})
    listed = eks.list_associated_access_policies(clusterName=cluster, principalArn=ADMIN_ROLE)
    assert listed["clusterName"] == cluster and listed["principalArn"] == ADMIN_ROLE
    scopes = {p["policyArn"].rsplit("/", 1)[1]: p["accessScope"] for p in listed["associatedAccessPolicies"]}
    assert scopes == {"AmazonEKSEditPolicy": {"type": "namespace", "namespaces": ["apps"]},
                      "AmazonEKSViewPolicy": {"type": "cluster", "namespaces": []}}
    assert eks.list_access_entries(clusterName=cluster, associatedPolicyArn=POLICY + "AmazonEKSEditPolicy")[
        "accessEntries"] == [ADMIN_ROLE]

    eks.disassociate_access_policy(clusterName=cluster, principalArn=ADMIN_ROLE,
                                   policyArn=POLICY + "AmazonEKSViewPolicy")
    with pytest.raises(ClientError) as excinfo:
        eks.disassociate_access_policy(clusterName=cluster, principalArn=ADMIN_ROLE,
                                       policyArn=POLICY + "AmazonEKSViewPolicy")
    assert error_code(excinfo) == "ResourceNotFoundException"
    eks.delete_access_entry(clusterName=cluster, principalArn=ADMIN_ROLE)
    for call in (eks.describe_access_entry, eks.delete_access_entry, eks.list_associated_access_policies):
        with pytest.raises(ClientError) as excinfo:
            call(clusterName=cluster, principalArn=ADMIN_ROLE)
        assert error_code(excinfo) == "ResourceNotFoundException"
    assert eks.list_access_entries(clusterName=cluster)["accessEntries"] == []


def test_access_entry_validation_and_node_entries(eks, network):
    cluster = create_cluster(eks, network, bootstrapClusterCreatorAdminPermissions=False)
    cases = [
        ({"principalArn": "arn:aws:iam::123456789012:group/devs"}, "InvalidParameterException"),
        ({"principalArn": "arn:aws:iam::123456789012:role/missing"}, "InvalidParameterException"),
        ({"principalArn": ADMIN_ROLE, "kubernetesGroups": ["system:masters"]}, "InvalidParameterException"),
        ({"principalArn": ADMIN_ROLE, "username": "system:admin"}, "InvalidParameterException"),
        ({"principalArn": ADMIN_ROLE, "type": "EC2_LINUX", "username": "node"}, "InvalidParameterException"),
        ({"principalArn": ADMIN_ROLE, "type": "SUPERUSER"}, "InvalidParameterException"),
        ({"principalArn": ADMIN_ROLE, "clusterName": "ghost"}, "ResourceNotFoundException"),
    ]
    for kwargs, code in cases:
        kwargs.setdefault("clusterName", cluster)
        with pytest.raises(ClientError) as excinfo:
            eks.create_access_entry(**kwargs)
        assert error_code(excinfo) == code, kwargs

    eks.create_access_entry(clusterName=cluster, principalArn=ADMIN_ROLE)
    scope_cases = [
        ({"type": "namespace"}, POLICY + "AmazonEKSViewPolicy", "InvalidParameterException"),
        ({"type": "cluster", "namespaces": ["a"]}, POLICY + "AmazonEKSViewPolicy", "InvalidParameterException"),
        ({"type": "everything"}, POLICY + "AmazonEKSViewPolicy", "InvalidParameterException"),
        ({"type": "cluster"}, POLICY + "AmazonEKSGodModePolicy", "ResourceNotFoundException"),
        ({"type": "cluster"}, "arn:aws:iam::aws:policy/AdministratorAccess", "InvalidParameterException"),
    ]
    for scope, policy, code in scope_cases:
        with pytest.raises(ClientError) as excinfo:
            eks.associate_access_policy(clusterName=cluster, principalArn=ADMIN_ROLE, policyArn=policy,
                                        accessScope=scope)
        assert error_code(excinfo) == code, (scope, policy)
    with pytest.raises(ClientError) as excinfo:
        eks.associate_access_policy(clusterName=cluster, principalArn=NODE_ROLE, policyArn=CLUSTER_ADMIN,
                                    accessScope={"type": "cluster"})
    assert error_code(excinfo) == "ResourceNotFoundException"

    # A node group gives its role an EC2_LINUX entry (which takes no policies nor groups).
    eks.create_nodegroup(clusterName=cluster, nodegroupName="workers", subnets=network["subnets"], nodeRole=NODE_ROLE)
    entry = eks.describe_access_entry(clusterName=cluster, principalArn=NODE_ROLE)["accessEntry"]
    assert entry["type"] == "EC2_LINUX"
    assert entry["username"] == "system:node:{{EC2PrivateDNSName}}"
    assert entry["kubernetesGroups"] == ["system:nodes"]
    with pytest.raises(ClientError) as excinfo:
        eks.associate_access_policy(clusterName=cluster, principalArn=NODE_ROLE, policyArn=CLUSTER_ADMIN,
                                    accessScope={"type": "cluster"})
    assert error_code(excinfo) == "InvalidParameterException"
    with pytest.raises(ClientError) as excinfo:
        eks.update_access_entry(clusterName=cluster, principalArn=NODE_ROLE, kubernetesGroups=["x"])
    assert error_code(excinfo) == "InvalidParameterException"
