#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: dlm_lifecycle_policy
short_description: An Amazon Data Lifecycle Manager policy that snapshots EBS volumes on a schedule
version_added: 0.1.0
description:
  - Ensures one custom Data Lifecycle Manager (DLM) policy of type C(EBS_SNAPSHOT_MANAGEMENT). The volumes (or
    instances) carrying any of O(target_tags) (DLM targets a resource with at least one of them) are snapshotted by
    each of O(schedules), and each schedule keeps its last O(schedules[].retain_count) snapshots.
  - DLM policies have no name; the policy is found by O(description), which must be unique in the region among
    lifecycle policies. Two policies with that description fail the task, naming their ids.
  - Every option is checked before any AWS call. An existing policy is updated (C(UpdateLifecyclePolicy)) only when
    the policy details it would be sent differ from those DLM returns, once the defaults DLM fills in (C(PolicyType),
    C(PolicyLanguage), C(ResourceLocations), C(CreateRule.Location), C(RetainRule.Interval) V(0)) are taken into
    account, or when its state or execution role differ. The policy's own tags are changed with C(TagResource) and
    C(UntagResource).
  - With O(state=absent) the policy is deleted; the snapshots it made stay.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  description:
    description:
      - Description of the policy, its identity. Letters, digits, spaces, C(_) and C(-) only (DLM's rule), up to 500
        characters.
    type: str
    required: true
  state:
    description: V(present) creates or updates the policy; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  execution_role_arn:
    description:
      - ARN of the IAM role DLM assumes to create and delete the snapshots; it trusts C(dlm.amazonaws.com) and has
        the permissions of the AWS managed policy C(AWSDataLifecycleManagerServiceRole).
      - Required with O(state=present).
      - In check mode V((known after apply\)) is accepted too, the ARN of a role the same check-mode run plans to
        create (M(llmhub.eks.iam_roles) returns it), so that the plan shows the policy.
    type: str
  target_tags:
    description:
      - Tags that select the resources to snapshot; a resource is snapshotted when it carries at least one of them (DLM combines them with OR).
      - Required with O(state=present); at least one tag, at most 50.
    type: dict
  resource_types:
    description: What the policy snapshots; DLM takes one type per policy (V(INSTANCE) makes multi-volume
      snapshot sets of instances).
    type: list
    elements: str
    choices: [VOLUME, INSTANCE]
    default: [VOLUME]
  schedules:
    description:
      - One to four schedules. Each has either O(schedules[].interval) or O(schedules[].cron_expression).
      - An unknown key fails the task, naming the closest valid one.
      - The schedules are compared in order; reordering them updates the policy.
    type: list
    elements: dict
    default:
      - name: daily
        interval: 24
        interval_unit: HOURS
        times: ["03:00"]
        retain_count: 7
        copy_tags: true
        tags_to_add: {}
    suboptions:
      name:
        description: Name of the schedule, unique in the policy (letters, digits, spaces, C(_) and C(-), up to 120
          characters).
        type: str
        required: true
      interval:
        description: Hours between two snapshots, one of V(1), V(2), V(3), V(4), V(6), V(8), V(12) or V(24).
        type: int
      interval_unit:
        description: Unit of O(schedules[].interval); used only with it.
        type: str
        choices: [HOURS]
        default: HOURS
      times:
        description:
          - Start time of the schedule, in UTC, as C(HH:MM); at most one. Used only with O(schedules[].interval).
          - Omitted, DLM starts the schedule within 24 hours.
        type: list
        elements: str
      cron_expression:
        description: The schedule as a cron expression of six fields, such as V(cron(0 3 ? * SUN *)), instead of
          O(schedules[].interval).
        type: str
      retain_count:
        description: How many snapshots of this schedule DLM keeps (1 to 1000); the oldest is deleted beyond that.
        type: int
        required: true
      copy_tags:
        description: Whether the snapshots get the tags of their volume.
        type: bool
        default: true
      tags_to_add:
        description: Tags added to the snapshots (at most 45).
        type: dict
        default: {}
  policy_state:
    description: V(ENABLED) runs the policy; V(DISABLED) keeps it without running it.
    type: str
    choices: [ENABLED, DISABLED]
    default: ENABLED
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
notes:
  - O(tags) are the policy's own tags (with O(purge_tags)); O(target_tags) select the volumes and
    O(schedules[].tags_to_add) label the snapshots. With O(tags) omitted the policy's tags are left as they are.
  - The module owns the whole policy details. Settings made outside it (fast snapshot restore, cross-Region copies,
    sharing, archiving) are removed by the next run.
  - Target tags and the tags added by a schedule are compared as sets, whatever their order.
"""

EXAMPLES = r"""
- name: Daily snapshots of the volumes the EBS CSI driver made for the cluster, kept a week (as the backup role)
  llmhub.eks.dlm_lifecycle_policy:
    description: llm-analytics-hub-prod-eks EBS volumes
    execution_role_arn: arn:aws:iam::123456789012:role/llm-analytics-hub-prod-eks-dlm
    target_tags:
      KubernetesCluster: llm-analytics-hub-prod-eks
    tags:
      Project: llm-analytics-hub
      llmhub.io/cluster: llm-analytics-hub-prod-eks
  register: dlm_policy_result

- name: Every 12 hours kept 14 times, plus weekly snapshots kept 8 weeks
  llmhub.eks.dlm_lifecycle_policy:
    description: Daily snapshots of llm-analytics-hub-prod-eks volumes
    execution_role_arn: arn:aws:iam::123456789012:role/llm-analytics-hub-prod-eks-dlm
    target_tags:
      llmhub.io/cluster: llm-analytics-hub-prod-eks
      llmhub.io/backup: daily
    schedules:
      - name: twice-daily
        interval: 12
        times: ["03:00"]
        retain_count: 14
        tags_to_add:
          llmhub.io/snapshot-schedule: twice-daily
      - name: weekly
        cron_expression: cron(0 4 ? * SUN *)
        retain_count: 8
        copy_tags: false

- name: Stop taking snapshots for a while, keeping the policy
  llmhub.eks.dlm_lifecycle_policy:
    description: Daily snapshots of llm-analytics-hub-prod-eks volumes
    execution_role_arn: arn:aws:iam::123456789012:role/llm-analytics-hub-prod-eks-dlm
    target_tags:
      llmhub.io/cluster: llm-analytics-hub-prod-eks
      llmhub.io/backup: daily
    policy_state: DISABLED

- name: Remove the policy (its snapshots stay)
  llmhub.eks.dlm_lifecycle_policy:
    description: Daily snapshots of llm-analytics-hub-prod-eks volumes
    state: absent
"""

RETURN = r"""
policy:
  description:
    - The policy as C(GetLifecyclePolicy) returns it, in snake case, after the change; in check mode as it would be
      (C(policy_id) and C(policy_arn) V((known after apply\)) when it would be created).
    - Null with O(state=absent).
  returned: always
  type: dict
  contains:
    policy_id:
      description: Id of the policy.
      type: str
      sample: policy-0123456789abcdef0
    policy_arn:
      description: ARN of the policy.
      type: str
      sample: arn:aws:dlm:us-east-1:123456789012:policy/policy-0123456789abcdef0
    description:
      description: Description of the policy (its identity).
      type: str
      sample: Daily snapshots of llm-analytics-hub-prod-eks volumes
    state:
      description: C(ENABLED), C(DISABLED) or C(ERROR).
      type: str
      sample: ENABLED
    status_message:
      description: DLM's word on the state, when it has one.
      type: str
    execution_role_arn:
      description: ARN of the role DLM assumes.
      type: str
      sample: arn:aws:iam::123456789012:role/llm-analytics-hub-prod-eks-dlm
    date_created:
      description: When the policy was created (ISO 8601).
      type: str
    date_modified:
      description: When the policy was last changed (ISO 8601).
      type: str
    default_policy:
      description: Whether this is a default policy (never, for a policy of this module).
      type: bool
    policy_details:
      description: The policy details with the defaults DLM fills in (C(policy_type), C(policy_language),
        C(resource_locations), C(create_rule.location), ...); tags are lists of C(key)/C(value) dictionaries.
      type: dict
      sample:
        policy_type: EBS_SNAPSHOT_MANAGEMENT
        policy_language: STANDARD
        resource_types: [VOLUME]
        resource_locations: [CLOUD]
        target_tags:
          - {key: llmhub.io/backup, value: daily}
          - {key: llmhub.io/cluster, value: llm-analytics-hub-prod-eks}
        schedules:
          - name: daily
            copy_tags: true
            create_rule: {location: CLOUD, interval: 24, interval_unit: HOURS, times: ["03:00"]}
            retain_rule: {count: 7, interval: 0}
    tags:
      description: The policy's own tags.
      type: dict
      sample: {"Project": "llm-analytics-hub"}
"""

import copy
import difflib
import re

from ansible.module_utils.common.validation import check_type_bool
from ansible.module_utils.common.validation import check_type_dict
from ansible.module_utils.common.validation import check_type_int
from ansible.module_utils.common.validation import check_type_list
from ansible.module_utils.common.validation import check_type_str

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags
from ansible_collections.amazon.aws.plugins.module_utils.transformation import boto3_resource_to_ansible_dict

from ansible_collections.llmhub.eks.plugins.module_utils.common import KNOWN_AFTER_APPLY
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module

POLICY_TYPE = "EBS_SNAPSHOT_MANAGEMENT"
CREATE_INTERVAL_HOURS = (1, 2, 3, 4, 6, 8, 12, 24)
MAX_RETAIN_COUNT = 1000
MAX_SCHEDULES = 4
MAX_TARGET_TAGS = 50
MAX_TAGS_TO_ADD = 45
DEFAULT_SCHEDULES = [dict(name="daily", interval=24, interval_unit="HOURS", times=["03:00"], retain_count=7,
                          copy_tags=True, tags_to_add={})]
SCHEDULE_KEYS = ("name", "interval", "interval_unit", "times", "cron_expression", "retain_count", "copy_tags",
                 "tags_to_add")
# DLM's patterns (botocore's dlm model): descriptions and schedule names, start times, cron expressions, role ARNs,
# keys of the policy's own tags.
NAME_PATTERN = re.compile(r"[0-9A-Za-z _-]+")
TIME_PATTERN = re.compile(r"(0[0-9]|1[0-9]|2[0-3]):[0-5][0-9]")
CRON_PATTERN = re.compile(r"cron\([^\n]{11,100}\)")
ROLE_ARN_PATTERN = re.compile(r"arn:aws(-[a-z]{1,3}){0,2}:iam::\d{12}:role/[\w+=,.@/-]+")
RESOURCE_TAG_KEY_PATTERN = re.compile(r"(?!aws:)[a-zA-Z+-=._:/]{1,128}")
# Defaults DLM fills in when it stores a custom policy (GetLifecyclePolicy returns them).
DETAIL_DEFAULTS = {"PolicyType": POLICY_TYPE, "PolicyLanguage": "STANDARD", "ResourceLocations": ["CLOUD"]}


class InputError(ValueError):
    """A bad option value; the message starts with the option's name."""


# -- validation (no AWS call) ------------------------------------------------------------------------------------


def closest(name, candidates):
    """The candidate closest to ``name`` (a likely typo), or None."""
    matches = difflib.get_close_matches(str(name), list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def converted(option, value, check):
    """``value`` through one of ansible's ``check_type_*`` converters; InputError naming ``option`` otherwise."""
    try:
        return check(value)
    except (TypeError, ValueError) as e:
        raise InputError(f"{option}: {e}") from None


def validate_tags(option, tags, maximum, key_pattern=None):
    """``tags`` as a dict of strings, at most ``maximum``; keys matching ``key_pattern`` when given."""
    tags = converted(option, tags if tags is not None else {}, check_type_dict)
    if len(tags) > maximum:
        raise InputError(f"{option}: {len(tags)} tags, DLM takes at most {maximum}")
    result = {}
    for key, value in tags.items():
        key = str(key)
        if key_pattern is not None and not key_pattern.fullmatch(key):
            raise InputError(f"{option}: {key!r} is not a tag key DLM accepts (1 to 128 letters, digits and "
                             "+ - = . _ : /, not starting with aws:)")
        if key.startswith("aws:"):
            raise InputError(f"{option}: {key!r}: tag keys starting with aws: are AWS's")
        if value is None or isinstance(value, (dict, list)):
            raise InputError(f"{option}.{key}: give a string value, not {value!r}")
        result[key] = str(value)
    return result


def validate_schedule(index, schedule):
    """One schedule with defaults applied and values converted; InputError names ``schedules[i].<key>``."""
    where = f"schedules[{index}]"
    if not isinstance(schedule, dict):
        raise InputError(f"{where}: each schedule is a dictionary (name, interval or cron_expression, "
                         f"retain_count, ...), not {schedule!r}")
    for key in schedule:
        if key not in SCHEDULE_KEYS:
            guess = closest(key, SCHEDULE_KEYS)
            hint = f"did you mean {guess}? " if guess else ""
            raise InputError(f"{where}.{key}: unknown key; {hint}valid keys: {', '.join(SCHEDULE_KEYS)}")
    result = {}
    name = schedule.get("name")
    if name is None or str(name) == "":
        raise InputError(f"{where}.name: every schedule needs a name")
    name = converted(f"{where}.name", name, check_type_str)
    if len(name) > 120 or not NAME_PATTERN.fullmatch(name):
        raise InputError(f"{where}.name: {name!r} is not a schedule name DLM accepts (1 to 120 letters, digits, "
                         "spaces, _ and -)")
    result["name"] = name

    has_interval = schedule.get("interval") is not None
    has_cron = schedule.get("cron_expression") is not None
    if has_interval == has_cron:
        got = "both" if has_interval else "neither"
        raise InputError(f"{where}: give exactly one of interval (hours) and cron_expression (got {got})")
    if has_interval:
        interval = schedule["interval"]
        if isinstance(interval, bool):
            raise InputError(f"{where}.interval: give a number of hours, not {interval!r}")
        interval = converted(f"{where}.interval", interval, check_type_int)
        if interval not in CREATE_INTERVAL_HOURS:
            raise InputError(f"{where}.interval: DLM does not accept {interval} hours; use one of "
                             f"{', '.join(map(str, CREATE_INTERVAL_HOURS))}, or a cron_expression")
        unit = converted(f"{where}.interval_unit", schedule.get("interval_unit") or "HOURS", check_type_str)
        if unit != "HOURS":
            raise InputError(f"{where}.interval_unit: {unit!r} is not accepted; DLM's only unit is HOURS")
        times = converted(f"{where}.times", schedule.get("times") or [], check_type_list)
        if len(times) > 1:
            raise InputError(f"{where}.times: DLM takes at most one start time, got {len(times)}: {times}")
        for time in times:
            if not isinstance(time, str) or not TIME_PATTERN.fullmatch(time):
                raise InputError(f"{where}.times: {time!r} is not a time HH:MM in UTC (00:00 to 23:59), such as "
                                 "'03:00' (quote it in YAML)")
        result.update(interval=interval, interval_unit=unit, times=times)
    else:
        for key in ("interval_unit", "times"):
            if schedule.get(key) not in (None, []):
                raise InputError(f"{where}.{key}: goes with interval, not with cron_expression")
        cron = converted(f"{where}.cron_expression", schedule["cron_expression"], check_type_str).strip()
        if not CRON_PATTERN.fullmatch(cron) or len(cron[len("cron("):-1].split()) != 6:
            raise InputError(f"{where}.cron_expression: {cron!r} is not a cron expression DLM accepts: "
                             "cron(minutes hours day-of-month month day-of-week year), such as "
                             "cron(0 3 ? * SUN *)")
        result["cron_expression"] = cron

    if schedule.get("retain_count") is None:
        raise InputError(f"{where}.retain_count: required, how many snapshots of the schedule to keep "
                         f"(1 to {MAX_RETAIN_COUNT})")
    if isinstance(schedule["retain_count"], bool):
        raise InputError(f"{where}.retain_count: give a number of snapshots, not {schedule['retain_count']!r}")
    retain = converted(f"{where}.retain_count", schedule["retain_count"], check_type_int)
    if not 1 <= retain <= MAX_RETAIN_COUNT:
        raise InputError(f"{where}.retain_count: {retain} is out of range; DLM keeps 1 to {MAX_RETAIN_COUNT} "
                         "snapshots per schedule")
    result["retain_count"] = retain
    copy_tags = schedule.get("copy_tags")
    result["copy_tags"] = True if copy_tags is None else converted(f"{where}.copy_tags", copy_tags, check_type_bool)
    result["tags_to_add"] = validate_tags(f"{where}.tags_to_add", schedule.get("tags_to_add"), MAX_TAGS_TO_ADD)
    return result


def validate_schedules(schedules):
    if schedules is None:
        schedules = copy.deepcopy(DEFAULT_SCHEDULES)
    if not 1 <= len(schedules) <= MAX_SCHEDULES:
        raise InputError(f"schedules: give 1 to {MAX_SCHEDULES} schedules (DLM's limit), got {len(schedules)}")
    result = [validate_schedule(index, schedule) for index, schedule in enumerate(schedules)]
    names = [schedule["name"] for schedule in result]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise InputError(f"schedules[{index}].name: {name!r} is already the name of schedules"
                             f"[{names.index(name)}]; schedule names are unique in a policy")
    return result


def validate_description(description):
    if not description or len(description) > 500 or not NAME_PATTERN.fullmatch(description):
        raise InputError(f"description: {description!r} is not a description DLM accepts: 1 to 500 letters, "
                         "digits, spaces, _ and - (no dots or slashes), such as "
                         "'Daily snapshots of llm-analytics-hub-prod-eks volumes'")
    return description


def validate_role_arn(arn, check_mode=False):
    if check_mode and arn == KNOWN_AFTER_APPLY:
        return arn  # a role the same check-mode run plans to create
    if not ROLE_ARN_PATTERN.fullmatch(arn or "") or len(arn) > 2048:
        raise InputError(f"execution_role_arn: {arn!r} is not an IAM role ARN; give "
                         "arn:aws:iam::<12-digit account id>:role/<name>, such as "
                         "arn:aws:iam::123456789012:role/llm-analytics-hub-prod-eks-dlm")
    return arn


def validate_params(params, check_mode=False):
    """What the module wants, from its parameters, checked without any AWS call.

    Returns a dict with ``description``, and with ``state=present``: ``execution_role_arn``, ``policy_state``,
    ``details`` (the PolicyDetails to send), ``tags`` (None to leave the policy's tags) and ``purge_tags``.
    Raises InputError naming the option.
    """
    wanted = {"description": validate_description(params["description"])}
    if params.get("state", "present") == "absent":
        return wanted
    if params.get("execution_role_arn") is None:
        raise InputError("execution_role_arn: required with state=present; the role DLM assumes, such as "
                         "arn:aws:iam::123456789012:role/llm-analytics-hub-prod-eks-dlm")
    wanted["execution_role_arn"] = validate_role_arn(params["execution_role_arn"], check_mode)
    target_tags = validate_tags("target_tags", params.get("target_tags"), MAX_TARGET_TAGS)
    if not target_tags:
        raise InputError("target_tags: give at least one tag; DLM snapshots the volumes carrying any of them, "
                         "such as {'llmhub.io/backup': 'daily'}")
    resource_types = params.get("resource_types") or ["VOLUME"]
    if len(resource_types) != 1:
        raise InputError(f"resource_types: DLM takes exactly one resource type per policy (VOLUME or INSTANCE), "
                         f"got {resource_types}")
    schedules = validate_schedules(params.get("schedules"))
    wanted["details"] = policy_details(resource_types, target_tags, schedules)
    wanted["policy_state"] = params.get("policy_state") or "ENABLED"
    tags = params.get("tags")
    wanted["tags"] = None if tags is None else validate_tags("tags", tags, 200, RESOURCE_TAG_KEY_PATTERN)
    wanted["purge_tags"] = params.get("purge_tags", True)
    return wanted


# -- policy details -------------------------------------------------------------------------------------------------


def tag_list(tags):
    """A DLM tag list, sorted by key."""
    return ansible_dict_to_boto3_tag_list(dict(sorted(tags.items())))


def schedule_details(schedule):
    """The DLM Schedule of a validated schedule."""
    if "cron_expression" in schedule:
        create = {"CronExpression": schedule["cron_expression"]}
    else:
        create = {"Interval": schedule["interval"], "IntervalUnit": schedule["interval_unit"]}
        if schedule["times"]:
            create["Times"] = list(schedule["times"])
    details = {"Name": schedule["name"], "CopyTags": schedule["copy_tags"], "CreateRule": create,
               "RetainRule": {"Count": schedule["retain_count"]}}
    if schedule["tags_to_add"]:
        details["TagsToAdd"] = tag_list(schedule["tags_to_add"])
    return details


def policy_details(resource_types, target_tags, schedules):
    """The PolicyDetails to send for validated options."""
    return {
        "PolicyType": POLICY_TYPE,
        "ResourceTypes": list(resource_types),
        "TargetTags": tag_list(target_tags),
        "Schedules": [schedule_details(schedule) for schedule in schedules],
    }


def _pruned(value):
    """``value`` without None, empty lists and empty dictionaries (DLM omits what a request left out, or answers it
    empty)."""
    if isinstance(value, dict):
        items = ((key, _pruned(item)) for key, item in value.items())
        return {key: item for key, item in items if item not in (None, [], {})}
    if isinstance(value, list):
        return [_pruned(item) for item in value]
    return value


def _sorted_tags(tags):
    return sorted(tags, key=lambda tag: (tag.get("Key", ""), tag.get("Value", "")))


def canonical_details(details):
    """PolicyDetails in a form where what we send and what DLM returns compare equal when they mean the same.

    DLM fills in PolicyType, PolicyLanguage and ResourceLocations, CreateRule.Location (CLOUD) and RetainRule.Interval
    0 next to a Count; booleans it leaves out are false; tag lists are sets. Both sides get the defaults, so either
    way of answering (with or without a default) compares equal; everything else, including settings this module does
    not manage, is compared as it is.
    """
    details = _pruned(copy.deepcopy(details or {}))
    for key, default in DETAIL_DEFAULTS.items():
        details.setdefault(key, copy.deepcopy(default))
    if "TargetTags" in details:
        details["TargetTags"] = _sorted_tags(details["TargetTags"])
    parameters = {key: value for key, value in details.pop("Parameters", {}).items() if value}
    if parameters:  # ExcludeBootVolume/NoReboot false are the defaults
        details["Parameters"] = parameters
    schedules = []
    for schedule in details.get("Schedules", []):
        schedule = dict(schedule)
        schedule["CopyTags"] = bool(schedule.get("CopyTags", False))
        for key in ("TagsToAdd", "VariableTags"):
            if key in schedule:
                schedule[key] = _sorted_tags(schedule[key])
        create = dict(schedule.get("CreateRule", {}))
        create.setdefault("Location", "CLOUD")
        schedule["CreateRule"] = create
        retain = dict(schedule.get("RetainRule", {}))
        if retain.get("Count") and not retain.get("Interval") and "IntervalUnit" not in retain:
            retain.pop("Interval", None)
        schedule["RetainRule"] = retain
        schedules.append(schedule)
    if "Schedules" in details:
        details["Schedules"] = schedules
    return details


def details_differ(current, wanted):
    return canonical_details(current) != canonical_details(wanted)


def policy_result(policy):
    """GetLifecyclePolicy's Policy in snake case, with its tags as a dict (dates as ISO 8601 strings)."""
    if policy is None:
        return None
    resource = dict(policy, Tags=dict(policy.get("Tags") or {}))
    return boto3_resource_to_ansible_dict(resource, transform_tags=False, ignore_list=["Tags"])


def diff_view(policy):
    """What --diff shows of a policy (GetLifecyclePolicy's shape), or {} for none."""
    if not policy:
        return {}
    result = policy_result(dict(policy, PolicyDetails=canonical_details(policy.get("PolicyDetails"))))
    keys = ("description", "state", "execution_role_arn", "policy_details", "tags")
    return {key: result.get(key) for key in keys}


# -- AWS -------------------------------------------------------------------------------------------------------------


def find_policy(module, dlm, description):
    """The policy described ``description`` (GetLifecyclePolicy's Policy), or None.

    GetLifecyclePolicies has no pagination (botocore has no paginator for it) and no description filter.
    """
    summaries = dlm.get_lifecycle_policies(aws_retry=True).get("Policies", [])
    matches = [summary for summary in summaries if summary.get("Description") == description]
    if len(matches) > 1:
        ids = sorted(summary["PolicyId"] for summary in matches)
        module.fail_json(msg=f"description: {len(matches)} lifecycle policies are described {description!r}: "
                             f"{', '.join(ids)}; the description identifies one policy, so delete the extra ones "
                             "(aws dlm delete-lifecycle-policy --policy-id ...) or change their description")
    if not matches:
        return None
    summary = matches[0]
    if summary.get("DefaultPolicy") or summary.get("PolicyType", POLICY_TYPE) != POLICY_TYPE:
        kind = "a default policy" if summary.get("DefaultPolicy") else f"a {summary.get('PolicyType')} policy"
        module.fail_json(msg=f"description: the lifecycle policy {summary['PolicyId']} described {description!r} is "
                             f"{kind}, not an {POLICY_TYPE} policy this module manages; choose another description")
    try:
        return dlm.get_lifecycle_policy(aws_retry=True, PolicyId=summary["PolicyId"])["Policy"]
    except is_boto3_error_code("ResourceNotFoundException"):
        return None  # deleted meanwhile


def planned_policy(wanted, current=None, tags=None):
    """The policy as it will be after the change (GetLifecyclePolicy's shape)."""
    policy = dict(current) if current else {
        "PolicyId": KNOWN_AFTER_APPLY, "PolicyArn": KNOWN_AFTER_APPLY, "DefaultPolicy": False,
        "DateCreated": KNOWN_AFTER_APPLY, "DateModified": KNOWN_AFTER_APPLY}
    policy.update(Description=wanted["description"], State=wanted["policy_state"],
                  ExecutionRoleArn=wanted["execution_role_arn"], PolicyDetails=canonical_details(wanted["details"]),
                  Tags=tags if tags is not None else (current or {}).get("Tags") or {})
    return policy


def ensure_present(module, dlm, wanted):
    current = find_policy(module, dlm, wanted["description"])
    if current is None:
        tags = wanted["tags"] or {}
        after = planned_policy(wanted, tags=tags)
        result = dict(changed=True, policy=policy_result(after), diff=dict(before={}, after=diff_view(after)))
        if module.check_mode:
            module.exit_json(**result)
        params = dict(Description=wanted["description"], State=wanted["policy_state"],
                      ExecutionRoleArn=wanted["execution_role_arn"], PolicyDetails=wanted["details"])
        if tags:
            params["Tags"] = tags
        policy_id = dlm.create_lifecycle_policy(aws_retry=True, **params)["PolicyId"]
        result["policy"] = policy_result(dlm.get_lifecycle_policy(aws_retry=True, PolicyId=policy_id)["Policy"])
        module.exit_json(**result)

    policy_id = current["PolicyId"]
    update = {}
    if details_differ(current.get("PolicyDetails"), wanted["details"]):
        update["PolicyDetails"] = wanted["details"]
    if current.get("State") != wanted["policy_state"]:
        update["State"] = wanted["policy_state"]
    if current.get("ExecutionRoleArn") != wanted["execution_role_arn"]:
        update["ExecutionRoleArn"] = wanted["execution_role_arn"]
    current_tags = dict(current.get("Tags") or {})
    tags_after, to_set, to_unset = current_tags, {}, []
    if wanted["tags"] is not None:
        to_set, to_unset = compare_aws_tags(current_tags, wanted["tags"], purge_tags=wanted["purge_tags"])
        tags_after = {key: value for key, value in current_tags.items() if key not in to_unset}
        tags_after.update(to_set)
    changed = bool(update or to_set or to_unset)
    after = planned_policy(wanted, current, tags_after) if changed else current
    result = dict(changed=changed, policy=policy_result(after),
                  diff=dict(before=diff_view(current), after=diff_view(after)))
    if not changed or module.check_mode:
        module.exit_json(**result)
    if update:
        dlm.update_lifecycle_policy(aws_retry=True, PolicyId=policy_id, **update)
    if to_unset:
        dlm.untag_resource(aws_retry=True, ResourceArn=current["PolicyArn"], TagKeys=list(to_unset))
    if to_set:
        dlm.tag_resource(aws_retry=True, ResourceArn=current["PolicyArn"], Tags=to_set)
    result["policy"] = policy_result(dlm.get_lifecycle_policy(aws_retry=True, PolicyId=policy_id)["Policy"])
    module.exit_json(**result)


def ensure_absent(module, dlm, wanted):
    current = find_policy(module, dlm, wanted["description"])
    result = dict(changed=current is not None, policy=None, diff=dict(before=diff_view(current), after={}))
    if current is not None and not module.check_mode:
        try:
            dlm.delete_lifecycle_policy(aws_retry=True, PolicyId=current["PolicyId"])
        except is_boto3_error_code("ResourceNotFoundException"):
            pass  # deleted meanwhile
    module.exit_json(**result)


def main():
    argument_spec = dict(
        description=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        execution_role_arn=dict(type="str"),
        target_tags=dict(type="dict"),
        resource_types=dict(type="list", elements="str", choices=["VOLUME", "INSTANCE"], default=["VOLUME"]),
        # Keys of each schedule are checked by validate_schedule (unknown keys named with the closest valid one).
        schedules=dict(type="list", elements="dict", default=copy.deepcopy(DEFAULT_SCHEDULES)),
        policy_state=dict(type="str", choices=["ENABLED", "DISABLED"], default="ENABLED"),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        wanted = validate_params(module.params, module.check_mode)
    except InputError as e:
        module.fail_json(msg=str(e))
    dlm = retrying_client(module, "dlm")
    handler = ensure_present if module.params["state"] == "present" else ensure_absent
    run_module(module, handler, module, dlm, wanted)


if __name__ == "__main__":
    main()
