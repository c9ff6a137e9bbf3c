"""Amazon Data Lifecycle Manager (``dlm``, rest-json), which moto lacks.

Lifecycle policies are kept per (account, region) in :data:`STORE`. Input is
checked in two passes, both answering ``InvalidRequestException`` (400) like
DLM does:

1. against botocore's input shape (types, required members, enums, lengths,
   ranges, patterns), with AWS's "N validation errors detected: Value ... at
   'Path' failed to satisfy constraint: ..." messages;
2. against DLM's own rules: what a policy of each ``PolicyType`` needs
   (``ResourceTypes``, ``TargetTags``, ``Schedules``...), that a ``CreateRule``
   has either ``Interval`` + ``IntervalUnit`` (1, 2, 3, 4, 6, 8, 12 or 24
   hours) or a ``CronExpression``, that a ``RetainRule`` has either ``Count``
   or ``Interval`` + ``IntervalUnit``, default-policy parameters, tag keys...

Unknown policy ids or ARNs answer ``ResourceNotFoundException`` (404). Like
DLM, responses fill in the defaults AWS materializes (``PolicyType``,
``PolicyLanguage``, ``ResourceLocations``, ``CreateRule.Location``,
``RetainRule.Interval`` 0 for count-based retention). Policies never run:
no snapshot or AMI is ever created.
"""

from __future__ import annotations

import copy
import re
import secrets
import threading
from datetime import datetime, timezone
from typing import Any, Callable

from .protocols import ApiError, Call

POLICY_QUOTA = 100  # lifecycle policies per Region (DLM's default quota)
CREATE_INTERVAL_HOURS = (1, 2, 3, 4, 6, 8, 12, 24)
_ARN = re.compile(r"^arn:(aws(?:-[a-z]{1,3}){0,2}):dlm:([A-Za-z0-9_/.-]{0,63}):(\d+):policy/(.+)$")
_TAG_KEY = re.compile(r"^(?!aws:)[a-zA-Z+-=._:/]+$")


# -- errors ------------------------------------------------------------------


def invalid_request(message: str, **fields: Any) -> ApiError:
    return ApiError(400, "InvalidRequestException", message, Code="InvalidRequestException", **fields)


def not_found(message: str, ids: list[str]) -> ApiError:
    return ApiError(404, "ResourceNotFoundException", message, Code="ResourceNotFoundException",
                    ResourceType="LifecyclePolicy", ResourceIds=ids)


def limit_exceeded(message: str) -> ApiError:
    return ApiError(429, "LimitExceededException", message, Code="LimitExceededException",
                    ResourceType="LifecyclePolicy")


# -- model validation ----------------------------------------------------------


def _describe(value: Any) -> str:
    return "null" if value is None else f"'{value}'"


def _check_shape(value: Any, shape: Any, path: str, errors: list[str]) -> None:
    """Append AWS-style constraint violations of ``value`` against ``shape``."""

    def fail(constraint: str) -> None:
        errors.append(f"Value {_describe(value)} at '{path}' failed to satisfy constraint: {constraint}")

    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, dict):
            fail("Member must be a structure")
            return
        for name in meta.get("required", []):
            if value.get(name) is None:
                errors.append(f"Value null at '{_join(path, name)}' failed to satisfy constraint: "
                              "Member must not be null")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _check_shape(value[name], member, _join(path, name), errors)
        return
    if kind == "list":
        if not isinstance(value, list):
            fail("Member must be a list")
            return
        _check_length(len(value), meta, fail)
        for index, item in enumerate(value, start=1):
            _check_shape(item, shape.member, f"{path}.{index}", errors)
        return
    if kind == "map":
        if not isinstance(value, dict):
            fail("Member must be a map")
            return
        _check_length(len(value), meta, fail)
        for key, item in value.items():
            _check_shape(key, shape.key, f"{path}.{key}.key", errors)
            _check_shape(item, shape.value, f"{path}.{key}.value", errors)
        return
    if kind == "string":
        if not isinstance(value, str):
            fail("Member must be a string")
            return
        if shape.enum and value not in shape.enum:
            fail(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
            return
        _check_length(len(value), meta, fail)
        pattern = meta.get("pattern")
        if pattern and "\\p" not in pattern and not re.fullmatch(pattern, value):
            fail(f"Member must satisfy regular expression pattern: {pattern}")
        return
    if kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            fail("Member must be a number")
            return
        if "min" in meta and value < meta["min"]:
            fail(f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            fail(f"Member must have value less than or equal to {meta['max']}")
        return
    if kind == "boolean" and not isinstance(value, bool):
        fail("Member must be a boolean")


def _check_length(length: int, meta: dict[str, Any], fail: Callable[[str], None]) -> None:
    if "min" in meta and length < meta["min"]:
        fail(f"Member must have length greater than or equal to {meta['min']}")
    if "max" in meta and length > meta["max"]:
        fail(f"Member must have length less than or equal to {meta['max']}")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def validate_input(call: Call, params: dict[str, Any]) -> None:
    """Check ``params`` against the operation's botocore input shape."""
    op = call.operation_model
    if op is None or op.input_shape is None:
        return
    errors: list[str] = []
    _check_shape(params, op.input_shape, "", errors)
    if errors:
        count = len(errors)
        noun = "error" if count == 1 else "errors"
        raise invalid_request(f"{count} validation {noun} detected: " + "; ".join(errors))


# -- DLM rules -------------------------------------------------------------------

_DEFAULT_POLICY_PARAMS = ("CreateInterval", "RetainInterval", "CopyTags", "ExtendDeletion",
                          "CrossRegionCopyTargets", "Exclusions")


def _require(container: dict[str, Any], name: str, path: str, why: str) -> None:
    if container.get(name) in (None, [], {}):
        raise invalid_request(f"{path}.{name} is required {why}.",
                              RequiredParameters=[f"{path}.{name}"])


def _exclusive(path: str, names: list[str], message: str) -> ApiError:
    return invalid_request(message, MutuallyExclusiveParameters=[f"{path}.{n}" for n in names])


def _check_tag_keys(tags: list[dict[str, str]], path: str) -> None:
    for tag in tags:
        if tag["Key"].startswith("aws:"):
            raise invalid_request(f"{path}: tag keys starting with 'aws:' are reserved for AWS use "
                                  f"(got '{tag['Key']}').")


def _check_create_rule(rule: dict[str, Any], path: str) -> None:
    has_interval = "Interval" in rule or "IntervalUnit" in rule
    cron = rule.get("CronExpression")
    if cron is not None and has_interval:
        raise _exclusive(path, ["Interval", "CronExpression"],
                         f"{path}: specify either Interval and IntervalUnit, or CronExpression, "
                         "not both.")
    if cron is not None:
        if rule.get("Times"):
            raise _exclusive(path, ["Times", "CronExpression"],
                             f"{path}: Times cannot be combined with CronExpression.")
        fields = cron[len("cron("):-1].split()
        if len(fields) != 6:
            raise invalid_request(
                f"{path}.CronExpression '{cron}' is not valid: expected cron(minutes hours "
                "day-of-month month day-of-week year), 6 fields.")
        return
    if not has_interval:
        raise invalid_request(f"{path} must specify either Interval and IntervalUnit, "
                              "or CronExpression.",
                              RequiredParameters=[f"{path}.Interval", f"{path}.IntervalUnit"])
    for name in ("Interval", "IntervalUnit"):
        _require(rule, name, path, "when the create rule uses an interval")
    if rule["Interval"] not in CREATE_INTERVAL_HOURS:
        raise invalid_request(
            f"{path}.Interval {rule['Interval']} is not supported: valid intervals are "
            f"{', '.join(map(str, CREATE_INTERVAL_HOURS))} hours.")


def _check_retain_rule(rule: dict[str, Any], path: str) -> None:
    count = rule.get("Count")
    has_interval = bool(rule.get("Interval")) or "IntervalUnit" in rule
    if count and has_interval:
        raise _exclusive(path, ["Count", "Interval"],
                         f"{path}: specify either Count, or Interval and IntervalUnit, not both.")
    if has_interval:
        for name in ("Interval", "IntervalUnit"):
            _require(rule, name, path, "for age-based retention")
        if rule["Interval"] < 1:
            raise invalid_request(f"{path}.Interval must be at least 1.")
        return
    if not count:
        raise invalid_request(
            f"{path} must specify either Count (1-1000), or Interval and IntervalUnit.",
            RequiredParameters=[f"{path}.Count"])


def _check_schedules(details: dict[str, Any], path: str) -> None:
    names = set()
    for index, schedule in enumerate(details["Schedules"], start=1):
        where = f"{path}.Schedules.{index}"
        name = schedule.get("Name")
        if name is not None:
            if name in names:
                raise invalid_request(f"{where}.Name: schedule names must be unique within a "
                                      f"policy ('{name}' is used twice).")
            names.add(name)
        _require(schedule, "CreateRule", where, "in every schedule")
        _require(schedule, "RetainRule", where, "in every schedule")
        _check_create_rule(schedule["CreateRule"], f"{where}.CreateRule")
        _check_retain_rule(schedule["RetainRule"], f"{where}.RetainRule")
        _check_tag_keys(schedule.get("TagsToAdd", []), f"{where}.TagsToAdd")


def _check_custom_details(details: dict[str, Any]) -> None:
    path = "PolicyDetails"
    policy_type = details.get("PolicyType", "EBS_SNAPSHOT_MANAGEMENT")
    if details.get("PolicyLanguage", "STANDARD") != "STANDARD":
        raise invalid_request("PolicyDetails.PolicyLanguage SIMPLIFIED is only valid for default "
                              "policies (set DefaultPolicy).")
    for name in _DEFAULT_POLICY_PARAMS + ("ResourceType",):
        if name in details:
            raise invalid_request(f"PolicyDetails.{name} is only valid for default policies "
                                  "(set DefaultPolicy).")
    if policy_type == "EVENT_BASED_POLICY":
        for name in ("EventSource", "Actions"):
            _require(details, name, path, "for EVENT_BASED_POLICY policies")
        for name in ("ResourceTypes", "TargetTags", "Schedules"):
            if name in details:
                raise invalid_request(f"PolicyDetails.{name} is not valid for EVENT_BASED_POLICY "
                                      "policies.")
        return
    for name in ("EventSource", "Actions"):
        if name in details:
            raise invalid_request(f"PolicyDetails.{name} is only valid for EVENT_BASED_POLICY "
                                  "policies.")
    if policy_type == "EBS_SNAPSHOT_MANAGEMENT":
        _require(details, "ResourceTypes", path, "for EBS_SNAPSHOT_MANAGEMENT policies")
    elif details.get("ResourceTypes", ["INSTANCE"]) != ["INSTANCE"]:
        raise invalid_request("PolicyDetails.ResourceTypes must be [INSTANCE] for "
                              "IMAGE_MANAGEMENT policies.")
    _require(details, "TargetTags", path, f"for {policy_type} policies")
    _check_tag_keys(details["TargetTags"], f"{path}.TargetTags")
    _require(details, "Schedules", path, f"for {policy_type} policies")
    _check_schedules(details, path)


def _materialize_custom(details: dict[str, Any]) -> dict[str, Any]:
    """``details`` with the defaults DLM fills in."""
    details = copy.deepcopy(details)
    policy_type = details.setdefault("PolicyType", "EBS_SNAPSHOT_MANAGEMENT")
    details.setdefault("PolicyLanguage", "STANDARD")
    if policy_type == "EVENT_BASED_POLICY":
        return details
    details.setdefault("ResourceLocations", ["CLOUD"])
    if policy_type == "IMAGE_MANAGEMENT":
        details.setdefault("ResourceTypes", ["INSTANCE"])
    for schedule in details.get("Schedules", []):
        create, retain = schedule["CreateRule"], schedule["RetainRule"]
        if "CronExpression" not in create:
            create.setdefault("Location", "CLOUD")
        if retain.get("Count"):
            retain.setdefault("Interval", 0)
    return details


def _default_details(resource: str, values: dict[str, Any], base: dict[str, Any] | None) -> dict[str, Any]:
    """PolicyDetails of a default policy (SIMPLIFIED language)."""
    details = copy.deepcopy(base) if base else {
        "PolicyLanguage": "SIMPLIFIED",
        "PolicyType": "EBS_SNAPSHOT_MANAGEMENT" if resource == "VOLUME" else "IMAGE_MANAGEMENT",
        "ResourceType": resource,
        "ResourceLocations": ["CLOUD"],
        "CreateInterval": 1,
        "RetainInterval": 7,
        "CopyTags": False,
        "ExtendDeletion": False,
    }
    details.update({k: copy.deepcopy(v) for k, v in values.items() if v is not None})
    if not 1 <= details["CreateInterval"] <= 7:
        raise invalid_request("CreateInterval must be between 1 and 7 days.")
    if not 2 <= details["RetainInterval"] <= 14:
        raise invalid_request("RetainInterval must be between 2 and 14 days.")
    if details["RetainInterval"] < details["CreateInterval"]:
        raise invalid_request("RetainInterval must be greater than or equal to CreateInterval.")
    return details


def _default_values(params: dict[str, Any], path: str, resource: str) -> dict[str, Any]:
    """Default-policy parameters given at top level or in a SIMPLIFIED PolicyDetails."""
    top = {name: params[name] for name in _DEFAULT_POLICY_PARAMS if name in params}
    details = params.get("PolicyDetails")
    if details is None:
        return top
    if top:
        raise invalid_request(
            f"Specify the default policy parameters either at the top level of the request or "
            f"in PolicyDetails, not both ({', '.join(sorted(top))} given with PolicyDetails).",
            MutuallyExclusiveParameters=["PolicyDetails", *sorted(top)])
    if details.get("PolicyLanguage", "SIMPLIFIED") != "SIMPLIFIED":
        raise invalid_request(f"{path}.PolicyLanguage must be SIMPLIFIED for default policies.")
    allowed = set(_DEFAULT_POLICY_PARAMS) | {"PolicyLanguage", "PolicyType", "ResourceType",
                                              "ResourceLocations"}
    if details.get("ResourceType", resource) != resource:
        raise invalid_request(f"{path}.ResourceType must match DefaultPolicy ({resource}).")
    extra = sorted(set(details) - allowed)
    if extra:
        raise invalid_request(f"{path}: {', '.join(extra)} cannot be used in a default policy.")
    return {name: details[name] for name in _DEFAULT_POLICY_PARAMS if name in details}


# -- store -------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class Policy:
    """One lifecycle policy."""

    def __init__(self, account: str, region: str, params: dict[str, Any],
                 details: dict[str, Any], default: str | None) -> None:
        self.id = "policy-" + secrets.token_hex(9)[:17]
        self.arn = f"arn:aws:dlm:{region}:{account}:policy/{self.id}"
        self.description: str = params["Description"]
        self.state: str = params["State"]
        self.execution_role_arn: str = params["ExecutionRoleArn"]
        self.details = details
        self.default = default
        self.tags: dict[str, str] = dict(params.get("Tags") or {})
        self.created = self.modified = _now()

    def to_dict(self) -> dict[str, Any]:
        return {
            "PolicyId": self.id,
            "Description": self.description,
            "State": self.state,
            "ExecutionRoleArn": self.execution_role_arn,
            "DateCreated": _iso(self.created),
            "DateModified": _iso(self.modified),
            "PolicyDetails": copy.deepcopy(self.details),
            "Tags": dict(self.tags),
            "PolicyArn": self.arn,
            "DefaultPolicy": self.default is not None,
        }

    def summary(self) -> dict[str, Any]:
        return {
            "PolicyId": self.id,
            "Description": self.description,
            "State": self.state,
            "Tags": dict(self.tags),
            "PolicyType": self.details.get("PolicyType", "EBS_SNAPSHOT_MANAGEMENT"),
            "DefaultPolicy": self.default is not None,
        }


class DlmStore:
    """Lifecycle policies by (account, region), then by policy id."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._policies: dict[tuple[str, str], dict[str, Policy]] = {}

    def policies(self, call: Call) -> dict[str, Policy]:
        """The (mutable) policies of the caller's account and region."""
        return self._policies.setdefault((call.account, call.region), {})

    def get(self, call: Call, policy_id: str) -> Policy:
        policy = self.policies(call).get(policy_id)
        if policy is None:
            raise not_found(f"Lifecycle policy {policy_id} was not found.", [policy_id])
        return policy

    def by_arn(self, call: Call, arn: str) -> Policy:
        match = _ARN.match(arn)
        if not match:
            raise invalid_request(f"'{arn}' is not a valid lifecycle policy ARN.")
        policy = self.policies(call).get(match.group(4))
        if policy is None or policy.arn != arn:
            raise not_found(f"Lifecycle policy {arn} was not found.", [match.group(4)])
        return policy

    def reset(self) -> None:
        with self.lock:
            self._policies.clear()


STORE = DlmStore()


# -- operations ----------------------------------------------------------------------


def create_lifecycle_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    validate_input(call, params)
    default = params.get("DefaultPolicy")
    if default is not None:
        details = _default_details(default, _default_values(params, "PolicyDetails", default), None)
    else:
        given = [name for name in _DEFAULT_POLICY_PARAMS if name in params]
        if given:
            raise invalid_request(f"{', '.join(given)} can only be specified for default policies "
                                  "(set DefaultPolicy).")
        if params.get("PolicyDetails") is None:
            raise invalid_request("PolicyDetails is required unless DefaultPolicy is specified.",
                                  RequiredParameters=["PolicyDetails"])
        _check_custom_details(params["PolicyDetails"])
        details = _materialize_custom(params["PolicyDetails"])
    _check_resource_tags(params.get("Tags") or {})
    with STORE.lock:
        policies = STORE.policies(call)
        if len(policies) >= POLICY_QUOTA:
            raise limit_exceeded(f"You have reached the quota of {POLICY_QUOTA} lifecycle "
                                 f"policies in {call.region}.")
        if default is not None and any(p.default == default for p in policies.values()):
            raise invalid_request(f"A default policy for {default} resources already exists in "
                                  f"{call.region}.")
        policy = Policy(call.account, call.region, params, details, default)
        policies[policy.id] = policy
    return {"PolicyId": policy.id}


def get_lifecycle_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    validate_input(call, params)
    with STORE.lock:
        return {"Policy": STORE.get(call, params["PolicyId"]).to_dict()}


def _tag_filters(values: list[str], name: str) -> set[tuple[str, str]]:
    pairs = set()
    for value in values:
        key, sep, tag_value = value.partition("=")
        if not sep or not key:
            raise invalid_request(f"{name} filter '{value}' is not valid: use the format key=value.")
        pairs.add((key, tag_value))
    return pairs


def _matches(policy: Policy, params: dict[str, Any], target: set[tuple[str, str]],
             to_add: set[tuple[str, str]]) -> bool:
    details = policy.details
    if params.get("PolicyIds") and policy.id not in params["PolicyIds"]:
        return False
    if params.get("State") and policy.state != params["State"]:
        return False
    if params.get("ResourceTypes"):
        types = details.get("ResourceTypes") or [details.get("ResourceType")]
        if not set(types) & set(params["ResourceTypes"]):
            return False
    if target:
        tags = {(t["Key"], t["Value"]) for t in details.get("TargetTags", [])}
        if not tags & target:
            return False
    if to_add:
        tags = {(t["Key"], t["Value"]) for s in details.get("Schedules", [])
                for t in s.get("TagsToAdd", [])}
        if not tags & to_add:
            return False
    wanted_default = params.get("DefaultPolicyType")
    if wanted_default and not (policy.default and wanted_default in ("ALL", policy.default)):
        return False
    return True


def get_lifecycle_policies(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """Summaries of the policies matching every given filter.

    Unknown ids in ``PolicyIds`` answer ResourceNotFoundException; other
    filters that match nothing give an empty list.
    """
    validate_input(call, params)
    target = _tag_filters(params.get("TargetTags") or [], "TargetTags")
    to_add = _tag_filters(params.get("TagsToAdd") or [], "TagsToAdd")
    with STORE.lock:
        policies = STORE.policies(call)
        missing = [pid for pid in params.get("PolicyIds") or [] if pid not in policies]
        if missing:
            raise not_found(f"Lifecycle policies not found: {', '.join(missing)}.", missing)
        ordered = sorted(policies.values(), key=lambda p: p.created)
        return {"Policies": [p.summary() for p in ordered if _matches(p, params, target, to_add)]}


def update_lifecycle_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    validate_input(call, params)
    with STORE.lock:
        policy = STORE.get(call, params["PolicyId"])
        if policy.default is not None:
            values = _default_values(params, "PolicyDetails", policy.default)
            details = _default_details(policy.default, values, policy.details) if values else None
        else:
            given = [name for name in _DEFAULT_POLICY_PARAMS if name in params]
            if given:
                raise invalid_request(f"{', '.join(given)} can only be updated on default policies.")
            details = None
            if params.get("PolicyDetails") is not None:
                new = params["PolicyDetails"]
                old_type = policy.details.get("PolicyType", "EBS_SNAPSHOT_MANAGEMENT")
                if new.get("PolicyType", "EBS_SNAPSHOT_MANAGEMENT") != old_type:
                    raise invalid_request(f"The PolicyType of a policy cannot be changed (it is "
                                          f"{old_type}).")
                _check_custom_details(new)
                details = _materialize_custom(new)
        if details is not None:
            policy.details = details
        for name, attribute in (("Description", "description"), ("State", "state"),
                                ("ExecutionRoleArn", "execution_role_arn")):
            if params.get(name) is not None:
                setattr(policy, attribute, params[name])
        policy.modified = _now()
    return {}


def delete_lifecycle_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    validate_input(call, params)
    with STORE.lock:
        STORE.get(call, params["PolicyId"])
        del STORE.policies(call)[params["PolicyId"]]
    return {}


def _check_resource_tags(tags: dict[str, str]) -> None:
    for key in tags:
        if not _TAG_KEY.match(key):
            raise invalid_request(f"Tag key '{key}' is not valid: keys cannot start with 'aws:' "
                                  "and may only contain letters, digits and + - = . _ : /.")


def tag_resource(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    validate_input(call, params)
    _check_resource_tags(params["Tags"])
    with STORE.lock:
        policy = STORE.by_arn(call, params["ResourceArn"])
        if len(set(policy.tags) | set(params["Tags"])) > 200:
            raise invalid_request("A lifecycle policy can have at most 200 tags.")
        policy.tags.update(params["Tags"])
    return {}


def untag_resource(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    validate_input(call, params)
    with STORE.lock:
        policy = STORE.by_arn(call, params["ResourceArn"])
        for key in params["TagKeys"]:
            policy.tags.pop(key, None)
    return {}


def list_tags_for_resource(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    validate_input(call, params)
    with STORE.lock:
        return {"Tags": dict(STORE.by_arn(call, params["ResourceArn"]).tags)}


HANDLERS: dict[str, Callable[[Call, dict[str, Any]], dict[str, Any]]] = {
    "CreateLifecyclePolicy": create_lifecycle_policy,
    "GetLifecyclePolicy": get_lifecycle_policy,
    "GetLifecyclePolicies": get_lifecycle_policies,
    "UpdateLifecyclePolicy": update_lifecycle_policy,
    "DeleteLifecyclePolicy": delete_lifecycle_policy,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
}
