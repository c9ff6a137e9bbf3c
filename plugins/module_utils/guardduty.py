# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of llmhub.eks.guardduty_detector: features as flat maps, the UpdateDetector features of a change.

A detector's features are compared as a flat map ``{"EKS_AUDIT_LOGS": "ENABLED",
"EKS_RUNTIME_MONITORING/EKS_ADDON_MANAGEMENT": "ENABLED", ...}``; only the features (and additional
configurations) the task names are reconciled, the others are left as they are (GuardDuty's UpdateDetector
changes only the features it is given).
"""

from __future__ import annotations


def flatten_features(features):
    """GetDetector's ``Features`` (or the module's option, snake_case) as ``{name: status, "NAME/EXTRA": status}``."""
    flat = {}
    for feature in features or []:
        name = feature.get("Name", feature.get("name"))
        flat[name] = feature.get("Status", feature.get("status"))
        extras = feature.get("AdditionalConfiguration", feature.get("additional_configuration")) or []
        for extra in extras:
            flat[f"{name}/{extra.get('Name', extra.get('name'))}"] = extra.get("Status", extra.get("status"))
    return flat


def requested_features(option):
    """The module's ``features`` option as UpdateDetector/CreateDetector ``Features``."""
    result = []
    for feature in option or []:
        entry = {"Name": feature["name"], "Status": feature["status"]}
        extras = feature.get("additional_configuration") or []
        if extras:
            entry["AdditionalConfiguration"] = [{"Name": extra["name"], "Status": extra["status"]} for extra in extras]
        result.append(entry)
    return result


def feature_changes(current, option):
    """The ``Features`` to send so that ``current`` (flat map) has what ``option`` asks: only the features with a
    status or an additional configuration that differs, each with the additional configurations that differ."""
    changes = []
    for feature in requested_features(option):
        name = feature["Name"]
        extras = [extra for extra in feature.get("AdditionalConfiguration", [])
                  if current.get(f"{name}/{extra['Name']}") != extra["Status"]]
        if current.get(name) != feature["Status"] or extras:
            change = {"Name": name, "Status": feature["Status"]}
            if extras:
                change["AdditionalConfiguration"] = extras
            changes.append(change)
    return changes


def duplicate_names(option):
    """Feature names (and FEATURE/EXTRA names) given more than once in the module's ``features`` option."""
    seen, duplicates = set(), []
    for feature in option or []:
        names = [feature["name"]] + [f"{feature['name']}/{extra['name']}"
                                     for extra in feature.get("additional_configuration") or []]
        for name in names:
            if name in seen and name not in duplicates:
                duplicates.append(name)
            seen.add(name)
    return duplicates


def tag_changes(current, desired, purge):
    """``(to_set, to_remove)``: the tags to set (new or different values) and, with ``purge``, the keys to remove."""
    if desired is None:
        return {}, []
    to_set = {key: value for key, value in desired.items() if current.get(key) != value}
    to_remove = sorted(key for key in current if key not in desired and not key.startswith("aws:")) if purge else []
    return to_set, to_remove


def destination_properties(option):
    """The module's ``publishing_destination`` as DestinationProperties."""
    properties = {"DestinationArn": option["destination_arn"], "KmsKeyArn": option["kms_key_arn"]}
    if option.get("expected_bucket_owner"):
        properties["ExpectedBucketOwner"] = option["expected_bucket_owner"]
    return properties
