"""Pure logic of eks_addon and eks_access_entries: versions, configuration, policies, entry diffs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.llmhub.eks.plugins.module_utils import eks_addons as logic  # noqa: E402

ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
EDIT = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"


def version(name, clusters, default_for=()):
    return {
        "addonVersion": name,
        "compatibilities": [{"clusterVersion": c, "platformVersions": ["*"], "defaultVersion": c in default_for}
                            for c in clusters],
    }


COREDNS = {
    "addonName": "coredns",
    "addonVersions": [
        version("v1.11.3-eksbuild.2", ["1.29", "1.30", "1.31"], default_for=["1.31"]),
        version("v1.12.1-eksbuild.2", ["1.31", "1.32", "1.33"]),
        version("v1.11.10-eksbuild.1", ["1.30", "1.31"]),  # 10 > 3 numerically, not lexically
        version("v1.10.1-eksbuild.18", ["1.28"]),
    ],
}


class TestVersions:
    def test_version_key_is_numeric(self):
        assert logic.version_key("v1.11.10-eksbuild.1") > logic.version_key("v1.11.3-eksbuild.2")
        assert logic.version_key("v1.19.2-eksbuild.10") > logic.version_key("v1.19.2-eksbuild.9")

    def test_compatible_versions_newest_first(self):
        assert logic.compatible_versions(COREDNS, "1.31") == [
            "v1.12.1-eksbuild.2", "v1.11.10-eksbuild.1", "v1.11.3-eksbuild.2"]
        assert logic.compatible_versions(COREDNS, "1.28") == ["v1.10.1-eksbuild.18"]
        assert logic.compatible_versions(COREDNS, "1.27") == []

    def test_latest_is_the_newest_compatible_not_the_default(self):
        assert logic.default_version(COREDNS, "1.31") == "v1.11.3-eksbuild.2"
        assert logic.select_version([COREDNS], "coredns", "latest", "1.31") == ("v1.12.1-eksbuild.2", None)
        assert logic.select_version([COREDNS], "coredns", "latest", "1.29") == ("v1.11.3-eksbuild.2", None)

    def test_pinned_version_must_be_compatible(self):
        assert logic.select_version([COREDNS], "coredns", "v1.11.3-eksbuild.2", "1.30") == ("v1.11.3-eksbuild.2", None)
        chosen, problem = logic.select_version([COREDNS], "coredns", "v1.12.1-eksbuild.2", "1.30")
        assert chosen is None
        assert "not compatible with Kubernetes 1.30" in problem and "v1.11.10-eksbuild.1" in problem

    def test_unknown_addon_and_no_compatible_version(self):
        assert "not an EKS add-on" in logic.select_version([], "nope", "latest", "1.31")[1]
        assert "no version compatible with Kubernetes 1.27" in logic.select_version([COREDNS], "coredns", "latest",
                                                                                     "1.27")[1]

    def test_downgrade(self):
        assert logic.is_downgrade("v1.11.10-eksbuild.1", "v1.11.3-eksbuild.2")
        assert not logic.is_downgrade("v1.11.3-eksbuild.2", "v1.11.3-eksbuild.2")
        assert not logic.is_downgrade(None, "v1.11.3-eksbuild.2")


class TestConfiguration:
    @pytest.mark.parametrize("value", [
        {"replicaCount": 3, "resources": {"limits": {"memory": "170Mi"}}},
        '{"resources": {"limits": {"memory": "170Mi"}}, "replicaCount": 3}',
        "replicaCount: 3\nresources:\n  limits:\n    memory: 170Mi\n",
    ])
    def test_dict_json_and_yaml_compare_equal(self, value):
        assert logic.parse_configuration(value) == {"replicaCount": 3, "resources": {"limits": {"memory": "170Mi"}}}

    def test_empty_values(self):
        assert logic.parse_configuration(None) is None  # not managed
        assert logic.parse_configuration("") == {}
        assert logic.parse_configuration("{}") == {}
        assert logic.current_configuration({"configurationValues": None}) == {}
        assert logic.current_configuration({}) == {}

    @pytest.mark.parametrize("value", ["[1, 2]", "just text", "{unclosed: [", 42])
    def test_not_a_mapping(self, value):
        with pytest.raises(ValueError):
            logic.parse_configuration(value)

    def test_canonical_string(self):
        assert logic.configuration_string({"b": 1, "a": {"d": 2, "c": 3}}) == '{"a":{"c":3,"d":2},"b":1}'


class TestRoles:
    def test_role_references(self):
        assert logic.role_reference_problem("ebs-csi") is None
        assert logic.role_reference_problem("arn:aws:iam::123456789012:role/path/ebs-csi") is None
        assert logic.role_reference_problem("arn:aws:iam::123456789012:user/x")
        assert logic.role_reference_problem("bad name!")

    def test_planned_arn_uses_the_cluster_account(self):
        arn = "arn:aws:eks:us-east-1:123456789012:cluster/hub"
        assert logic.planned_role_arn("ebs", arn) == "arn:aws:iam::123456789012:role/ebs"

    def test_planned_arn_without_a_cluster_is_known_after_apply(self):
        assert logic.planned_role_arn("ebs", None) == "(known after apply)"


class TestAccessPolicies:
    @pytest.mark.parametrize("name", ["AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSEditPolicy",
                                      "AmazonEKSViewPolicy"])
    def test_names_map_to_arns(self, name):
        assert logic.access_policy_arn(name) == f"arn:aws:eks::aws:cluster-access-policy/{name}"

    def test_arns_are_kept(self):
        assert logic.access_policy_arn(VIEW) == VIEW

    @pytest.mark.parametrize("bad", ["arn:aws:iam::aws:policy/AdministratorAccess", "Amazon EKS View", ""])
    def test_other_values_are_refused(self, bad):
        with pytest.raises(ValueError):
            logic.access_policy_arn(bad)

    def test_scopes(self):
        assert logic.normalise_scope(None) == {"type": "cluster", "namespaces": []}
        assert logic.normalise_scope({"type": "namespace", "namespaces": ["b", "a", "b"]}) == {
            "type": "namespace", "namespaces": ["a", "b"]}
        assert logic.scope_problem({"type": "namespace", "namespaces": []})
        assert logic.scope_problem({"type": "cluster", "namespaces": ["a"]})
        assert logic.scope_problem({"type": "namespace", "namespaces": ["a"]}) is None


class TestPrincipals:
    def test_principal_arns(self):
        assert logic.principal_problem("arn:aws:iam::123456789012:role/admins") is None
        assert logic.principal_problem("arn:aws:iam::123456789012:user/team/alice") is None
        assert logic.principal_problem("arn:aws:sts::123456789012:assumed-role/admins/me")
        assert logic.principal_problem("admins")

    def test_caller_matches_its_role_entry(self):
        caller = "arn:aws:sts::123456789012:assumed-role/deployer/session-1"
        assert logic.same_principal("arn:aws:iam::123456789012:role/deployer", caller)
        assert logic.same_principal("arn:aws:iam::123456789012:role/ci/deployer", caller)  # path ignored
        assert not logic.same_principal("arn:aws:iam::123456789012:role/other", caller)
        assert not logic.same_principal("arn:aws:iam::210987654321:role/deployer", caller)
        assert not logic.same_principal("arn:aws:iam::123456789012:role/deployer", None)

    def test_username(self):
        assert logic.username_problem("system:admin")
        assert logic.username_problem("alice") is None
        assert logic.username_problem(None) is None


class TestEntryDiff:
    CURRENT = {"principalArn": "arn:aws:iam::123456789012:role/dev", "type": "STANDARD",
               "kubernetesGroups": ["dev"], "username": "arn:aws:sts::123456789012:assumed-role/dev/{{SessionName}}"}
    ASSOCIATED = [
        {"policyArn": EDIT, "accessScope": {"type": "namespace", "namespaces": ["apps"]}},
        {"policyArn": ADMIN, "accessScope": {"type": "cluster", "namespaces": []}},
    ]

    def wanted(self, **overrides):
        entry = {"principal_arn": self.CURRENT["principalArn"], "type": "STANDARD", "kubernetes_groups": ["dev"],
                 "username": None,
                 "access_policies": [
                     {"policy": "AmazonEKSEditPolicy", "access_scope": {"type": "namespace", "namespaces": ["apps"]}},
                     {"policy": ADMIN, "access_scope": None}]}
        entry.update(overrides)
        return entry

    def test_no_change(self):
        changes = logic.entry_changes(self.wanted(), self.CURRENT, self.ASSOCIATED)
        assert not logic.has_changes(changes)

    def test_groups_compared_as_sets_and_username_only_when_given(self):
        current = dict(self.CURRENT, kubernetesGroups=["b", "a"])
        assert not logic.has_changes(logic.entry_changes(self.wanted(kubernetes_groups=["a", "b"]), current,
                                                         self.ASSOCIATED))
        changes = logic.entry_changes(self.wanted(kubernetes_groups=None, username="dev"), self.CURRENT,
                                      self.ASSOCIATED)
        assert changes["update"] == {"kubernetesGroups": [], "username": "dev"}

    def test_scope_change_reassociates_and_missing_policy_is_disassociated(self):
        wanted = self.wanted(access_policies=[
            {"policy": "AmazonEKSEditPolicy", "access_scope": {"type": "namespace", "namespaces": ["batch", "apps"]}},
            {"policy": "AmazonEKSViewPolicy", "access_scope": None}])
        changes = logic.entry_changes(wanted, self.CURRENT, self.ASSOCIATED)
        assert changes["associate"] == {EDIT: {"type": "namespace", "namespaces": ["apps", "batch"]},
                                        VIEW: {"type": "cluster", "namespaces": []}}
        assert changes["disassociate"] == [ADMIN]
        assert changes["update"] == {}

    def test_node_entries_are_not_compared(self):
        node = {"principalArn": "arn:aws:iam::123456789012:role/nodes", "type": "EC2_LINUX",
                "kubernetesGroups": ["system:nodes"]}
        wanted = {"principal_arn": node["principalArn"], "type": "EC2_LINUX", "kubernetes_groups": None,
                  "username": None, "access_policies": None}
        assert not logic.has_changes(logic.entry_changes(wanted, node, []))

    def test_entry_view(self):
        view = logic.entry_view(dict(self.CURRENT, accessEntryArn="arn:x", tags={"a": "b"}), self.ASSOCIATED)
        assert view["access_policies"] == [
            {"policy_arn": ADMIN, "access_scope": {"type": "cluster", "namespaces": []}},
            {"policy_arn": EDIT, "access_scope": {"type": "namespace", "namespaces": ["apps"]}},
        ]
        assert view["kubernetes_groups"] == ["dev"] and view["tags"] == {"a": "b"}


def test_set_waiter_polls_after_a_twentieth_of_the_time_waited():
    """Polls come quickly at first, then after ~5% of the elapsed time, capped at 10 s."""
    from ansible_collections.llmhub.eks.plugins.module_utils import common

    now = [0.0]
    delays = []

    def sleep(seconds):
        delays.append(round(seconds, 3))
        now[0] += seconds

    ready_at = 600.0
    common.wait_for_set(lambda ids: {i: {"t": now[0]} for i in ids}, ["x"], lambda r: r["t"] >= ready_at,
                        lambda r: None, 1800, "test", sleep=sleep, clock=lambda: now[0])
    assert delays[:3] == [0.25, 0.25, 0.25]
    assert max(delays) == 10.0
    assert now[0] - ready_at <= 10.0
    # Each delay is 5% of the time waited so far (bounded by 0.25 s and 10 s).
    waited = 0.0
    for delay in delays:
        assert delay == pytest.approx(min(10.0, max(0.25, waited * 0.05)), abs=0.002)
        waited += delay
    assert len(delays) < 150
