# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IAM role reconciliation shared by llmhub.eks.iam_roles and llmhub.eks.irsa_role.

A run has two phases, each concurrent over the roles: first every role's
current state is read (role, attached and inline policies, instance
profiles, tags) and compared with the wanted one; problems that IAM cannot
fix in place (a different path, an instance profile held by another role)
fail the run before anything is changed. Then only the roles that differ get
their calls. The comparison is between two *views* of a role (the same
shape the diff shows), so a second run with the same input makes no call.
"""

from __future__ import annotations

import json
import re
import time
from functools import partial

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.iam import validate_iam_identifiers
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.llmhub.eks.plugins.module_utils.common import fill_unknown
from ansible_collections.llmhub.eks.plugins.module_utils.common import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.common import retry_while_principal_unknown
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_concurrently
from ansible_collections.llmhub.eks.plugins.module_utils.policy import PolicyError
from ansible_collections.llmhub.eks.plugins.module_utils.policy import normalize_policy
from ansible_collections.llmhub.eks.plugins.module_utils.policy import validate_policy

ROLE_PATH = re.compile(r"/(?:[\w+=,.@-]+/)*")
INLINE_POLICY_NAME = re.compile(r"[\w+=,.@-]{1,128}")
MANAGED_POLICY_ARN = re.compile(r"arn:[\w-]+:iam::(?:aws|\d{12}):policy/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,128}")
MANAGED_POLICY_NAME = re.compile(r"(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,128}")
DEFAULT_MAX_SESSION = 3600
MAX_SESSION_RANGE = (3600, 43200)
DESCRIPTION_MAX = 1000
# A trust policy naming a principal created moments ago (another role of the same set, an OIDC provider) is
# retried this long (seconds) while IAM answers "Invalid principal".
PRINCIPAL_WAIT_SECONDS = 15

# Members of a role's spec (a dict) built by the modules:
#   name, path (None: "/" on creation, not checked afterwards), description (None: not managed),
#   assume_role_policy (dict, or None: not managed), managed_policies (ARNs, or None: not managed),
#   inline_policies ({name: dict}, or None: not managed), instance_profile (bool),
#   max_session_duration (int or None: not managed), tags (dict, or None: not managed).
ROLE_ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    path=dict(type="str"),
    description=dict(type="str"),
    managed_policies=dict(type="list", elements="str"),
    inline_policies=dict(type="dict"),
    max_session_duration=dict(type="int"),
    tags=dict(type="dict"),
)
COMMON_ARGUMENT_SPEC = dict(
    purge_policies=dict(type="bool", default=True),
    tags=dict(type="dict", aliases=["resource_tags"]),
    purge_tags=dict(type="bool", default=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
)


# --------------------------------------------------------------------------- validation


def role_name_problem(name):
    """Why ``name`` cannot name an IAM role (amazon.aws's ``validate_iam_identifiers``), or None."""
    if not isinstance(name, str) or not name:
        return f"{name!r} is not a valid IAM role name (1-64 characters: letters, digits and +=,.@_-)"
    problem = validate_iam_identifiers("role", name=name)
    return f"{name!r}: {problem}" if problem else None


def managed_policy_problem(reference):
    if not isinstance(reference, str):
        return f"{reference!r} is not a policy ARN or name"
    if reference.startswith("arn:"):
        if not MANAGED_POLICY_ARN.fullmatch(reference):
            return (f"{reference!r} is not a managed policy ARN (arn:PARTITION:iam::aws:policy/NAME or "
                    "arn:PARTITION:iam::ACCOUNT:policy/[PATH/]NAME)")
        return None
    if not MANAGED_POLICY_NAME.fullmatch(reference):
        return (f"{reference!r} is neither a managed policy ARN nor an AWS managed policy name "
                "(e.g. AmazonEKSClusterPolicy or service-role/AmazonEBSCSIDriverPolicy)")
    return None


def validate_roles(roles, state, option="roles", trust_option="assume_role_policy", require_trust=True):
    """Problems of the roles' specs, each naming its option path; empty when all is well. No AWS call."""
    problems = []
    seen = {}
    for index, role in enumerate(roles):
        where = f"{option}[{index}]"
        name = role.get("name")
        problem = role_name_problem(name)
        if problem:
            problems.append(f"{where}.name: {problem}")
        elif name in seen:
            problems.append(f"{where}.name: {name!r} is already {option}[{seen[name]}]; role names must be unique")
        else:
            seen[name] = index
        if state == "absent":
            continue
        path = role.get("path")
        if path is not None and (len(path) > 512 or not ROLE_PATH.fullmatch(path)):
            problems.append(f"{where}.path: {path!r} must start and end with / and contain only letters, digits, "
                            "+=,.@_- between slashes (e.g. / or /eks/)")
        description = role.get("description")
        if description is not None and len(description) > DESCRIPTION_MAX:
            problems.append(f"{where}.description: at most {DESCRIPTION_MAX} characters")
        duration = role.get("max_session_duration")
        if duration is not None and not MAX_SESSION_RANGE[0] <= duration <= MAX_SESSION_RANGE[1]:
            problems.append(f"{where}.max_session_duration: {duration} must be between {MAX_SESSION_RANGE[0]} and "
                            f"{MAX_SESSION_RANGE[1]} seconds")
        if require_trust:
            trust = role.get(trust_option)
            if trust in (None, ""):
                problems.append(f"{where}.{trust_option}: required with state=present (the role's trust policy)")
            else:
                try:
                    validate_policy(trust)
                except PolicyError as e:
                    problems.append(f"{where}.{trust_option}: {e}")
        for position, reference in enumerate(role.get("managed_policies") or []):
            problem = managed_policy_problem(reference)
            if problem:
                problems.append(f"{where}.managed_policies[{position}]: {problem}")
        for policy_name, document in (role.get("inline_policies") or {}).items():
            if not INLINE_POLICY_NAME.fullmatch(policy_name):
                problems.append(f"{where}.inline_policies: {policy_name!r} is not a valid policy name "
                                "(1-128 characters: letters, digits and +=,.@_-)")
            try:
                validate_policy(document)
            except PolicyError as e:
                problems.append(f"{where}.inline_policies.{policy_name}: {e}")
    return problems


def needs_partition(roles):
    """Whether some managed policy is given by name (its ARN needs the partition)."""
    return any(not ref.startswith("arn:") for role in roles for ref in role.get("managed_policies") or [])


def managed_policy_arn(reference, partition):
    """An ARN as is; an AWS managed policy name (optionally with its path) as its ARN."""
    if reference.startswith("arn:"):
        return reference
    return f"arn:{partition}:iam::aws:policy/{reference.strip('/')}"


def role_spec(role, common_tags, partition, assume_role_policy, instance_profile=False):
    """The internal spec of one role from its module options (see the comment at ROLE_ARGUMENT_SPEC)."""
    tags = None
    if common_tags is not None or role.get("tags") is not None:
        tags = dict(common_tags or {})
        tags.update(role.get("tags") or {})
    managed = role.get("managed_policies")
    inline = role.get("inline_policies")
    return {
        "name": role["name"],
        "path": role.get("path"),
        "description": role.get("description"),
        "assume_role_policy": None if assume_role_policy is None else validate_policy(assume_role_policy),
        "managed_policies": None if managed is None else sorted({managed_policy_arn(r, partition) for r in managed}),
        "inline_policies": None if inline is None else {k: validate_policy(v) for k, v in inline.items()},
        "instance_profile": bool(instance_profile),
        "max_session_duration": role.get("max_session_duration"),
        "tags": tags,
    }


# --------------------------------------------------------------------------- reading


def fetch_role(client, name, with_documents=True):
    """The role's current state, or None when it does not exist."""
    try:
        role = client.get_role(aws_retry=True, RoleName=name)["Role"]
    except is_boto3_error_code("NoSuchEntity"):
        return None
    attached = paginate(client, "list_attached_role_policies", "AttachedPolicies", RoleName=name)
    inline_names = paginate(client, "list_role_policies", "PolicyNames", RoleName=name)
    inline = {}
    for policy_name in inline_names:
        document = None
        if with_documents:
            document = client.get_role_policy(aws_retry=True, RoleName=name, PolicyName=policy_name)["PolicyDocument"]
        inline[policy_name] = document
    profiles = paginate(client, "list_instance_profiles_for_role", "InstanceProfiles", RoleName=name)
    tags = role.get("Tags")
    if tags is None:
        tags = paginate(client, "list_role_tags", "Tags", RoleName=name)
    return {
        "role": role,
        "managed_policies": sorted(p["PolicyArn"] for p in attached),
        "inline_policies": inline,
        "instance_profiles": profiles,
        "tags": boto3_tag_list_to_ansible_dict(tags or []),
    }


def _settings(view):
    return view["description"], view["max_session_duration"]


def _own_profile(current, name):
    return next((p for p in current["instance_profiles"] if p["InstanceProfileName"] == name), None)


def view_of(current, name):
    """The comparable (and diff) view of an existing role."""
    role = current["role"]
    return {
        "path": role.get("Path", "/"),
        "description": role.get("Description") or "",
        "max_session_duration": role.get("MaxSessionDuration", DEFAULT_MAX_SESSION),
        "assume_role_policy": normalize_policy(role["AssumeRolePolicyDocument"]),
        "managed_policies": list(current["managed_policies"]),
        "inline_policies": {
            k: (normalize_policy(v) if v is not None else None) for k, v in sorted(current["inline_policies"].items())
        },
        "instance_profile": _own_profile(current, name) is not None,
        "tags": dict(current["tags"]),
    }


def wanted_view(spec, before, purge_policies, purge_tags):
    """The view the role has after the run: the spec, completed by what it leaves alone."""
    before = before or {}
    after = {
        "path": spec["path"] or before.get("path", "/"),
        "description": before.get("description", "") if spec["description"] is None else spec["description"],
        "max_session_duration": (before.get("max_session_duration", DEFAULT_MAX_SESSION)
                                 if spec["max_session_duration"] is None else spec["max_session_duration"]),
        "assume_role_policy": (before.get("assume_role_policy") if spec["assume_role_policy"] is None
                               else normalize_policy(spec["assume_role_policy"])),
    }
    managed = list(before.get("managed_policies", []))
    if spec["managed_policies"] is not None:
        kept = [] if purge_policies else [arn for arn in managed if arn not in spec["managed_policies"]]
        managed = spec["managed_policies"] + kept
    after["managed_policies"] = sorted(managed)
    inline = dict(before.get("inline_policies", {}))
    if spec["inline_policies"] is not None:
        wanted = {k: normalize_policy(v) for k, v in spec["inline_policies"].items()}
        inline = wanted if purge_policies else {**inline, **wanted}
    after["inline_policies"] = dict(sorted(inline.items()))
    after["instance_profile"] = spec["instance_profile"] or before.get("instance_profile", False)
    tags = dict(before.get("tags", {}))
    if spec["tags"] is not None:
        tags = dict(spec["tags"]) if purge_tags else {**tags, **spec["tags"]}
    after["tags"] = tags
    return after


# --------------------------------------------------------------------------- planning and applying


class RolePlan:
    """One role: its spec, what exists, the views before and after, and the calls that make the difference."""

    def __init__(self, spec, current, purge_policies, purge_tags):
        self.spec = spec
        self.name = spec["name"]
        self.current = current
        self.before = view_of(current, self.name) if current else None
        self.after = wanted_view(spec, self.before, purge_policies, purge_tags)
        self.actions = self._actions()
        self.arn = current["role"]["Arn"] if current else None
        self.role_id = current["role"]["RoleId"] if current else None
        profile = _own_profile(current, self.name) if current else None
        self.instance_profile_arn = profile["Arn"] if profile else None

    @property
    def created(self):
        return self.current is None

    @property
    def changed(self):
        return bool(self.actions)

    def _actions(self):
        before, after = self.before, self.after
        if before is None:
            actions = ["create role"]
            actions += [f"attach {arn}" for arn in after["managed_policies"]]
            actions += [f"put inline policy {name}" for name in after["inline_policies"]]
            if after["instance_profile"]:
                actions.append("create instance profile")
            return actions
        actions = []
        if before["assume_role_policy"] != after["assume_role_policy"]:
            actions.append("update trust policy")
        if _settings(before) != _settings(after):
            actions.append("update description/max session duration")
        actions += [f"detach {arn}" for arn in before["managed_policies"] if arn not in after["managed_policies"]]
        actions += [f"attach {arn}" for arn in after["managed_policies"] if arn not in before["managed_policies"]]
        actions += [f"delete inline policy {name}" for name in before["inline_policies"]
                    if name not in after["inline_policies"]]
        actions += [f"put inline policy {name}" for name, doc in after["inline_policies"].items()
                    if before["inline_policies"].get(name, "missing") != doc]
        if after["instance_profile"] and not before["instance_profile"]:
            actions.append("create instance profile")
        to_set, to_unset = compare_aws_tags(before["tags"], after["tags"], purge_tags=True)
        if to_set:
            actions.append(f"tag {sorted(to_set)}")
        if to_unset:
            actions.append(f"untag {sorted(to_unset)}")
        return actions

    def conflicts(self, option_path):
        """Differences IAM cannot make in place, as messages naming the option."""
        if not self.current:
            return []
        problems = []
        path = self.spec["path"]
        if path is not None and path != self.before["path"]:
            problems.append(f"{option_path}.path: role {self.name} exists with path {self.before['path']} and IAM "
                            f"cannot move it to {path}; keep path {self.before['path']} or delete the role first")
        return problems

    def result(self):
        return {
            "name": self.name,
            "arn": self.arn,
            "role_id": self.role_id,
            "path": self.after["path"],
            "managed_policies": list(self.after["managed_policies"]),
            "inline_policies": sorted(self.after["inline_policies"]),
            "instance_profile_arn": self.instance_profile_arn,
        }


def _with_principal_retry(call, sleep=time.sleep, **params):
    """``call(**params)``, retried while IAM does not know a principal of the document yet."""
    return retry_while_principal_unknown(call, "MalformedPolicyDocument", PRINCIPAL_WAIT_SECONDS, sleep=sleep,
                                         **params)


def _inline_document(spec, name):
    return json.dumps(spec["inline_policies"][name])


def apply_plan(client, plan):
    """Make the calls of one role's plan (outside check mode)."""
    spec, after, name = plan.spec, plan.after, plan.name
    if plan.created:
        if spec["assume_role_policy"] is None:
            raise AnsibleAWSError(message=f"role {name} cannot be created without a trust policy")
        params = dict(
            RoleName=name,
            Path=after["path"],
            AssumeRolePolicyDocument=json.dumps(spec["assume_role_policy"]),
            MaxSessionDuration=after["max_session_duration"],
        )
        if after["description"]:
            params["Description"] = after["description"]
        if after["tags"]:
            params["Tags"] = ansible_dict_to_boto3_tag_list(after["tags"])
        try:
            role = _with_principal_retry(client.create_role, **params)["Role"]
        except is_boto3_error_code("EntityAlreadyExists"):
            # A retried create whose first attempt succeeded, or a concurrent run: adopt the role.
            role = client.get_role(aws_retry=True, RoleName=name)["Role"]
        plan.arn, plan.role_id = role["Arn"], role["RoleId"]
        before = {"managed_policies": [], "inline_policies": {}, "instance_profile": False, "tags": after["tags"]}
    else:
        before = plan.before
        if before["assume_role_policy"] != after["assume_role_policy"]:
            _with_principal_retry(client.update_assume_role_policy, RoleName=name,
                                  PolicyDocument=json.dumps(spec["assume_role_policy"]))
        if _settings(before) != _settings(after):
            # Both are sent: UpdateRole implementations differ on what an omitted member means.
            client.update_role(aws_retry=True, RoleName=name, Description=after["description"],
                               MaxSessionDuration=after["max_session_duration"])
        for arn in before["managed_policies"]:
            if arn not in after["managed_policies"]:
                try:
                    client.detach_role_policy(aws_retry=True, RoleName=name, PolicyArn=arn)
                except is_boto3_error_code("NoSuchEntity"):
                    pass
        for policy_name in before["inline_policies"]:
            if policy_name not in after["inline_policies"]:
                try:
                    client.delete_role_policy(aws_retry=True, RoleName=name, PolicyName=policy_name)
                except is_boto3_error_code("NoSuchEntity"):
                    pass
    # Policy attachments, inline policies and the instance profile do not depend on each other: made together.
    steps = [(arn, partial(client.attach_role_policy, aws_retry=True, RoleName=name, PolicyArn=arn))
             for arn in after["managed_policies"] if arn not in before["managed_policies"]]
    steps += [(policy_name, partial(client.put_role_policy, aws_retry=True, RoleName=name, PolicyName=policy_name,
                                    PolicyDocument=_inline_document(spec, policy_name)))
              for policy_name, document in after["inline_policies"].items()
              if before["inline_policies"].get(policy_name, "missing") != document]
    if after["instance_profile"] and not before["instance_profile"]:
        steps.append(("instance profile", partial(_set_instance_profile, client, plan)))
    run_concurrently(lambda step: step[1](), steps, f"attach the policies of IAM role {name}",
                     label=lambda step: step[0])
    if not plan.created:
        to_set, to_unset = compare_aws_tags(before["tags"], after["tags"], purge_tags=True)
        if to_unset:
            client.untag_role(aws_retry=True, RoleName=name, TagKeys=to_unset)
        if to_set:
            client.tag_role(aws_retry=True, RoleName=name, Tags=ansible_dict_to_boto3_tag_list(to_set))
    return plan


def _set_instance_profile(client, plan):
    plan.instance_profile_arn = ensure_instance_profile(client, plan.name, plan.after["path"], plan.after["tags"])


def ensure_instance_profile(client, name, path, tags):
    """The instance profile named after the role, created if missing, holding the role. Returns its ARN."""
    try:
        profile = client.get_instance_profile(aws_retry=True, InstanceProfileName=name)["InstanceProfile"]
    except is_boto3_error_code("NoSuchEntity"):
        params = dict(InstanceProfileName=name, Path=path)
        if tags:
            params["Tags"] = ansible_dict_to_boto3_tag_list(tags)
        try:
            profile = client.create_instance_profile(aws_retry=True, **params)["InstanceProfile"]
        except is_boto3_error_code("EntityAlreadyExists"):
            profile = client.get_instance_profile(aws_retry=True, InstanceProfileName=name)["InstanceProfile"]
    holders = [r["RoleName"] for r in profile.get("Roles", [])]
    if name not in holders:
        if holders:
            raise AnsibleAWSError(message=f"instance profile {name} holds role {holders[0]}; an instance profile "
                                          "holds one role: remove that role from it or set instance_profile: false")
        client.add_role_to_instance_profile(aws_retry=True, InstanceProfileName=name, RoleName=name)
    return profile["Arn"]


def delete_role(client, current):
    """Delete a role and what keeps it from being deleted: instance profiles, managed and inline policies."""
    name = current["role"]["RoleName"]

    def ignore_missing(call, **params):
        try:
            call(aws_retry=True, **params)
        except is_boto3_error_code("NoSuchEntity"):
            pass

    for profile in current["instance_profiles"]:
        profile_name = profile["InstanceProfileName"]
        ignore_missing(client.remove_role_from_instance_profile, InstanceProfileName=profile_name, RoleName=name)
        if profile_name == name:
            ignore_missing(client.delete_instance_profile, InstanceProfileName=profile_name)
    for arn in current["managed_policies"]:
        ignore_missing(client.detach_role_policy, RoleName=name, PolicyArn=arn)
    for policy_name in current["inline_policies"]:
        ignore_missing(client.delete_role_policy, RoleName=name, PolicyName=policy_name)
    ignore_missing(client.delete_role, RoleName=name)


# --------------------------------------------------------------------------- the whole set


def reconcile_roles(module, client, specs, option="roles"):
    """Bring every role of ``specs`` to its spec (state=present). Returns the module's result members."""
    purge_policies = module.params["purge_policies"]
    purge_tags = module.params["purge_tags"]
    currents = run_concurrently(lambda spec: fetch_role(client, spec["name"]), specs, "read IAM roles",
                                label=lambda spec: spec["name"])
    plans = [RolePlan(spec, current, purge_policies, purge_tags) for spec, current in zip(specs, currents)]
    problems = [problem for index, plan in enumerate(plans) for problem in plan.conflicts(f"{option}[{index}]")]
    if problems:
        module.fail_json(msg="; ".join(problems))
    pending = [plan for plan in plans if plan.changed]
    if not module.check_mode:
        run_concurrently(lambda plan: apply_plan(client, plan), pending, "update IAM roles", label=lambda p: p.name)
    result = set_result(plans, module.check_mode)
    result["created"] = [plan.name for plan in plans if plan.created]
    result["updated"] = [plan.name for plan in plans if plan.changed and not plan.created]
    result["actions"] = [f"{plan.name}: {action}" for plan in pending for action in plan.actions]
    result["changed"] = bool(pending)
    result["diff"] = {
        "before": {plan.name: plan.before for plan in sorted(plans, key=lambda p: p.name) if plan.before},
        "after": {plan.name: plan.after for plan in sorted(plans, key=lambda p: p.name)},
    }
    return result


def remove_roles(module, client, names):
    """Delete the named roles that exist (state=absent). Returns the module's result members."""
    currents = run_concurrently(lambda name: fetch_role(client, name), names,
                                "read IAM roles")
    existing = [current for current in currents if current]
    if not module.check_mode:
        run_concurrently(lambda current: delete_role(client, current), existing, "delete IAM roles",
                         label=lambda current: current["role"]["RoleName"])
    deleted = [current["role"]["RoleName"] for current in existing]
    result = {"changed": bool(existing), "roles": [], "role_arns": {}, "instance_profile_arns": {}, "created": [],
              "updated": [], "deleted": deleted, "actions": [f"{name}: delete role" for name in deleted]}
    result["diff"] = {
        "before": {name: view_of(current, name) for name, current in sorted(zip(deleted, existing), key=lambda p: p[0])},
        "after": {},
    }
    return result


def set_result(plans, check_mode=False):
    """The roles, ARNs and instance profile ARNs after the call; in check mode the ARN and id of a role, and the ARN
    of an instance profile, that would be created are KNOWN_AFTER_APPLY."""
    roles = [fill_unknown(plan.result(), ("arn", "role_id", "instance_profile_arn") if plan.after["instance_profile"]
                          else ("arn", "role_id"), check_mode) for plan in plans]
    return {
        "roles": roles,
        "role_arns": {role["name"]: role["arn"] for role in roles},
        "instance_profile_arns": {role["name"]: role["instance_profile_arn"] for plan, role in zip(plans, roles)
                                  if role["instance_profile_arn"] or plan.after["instance_profile"]},
        "deleted": [],
    }
