"""Pure logic of the eks_cluster module and module_utils/eks: versions, modes, logging, views, plans, lookups."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError  # noqa: E402
from ansible_collections.llmhub.eks.plugins.module_utils import eks  # noqa: E402
from ansible_collections.llmhub.eks.plugins.modules import eks_cluster  # noqa: E402

ALL_LOGS = list(eks.LOG_TYPES)
KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
ROLE = "arn:aws:iam::123456789012:role/hub-eks-cluster"


def described(**overrides):
    """A describe_cluster result as EKS returns it."""
    cluster = {
        "name": "hub",
        "arn": "arn:aws:eks:us-east-1:123456789012:cluster/hub",
        "version": "1.34",
        "roleArn": ROLE,
        "status": "ACTIVE",
        "resourcesVpcConfig": {
            "subnetIds": ["subnet-b", "subnet-a"],
            "securityGroupIds": ["sg-1"],
            "clusterSecurityGroupId": "sg-cluster",
            "vpcId": "vpc-1",
            "endpointPublicAccess": True,
            "endpointPrivateAccess": True,
            "publicAccessCidrs": ["203.0.113.0/24", "198.51.100.0/24"],
        },
        "kubernetesNetworkConfig": {"serviceIpv4Cidr": "172.20.0.0/16", "ipFamily": "ipv4"},
        "logging": {"clusterLogging": [{"types": ALL_LOGS, "enabled": True}]},
        "encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": KEY}}],
        "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP", "bootstrapClusterCreatorAdminPermissions": True},
        "tags": {"Project": "hub"},
    }
    cluster.update(overrides)
    return cluster


def params(**overrides):
    """The module's parameters with their defaults."""
    values = {
        "name": "hub", "version": "1.34", "role": "hub-eks-cluster", "subnets": ["subnet-a", "subnet-b"],
        "security_groups": ["sg-1"], "endpoint_private_access": True, "endpoint_public_access": True,
        "public_access_cidrs": ["198.51.100.0/24", "203.0.113.0/24"], "encryption_key": "alias/hub",
        "logging": ALL_LOGS, "authentication_mode": "API_AND_CONFIG_MAP",
        "bootstrap_cluster_creator_admin_permissions": True, "service_ipv4_cidr": None, "wait": True,
        "wait_timeout": 1800, "tags": {"Project": "hub"}, "purge_tags": True, "state": "present",
    }
    values.update(overrides)
    return values


RESOLVED = {"role_arn": ROLE, "subnet_ids": ["subnet-a", "subnet-b"], "security_group_ids": ["sg-1"],
            "encryption_key_arn": KEY}


def plan(cluster=None, resolved=None, **overrides):
    before = eks.cluster_view(cluster or described())
    after = eks_cluster.wanted_view(params(**overrides), resolved or RESOLVED, before)
    return before, after


# --------------------------------------------------------------------------- versions

@pytest.mark.parametrize("version", ["1.32", "1.33", "1.34", "1.35"])
def test_supported_versions_pass(version):
    assert eks.version_error(version) is None


@pytest.mark.parametrize("version, fragment", [
    ("1.31", "no longer supported"),
    ("1.36", "newer than any version this collection supports"),
    ("1.40", "use 1.35 or older"),
    ("1.3", 'write "1.30" with quotes'),
    ("latest", "not a Kubernetes minor version"),
    ("1.31.2", "not a Kubernetes minor version"),
    ("2.0", "not a Kubernetes minor version"),
    ("", "not a Kubernetes minor version"),
])
def test_bad_versions_name_the_option(version, fragment):
    error = eks.version_error(version)
    assert error.startswith("version:") and fragment in error


@pytest.mark.parametrize("current, wanted", [("1.31", "1.31"), ("1.31", "1.32"), ("1.29", "1.30"), ("1.9", "1.10")])
def test_same_version_or_next_minor_is_allowed(current, wanted):
    assert eks.upgrade_error(current, wanted) is None


def test_jump_of_two_minors_says_to_upgrade_to_the_next_minor_first():
    error = eks.upgrade_error("1.31", "1.33")
    assert error.startswith("version:") and "next minor first" in error and "1.32" in error


def test_downgrade_is_refused():
    error = eks.upgrade_error("1.31", "1.30")
    assert "cannot downgrade" in error and "1.31" in error


def test_next_minor_is_numeric_not_textual():
    assert eks.next_minor("1.9") == "1.10"
    assert eks.parse_version("1.10") > eks.parse_version("1.9")


# --------------------------------------------------------------------------- authentication modes

@pytest.mark.parametrize("current, wanted, steps", [
    ("CONFIG_MAP", "CONFIG_MAP", []),
    ("CONFIG_MAP", "API_AND_CONFIG_MAP", ["API_AND_CONFIG_MAP"]),
    ("API_AND_CONFIG_MAP", "API", ["API"]),
    ("CONFIG_MAP", "API", ["API_AND_CONFIG_MAP", "API"]),
    (None, "API_AND_CONFIG_MAP", ["API_AND_CONFIG_MAP"]),
])
def test_authentication_modes_move_forward_one_step_at_a_time(current, wanted, steps):
    assert eks.authentication_mode_steps(current, wanted) == (steps, None)


@pytest.mark.parametrize("current, wanted", [("API", "CONFIG_MAP"), ("API", "API_AND_CONFIG_MAP"),
                                             ("API_AND_CONFIG_MAP", "CONFIG_MAP")])
def test_authentication_mode_cannot_go_back(current, wanted):
    steps, error = eks.authentication_mode_steps(current, wanted)
    assert steps == [] and error.startswith("authentication_mode:") and "cannot switch it back" in error


# --------------------------------------------------------------------------- logging

def test_enabled_log_types_reads_both_groups_and_sorts():
    logging = {"clusterLogging": [{"types": ["scheduler", "api"], "enabled": True},
                                  {"types": ["audit", "authenticator", "controllerManager"], "enabled": False}]}
    assert eks.enabled_log_types(logging) == ["api", "scheduler"]
    assert eks.enabled_log_types(None) == []


def test_later_logging_groups_win():
    logging = {"clusterLogging": [{"types": ["api"], "enabled": True}, {"types": ["api"], "enabled": False}]}
    assert eks.enabled_log_types(logging) == []


def test_logging_config_enables_the_listed_types_and_disables_the_rest():
    assert eks.logging_config(["audit", "api"]) == {"clusterLogging": [
        {"types": ["api", "audit"], "enabled": True},
        {"types": ["authenticator", "controllerManager", "scheduler"], "enabled": False},
    ]}
    assert eks.logging_config(ALL_LOGS) == {"clusterLogging": [{"types": ALL_LOGS, "enabled": True}]}
    assert eks.logging_config([]) == {"clusterLogging": [{"types": ALL_LOGS, "enabled": False}]}


# --------------------------------------------------------------------------- views and plans

def test_cluster_view_normalises_order_and_defaults():
    view = eks.cluster_view(described())
    assert view["subnet_ids"] == ["subnet-a", "subnet-b"]
    assert view["public_access_cidrs"] == ["198.51.100.0/24", "203.0.113.0/24"]
    assert view["logging"] == sorted(ALL_LOGS)
    assert view["encryption_key_arn"] == KEY
    bare = eks.cluster_view(described(encryptionConfig=None, accessConfig=None, logging=None, tags=None))
    assert bare["encryption_key_arn"] is None and bare["authentication_mode"] == "CONFIG_MAP"
    assert bare["logging"] == [] and bare["tags"] == {}
    assert eks.cluster_view(None) == {}


def test_identical_settings_plan_nothing():
    before, after = plan()
    assert eks_cluster.refusals(before, after) == []
    assert eks_cluster.planned_updates(before, after) == []
    assert eks_cluster.tag_changes(before, after) == ({}, [])
    assert eks_cluster.diff_of(before) == eks_cluster.diff_of(after)


def test_order_of_lists_does_not_matter():
    before, after = plan(public_access_cidrs=["203.0.113.0/24", "198.51.100.0/24"], logging=list(reversed(ALL_LOGS)),
                         resolved={**RESOLVED, "subnet_ids": ["subnet-b", "subnet-a"]})
    assert eks_cluster.planned_updates(before, after) == [] and eks_cluster.refusals(before, after) == []


def test_cidrs_and_logging_change_are_two_updates_in_order():
    before, after = plan(public_access_cidrs=["203.0.113.0/24"], logging=["api", "audit"])
    updates = eks_cluster.planned_updates(before, after)
    assert [kind for kind, _request in updates] == ["EndpointAccessUpdate", "LoggingUpdate"]
    assert updates[0][1] == {"resourcesVpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": True,
                                                    "publicAccessCidrs": ["203.0.113.0/24"]}}
    assert updates[1][1]["logging"]["clusterLogging"][0] == {"types": ["api", "audit"], "enabled": True}
    diff_before, diff_after = eks_cluster.diff_of(before), eks_cluster.diff_of(after)
    assert set(diff_before) == set(eks_cluster.DIFF_KEYS)
    changed = {key for key in eks_cluster.DIFF_KEYS if diff_before[key] != diff_after[key]}
    assert changed == {"public_access_cidrs", "logging"}


def test_public_cidrs_are_ignored_while_the_public_endpoint_is_off():
    cluster = described()
    cluster["resourcesVpcConfig"]["endpointPublicAccess"] = False
    before, after = plan(cluster, endpoint_public_access=False, public_access_cidrs=["10.0.0.0/8"])
    assert eks_cluster.planned_updates(before, after) == []
    before, after = plan(endpoint_public_access=False)
    assert eks_cluster.planned_updates(before, after) == [
        ("EndpointAccessUpdate", {"resourcesVpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": False}}),
    ]


def test_every_in_place_change_at_once_runs_in_a_fixed_order():
    cluster = described(encryptionConfig=None, accessConfig={"authenticationMode": "CONFIG_MAP"})
    before, after = plan(cluster, version="1.35", endpoint_private_access=False, logging=[], authentication_mode="API")
    assert [kind for kind, _request in eks_cluster.planned_updates(before, after)] == [
        "EndpointAccessUpdate", "LoggingUpdate", "AccessConfigUpdate", "AccessConfigUpdate",
        "AssociateEncryptionConfig", "VersionUpdate",
    ]
    assert eks_cluster.planned_updates(before, after)[-2][1] == {"encryptionConfig": [
        {"resources": ["secrets"], "provider": {"keyArn": KEY}}]}


@pytest.mark.parametrize("overrides, resolved, option", [
    ({}, {**RESOLVED, "subnet_ids": ["subnet-a", "subnet-c"]}, "subnets:"),
    ({}, {**RESOLVED, "security_group_ids": []}, "security_groups:"),
    ({}, {**RESOLVED, "role_arn": "arn:aws:iam::123456789012:role/other"}, "role:"),
    ({}, {**RESOLVED, "encryption_key_arn": None}, "encryption_key:"),
    ({}, {**RESOLVED, "encryption_key_arn": KEY.replace("1111", "9999")}, "encryption_key:"),
    ({"service_ipv4_cidr": "10.100.0.0/16"}, RESOLVED, "service_ipv4_cidr:"),
    ({"version": "1.36"}, RESOLVED, "version:"),
    ({"version": "1.33"}, RESOLVED, "version:"),
    ({"authentication_mode": "CONFIG_MAP"}, RESOLVED, "authentication_mode:"),
])
def test_what_cannot_change_in_place_is_refused_naming_the_option(overrides, resolved, option):
    before, after = plan(resolved=resolved, **overrides)
    problems = eks_cluster.refusals(before, after)
    assert len(problems) == 1 and problems[0].startswith(option), problems


def test_omitted_role_and_subnets_keep_the_clusters():
    before, after = plan(role=None, subnets=None, resolved={"security_group_ids": ["sg-1"], "encryption_key_arn": KEY})
    assert eks_cluster.refusals(before, after) == []
    assert after["role_arn"] == ROLE and after["subnet_ids"] == ["subnet-a", "subnet-b"]


def test_tags_purged_or_merged():
    before, after = plan(tags={"Team": "platform"})
    assert eks_cluster.tag_changes(before, after) == ({"Team": "platform"}, ["Project"])
    before, after = plan(tags={"Team": "platform"}, purge_tags=False)
    assert after["tags"] == {"Project": "hub", "Team": "platform"}
    assert eks_cluster.tag_changes(before, after) == ({"Team": "platform"}, [])
    before, after = plan(tags=None)
    assert after["tags"] == {"Project": "hub"}


def test_planned_cluster_view_from_parameters():
    after = eks_cluster.wanted_view(params(service_ipv4_cidr="172.20.0.0/16"), RESOLVED, None)
    assert after["public_access_cidrs"] == ["198.51.100.0/24", "203.0.113.0/24"]
    assert after["service_ipv4_cidr"] == "172.20.0.0/16" and after["tags"] == {"Project": "hub"}
    assert eks_cluster.diff_of({}) == {}


# --------------------------------------------------------------------------- input checks

@pytest.mark.parametrize("overrides, option", [
    ({"version": "1.31"}, "version:"),
    ({"public_access_cidrs": []}, "public_access_cidrs:"),
    ({"public_access_cidrs": ["10.0.0.1/8"]}, "public_access_cidrs:"),
    ({"public_access_cidrs": ["bogus"]}, "public_access_cidrs:"),
    ({"endpoint_private_access": False, "endpoint_public_access": False}, "endpoint_private_access"),
    ({"service_ipv4_cidr": "10.100.0.0/25"}, "service_ipv4_cidr:"),
    ({"service_ipv4_cidr": "100.64.0.0/16"}, "service_ipv4_cidr:"),
    ({"service_ipv4_cidr": "172.20.0.1/16"}, "service_ipv4_cidr:"),
    ({"name": "-hub"}, "name:"),
    ({"name": "h" * 101}, "name:"),
    ({"wait_timeout": 0}, "wait_timeout:"),
    ({"subnets": []}, "subnets:"),
    ({"tags": {"aws:eks:x": "y"}}, "tags:"),
])
def test_input_errors_name_the_option(overrides, option):
    errors = eks_cluster.input_errors(params(**overrides))
    assert len(errors) == 1 and errors[0].startswith(option), errors


def test_good_input_and_public_cidrs_ignored_without_public_endpoint():
    assert eks_cluster.input_errors(params()) == []
    assert eks_cluster.input_errors(params(service_ipv4_cidr="10.100.0.0/16")) == []
    assert eks_cluster.input_errors(params(endpoint_public_access=False, public_access_cidrs=[])) == []
    assert eks_cluster.input_errors(params(state="absent", version="bogus")) == []


# --------------------------------------------------------------------------- lookups and waiters (stub clients)

class Paginated:
    def __init__(self, items, key, calls):
        self.items, self.key, self.calls = items, key, calls

    def paginate(self, **params):
        self.calls.append(params)
        return self

    def build_full_result(self):
        return {self.key: self.items(self.calls[-1])}


def subnet(subnet_id, vpc, az, name=None):
    return {"SubnetId": subnet_id, "VpcId": vpc, "AvailabilityZone": az,
            "Tags": [{"Key": "Name", "Value": name}] if name else []}


class StubEC2:
    SUBNETS = [subnet("subnet-a", "vpc-1", "us-east-1a", "private-a"), subnet("subnet-b", "vpc-1", "us-east-1b", "private-b"),
               subnet("subnet-x", "vpc-2", "us-east-1a", "private-a"), subnet("subnet-y", "vpc-2", "us-east-1c", "other")]
    GROUPS = [{"GroupId": "sg-1", "GroupName": "extra", "VpcId": "vpc-1", "Tags": []},
              {"GroupId": "sg-2", "GroupName": "tagged", "VpcId": "vpc-1", "Tags": [{"Key": "Name", "Value": "nice"}]}]

    def __init__(self):
        self.calls = []

    def get_paginator(self, operation):
        def select(params):
            filters = {f["Name"]: f["Values"] for f in params["Filters"]}
            if operation == "describe_subnets":
                return [s for s in self.SUBNETS if s["SubnetId"] in filters.get("subnet-id", [])
                        or any(t["Value"] in filters.get("tag:Name", []) for t in s["Tags"])]
            return [g for g in self.GROUPS if g["VpcId"] in filters["vpc-id"]]

        return Paginated(select, "Subnets" if operation == "describe_subnets" else "SecurityGroups", self.calls)


def test_subnets_by_id_and_name_settle_on_the_common_vpc():
    ec2 = StubEC2()
    resolved = eks.resolve_subnets(ec2, ["private-a", "subnet-b"])
    assert [s["SubnetId"] for s in resolved] == ["subnet-a", "subnet-b"]
    assert len(ec2.calls) == 2  # one call for the ids, one for the names
    ec2 = StubEC2()
    assert [s["SubnetId"] for s in eks.resolve_subnets(ec2, ["subnet-a", "subnet-b"])] == ["subnet-a", "subnet-b"]
    assert len(ec2.calls) == 1


def test_subnets_missing_spread_or_ambiguous_fail_naming_the_option():
    with pytest.raises(eks.UnresolvedReferences) as missing:
        eks.resolve_subnets(StubEC2(), ["subnet-a", "nope"])
    assert missing.value.missing == ["nope"] and missing.value.message.startswith("subnets:")
    with pytest.raises(AnsibleAWSError, match="subnets: the subnets of a cluster must all be in one VPC"):
        eks.resolve_subnets(StubEC2(), ["subnet-a", "subnet-y"])
    with pytest.raises(AnsibleAWSError, match="several VPCs"):
        eks.resolve_subnets(StubEC2(), ["private-a"])


def test_security_groups_by_id_group_name_or_name_tag():
    ec2 = StubEC2()
    assert [g["GroupId"] for g in eks.resolve_security_groups(ec2, ["nice", "extra", "sg-1"], "vpc-1")] == ["sg-2", "sg-1"]
    assert len(ec2.calls) == 1
    assert eks.resolve_security_groups(ec2, [], "vpc-1") == []
    with pytest.raises(eks.UnresolvedReferences, match="security_groups"):
        eks.resolve_security_groups(StubEC2(), ["extra"], "vpc-2")


class StubEKS:
    """describe_update/describe_cluster answering a scripted sequence of statuses."""

    def __init__(self, update_statuses=(), cluster_statuses=()):
        self.update_statuses = list(update_statuses)
        self.cluster_statuses = list(cluster_statuses)

    def describe_update(self, aws_retry, name, updateId):  # noqa: N803 - boto3 parameter names
        status = self.update_statuses.pop(0)
        errors = [{"errorCode": "AccessDenied", "errorMessage": "KMS key policy"}] if status == "Failed" else []
        return {"update": {"id": updateId, "type": "AssociateEncryptionConfig", "status": status, "errors": errors}}

    def describe_cluster(self, aws_retry, name):
        return {"cluster": {"name": name, "status": self.cluster_statuses.pop(0)}}


def test_wait_for_update_polls_until_successful():
    client = StubEKS(update_statuses=["InProgress", "InProgress", "Successful"])
    sleeps = []
    update = eks.wait_for_update(client, "hub", "u-1", timeout=60, sleep=sleeps.append)
    assert update["status"] == "Successful" and len(sleeps) == 2


def test_wait_for_update_reports_a_failed_update_with_its_errors():
    with pytest.raises(AnsibleAWSError, match="AssociateEncryptionConfig Failed.*AccessDenied: KMS key policy"):
        eks.wait_for_update(StubEKS(update_statuses=["InProgress", "Failed"]), "hub", "u-1", timeout=60,
                            sleep=lambda seconds: None)


def test_wait_for_cluster_status_names_a_failed_status():
    client = StubEKS(cluster_statuses=["CREATING", "ACTIVE"])
    assert eks.wait_for_cluster_status(client, "hub", sleep=lambda seconds: None)["status"] == "ACTIVE"
    with pytest.raises(AnsibleAWSError, match="status FAILED"):
        eks.wait_for_cluster_status(StubEKS(cluster_statuses=["CREATING", "FAILED"]), "hub",
                                    sleep=lambda seconds: None)


class StubKMS:
    def __init__(self, state):
        self.state = state

    def describe_key(self, aws_retry=False, KeyId=None):  # noqa: N803 - boto3's parameter name
        return {"KeyMetadata": {"Arn": "arn:aws:kms:us-east-1:123456789012:key/k1", "KeyState": self.state}}


@pytest.mark.parametrize("state", ["PendingDeletion", "Disabled"])
def test_a_key_the_kms_step_would_revive_is_planned_in_check_mode_only(state):
    """After a destroy the cluster key is pending deletion; kms_key adopts and revives it, which check mode only plans."""
    assert eks.resolve_kms_key_arn(StubKMS(state), "alias/c", planned=True).endswith("key/k1")
    with pytest.raises(AnsibleAWSError, match=f"encryption_key: the KMS key .* is {state}; use an enabled key"):
        eks.resolve_kms_key_arn(StubKMS(state), "alias/c")
    with pytest.raises(AnsibleAWSError, match="PendingImport"):
        eks.resolve_kms_key_arn(StubKMS("PendingImport"), "alias/c", planned=True)
