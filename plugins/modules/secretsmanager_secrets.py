#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: secretsmanager_secrets
short_description: The whole set of Secrets Manager secrets under one path, generated and rotated
version_added: 0.4.0
description:
  - Reconciles every secret whose name starts with O(path) (the cluster's path, C(llmhub/<cluster>/)) with
    O(secrets), in one call, the secrets concurrently.
  - A missing secret is created with a generated value, a JSON object with one random string per key of its
    C(keys) (Secrets Manager's C(GetRandomPassword), O(password_length), O(exclude_characters)). No value is
    ever set from, or returned to, the playbook; the applications read the secrets through the External Secrets
    Operator.
  - An existing secret keeps its values; a key added to C(keys) gets a generated value and a key removed is dropped
    (a new version), its description, KMS key and tags are updated, and its rotation is set
    (C(RotateSecret) with the rotation function and schedule) or cancelled (C(CancelRotateSecret)).
  - A new secret with rotation is rotated at once (Secrets Manager's default, which tests the rotation function);
    a changed schedule or function on an existing secret does not rotate it now (C(RotateImmediately=false)).
  - A declared secret scheduled for deletion is restored. With O(purge=true), secrets under O(path) that are not
    declared are deleted after O(recovery_window_days).
  - >-
    Why not M(community.aws.secretsmanager_secret): it manages one secret per task and needs its value from the
    playbook; this module reconciles the set under a path, generates the values and never handles them in the
    playbook.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  path:
    description:
      - Prefix of the names of the secrets of the set, ending with C(/) (C(llmhub/<cluster>/)).
      - Every secret under it is part of the set; C(name) in O(secrets) is relative to it.
    type: str
    required: true
  secrets:
    description: The secrets under O(path).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name under O(path) (letters, digits, C(/_+=.@-)).
        type: str
        required: true
      description:
        description: Description of the secret.
        type: str
        default: ''
      keys:
        description: Keys of the JSON object the secret holds, each with a generated value.
        type: list
        elements: str
        default: [password]
      rotation_days:
        description: Days between rotations (1-1000), V(0) for no rotation; omitted, O(rotation_days).
        type: int
      rotation_lambda_arn:
        description: Rotation function of this secret; omitted, O(rotation_lambda_arn).
        type: str
      kms_key_id:
        description: KMS key of this secret; omitted, O(kms_key_id).
        type: str
  rotation_lambda_arn:
    description:
      - The rotation function of the secrets that name none (the hardening role's C(<cluster>-secrets-rotation)).
      - Empty, the secrets are not rotated (unless they name a function).
      - V((known after apply\)) in check mode stands for the function an earlier task of the run would create.
    type: str
    default: ''
  rotation_days:
    description: Days between rotations of the secrets that say nothing (1-1000), V(0) for none.
    type: int
    default: 30
  password_length:
    description: Length of each generated value (GetRandomPassword, 4-4096).
    type: int
    default: 32
  exclude_characters:
    description: Characters a generated value never holds (the ones that need quoting in URLs and shells).
    type: str
    default: "\"'\\/@:`$ "
  kms_key_id:
    description: KMS key (id, ARN or alias) of the secrets; empty, Secrets Manager's C(aws/secretsmanager) key.
    type: str
    default: ''
  purge:
    description: Delete the secrets under O(path) that O(secrets) does not name.
    type: bool
    default: false
  recovery_window_days:
    description:
      - Days a deleted secret can still be restored (7-30); V(0) deletes it at once, without recovery.
    type: int
    default: 7
  state:
    description: V(present) reconciles the set; V(absent) deletes every secret under O(path).
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
notes:
  - O(tags) are the tags of every secret of the set; with O(purge_tags=true) other tags are removed.
  - Reading a secret's keys needs C(secretsmanager:GetSecretValue) on it; the values read are never returned.
"""

EXAMPLES = r"""
- name: The application secrets of the cluster, generated, rotated every 30 days by the cluster's function
  llmhub.eks.secretsmanager_secrets:
    path: llmhub/llm-analytics-hub-prod-eks/
    rotation_lambda_arn: arn:aws:lambda:us-east-1:123456789012:function:llm-analytics-hub-prod-eks-secrets-rotation
    secrets:
      - name: llm-analytics/api-keys
        description: Signing keys of the analytics API
        keys: [signing_key, webhook_secret]
      - name: llm-analytics/database
        keys: [username, password]
        rotation_days: 7
    tags:
      llmhub.io/cluster: llm-analytics-hub-prod-eks

- name: Remove them all
  llmhub.eks.secretsmanager_secrets:
    path: llmhub/llm-analytics-hub-prod-eks/
    state: absent
    recovery_window_days: 0
"""

RETURN = r"""
secrets:
  description: The secrets of the set after the change (in check mode as they would be), by name; never a value.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Full name of the secret.
      type: str
      sample: llmhub/llm-analytics-hub-prod-eks/llm-analytics/database
    arn:
      description: ARN of the secret, V((known after apply\)) in check mode for a new one.
      type: str
    description:
      description: Description.
      type: str
    key_names:
      description: Keys of the JSON object it holds.
      type: list
      elements: str
      sample: [password, username]
    kms_key_id:
      description: KMS key, empty for C(aws/secretsmanager).
      type: str
    rotation_enabled:
      description: Whether Secrets Manager rotates it.
      type: bool
    rotation_days:
      description: Days between rotations, 0 when not rotated.
      type: int
      sample: 30
    rotation_lambda_arn:
      description: Its rotation function.
      type: str
    last_rotated_date:
      description: When it was last rotated (ISO 8601), null if never.
      type: str
    next_rotation_date:
      description: When the next rotation is due (ISO 8601), null without rotation.
      type: str
    tags:
      description: Its tags.
      type: dict
created:
  description: Secrets created (full names).
  returned: always
  type: list
  elements: str
updated:
  description: Secrets changed (values' keys, description, KMS key, tags or rotation).
  returned: always
  type: list
  elements: str
restored:
  description: Declared secrets that were scheduled for deletion and are restored.
  returned: always
  type: list
  elements: str
deleted:
  description: Secrets deleted (O(purge=true) or O(state=absent)).
  returned: always
  type: list
  elements: str
"""

import json
import re

try:
    import botocore  # noqa: F401 pylint: disable=unused-import
except ImportError:
    pass  # AnsibleAWSModule reports the missing library.

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.llmhub.eks.plugins.module_utils.common import KNOWN_AFTER_APPLY
from ansible_collections.llmhub.eks.plugins.module_utils.common import diff_view
from ansible_collections.llmhub.eks.plugins.module_utils.common import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_concurrently
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module

NAME = re.compile(r"^[A-Za-z0-9_+=.@-]+(/[A-Za-z0-9_+=.@-]+)*$")
PATH = re.compile(r"^([A-Za-z0-9_+=.@-]+/)+$")
KEY = re.compile(r"^[A-Za-z0-9_.-]+$")
DIFF_KEYS = ("description", "keys", "kms_key_id", "rotation_days", "rotation_lambda_arn", "tags")
# What the module returns: "keys" is "key_names" (a dict's keys() method hides a "keys" field from Jinja's dot).
OUTWARD_DIFF_KEYS = ("description", "key_names", "kms_key_id", "rotation_days", "rotation_lambda_arn", "tags")


def outward(item):
    """A secret's view as returned: ``key_names`` for ``keys``, without the internal ``scheduled_deletion``."""
    view = {key: value for key, value in item.items() if key not in ("keys", "scheduled_deletion")}
    view["key_names"] = item.get("keys", [])
    return view


def validate(module):
    """Bad input fails before any AWS call, naming the option."""
    params = module.params
    if not PATH.match(params["path"]):
        module.fail_json(msg=f"path: {params['path']!r} must be names separated and ended by '/' "
                             "(letters, digits, _+=.@-), e.g. 'llmhub/<cluster>/'")
    if not 4 <= params["password_length"] <= 4096:
        module.fail_json(msg=f"password_length: {params['password_length']} is not in 4-4096")
    window = params["recovery_window_days"]
    if window != 0 and not 7 <= window <= 30:
        module.fail_json(msg=f"recovery_window_days: {window} is not 0 (no recovery) or 7-30")
    seen = set()
    for index, spec in enumerate(params["secrets"]):
        where = f"secrets[{index}]"
        if not NAME.match(spec["name"]):
            module.fail_json(msg=f"{where}.name: {spec['name']!r} is not a secret name (letters, digits, _+=.@- "
                                 "separated by '/')")
        if spec["name"] in seen:
            module.fail_json(msg=f"{where}.name: {spec['name']!r} is declared twice")
        seen.add(spec["name"])
        if not spec["keys"] or any(not KEY.match(key) for key in spec["keys"]):
            module.fail_json(msg=f"{where}.keys: {spec['keys']!r} must be a non-empty list of keys (letters, digits, "
                                 "_.-)")
        days = params["rotation_days"] if spec.get("rotation_days") is None else spec["rotation_days"]
        if days != 0 and not 1 <= days <= 1000:
            module.fail_json(msg=f"{where}.rotation_days: {days} is not 0 (no rotation) or 1-1000")
        function = spec.get("rotation_lambda_arn") or params["rotation_lambda_arn"]
        if function == KNOWN_AFTER_APPLY and module.check_mode:
            continue  # the function a task before this one would create
        if days and function and not function.startswith("arn:"):
            where = where + ".rotation_lambda_arn" if spec.get("rotation_lambda_arn") else "rotation_lambda_arn"
            module.fail_json(msg=f"{where}: {function!r} is not a Lambda function ARN")
    if params["rotation_days"] and not 0 <= params["rotation_days"] <= 1000:
        module.fail_json(msg=f"rotation_days: {params['rotation_days']} is not 0 (no rotation) or 1-1000")


def wanted(module, spec):
    """The desired view of one declared secret."""
    params = module.params
    days = params["rotation_days"] if spec.get("rotation_days") is None else spec["rotation_days"]
    function = spec.get("rotation_lambda_arn") or params["rotation_lambda_arn"]
    rotated = bool(days and function)
    return {
        "name": params["path"] + spec["name"],
        "description": spec.get("description") or "",
        "keys": sorted(dict.fromkeys(spec["keys"])),
        "kms_key_id": spec.get("kms_key_id") or params["kms_key_id"] or "",
        "rotation_days": days if rotated else 0,
        "rotation_lambda_arn": function if rotated else "",
        "tags": dict(params["tags"] or {}),
    }


def iso(value):
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def view(entry, keys):
    """The view of a listed secret (ListSecrets' entry) with the keys of its current value."""
    enabled = bool(entry.get("RotationEnabled"))
    return {
        "name": entry["Name"],
        "arn": entry["ARN"],
        "description": entry.get("Description") or "",
        "keys": keys,
        "kms_key_id": entry.get("KmsKeyId") or "",
        "rotation_enabled": enabled,
        "rotation_days": (entry.get("RotationRules") or {}).get("AutomaticallyAfterDays", 0) if enabled else 0,
        "rotation_lambda_arn": (entry.get("RotationLambdaARN") or "") if enabled else "",
        "last_rotated_date": iso(entry.get("LastRotatedDate")),
        "next_rotation_date": iso(entry.get("NextRotationDate")) if enabled else None,
        "tags": boto3_tag_list_to_ansible_dict(entry.get("Tags") or []),
        "scheduled_deletion": entry.get("DeletedDate") is not None,
    }


def current_value(client, name):
    """The current value (a JSON object) of a secret; {} when it has none or holds something else."""
    try:
        answer = client.get_secret_value(aws_retry=True, SecretId=name)
    except client.exceptions.ResourceNotFoundException:
        return {}
    try:
        value = json.loads(answer.get("SecretString") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def generated(client, module, keys):
    params = module.params
    return {key: client.get_random_password(aws_retry=True, PasswordLength=params["password_length"],
                                            ExcludeCharacters=params["exclude_characters"])["RandomPassword"]
            for key in keys}


def set_rotation(client, name, want, immediately):
    if want["rotation_days"]:
        client.rotate_secret(aws_retry=True, SecretId=name, RotationLambdaARN=want["rotation_lambda_arn"],
                             RotationRules={"AutomaticallyAfterDays": want["rotation_days"]},
                             RotateImmediately=immediately)
    else:
        client.cancel_rotate_secret(aws_retry=True, SecretId=name)


def list_set(client, path):
    """Every secret under ``path`` (also those scheduled for deletion), by name."""
    entries = paginate(client, "list_secrets", "SecretList", IncludePlannedDeletion=True,
                       Filters=[{"Key": "name", "Values": [path]}])
    return {entry["Name"]: entry for entry in entries if entry["Name"].startswith(path)}


def changes_of(have, want):
    """What differs between an existing secret and the declaration (names of the fields)."""
    changed = [key for key in ("description", "kms_key_id", "keys") if have[key] != want[key]]
    if (have["rotation_days"], have["rotation_lambda_arn"]) != (want["rotation_days"], want["rotation_lambda_arn"]):
        changed.append("rotation")
    return changed


def ensure_present(module, client):
    params, check = module.params, module.check_mode
    listed = list_set(client, params["path"])
    live = sorted(name for name, entry in listed.items() if entry.get("DeletedDate") is None)
    values = dict(zip(live, run_concurrently(lambda name: current_value(client, name), live,
                                             "read the secrets' keys")))
    before = {name: view(entry, sorted(values.get(name, {}))) for name, entry in listed.items()}
    declared = [wanted(module, spec) for spec in params["secrets"]]
    for want in declared:  # tags omitted: left as they are
        if params["tags"] is None:
            want["tags"] = dict(before[want["name"]]["tags"]) if want["name"] in before else {}
        elif not params["purge_tags"] and want["name"] in before:
            want["tags"] = {**before[want["name"]]["tags"], **want["tags"]}
    created, updated, restored = [], [], []

    def reconcile(want):
        name = want["name"]
        have = before.get(name)
        if have is None:
            created.append(name)
            if check:
                return
            arguments = dict(Name=name, Description=want["description"],
                             SecretString=json.dumps(generated(client, module, want["keys"])),
                             Tags=ansible_dict_to_boto3_tag_list(want["tags"]))
            if want["kms_key_id"]:
                arguments["KmsKeyId"] = want["kms_key_id"]
            client.create_secret(aws_retry=True, **arguments)
            if want["rotation_days"]:
                set_rotation(client, name, want, immediately=True)
            return
        if have["scheduled_deletion"]:  # its value can only be read once restored
            restored.append(name)
            if check:
                have = dict(have, keys=want["keys"])
            else:
                client.restore_secret(aws_retry=True, SecretId=name)
                values[name] = current_value(client, name)
                have = dict(have, keys=sorted(values[name]))
        changed = changes_of(have, want)
        add_tags, remove_tags = compare_aws_tags(have["tags"], want["tags"], purge_tags=True)
        if changed or add_tags or remove_tags:
            updated.append(name)
        if check:
            return
        if "description" in changed or "kms_key_id" in changed:
            arguments = dict(SecretId=name, Description=want["description"])
            if want["kms_key_id"]:
                arguments["KmsKeyId"] = want["kms_key_id"]
            client.update_secret(aws_retry=True, **arguments)
        if "keys" in changed:
            value = values.get(name, {})
            kept = {key: value[key] for key in want["keys"] if key in value}
            missing = [key for key in want["keys"] if key not in value]
            client.put_secret_value(aws_retry=True, SecretId=name,
                                    SecretString=json.dumps({**kept, **generated(client, module, missing)}))
        if add_tags:
            client.tag_resource(aws_retry=True, SecretId=name, Tags=ansible_dict_to_boto3_tag_list(add_tags))
        if remove_tags:
            client.untag_resource(aws_retry=True, SecretId=name, TagKeys=remove_tags)
        if "rotation" in changed:
            set_rotation(client, name, want, immediately=False)

    run_concurrently(reconcile, declared, "reconcile the secrets", label=lambda want: want["name"])
    names = {want["name"] for want in declared}
    undeclared = sorted(name for name, have in before.items() if name not in names and not have["scheduled_deletion"])
    deleted = delete(module, client, undeclared) if params["purge"] else []
    keys_after = {want["name"]: want["keys"] for want in declared}

    if check or not (created or updated or restored):
        unknown = {"arn": KNOWN_AFTER_APPLY, "last_rotated_date": None, "next_rotation_date": None,
                   "scheduled_deletion": False}
        after = {want["name"]: {**(before.get(want["name"]) or unknown), "name": want["name"],
                                **{key: want[key] for key in DIFF_KEYS},
                                "rotation_enabled": bool(want["rotation_days"])} for want in declared}
    else:
        after = {name: view(entry, keys_after.get(name, before.get(name, {}).get("keys", [])))
                 for name, entry in list_set(client, params["path"]).items() if name in names}
    after.update({name: before[name] for name in undeclared if name not in deleted})
    result_views = [outward(after[name]) for name in sorted(after)]
    module.exit_json(
        changed=bool(created or updated or restored or deleted),
        secrets=result_views, created=sorted(created), updated=sorted(updated), restored=sorted(restored),
        deleted=deleted,
        diff=dict(before=diff_view([outward(have) for have in before.values() if not have["scheduled_deletion"]],
                                   OUTWARD_DIFF_KEYS),
                  after=diff_view(result_views, OUTWARD_DIFF_KEYS)),
    )


def delete(module, client, names):
    if not module.check_mode:
        window = module.params["recovery_window_days"]
        arguments = dict(ForceDeleteWithoutRecovery=True) if window == 0 else dict(RecoveryWindowInDays=window)
        run_concurrently(lambda name: client.delete_secret(aws_retry=True, SecretId=name, **arguments), names,
                         "delete the secrets")
    return sorted(names)


def ensure_absent(module, client):
    listed = list_set(client, module.params["path"])
    before = {name: view(entry, []) for name, entry in listed.items()}
    names = sorted(name for name, have in before.items() if not have["scheduled_deletion"])
    deleted = delete(module, client, names)
    module.exit_json(changed=bool(deleted), secrets=[], created=[], updated=[], restored=[], deleted=deleted,
                     diff=dict(before=diff_view([before[name] for name in names], ("description", "rotation_days")),
                               after={}))


def main():
    argument_spec = dict(
        path=dict(type="str", required=True),
        secrets=dict(type="list", elements="dict", default=[], no_log=False, options=dict(
            name=dict(type="str", required=True),
            description=dict(type="str", default=""),
            keys=dict(type="list", elements="str", default=["password"], no_log=False),
            rotation_days=dict(type="int"),
            rotation_lambda_arn=dict(type="str"),
            kms_key_id=dict(type="str"),
        )),
        rotation_lambda_arn=dict(type="str", default=""),
        rotation_days=dict(type="int", default=30),
        password_length=dict(type="int", default=32, no_log=False),
        exclude_characters=dict(type="str", default="\"'\\/@:`$ "),
        kms_key_id=dict(type="str", default=""),
        purge=dict(type="bool", default=False),
        recovery_window_days=dict(type="int", default=7),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    validate(module)
    client = retrying_client(module, "secretsmanager")
    run_module(module, ensure_present if module.params["state"] == "present" else ensure_absent, module, client)


if __name__ == "__main__":
    main()
