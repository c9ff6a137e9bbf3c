"""Filters of the eks role: validation naming the variable, access entry list."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "plugins" / "filter"))

import eks  # noqa: E402

GOOD = {
    "eks_cluster_name": "hub", "eks_version": "1.35", "eks_endpoint_private_access": True, "eks_endpoint_public_access": True,
    "eks_public_access_cidrs": ["203.0.113.0/24"], "eks_log_types": ["api", "audit"],
    "eks_addons_before_compute": [{"name": "vpc-cni"}, {"name": "kube-proxy"}],
    "eks_addons_after_compute": [{"name": "coredns"}],
    "eks_access_entries": [{"principal_arn": "arn:aws:iam::123456789012:role/admins"}],
}


def test_good_settings_pass():
    assert eks.eks_validate_settings(dict(GOOD)) == GOOD


def test_whole_internet_only_when_allowed_explicitly():
    anywhere = {**GOOD, "eks_public_access_cidrs": ["0.0.0.0/0"], "eks_allow_public_endpoint_anywhere": True}
    assert eks.eks_validate_settings(dict(anywhere)) == anywhere


def test_role_defaults_name_no_public_cidr():
    defaults = yaml.safe_load((ROOT / "roles/eks/defaults/main.yml").read_text())
    assert defaults["eks_public_access_cidrs"] == [] and defaults["eks_allow_public_endpoint_anywhere"] is False
    assert defaults["eks_endpoint_public_access"] is True


@pytest.mark.parametrize("change, message", [
    ({"eks_version": "1.31"}, "eks_version: 1.31 is below the minimum supported 1.32"),
    ({"eks_version": "1.36"}, "eks_version: 1.36 is newer than 1.35"),
    ({"eks_version": "latest"}, "eks_version: 'latest' must look like 1.35"),
    ({"eks_public_access_cidrs": []}, "eks_public_access_cidrs: must list at least one CIDR"),
    ({"eks_public_access_cidrs": ["0.0.0.0/0"]}, "eks_public_access_cidrs: 0.0.0.0/0 opens the public API endpoint"),
    ({"eks_public_access_cidrs": ["203.0.113.0/24", "::/0"]}, "eks_public_access_cidrs: ::/0 opens"),
    ({"eks_public_access_cidrs": ["10.0.0.0/33"]}, "eks_public_access_cidrs: '10.0.0.0/33' is not a valid CIDR"),
    ({"eks_log_types": ["api", "kubelet"]}, "eks_log_types: unknown log types ['kubelet']"),
    ({"eks_addons_after_compute": [{"name": "corends"}]}, "eks_addons_after_compute[0].name: unknown add-on"),
    ({"eks_addons_before_compute": [{"name": "vpc-cni"}, {"name": "vpc-cni"}]}, "eks_addons_before_compute[1].name"),
    ({"eks_access_entries": [{"principal_arn": "admins"}]}, "eks_access_entries[0].principal_arn"),
    ({"eks_endpoint_public_access": False, "eks_endpoint_private_access": False}, "eks_endpoint_private_access"),
])
def test_bad_settings_name_the_variable(change, message):
    with pytest.raises(AnsibleFilterError, match=None) as error:
        eks.eks_validate_settings({**GOOD, **change})
    assert message in str(error.value)


def test_public_cidrs_may_be_empty_without_public_access():
    eks.eks_validate_settings({**GOOD, "eks_endpoint_public_access": False, "eks_public_access_cidrs": []})


def test_assumed_role_session_becomes_its_role():
    session = "arn:aws:sts::123456789012:assumed-role/platform-deployer/ansible-run"
    assert eks.iam_principal_arn(session) == "arn:aws:iam::123456789012:role/platform-deployer"
    assert eks.iam_principal_arn("arn:aws:iam::123456789012:user/ops") == "arn:aws:iam::123456789012:user/ops"


def test_deployer_is_added_as_cluster_admin_once():
    listed = [{"principal_arn": "arn:aws:iam::123456789012:role/admins", "kubernetes_groups": ["ops"]}]
    entries = eks.eks_access_entry_list(listed, "arn:aws:sts::123456789012:assumed-role/deployer/s")
    assert entries[1] == {"principal_arn": "arn:aws:iam::123456789012:role/deployer",
                          "access_policies": [{"policy": "AmazonEKSClusterAdminPolicy",
                                               "access_scope": {"type": "cluster"}}]}
    assert eks.eks_access_entry_list(listed, "arn:aws:iam::123456789012:role/admins") == listed
    assert eks.eks_access_entry_list(listed, None) == listed
    assert eks.eks_access_entry_list(listed, "arn:aws:sts::123456789012:federated-user/bob") == listed
    assert eks.eks_named_items(["a", "b"]) == [{"name": "a"}, {"name": "b"}]


def test_addon_versions_for_the_summary():
    assert eks.eks_addon_versions([{"name": "coredns", "version": "v1.12.1-eksbuild.2"}, {"name": "kube-proxy"}]) == [
        "coredns v1.12.1-eksbuild.2", "kube-proxy ?"]
