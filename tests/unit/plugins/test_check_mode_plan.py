"""Check mode plans: the shared "(known after apply)" helpers of the modules and the run summary filter."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / ".collections"))
sys.path.insert(0, str(ROOT / "plugins" / "filter"))

import summary  # noqa: E402
from ansible_collections.llmhub.eks.plugins.module_utils import common  # noqa: E402

KNOWN_AFTER_APPLY = "(known after apply)"


class Failed(Exception):
    pass


class FakeModule:
    def __init__(self, check_mode, **params):
        self.check_mode = check_mode
        self.params = params

    def fail_json(self, msg, **_kwargs):
        raise Failed(msg)


def test_the_placeholder_is_terraforms():
    assert common.KNOWN_AFTER_APPLY == KNOWN_AFTER_APPLY


def test_planned_and_is_known():
    assert common.planned(None) == KNOWN_AFTER_APPLY
    assert common.planned(None, check_mode=False) is None
    assert common.planned("vpc-1") == "vpc-1"
    assert [common.is_known(v) for v in (None, KNOWN_AFTER_APPLY, "", "vpc-1")] == [False, False, True, True]


def test_fill_unknown_only_fills_the_named_nulls_in_check_mode():
    view = {"arn": None, "status": None, "disk_size": None, "name": "system"}
    assert common.fill_unknown(view, ("arn", "status")) == {
        "arn": KNOWN_AFTER_APPLY, "status": KNOWN_AFTER_APPLY, "disk_size": None, "name": "system"}
    assert common.fill_unknown(view, ("arn",), check_mode=False) is view
    assert view["arn"] is None  # a copy


def test_known_option_takes_the_placeholder_as_none_only_in_check_mode():
    assert common.known_option(FakeModule(True, vpc_id=KNOWN_AFTER_APPLY), "vpc_id") is None
    assert common.known_option(FakeModule(False, vpc_id="vpc-1"), "vpc_id") == "vpc-1"
    assert common.known_option(FakeModule(True, vpc_id=None), "vpc_id") is None
    with pytest.raises(Failed, match=r"vpc_id: '\(known after apply\)' is the check mode placeholder"):
        common.known_option(FakeModule(False, vpc_id=KNOWN_AFTER_APPLY), "vpc_id")


def test_summary_of_a_run_says_built_and_keeps_the_outputs():
    layers = {"iam": {"cluster_role_arn": "arn:aws:iam::1:role/r", "extra": None}, "eks": None}
    assert summary.platform_summary(layers) == {
        "run": "built", "iam": {"cluster_role_arn": "arn:aws:iam::1:role/r", "extra": None}, "eks": "not in this run"}


def test_summary_of_a_check_mode_run_says_would_build_and_shows_no_null():
    layers = {"iam": {"cluster_role_name": "r", "cluster_role_arn": None},
              "eks": {"irsa_role_arns": {"a": None}, "addons": ["vpc-cni latest"], "ids": [None, "x"]},
              "nodegroups": None}
    result = summary.platform_summary(layers, check_mode=True)
    assert result["run"].startswith("would build") and KNOWN_AFTER_APPLY in result["run"]
    assert result["iam"] == {"cluster_role_name": "r", "cluster_role_arn": KNOWN_AFTER_APPLY}
    assert result["eks"] == {"irsa_role_arns": {"a": KNOWN_AFTER_APPLY}, "addons": ["vpc-cni latest"],
                             "ids": [KNOWN_AFTER_APPLY, "x"]}
    assert result["nodegroups"] == "not in this run"
