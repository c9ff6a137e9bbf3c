"""Pure rules of ec2_launch_templates and eks_nodegroups (module_utils/nodegroups.py), no AWS."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.llmhub.eks.plugins.module_utils import nodegroups as ng  # noqa: E402


# --------------------------------------------------------------------------- labels and taints


def apply_labels(current, change):
    """What EKS does with UpdateNodegroupConfig's labels."""
    result = dict(current)
    result.update(change.get("addOrUpdateLabels") or {})
    for key in change.get("removeLabels") or []:
        result.pop(key, None)
    return result


def apply_taints(current, change):
    """What EKS does with UpdateNodegroupConfig's taints (a taint is identified by key and effect)."""
    removed = {(t["key"], t["effect"]) for t in change.get("removeTaints") or []}
    result = {(t["key"], t["effect"]): t for t in current if (t["key"], t["effect"]) not in removed}
    for taint in change.get("addOrUpdateTaints") or []:
        result[(taint["key"], taint["effect"])] = taint
    return sorted(result.values(), key=lambda t: (t["key"], t["effect"]))


def test_labels_equal_means_no_change():
    assert ng.labels_change({"role": "system"}, {"role": "system"}) is None
    assert ng.labels_change({}, {}) is None
    assert ng.labels_change(None, None) is None


def test_labels_add_update_and_remove():
    change = ng.labels_change({"role": "system", "old": "x", "tier": "1"}, {"role": "database", "tier": 1, "new": "y"})
    assert change == {"addOrUpdateLabels": {"new": "y", "role": "database"}, "removeLabels": ["old"]}
    assert apply_labels({"role": "system", "old": "x", "tier": "1"}, change) == {"role": "database", "tier": "1",
                                                                                 "new": "y"}


def test_labels_only_removed():
    assert ng.labels_change({"a": "1", "b": "2"}, {"a": "1"}) == {"removeLabels": ["b"]}


def test_taints_equal_whatever_the_order():
    current = [{"key": "b", "effect": "NO_EXECUTE"}, {"key": "a", "value": "1", "effect": "NO_SCHEDULE"}]
    wanted = [{"key": "a", "value": "1", "effect": "NO_SCHEDULE"}, {"key": "b", "value": "", "effect": "NO_EXECUTE"}]
    assert ng.taints_change(current, wanted) is None


def test_taint_value_change_is_an_update_not_a_removal():
    current = [{"key": "workload", "value": "database", "effect": "NO_SCHEDULE"}]
    wanted = [{"key": "workload", "value": "db", "effect": "NO_SCHEDULE"}]
    assert ng.taints_change(current, wanted) == {"addOrUpdateTaints": wanted}


def test_taint_effect_change_adds_the_new_and_removes_the_old():
    current = [{"key": "workload", "value": "database", "effect": "NO_SCHEDULE"}]
    wanted = [{"key": "workload", "value": "database", "effect": "NO_EXECUTE"}]
    change = ng.taints_change(current, wanted)
    assert change == {"addOrUpdateTaints": wanted, "removeTaints": current}
    assert apply_taints(current, change) == wanted


def test_all_taints_removed():
    current = [{"key": "workload", "value": "database", "effect": "NO_SCHEDULE"}, {"key": "x", "effect": "NO_EXECUTE"}]
    change = ng.taints_change(current, [])
    assert change == {"removeTaints": [{"key": "workload", "value": "database", "effect": "NO_SCHEDULE"},
                                       {"key": "x", "effect": "NO_EXECUTE"}]}
    assert apply_taints(current, change) == []


def test_wanted_taints_accept_kubernetes_spelling_and_drop_empty_values():
    assert ng.wanted_taints([{"key": "k", "value": "", "effect": "NoSchedule"},
                             {"key": "w", "value": 1, "effect": "PREFER_NO_SCHEDULE"}]) == [
        {"key": "k", "effect": "NO_SCHEDULE"}, {"key": "w", "value": "1", "effect": "PREFER_NO_SCHEDULE"}]


# --------------------------------------------------------------------------- scaling and desired size drift

SPEC = {"min_size": 3, "desired_size": 5, "max_size": 10}


def current(low, desired, high):
    return {"minSize": low, "desiredSize": desired, "maxSize": high}


def test_scaling_unchanged():
    assert ng.scaling_change(current(3, 5, 10), SPEC) == (None, None)


def test_autoscaler_drift_within_range_is_kept_and_reported():
    change, drift = ng.scaling_change(current(3, 8, 10), SPEC)
    assert change is None
    assert drift == {"desired_size": 5, "current_desired_size": 8}


def test_drift_is_reverted_when_enforced():
    change, drift = ng.scaling_change(current(3, 8, 10), SPEC, enforce_desired_size=True)
    assert change == {"minSize": 3, "maxSize": 10, "desiredSize": 5}
    assert drift is None


def test_desired_size_outside_the_new_range_is_set_to_the_spec():
    # max lowered below the autoscaler's size: the spec's desired size is set, no drift kept.
    change, drift = ng.scaling_change(current(3, 9, 10), {"min_size": 3, "desired_size": 5, "max_size": 8})
    assert change == {"minSize": 3, "maxSize": 8, "desiredSize": 5}
    assert drift is None


def test_range_change_keeps_the_autoscalers_size():
    change, drift = ng.scaling_change(current(3, 7, 10), {"min_size": 3, "desired_size": 5, "max_size": 12})
    assert change == {"minSize": 3, "maxSize": 12, "desiredSize": 7}
    assert drift == {"desired_size": 5, "current_desired_size": 7}


def test_scaling_compares_strings_as_numbers():
    assert ng.scaling_change({"minSize": "3", "desiredSize": "5", "maxSize": "10"}, SPEC) == (None, None)


def test_update_config():
    assert ng.update_config_change({"maxUnavailable": 1}, None) is None
    assert ng.update_config_change({"maxUnavailable": 1}, {"max_unavailable": 1}) is None
    assert ng.update_config_change({"maxUnavailable": 1}, {"max_unavailable_percentage": 33}) == {
        "maxUnavailablePercentage": 33}
    assert ng.update_config_change({"maxUnavailablePercentage": 33}, {"max_unavailable": 2}) == {"maxUnavailable": 2}


# --------------------------------------------------------------------------- what cannot change in place

NODEGROUP = {
    "nodegroupName": "database", "instanceTypes": ["r5.2xlarge"], "capacityType": "ON_DEMAND",
    "subnets": ["subnet-b", "subnet-a"], "amiType": "AL2023_x86_64_STANDARD",
    "nodeRole": "arn:aws:iam::123456789012:role/node", "launchTemplate": {"id": "lt-1", "name": "db", "version": "1"},
    "releaseVersion": "1.33.0-20250519",
}
TARGET = {"instance_types": ["r5.2xlarge"], "capacity_type": "ON_DEMAND", "subnets": ["subnet-a", "subnet-b"],
          "ami_type": "AL2023_x86_64_STANDARD", "node_role": "arn:aws:iam::123456789012:role/node", "disk_size": None,
          "launch_template": "lt-1"}


def test_no_immutable_change_with_subnets_in_another_order():
    assert ng.immutable_changes(NODEGROUP, TARGET) == []
    assert ng.immutable_changes(NODEGROUP, {**TARGET, "launch_template": "db"}) == []


@pytest.mark.parametrize("field, value", [
    ("instance_types", ["r5.4xlarge"]), ("capacity_type", "SPOT"), ("subnets", ["subnet-a"]),
    ("ami_type", "BOTTLEROCKET_x86_64"), ("node_role", "arn:aws:iam::123456789012:role/other"),
    ("launch_template", "lt-2"), ("launch_template", None),
])
def test_immutable_changes_are_named(field, value):
    changes = ng.immutable_changes(NODEGROUP, {**TARGET, field: value})
    assert [change[0] for change in changes] == [field]


def test_disk_size_only_compared_when_given():
    group = {**NODEGROUP, "launchTemplate": None, "diskSize": 20}
    target = {**TARGET, "launch_template": None}
    assert ng.immutable_changes(group, target) == []
    assert ng.immutable_changes(group, {**target, "disk_size": 50}) == [("disk_size", 20, 50)]


def test_version_change():
    assert ng.version_change(NODEGROUP, "1") is None
    assert ng.version_change(NODEGROUP, 2) == {"launchTemplate": {"id": "lt-1", "version": "2"}}
    assert ng.version_change(NODEGROUP, "1", "1.33.0-20250601") == {"releaseVersion": "1.33.0-20250601"}
    assert ng.version_change(NODEGROUP, "1", "1.33.0-20250519") is None


def test_failure_reason_names_status_and_health_issues():
    group = {"status": "CREATE_FAILED", "health": {"issues": [
        {"code": "AsgInstanceLaunchFailures", "message": "Could not launch Spot Instances",
         "resourceIds": ["eks-application-1"]}]}}
    assert ng.failure_reason(group) == ("status CREATE_FAILED, health issues: AsgInstanceLaunchFailures: Could not "
                                        "launch Spot Instances (eks-application-1)")
    assert ng.failure_reason({"status": "DEGRADED"}) == "status DEGRADED, no health issues reported"
    assert ng.failure_reason({"status": "ACTIVE"}) is None


# --------------------------------------------------------------------------- launch template data

SPEC_TEMPLATE = {
    "name": "hub-database", "ebs_optimized": True, "monitoring": True,
    "metadata": {"http_tokens": "required", "http_put_response_hop_limit": 2, "http_endpoint": "enabled"},
    "root_volume": {"device_name": "/dev/xvda", "size_gb": 500, "type": "gp3", "iops": 3000, "throughput": 125,
                    "encrypted": True, "kms_key": "alias/hub", "delete_on_termination": True},
    "security_groups": ["hub-node", "sg-2"], "instance_tags": {"Name": "hub-database", "Project": "hub"},
}
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1111"


def test_template_data_has_what_node_groups_leave_to_a_template():
    data = ng.template_data(SPEC_TEMPLATE, ["sg-1", "sg-2"], KEY_ARN)
    assert data["EbsOptimized"] is True and data["Monitoring"] == {"Enabled": True}
    assert data["MetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 2,
                                       "HttpEndpoint": "enabled"}
    assert data["BlockDeviceMappings"] == [{"DeviceName": "/dev/xvda", "Ebs": {
        "VolumeSize": 500, "VolumeType": "gp3", "Encrypted": True, "DeleteOnTermination": True, "Iops": 3000,
        "Throughput": 125, "KmsKeyId": KEY_ARN}}]
    assert data["SecurityGroupIds"] == ["sg-1", "sg-2"]
    assert [spec["ResourceType"] for spec in data["TagSpecifications"]] == ["instance", "volume", "network-interface"]
    assert not {"ImageId", "InstanceType", "UserData"} & set(data)


def as_described(data):
    """The same content as DescribeLaunchTemplateVersions could render it: other order, strings, extra tag spec."""
    ebs = data["BlockDeviceMappings"][0]["Ebs"]
    return {
        "TagSpecifications": [
            {"ResourceType": "volume", "Tags": list(reversed(data["TagSpecifications"][1]["Tags"]))},
            {"ResourceType": "launch-template", "Tags": [{"Key": "Project", "Value": "hub"}]},
            {"ResourceType": "instance", "Tags": data["TagSpecifications"][0]["Tags"]},
            {"ResourceType": "network-interface", "Tags": data["TagSpecifications"][2]["Tags"]},
        ],
        "SecurityGroupIds": list(reversed(data["SecurityGroupIds"])),
        "MetadataOptions": {k: str(v) for k, v in data["MetadataOptions"].items()},
        "Monitoring": {"Enabled": "true"},
        "EbsOptimized": True,
        "BlockDeviceMappings": [{"Ebs": {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in ebs.items()},
                                 "DeviceName": "/dev/xvda"}],
        "UserData": None,
    }


def test_same_content_in_another_form_is_not_a_change():
    wanted = ng.template_data(SPEC_TEMPLATE, ["sg-1", "sg-2"], KEY_ARN)
    assert not ng.template_differs(as_described(wanted), wanted)
    assert ng.template_view(as_described(wanted)) == ng.template_view(wanted)


@pytest.mark.parametrize("change", [
    {"root_volume": {**SPEC_TEMPLATE["root_volume"], "size_gb": 600}},
    {"metadata": {**SPEC_TEMPLATE["metadata"], "http_tokens": "optional"}},
    {"instance_tags": {"Name": "hub-database", "Project": "other"}},
    {"monitoring": False},
])
def test_content_changes_are_changes(change):
    wanted = ng.template_data(SPEC_TEMPLATE, ["sg-1", "sg-2"], KEY_ARN)
    assert ng.template_differs(wanted, ng.template_data({**SPEC_TEMPLATE, **change}, ["sg-1", "sg-2"], KEY_ARN))


def test_security_group_and_key_changes_are_changes():
    wanted = ng.template_data(SPEC_TEMPLATE, ["sg-1", "sg-2"], KEY_ARN)
    assert ng.template_differs(wanted, ng.template_data(SPEC_TEMPLATE, ["sg-1"], KEY_ARN))
    assert ng.template_differs(wanted, ng.template_data(SPEC_TEMPLATE, ["sg-1", "sg-2"], None))


def test_content_added_outside_the_collection_is_a_change():
    wanted = ng.template_data(SPEC_TEMPLATE, ["sg-1", "sg-2"], KEY_ARN)
    assert ng.template_differs({**wanted, "ImageId": "ami-123"}, wanted)
    assert ng.template_view({**wanted, "ImageId": "ami-123"})["other"] == {"ImageId": "ami-123"}


# --------------------------------------------------------------------------- validation

GOOD = {"name": "system", "node_role": "node", "subnets": ["a"], "capacity_type": "ON_DEMAND",
        "instance_types": ["m5.xlarge"], "scaling": {"min_size": 2, "desired_size": 3, "max_size": 4},
        "taints": [], "update_config": None, "launch_template": {"name": "lt"}, "disk_size": None}


def problems(*groups, recreate=(), state="present"):
    return ng.validate_nodegroups(list(groups), list(recreate), state)


def test_valid_input_has_no_problem():
    assert problems(GOOD, {**GOOD, "name": "database"}, recreate=["database"]) == []


@pytest.mark.parametrize("change, message", [
    ({"scaling": {"min_size": 3, "desired_size": 2, "max_size": 4}}, "nodegroups[1].scaling: min_size 3 > desired_size 2"),
    ({"scaling": {"min_size": 0, "desired_size": 5, "max_size": 4}}, "nodegroups[1].scaling: desired_size 5 > max_size 4"),
    ({"scaling": {"min_size": 0, "desired_size": 0, "max_size": 0}}, "nodegroups[1].scaling: max_size 0 must be >= 1"),
    ({"scaling": None}, "nodegroups[1].scaling: required"),
    ({"capacity_type": "spot"}, "nodegroups[1].capacity_type: 'spot' must be one of"),
    ({"instance_types": []}, "nodegroups[1].instance_types: must list at least one"),
    ({"taints": [{"key": "k", "effect": "NoWay"}]}, "nodegroups[1].taints[0].effect: 'NoWay' must be one of"),
    ({"taints": [{"key": "", "effect": "NO_SCHEDULE"}]}, "nodegroups[1].taints[0].key: required"),
    ({"update_config": {"max_unavailable": 1, "max_unavailable_percentage": 10}},
     "nodegroups[1].update_config: give max_unavailable or max_unavailable_percentage, not both"),
    ({"disk_size": 50}, "nodegroups[1].disk_size: only without a launch template"),
    ({"launch_template": {"name": "lt", "version": "latest"}}, "nodegroups[1].launch_template.version"),
    ({"name": "system"}, "nodegroups[1].name: 'system' is already nodegroups[0]"),
    ({"node_role": None}, "nodegroups[1].node_role: required"),
])
def test_each_problem_names_its_option(change, message):
    found = problems(GOOD, {**GOOD, "name": "database", **change})
    assert any(message in problem for problem in found), found


def test_recreate_names_must_be_listed():
    assert problems(GOOD, recreate=["gpu"]) == [
        "recreate: ['gpu'] are not listed in nodegroups (['system']); list every node group to recreate with its full "
        "definition"]


def test_absent_needs_names_only():
    assert problems({"name": "system"}, state="absent") == []


def test_launch_template_validation():
    spec = {"name": "hub-system", "root_volume": {"size_gb": 20, "type": "gp2", "iops": 3000}}
    assert ng.validate_launch_templates([spec], "present") == [
        "launch_templates[0].root_volume.iops: only ['gp3', 'io1', 'io2'] volumes take iops, not gp2"]
    assert ng.validate_launch_templates([{"name": "x"}], "present") == [
        "launch_templates[0].name: 'x' must be 3-128 letters, digits and ().-/_"]
    names = {"name": "hub-system", "security_groups": ["hub-node", "sg-1"]}
    assert ng.validate_launch_templates([names], "present", vpc_id="vpc-1") == []
    assert ng.validate_launch_templates([names], "present", check_mode=True) == []
    assert "give vpc_id" in ng.validate_launch_templates([names], "present")[0]


# --------------------------------------------------------------------------- waiting and update order (fake EKS)


class FakeEks:
    """Node groups whose describe answers follow a script: each call takes the next state (the last one sticks)."""

    def __init__(self, scripts, updates=None):
        self.scripts = {name: list(states) for name, states in scripts.items()}
        self.updates = {key: list(states) for key, states in (updates or {}).items()}
        self.calls = []

    @staticmethod
    def _next(states):
        return states.pop(0) if len(states) > 1 else states[0]

    def describe_nodegroup(self, aws_retry, clusterName, nodegroupName):  # noqa: N803 - boto3 names
        self.calls.append(("describe_nodegroup", nodegroupName))
        status, issues = self._next(self.scripts[nodegroupName])
        return {"nodegroup": {"nodegroupName": nodegroupName, "status": status, "health": {"issues": issues}}}

    def describe_update(self, aws_retry, name, nodegroupName, updateId):  # noqa: N803
        self.calls.append(("describe_update", nodegroupName, updateId))
        return {"update": {"id": updateId, "type": "ConfigUpdate", "status": self._next(self.updates[updateId])}}

    def update_nodegroup_config(self, aws_retry, clusterName, nodegroupName, **payload):  # noqa: N803
        self.calls.append(("update_nodegroup_config", nodegroupName, payload))
        return {"update": {"id": "config-1"}}

    def update_nodegroup_version(self, aws_retry, clusterName, nodegroupName, **payload):  # noqa: N803
        self.calls.append(("update_nodegroup_version", nodegroupName, payload))
        return {"update": {"id": "version-1"}}


class FakeRun:
    cluster_name = "hub"
    force_update = False
    cluster_version = "1.35"

    def __init__(self, eks):
        self.eks = eks

    def remaining(self):
        return 60.0

    def describe(self, name):
        return self.eks.describe_nodegroup(aws_retry=True, clusterName=self.cluster_name, nodegroupName=name)["nodegroup"]


@pytest.fixture
def module_code(monkeypatch):
    from ansible_collections.llmhub.eks.plugins.module_utils import common
    from ansible_collections.llmhub.eks.plugins.modules import eks_nodegroups

    monkeypatch.setattr(common, "POLL_FIRST_DELAY", 0.001)
    monkeypatch.setattr(common, "POLL_MAX_DELAY", 0.001)
    return eks_nodegroups


def test_a_failed_group_does_not_stop_the_wait_for_the_others(module_code):
    from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

    issue = {"code": "AsgInstanceLaunchFailures", "message": "Could not launch Spot Instances", "resourceIds": ["asg-1"]}
    eks = FakeEks({
        "system": [("CREATING", [])] * 3 + [("ACTIVE", [])],
        "application": [("CREATING", []), ("CREATE_FAILED", [issue])],
        "database": [("CREATING", [])] * 5 + [("ACTIVE", [])],
    })
    with pytest.raises(AnsibleAWSError) as error:
        module_code.wait_all(FakeRun(eks), {"system": None, "application": None, "database": None})
    message = error.value.message
    assert "application: status CREATE_FAILED, health issues: AsgInstanceLaunchFailures: Could not launch Spot" in message
    assert "system" not in message and "database" not in message
    # The others were polled until ACTIVE after application had failed.
    polled = [call[1] for call in eks.calls]
    assert polled.count("database") == 6 and polled.count("application") == 2


def test_one_update_at_a_time_per_node_group(module_code):
    eks = FakeEks({"database": [("ACTIVE", [])]}, updates={"config-1": ["InProgress", "InProgress", "Successful"]})
    plan = {"spec": {"name": "database"}, "action": "update", "tags_set": {}, "tags_unset": [],
            "current": {"nodegroupArn": "arn", "status": "ACTIVE"},
            "config": {"scalingConfig": {"minSize": 3, "maxSize": 6, "desiredSize": 4}},
            "version": {"launchTemplate": {"id": "lt-1", "version": "2"}}}
    assert module_code.execute(FakeRun(eks), plan) == "version-1"
    kinds = [call[0] for call in eks.calls]
    assert kinds[0] == "update_nodegroup_config" and kinds[-1] == "update_nodegroup_version"
    assert kinds.count("describe_update") == 3, "the version update waits until the config update succeeded"
