#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kms_key
short_description: A symmetric encryption KMS key found by its alias, with its key policy, rotation and tags
version_added: 0.1.0
description:
  - Ensures the symmetric encryption key behind O(alias) (the envelope encryption key of EKS secrets, for one);
    creates key and alias, or reads the existing key's policy, rotation status and tags concurrently and changes
    only what differs. A key scheduled for deletion is brought back (deletion cancelled, key enabled); a disabled
    key is enabled.
  - A key policy naming a principal IAM does not know yet (a role created seconds earlier) is retried for up to
    O(principal_wait_timeout) seconds, inside the module, instead of failing.
  - >-
    Narrower than M(amazon.aws.kms_key) (no grants, no asymmetric keys, no multi-Region keys). Kept for what that
    module lacks: a key left without its alias by an interrupted run is adopted through O(identity_tags) instead of
    duplicated, and a key policy naming a role IAM has not propagated yet is retried inside the module.
  - With O(state=absent) the key is scheduled for deletion after O(deletion_window_days); the alias goes with it.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  alias:
    description: The key's alias, with or without the C(alias/) prefix.
    type: str
    required: true
  description:
    description: Description of the key; left as it is when omitted (a new key then has none).
    type: str
  policy:
    description: Key policy (a JSON document or a dictionary). When omitted, the policy is left as it is (a new key
      gets AWS's default policy).
    type: json
  enable_key_rotation:
    description: Whether AWS rotates the key material every year.
    type: bool
    default: true
  deletion_window_days:
    description: With O(state=absent), days before the key is deleted (7 to 30); a present run within the window
      cancels the deletion.
    type: int
    default: 30
  principal_wait_timeout:
    description: Seconds to keep retrying a key policy rejected because IAM does not know one of its principals yet.
    type: int
    default: 120
  identity_tags:
    description:
      - Tags that identify the key when its alias does not exist. A run interrupted (or racing) between
        C(CreateKey) and C(CreateAlias) leaves an enabled key without an alias, which neither a deploy nor a destroy
        would find by alias; with these tags (the iam role passes C(llmhub.io/cluster)) such a customer managed key
        without an alias is adopted (the alias is created for it) instead of creating another.
      - New keys are created with O(tags), which must contain these tags.
      - Two or more matching keys without an alias fail the task, naming them.
    type: dict
  state:
    description: V(present) ensures the key; V(absent) schedules its deletion.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
notes:
  - The policy is compared after normalisation (statement order, single values against lists), so an equivalent
    document does not cause an update.
"""

EXAMPLES = r"""
- name: Envelope encryption key of the cluster's secrets (as the iam role makes it)
  llmhub.eks.kms_key:
    alias: alias/llm-analytics-hub-prod-eks
    description: Envelope encryption of Kubernetes secrets of llm-analytics-hub-prod-eks
    enable_key_rotation: true
    # roles/iam/files/kms-key-policy.json
    policy: >-
      {{ lookup('llmhub.eks.policy_document', 'kms-key-policy.json',
                values={'cluster_name': 'llm-analytics-hub-prod-eks',
                        'administrators': ['arn:aws:iam::123456789012:root'],
                        'cluster_role_arn': iam_roles_result.role_arns['llm-analytics-hub-prod-eks-cluster-role']}) }}
    tags:
      Project: llm-analytics-hub
      llmhub.io/cluster: llm-analytics-hub-prod-eks
  register: iam_kms_result

- name: Schedule its deletion in 7 days
  llmhub.eks.kms_key:
    alias: alias/llm-analytics-hub-prod-eks
    deletion_window_days: 7
    state: absent
"""

RETURN = r"""
key_arn:
  description: ARN of the key (V((known after apply\)) when it would be created in check mode; null with O(state=absent) if
    none).
  returned: always
  type: str
key_id:
  description: Id of the key (V((known after apply\)) when it would be created in check mode).
  returned: always
  type: str
alias:
  description: The alias, with its C(alias/) prefix.
  returned: always
  type: str
key_state:
  description: C(Enabled), C(Disabled), C(PendingDeletion), ... after the change.
  returned: always
  type: str
enable_key_rotation:
  description: Whether rotation is on.
  returned: when state is present
  type: bool
description:
  description: The key's description.
  returned: when state is present
  type: str
tags:
  description: The key's tags.
  returned: when state is present
  type: dict
adopted:
  description: Whether a key without an alias was found by O(identity_tags) and given the alias.
  returned: when state is present and the key existed
  type: bool
"""

import json

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.llmhub.eks.plugins.module_utils.common import KNOWN_AFTER_APPLY
from ansible_collections.llmhub.eks.plugins.module_utils.common import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.common import retry_while_principal_unknown
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_concurrently
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.policy import PolicyError
from ansible_collections.llmhub.eks.plugins.module_utils.policy import policies_equal
from ansible_collections.llmhub.eks.plugins.module_utils.policy import validate_policy

# States of a key without an alias that identity_tags adopts (a disabled or pending one is revived).
ADOPTABLE_STATES = ("Enabled", "Disabled", "PendingDeletion")


def alias_name(module):
    alias = module.params["alias"]
    name = alias if alias.startswith("alias/") else f"alias/{alias}"
    if name.startswith("alias/aws/") or len(name) <= len("alias/"):
        module.fail_json(msg=f"alias: {alias!r} is not usable; give a name such as alias/hub (alias/aws/ is AWS's)")
    return name


def wanted_policy(module):
    policy = module.params["policy"]
    if policy is None:
        return None
    try:
        return validate_policy(policy)
    except PolicyError as e:
        module.fail_json(msg=f"policy: {e}")
    return None  # not reached


def describe(kms, alias):
    try:
        return kms.describe_key(aws_retry=True, KeyId=alias)["KeyMetadata"]
    except is_boto3_error_code("NotFoundException"):
        return None


def with_principal_retry(module, call, **params):
    """``call(**params)``, retried while KMS rejects the policy for a principal IAM has not made visible yet."""
    return retry_while_principal_unknown(call, "MalformedPolicyDocumentException",
                                         module.params["principal_wait_timeout"], **params)


def tags_of(kms_tags):
    return {tag["TagKey"]: tag["TagValue"] for tag in kms_tags or []}


def kms_tag_list(tags):
    return [{"TagKey": str(k), "TagValue": str(v)} for k, v in sorted(tags.items())]


def result_of(metadata, alias, rotation, tags, planned_state=None):
    return dict(
        key_arn=(metadata or {}).get("Arn"),
        key_id=(metadata or {}).get("KeyId"),
        alias=alias,
        key_state=planned_state or (metadata or {}).get("KeyState"),
        enable_key_rotation=rotation,
        description=(metadata or {}).get("Description", ""),
        tags=tags,
    )


def find_orphan(module, kms, identity_tags):
    """The customer managed key without an alias carrying ``identity_tags`` (left by an interrupted run), or None."""
    aliased = {a.get("TargetKeyId") for a in paginate(kms, "list_aliases", "Aliases")}
    candidates = [key["KeyId"] for key in paginate(kms, "list_keys", "Keys") if key["KeyId"] not in aliased]

    def matching(key_id):
        metadata = kms.describe_key(aws_retry=True, KeyId=key_id)["KeyMetadata"]
        if metadata.get("KeyManager") != "CUSTOMER" or metadata["KeyState"] not in ADOPTABLE_STATES:
            return None
        tags = tags_of(kms.list_resource_tags(aws_retry=True, KeyId=key_id).get("Tags"))
        return metadata if all(tags.get(k) == str(v) for k, v in identity_tags.items()) else None

    found = [m for m in run_concurrently(matching, candidates, "read KMS keys without an alias") if m]
    if len(found) > 1:
        module.fail_json(msg=f"identity_tags: {len(found)} keys without an alias carry {identity_tags}: "
                             f"{sorted(m['KeyId'] for m in found)}; schedule the deletion of the extra ones")
    return found[0] if found else None


def ensure_present(module, kms):
    alias = alias_name(module)
    policy = wanted_policy(module)
    wanted_tags = module.params.get("tags")
    rotation = module.params["enable_key_rotation"]
    description = module.params["description"]
    current = describe(kms, alias)
    adopted = False
    if current is None and module.params.get("identity_tags"):
        current = find_orphan(module, kms, module.params["identity_tags"])
        if current is not None:
            adopted = True
            if not module.check_mode:
                kms.create_alias(aws_retry=True, AliasName=alias, TargetKeyId=current["KeyId"])
    if current is None:
        # What AWS assigns to the key is not known until it exists (check mode shows so).
        planned_key = {"Description": description or "", "Arn": KNOWN_AFTER_APPLY, "KeyId": KNOWN_AFTER_APPLY}
        result = dict(changed=True, **result_of(planned_key, alias, rotation, wanted_tags or {},
                                                planned_state="Enabled"))
        result["diff"] = dict(before={}, after=dict(alias=alias, description=description, policy=policy,
                                                    enable_key_rotation=rotation, tags=wanted_tags or {}))
        if module.check_mode:
            module.exit_json(**result)
        params = dict(Description=description or "", KeyUsage="ENCRYPT_DECRYPT", KeySpec="SYMMETRIC_DEFAULT")
        if policy is not None:
            params["Policy"] = json.dumps(policy)
        if wanted_tags:
            params["Tags"] = kms_tag_list(wanted_tags)
        metadata = with_principal_retry(module, kms.create_key, **params)["KeyMetadata"]
        steps = [lambda: kms.create_alias(aws_retry=True, AliasName=alias, TargetKeyId=metadata["KeyId"])]
        if rotation:
            steps.append(lambda: kms.enable_key_rotation(aws_retry=True, KeyId=metadata["KeyId"]))
        run_concurrently(lambda step: step(), steps, f"name and rotate KMS key {alias}")
        result.update(result_of(metadata, alias, rotation, wanted_tags or {}))
        module.exit_json(**result)

    key_id = current["KeyId"]
    original_state = current["KeyState"]
    revive = original_state in ("PendingDeletion", "Disabled")
    if not revive and current["KeyState"] != "Enabled":
        module.fail_json(msg=f"alias: the key {key_id} of {alias} is {current['KeyState']}; it cannot be used as it "
                             "is (point the alias at another key or choose another alias)")
    if revive and not module.check_mode:
        # A re-deploy within the deletion window brings the key back; it must be usable before the reads below.
        if current["KeyState"] == "PendingDeletion":
            kms.cancel_key_deletion(aws_retry=True, KeyId=key_id)
        kms.enable_key(aws_retry=True, KeyId=key_id)
        current = describe(kms, key_id)

    def rotation_status():
        try:
            return kms.get_key_rotation_status(aws_retry=True, KeyId=key_id)["KeyRotationEnabled"]
        except is_boto3_error_code("KMSInvalidStateException"):
            return None  # a key pending deletion (check mode) has no rotation status to read

    reads = run_concurrently(lambda read: read(), [
        lambda: json.loads(kms.get_key_policy(aws_retry=True, KeyId=key_id, PolicyName="default")["Policy"]),
        rotation_status,
        lambda: tags_of(kms.list_resource_tags(aws_retry=True, KeyId=key_id).get("Tags")),
    ], f"read KMS key {alias}")
    current_policy, current_rotation, current_tags = reads
    updates = []
    if description is not None and current.get("Description", "") != description:
        updates.append(("description", lambda: kms.update_key_description(aws_retry=True, KeyId=key_id,
                                                                          Description=description)))
    if policy is not None and not policies_equal(current_policy, policy):
        updates.append(("policy", lambda: with_principal_retry(module, kms.put_key_policy, KeyId=key_id,
                                                               PolicyName="default", Policy=json.dumps(policy))))
    if current_rotation != rotation:
        toggle = kms.enable_key_rotation if rotation else kms.disable_key_rotation
        updates.append(("rotation", lambda: toggle(aws_retry=True, KeyId=key_id)))
    tags_after = current_tags
    if wanted_tags is not None:
        to_set, to_unset = compare_aws_tags(current_tags, wanted_tags, purge_tags=module.params["purge_tags"])
        tags_after = {k: v for k, v in current_tags.items() if k not in to_unset}
        tags_after.update(to_set)
        if to_unset:
            updates.append(("untag", lambda: kms.untag_resource(aws_retry=True, KeyId=key_id, TagKeys=list(to_unset))))
        if to_set:
            updates.append(("tag", lambda: kms.tag_resource(aws_retry=True, KeyId=key_id, Tags=kms_tag_list(to_set))))
    if updates and not module.check_mode:
        run_concurrently(lambda update: update[1](), updates, f"update KMS key {alias}", label=lambda u: u[0])
    changed = adopted or revive or bool(updates)
    description_after = current.get("Description", "") if description is None else description
    result = dict(changed=changed, adopted=adopted,
                  **result_of(dict(current, Description=description_after), alias, rotation, tags_after,
                              planned_state="Enabled"))
    result["diff"] = dict(
        before=dict(alias=None if adopted else alias, description=current.get("Description", ""), enable_key_rotation=current_rotation,
                    policy=current_policy if policy is not None else None, tags=current_tags,
                    key_state=original_state),
        after=dict(alias=alias, description=description_after, enable_key_rotation=rotation, policy=policy,
                   tags=tags_after, key_state="Enabled"))
    module.exit_json(**result)


def ensure_absent(module, kms):
    alias = alias_name(module)
    current = describe(kms, alias)
    if current is None:
        module.exit_json(changed=False, key_arn=None, key_id=None, alias=alias, key_state=None)
    if current["KeyState"] in ("PendingDeletion", "PendingReplicaDeletion"):
        module.exit_json(changed=False, key_arn=current["Arn"], key_id=current["KeyId"], alias=alias,
                         key_state=current["KeyState"])
    if not module.check_mode:
        kms.schedule_key_deletion(aws_retry=True, KeyId=current["KeyId"],
                                  PendingWindowInDays=module.params["deletion_window_days"])
    module.exit_json(changed=True, key_arn=current["Arn"], key_id=current["KeyId"], alias=alias,
                     key_state="PendingDeletion")


def main():
    argument_spec = dict(
        alias=dict(type="str", required=True),
        description=dict(type="str"),
        policy=dict(type="json"),
        enable_key_rotation=dict(type="bool", default=True),
        deletion_window_days=dict(type="int", default=30),
        principal_wait_timeout=dict(type="int", default=120),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        identity_tags=dict(type="dict"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    identity = module.params.get("identity_tags") or {}
    tags = module.params.get("tags") or {}
    missing = {k: v for k, v in identity.items() if str(tags.get(k)) != str(v)}
    if missing:
        module.fail_json(msg=f"identity_tags: {missing} must also be in tags, so that a new key carries them")
    if not 7 <= module.params["deletion_window_days"] <= 30:
        module.fail_json(msg=f"deletion_window_days: {module.params['deletion_window_days']} must be from 7 to 30")
    alias_name(module)
    wanted_policy(module)
    kms = retrying_client(module, "kms")
    handler = ensure_present if module.params["state"] == "present" else ensure_absent
    run_module(module, handler, module, kms)


if __name__ == "__main__":
    main()
