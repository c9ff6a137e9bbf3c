"""Pure logic of llmhub.eks.guardduty_detector: features as flat maps and the UpdateDetector features of a change."""

from __future__ import annotations

from ansible_collections.llmhub.eks.plugins.module_utils.guardduty import (duplicate_names, feature_changes,
                                                                            flatten_features, tag_changes)

OPTION = [{"name": "EKS_AUDIT_LOGS", "status": "ENABLED", "additional_configuration": []},
          {"name": "EKS_RUNTIME_MONITORING", "status": "ENABLED",
           "additional_configuration": [{"name": "EKS_ADDON_MANAGEMENT", "status": "ENABLED"}]}]


def test_flatten_api_and_option_alike():
    api = [{"Name": "EKS_RUNTIME_MONITORING", "Status": "ENABLED",
            "AdditionalConfiguration": [{"Name": "EKS_ADDON_MANAGEMENT", "Status": "DISABLED"}]}]
    assert flatten_features(api) == {"EKS_RUNTIME_MONITORING": "ENABLED",
                                     "EKS_RUNTIME_MONITORING/EKS_ADDON_MANAGEMENT": "DISABLED"}
    assert flatten_features(OPTION)["EKS_RUNTIME_MONITORING/EKS_ADDON_MANAGEMENT"] == "ENABLED"


def test_changes_name_only_what_differs():
    current = {"EKS_AUDIT_LOGS": "ENABLED", "EKS_RUNTIME_MONITORING": "ENABLED",
               "EKS_RUNTIME_MONITORING/EKS_ADDON_MANAGEMENT": "DISABLED", "S3_DATA_EVENTS": "ENABLED"}
    assert feature_changes(current, OPTION) == [
        {"Name": "EKS_RUNTIME_MONITORING", "Status": "ENABLED",
         "AdditionalConfiguration": [{"Name": "EKS_ADDON_MANAGEMENT", "Status": "ENABLED"}]}]
    current["EKS_RUNTIME_MONITORING/EKS_ADDON_MANAGEMENT"] = "ENABLED"
    assert feature_changes(current, OPTION) == []
    assert feature_changes({}, OPTION[:1]) == [{"Name": "EKS_AUDIT_LOGS", "Status": "ENABLED"}]


def test_duplicates_and_tags():
    assert duplicate_names(OPTION + OPTION[:1]) == ["EKS_AUDIT_LOGS"]
    assert duplicate_names(OPTION) == []
    assert tag_changes({"a": "1", "b": "2"}, {"a": "1", "c": "3"}, purge=False) == ({"c": "3"}, [])
    assert tag_changes({"a": "1", "b": "2", "aws:x": "y"}, {"a": "0"}, purge=True) == ({"a": "0"}, ["b"])
    assert tag_changes({"a": "1"}, None, purge=True) == ({}, [])
