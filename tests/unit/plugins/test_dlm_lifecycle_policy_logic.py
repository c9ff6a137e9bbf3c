"""Pure logic of the dlm_lifecycle_policy module: input validation, the PolicyDetails it sends, their comparison."""

from __future__ import annotations

import copy
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.llmhub.eks.plugins.modules import dlm_lifecycle_policy as dlm  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/llm-analytics-hub-prod-eks-dlm"
TARGET_TAGS = {"llmhub.io/cluster": "llm-analytics-hub-prod-eks", "llmhub.io/backup": "daily"}


def params(**overrides):
    """The module's parameters as AnsibleModule hands them over (argument spec defaults applied)."""
    base = {"description": "Daily snapshots of llm-analytics-hub-prod-eks volumes", "state": "present",
            "execution_role_arn": ROLE, "target_tags": TARGET_TAGS, "resource_types": ["VOLUME"],
            "schedules": copy.deepcopy(dlm.DEFAULT_SCHEDULES), "policy_state": "ENABLED", "tags": None,
            "purge_tags": True}
    base.update(overrides)
    return base


def returned(details):
    """``details`` as the emulator (like DLM) stores and returns them: the defaults filled in."""
    details = copy.deepcopy(details)
    details.setdefault("PolicyType", "EBS_SNAPSHOT_MANAGEMENT")
    details["PolicyLanguage"] = "STANDARD"
    details["ResourceLocations"] = ["CLOUD"]
    for schedule in details["Schedules"]:
        if "CronExpression" not in schedule["CreateRule"]:
            schedule["CreateRule"]["Location"] = "CLOUD"
        schedule["RetainRule"]["Interval"] = 0
    return details


class TestValidation:
    def test_defaults_make_one_daily_schedule_kept_a_week(self):
        wanted = dlm.validate_params(params())
        assert wanted["details"] == {
            "PolicyType": "EBS_SNAPSHOT_MANAGEMENT",
            "ResourceTypes": ["VOLUME"],
            "TargetTags": [{"Key": "llmhub.io/backup", "Value": "daily"},
                           {"Key": "llmhub.io/cluster", "Value": "llm-analytics-hub-prod-eks"}],
            "Schedules": [{"Name": "daily", "CopyTags": True, "RetainRule": {"Count": 7},
                           "CreateRule": {"Interval": 24, "IntervalUnit": "HOURS", "Times": ["03:00"]}}],
        }
        assert wanted["policy_state"] == "ENABLED" and wanted["tags"] is None

    def test_schedule_defaults_and_conversions(self):
        wanted = dlm.validate_params(params(schedules=[
            {"name": "six", "interval": "6", "retain_count": "4", "tags_to_add": {"n": 1}},
            {"name": "weekly", "cron_expression": " cron(0 4 ? * SUN *) ", "retain_count": 8, "copy_tags": "no"}]))
        six, weekly = wanted["details"]["Schedules"]
        assert six == {"Name": "six", "CopyTags": True, "CreateRule": {"Interval": 6, "IntervalUnit": "HOURS"},
                       "RetainRule": {"Count": 4}, "TagsToAdd": [{"Key": "n", "Value": "1"}]}
        assert weekly == {"Name": "weekly", "CopyTags": False, "CreateRule": {"CronExpression": "cron(0 4 ? * SUN *)"},
                          "RetainRule": {"Count": 8}}

    def test_absent_needs_only_the_description(self):
        assert dlm.validate_params({"description": "Daily snapshots", "state": "absent", "schedules": None,
                                    "execution_role_arn": None, "target_tags": None}) == {
            "description": "Daily snapshots"}

    @pytest.mark.parametrize(("overrides", "expected"), [
        ({"description": "hub.example"}, "description: 'hub.example' is not a description DLM accepts"),
        ({"description": "x" * 501}, "description: "),
        ({"execution_role_arn": "arn:aws:iam::123456789012:policy/x"}, "execution_role_arn: "),
        ({"execution_role_arn": "llm-analytics-hub-prod-eks-dlm"}, "execution_role_arn: "),
        ({"target_tags": None}, "target_tags: give at least one tag"),
        ({"target_tags": {f"k{i}": "v" for i in range(51)}}, "target_tags: 51 tags, DLM takes at most 50"),
        ({"target_tags": {"k": None}}, "target_tags.k: give a string value"),
        ({"resource_types": ["VOLUME", "INSTANCE"]}, "resource_types: DLM takes exactly one"),
        ({"schedules": []}, "schedules: give 1 to 4 schedules"),
        ({"schedules": [dict(dlm.DEFAULT_SCHEDULES[0], name=f"s{i}") for i in range(5)]}, "schedules: give 1 to 4"),
        ({"schedules": ["daily"]}, "schedules[0]: each schedule is a dictionary"),
        ({"schedules": [{"name": "a", "intervall": 24, "retain_count": 1}]},
         "schedules[0].intervall: unknown key; did you mean interval?"),
        ({"schedules": [{"name": "a", "interval": 24, "retention": 1}]}, "schedules[0].retention: unknown key; valid"),
        ({"schedules": [{"name": "a.b", "interval": 24, "retain_count": 1}]}, "schedules[0].name: 'a.b' is not"),
        ({"schedules": [{"name": "a", "interval": 48, "retain_count": 1}]},
         "schedules[0].interval: DLM does not accept 48 hours"),
        ({"schedules": [{"name": "a", "interval": True, "retain_count": 1}]}, "schedules[0].interval: give a number"),
        ({"schedules": [{"name": "a", "interval": "daily", "retain_count": 1}]}, "schedules[0].interval: "),
        ({"schedules": [{"name": "a", "interval": 24, "interval_unit": "DAYS", "retain_count": 1}]},
         "schedules[0].interval_unit: 'DAYS' is not accepted"),
        ({"schedules": [{"name": "a", "interval": 24, "times": ["24:00"], "retain_count": 1}]},
         "schedules[0].times: '24:00' is not a time"),
        ({"schedules": [{"name": "a", "interval": 24, "times": [720], "retain_count": 1}]},
         "schedules[0].times: 720 is not a time"),  # unquoted 12:00 in YAML 1.1
        ({"schedules": [{"name": "a", "cron_expression": "cron(0 3 ? * SUN *)", "times": ["03:00"],
                         "retain_count": 1}]}, "schedules[0].times: goes with interval"),
        ({"schedules": [{"name": "a", "cron_expression": "0 3 ? * SUN *", "retain_count": 1}]},
         "schedules[0].cron_expression: '0 3 ? * SUN *' is not"),
        ({"schedules": [{"name": "a", "interval": 24, "retain_count": 0}]}, "schedules[0].retain_count: 0 is out of"),
        ({"schedules": [{"name": "a", "interval": 24, "retain_count": False}]}, "schedules[0].retain_count: give a"),
        ({"schedules": [{"name": "a", "interval": 24, "retain_count": 1, "copy_tags": "maybe"}]},
         "schedules[0].copy_tags: "),
        ({"schedules": [{"name": "a", "interval": 24, "retain_count": 1, "tags_to_add": {"aws:x": "y"}}]},
         "schedules[0].tags_to_add: 'aws:x': tag keys starting with aws: are AWS's"),
        ({"tags": {"has space": "x"}}, "tags: 'has space' is not a tag key DLM accepts"),
    ])
    def test_bad_input_names_the_option(self, overrides, expected):
        with pytest.raises(dlm.InputError) as error:
            dlm.validate_params(params(**overrides))
        assert str(error.value).startswith(expected), str(error.value)

    def test_closest_key(self):
        assert dlm.closest("retain", dlm.SCHEDULE_KEYS) == "retain_count"
        assert dlm.closest("frequency", dlm.SCHEDULE_KEYS) is None
        assert dlm.closest("copytags", dlm.SCHEDULE_KEYS) == "copy_tags"


class TestComparison:
    def wanted(self, **overrides):
        return dlm.validate_params(params(**overrides))["details"]

    def test_what_dlm_returns_equals_what_was_sent(self):
        wanted = self.wanted()
        assert not dlm.details_differ(returned(wanted), wanted)

    def test_defaults_answered_or_not_compare_equal(self):
        wanted = self.wanted(schedules=[{"name": "weekly", "cron_expression": "cron(0 4 ? * SUN *)",
                                         "retain_count": 8, "copy_tags": False}])
        sparse = copy.deepcopy(wanted)
        del sparse["PolicyType"]
        del sparse["Schedules"][0]["CopyTags"]
        rich = returned(wanted)
        rich["Schedules"][0]["CreateRule"]["Location"] = "CLOUD"  # on a cron rule too
        rich["Schedules"][0]["TagsToAdd"] = []
        rich["Parameters"] = {"ExcludeBootVolume": False}
        for current in (sparse, rich):
            assert not dlm.details_differ(current, wanted)

    def test_tag_order_does_not_matter(self):
        wanted = self.wanted(schedules=[dict(dlm.DEFAULT_SCHEDULES[0], tags_to_add={"a": "1", "b": "2"})])
        current = returned(wanted)
        current["TargetTags"].reverse()
        current["Schedules"][0]["TagsToAdd"].reverse()
        assert not dlm.details_differ(current, wanted)

    @pytest.mark.parametrize("change", [
        lambda d: d["Schedules"][0]["RetainRule"].update(Count=14),
        lambda d: d["Schedules"][0]["CreateRule"].update(Times=["04:00"]),
        lambda d: d["Schedules"][0]["CreateRule"].pop("Times"),
        lambda d: d["Schedules"][0].update(CopyTags=False),
        lambda d: d["TargetTags"].pop(),
        lambda d: d.update(ResourceTypes=["INSTANCE"]),
        lambda d: d["Schedules"][0].update(FastRestoreRule={"Count": 1, "AvailabilityZones": ["us-east-1a"]}),
        lambda d: d["Schedules"][0]["RetainRule"].update(Interval=7, IntervalUnit="DAYS"),
        lambda d: d["Schedules"].append(dict(d["Schedules"][0], Name="other")),
    ])
    def test_real_differences_are_seen(self, change):
        wanted = self.wanted()
        current = returned(wanted)
        change(current)
        assert dlm.details_differ(current, wanted)

    def test_schedule_order_matters(self):
        first = dict(dlm.DEFAULT_SCHEDULES[0])
        second = dict(first, name="twice", interval=12)
        wanted = self.wanted(schedules=[first, second])
        current = returned(self.wanted(schedules=[second, first]))
        assert dlm.details_differ(current, wanted)


class TestResults:
    POLICY = {
        "PolicyId": "policy-0123456789abcdef0",
        "PolicyArn": "arn:aws:dlm:us-east-1:123456789012:policy/policy-0123456789abcdef0",
        "Description": "Daily snapshots",
        "State": "ENABLED",
        "ExecutionRoleArn": ROLE,
        "DateCreated": datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc),
        "DateModified": datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc),
        "PolicyDetails": {"ResourceTypes": ["VOLUME"], "TargetTags": [{"Key": "llmhub.io/backup", "Value": "daily"}],
                          "Schedules": [{"Name": "daily", "CreateRule": {"Interval": 24, "IntervalUnit": "HOURS"},
                                         "RetainRule": {"Count": 7, "Interval": 0}}]},
        "Tags": {"Project": "llm-analytics-hub", "CamelKey": "v"},
        "DefaultPolicy": False,
    }

    def test_policy_result_is_snake_case_with_tags_kept(self):
        result = dlm.policy_result(self.POLICY)
        assert result["policy_id"] == "policy-0123456789abcdef0" and result["default_policy"] is False
        assert result["tags"] == {"Project": "llm-analytics-hub", "CamelKey": "v"}
        assert result["date_created"].startswith("2026-12-02T10:00:00")
        assert result["policy_details"]["target_tags"] == [{"key": "llmhub.io/backup", "value": "daily"}]
        assert result["policy_details"]["schedules"][0]["retain_rule"] == {"count": 7, "interval": 0}
        assert dlm.policy_result(None) is None
        assert dlm.policy_result(dict(self.POLICY, Tags=None))["tags"] == {}

    def test_diff_view_shows_the_canonical_details(self):
        view = dlm.diff_view(self.POLICY)
        assert sorted(view) == ["description", "execution_role_arn", "policy_details", "state", "tags"]
        assert view["policy_details"]["schedules"][0]["retain_rule"] == {"count": 7}
        assert view["policy_details"]["schedules"][0]["create_rule"]["location"] == "CLOUD"
        assert dlm.diff_view(None) == {}

    def test_planned_policy_of_a_creation(self):
        wanted = dlm.validate_params(params(tags={"Project": "llm-analytics-hub"}))
        planned = dlm.policy_result(dlm.planned_policy(wanted, tags=wanted["tags"]))
        assert planned["policy_id"] == planned["policy_arn"] == dlm.KNOWN_AFTER_APPLY
        assert planned["state"] == "ENABLED" and planned["tags"] == {"Project": "llm-analytics-hub"}
        assert planned["policy_details"]["policy_language"] == "STANDARD"
