"""The pure part of eks_leftovers: which tags make a resource the cluster's, what is kept and why, which ARNs of
the tagging API no enumerator covers, and the deletion order."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.llmhub.eks.plugins.module_utils import leftovers as lo

CLUSTER = "llm-analytics-hub-prod-eks"


@pytest.mark.parametrize(("tags", "expected"), [
    ({"llmhub.io/cluster": CLUSTER}, f"llmhub.io/cluster={CLUSTER}"),
    ({f"kubernetes.io/cluster/{CLUSTER}": "owned"}, f"kubernetes.io/cluster/{CLUSTER}=owned"),
    ({"elbv2.k8s.aws/cluster": CLUSTER}, f"elbv2.k8s.aws/cluster={CLUSTER}"),
    ({"KubernetesCluster": CLUSTER}, f"KubernetesCluster={CLUSTER}"),
    ({"eks:cluster-name": CLUSTER}, f"eks:cluster-name={CLUSTER}"),
    ({"aws:eks:cluster-name": CLUSTER}, f"aws:eks:cluster-name={CLUSTER}"),
    ({"cluster.k8s.amazonaws.com/name": CLUSTER}, f"cluster.k8s.amazonaws.com/name={CLUSTER}"),
    # a shared subnet is someone else's; another cluster's tags are not ours
    ({f"kubernetes.io/cluster/{CLUSTER}": "shared"}, None),
    ({"llmhub.io/cluster": CLUSTER + "-2"}, None),
    ({"Name": CLUSTER}, None),
    ({}, None),
    (None, None),
])
def test_the_tags_that_make_a_resource_the_clusters(tags, expected):
    assert lo.marked_by(tags, CLUSTER) == expected


def snapshot(**tags):
    return lo.record("snapshots", "snap-1", raw={"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]})


def test_snapshots_are_kept_unless_asked_and_backup_sets_always():
    dlm = snapshot(KubernetesCluster=CLUSTER, **{lo.DLM_POLICY_TAG: "policy-1"})
    assert "Data Lifecycle Manager" in lo.keep_reason(dlm, False, set())
    assert lo.keep_reason(dlm, True, set()) is None
    backup = snapshot(KubernetesCluster=CLUSTER, **{lo.BACKUP_ID_TAG: "rt-1"})
    assert "backup set rt-1" in lo.keep_reason(backup, True, set())


def test_claim_volumes_dlm_policies_their_roles_and_pending_keys_are_kept():
    volume = lo.record("volumes", "vol-1", raw={"Tags": [{"Key": lo.CSI_TAG, "Value": "true"}]})
    assert "destroy_volumes=true" in lo.keep_reason(volume, False, set())
    assert lo.keep_reason(volume, False, set(), delete_claim_volumes=True) is None
    assert lo.keep_reason(lo.record("volumes", "vol-2", raw={"Tags": []}), False, set()) is None
    policy = lo.record("dlm_policies", "policy-1", raw={})
    assert lo.keep_reason(policy, False, set()) and lo.keep_reason(policy, True, set()) is None
    role = lo.record("iam_roles", "r", raw={"Arn": "arn:aws:iam::1:role/r"})
    assert "Data Lifecycle Manager" in lo.keep_reason(role, False, {"arn:aws:iam::1:role/r"})
    assert lo.keep_reason(role, False, set()) is None
    when = datetime.datetime(2026, 12, 9, 15, 0, tzinfo=datetime.timezone.utc)
    key = lo.record("kms_keys", "k", raw={"KeyState": "PendingDeletion", "DeletionDate": when})
    assert lo.keep_reason(key, False, set()).startswith("deletion scheduled for 2026-12-09 15:00 UTC")
    assert lo.keep_reason(lo.record("kms_keys", "k", raw={"KeyState": "Enabled"}), False, set()) is None


@pytest.mark.parametrize(("arn", "unhandled"), [
    ("arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1", False),
    ("arn:aws:ec2:us-east-1:123456789012:natgateway/nat-1", False),
    ("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/1", False),
    ("arn:aws:logs:us-east-1:123456789012:log-group:/aws/eks/x/cluster", False),
    ("arn:aws:kms:us-east-1:123456789012:key/1234", False),
    ("arn:aws:eks:us-east-1:123456789012:nodegroup/c/g/1", False),
    ("arn:aws:acm:us-east-1:123456789012:certificate/1cac2e1e-17c2-4a01-ab41-c542f557fc37", False),
    ("arn:aws:ec2:us-east-1:123456789012:vpc-peering-connection/pcx-1", True),
    ("arn:aws:s3:::bucket", True),
    ("arn:aws:sqs:us-east-1:123456789012:queue", True),
])
def test_tagging_api_arns_no_enumerator_covers(arn, unhandled):
    assert lo.unhandled_arn(arn) is unhandled


def test_every_type_is_deleted_in_one_phase_in_dependency_order():
    order = [t for phase in lo.PHASES for t in phase]
    assert sorted(order) == sorted(lo.RESOURCE_TYPES)
    position = {t: i for i, phase in enumerate(lo.PHASES) for t in phase}
    for before, after in (("eks_clusters", "instances"), ("load_balancers", "target_groups"),
                          ("load_balancers", "certificates"),
                          ("nat_gateways", "elastic_ips"), ("elastic_ips", "network_interfaces"),
                          ("network_interfaces", "security_groups"), ("route_tables", "subnets"),
                          ("subnets", "vpcs"), ("iam_policies", "iam_roles"), ("instance_profiles", "iam_roles")):
        assert position[before] < position[after], (before, after)
