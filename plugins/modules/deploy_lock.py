#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: deploy_lock
short_description: Take or release a per-cluster deploy lock in a DynamoDB table
version_added: 0.1.0
description:
  - A lock per cluster (O(name)), so that two runs changing one cluster at once stop instead of making duplicates or
    orphans. Runs for different clusters never block each other.
  - The lock is one item of O(table), whose partition key is the string attribute C(lock_name). It is taken with a
    conditional C(PutItem) that succeeds only when nobody holds the lock, or O(owner) already does (a run that takes
    its own lock again is not blocked), or, with O(force=true), when the holder's lease has expired. It is released
    with a conditional C(DeleteItem) that succeeds only for O(owner).
  - When someone else holds the lock, the task fails at once, naming the holder, its host and playbook, since when,
    and until when its lease runs.
  - In check mode nothing is written; the result says whether the lock would be taken.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  name:
    description: The lock's name, the cluster's name.
    type: str
    required: true
  table:
    description: DynamoDB table of the locks (partition key C(lock_name), a string); C(playbooks/setup.yml) makes it.
    type: str
    default: llmhub-deploy-locks
  state:
    description: V(present) takes the lock, V(absent) releases it.
    type: str
    choices: [present, absent]
    default: present
  owner:
    description:
      - Who takes or releases the lock; the same string must release it. A run's own identity, such as
        C(user@host:pid), so that a second run is another owner.
    type: str
    required: true
  playbook:
    description: What the holder runs, recorded for whoever finds the lock taken.
    type: str
    default: ""
  lease_seconds:
    description: How long the lock holds without being released; a crashed run's lock expires after this.
    type: int
    default: 7200
  force:
    description: Take over a lock whose lease has expired. A lock whose lease runs is never taken over.
    type: bool
    default: false
  takeover_owner:
    description:
      - Take over the lock from this holder even while its lease runs, as C(terraform force-unlock <id>) does, for a
        run known to be dead (killed, its controller gone). The holder must be named exactly, as the refusal names
        it, so that a lock taken meanwhile by another run is not broken.
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Take the deploy lock of the cluster
  llmhub.eks.deploy_lock:
    name: llm-analytics-hub-prod-eks
    owner: "{{ lookup('ansible.builtin.env', 'USER') }}@{{ lookup('ansible.builtin.pipe', 'hostname') }}:{{ lookup('ansible.builtin.env', 'PPID') }}"
    playbook: site.yml

- name: Release it
  llmhub.eks.deploy_lock:
    name: llm-analytics-hub-prod-eks
    owner: "{{ lookup('ansible.builtin.env', 'USER') }}@{{ lookup('ansible.builtin.pipe', 'hostname') }}:{{ lookup('ansible.builtin.env', 'PPID') }}"
    state: absent
"""

RETURN = r"""
lock:
  description: The lock as held after the task (none after a release).
  returned: always
  type: dict
  sample: {"name": "llm-analytics-hub-prod-eks", "owner": "alice@ops-1:4242", "playbook": "site.yml",
           "acquired_at": "2026-12-02T16:40:00+00:00", "expires_at": "2026-12-02T18:40:00+00:00"}
released:
  description: Whether this task released the lock.
  returned: state=absent
  type: bool
"""

import datetime as _dt

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module

KEY = "lock_name"


def now():
    return _dt.datetime.now(_dt.timezone.utc)


def from_item(item):
    if not item:
        return None
    return {"name": item[KEY]["S"], "owner": item.get("owner", {}).get("S", ""),
            "playbook": item.get("playbook", {}).get("S", ""), "acquired_at": item.get("acquired_at", {}).get("S", ""),
            "expires_at": _dt.datetime.fromtimestamp(int(item.get("expires_at", {}).get("N", "0")),
                                                     _dt.timezone.utc).isoformat(timespec="seconds")}


class Lock:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.dynamodb = retrying_client(module, "dynamodb")

    def read(self):
        try:
            answer = self.dynamodb.get_item(TableName=self.params["table"], Key={KEY: {"S": self.params["name"]}},
                                            ConsistentRead=True, aws_retry=True)
        except is_boto3_error_code("ResourceNotFoundException"):
            self.module.fail_json(msg=(f"The deploy lock table {self.params['table']} does not exist in "
                                       f"{self.module.region}: run `make setup` (playbooks/setup.yml) once per account "
                                       "and region, or set deploy_lock_table to the table it made"))
        return answer.get("Item")

    def refuse(self, holder, expired):
        lock = from_item(holder)
        hint = ("its lease has expired (a run that died?): take it over with -e deploy_lock_force=true" if expired
                else "wait for it to finish, or ask its owner; if that run is dead (killed), take the lock over with "
                f"-e \"deploy_lock_takeover_owner='{lock['owner']}'\"")
        self.module.fail_json(msg=(f"{self.params['name']} is locked by {lock['owner']} running "
                                   f"{lock['playbook'] or 'a playbook'} since {lock['acquired_at']} (lease until "
                                   f"{lock['expires_at']}): {hint}"), lock=lock)

    def present(self):
        params, moment = self.params, now()
        current = self.read()
        expired = bool(current) and int(current.get("expires_at", {}).get("N", "0")) < int(moment.timestamp())
        ours = bool(current) and current.get("owner", {}).get("S") == params["owner"]
        named = bool(current) and bool(params["takeover_owner"]) and \
            current.get("owner", {}).get("S") == params["takeover_owner"]
        if current and not ours and not (expired and params["force"]) and not named:
            self.refuse(current, expired)
        item = {KEY: {"S": params["name"]}, "owner": {"S": params["owner"]}, "playbook": {"S": params["playbook"]},
                "acquired_at": {"S": current["acquired_at"]["S"] if ours else moment.isoformat(timespec="seconds")},
                "expires_at": {"N": str(int(moment.timestamp()) + params["lease_seconds"])}}
        if self.module.check_mode:
            self.module.exit_json(changed=not ours, lock=from_item(item))
        condition = "attribute_not_exists(#k) OR #o = :owner"
        values = {":owner": {"S": params["owner"]}}
        if params["force"]:
            condition += " OR #e < :now"
            values[":now"] = {"N": str(int(moment.timestamp()))}
        if named:
            condition += " OR #o = :previous"
            values[":previous"] = {"S": params["takeover_owner"]}
        try:
            self.dynamodb.put_item(TableName=params["table"], Item=item, ConditionExpression=condition,
                                   ExpressionAttributeNames={"#k": KEY, "#o": "owner",
                                                             **({"#e": "expires_at"} if params["force"] else {})},
                                   ExpressionAttributeValues=values, aws_retry=True)
        except is_boto3_error_code("ConditionalCheckFailedException"):
            # another run took it between our read and our write
            holder = self.read()
            if holder:
                self.refuse(holder, False)
            self.module.fail_json(msg=f"{params['name']}: the lock changed hands while it was being taken; run again")
        # a run taking its own lock again only extends the lease
        self.module.exit_json(changed=not ours, lock=from_item(item))

    def absent(self):
        params = self.params
        current = self.read()
        if not current:
            self.module.exit_json(changed=False, released=False, lock=None)
        if current.get("owner", {}).get("S") != params["owner"]:
            self.module.warn(f"{params['name']} is held by {current.get('owner', {}).get('S')}, not by this run: "
                             "left as it is")
            self.module.exit_json(changed=False, released=False, lock=from_item(current))
        if not self.module.check_mode:
            try:
                self.dynamodb.delete_item(TableName=params["table"], Key={KEY: {"S": params["name"]}},
                                          ConditionExpression="#o = :owner", ExpressionAttributeNames={"#o": "owner"},
                                          ExpressionAttributeValues={":owner": {"S": params["owner"]}},
                                          aws_retry=True)
            except is_boto3_error_code("ConditionalCheckFailedException"):
                self.module.exit_json(changed=False, released=False, lock=from_item(self.read()))
        self.module.exit_json(changed=True, released=True, lock=None)


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        table=dict(type="str", default="llmhub-deploy-locks"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        owner=dict(type="str", required=True),
        playbook=dict(type="str", default=""),
        lease_seconds=dict(type="int", default=7200),
        force=dict(type="bool", default=False),
        takeover_owner=dict(type="str"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    for option in ("name", "owner", "table"):
        if not module.params[option].strip():
            module.fail_json(msg=f"{option} must not be empty")
    if module.params["lease_seconds"] < 60:
        module.fail_json(msg=f"lease_seconds must be at least 60 (a run holds the lock that long at least), "
                             f"not {module.params['lease_seconds']}")
    lock = Lock(module)
    run_module(module, lock.present if module.params["state"] == "present" else lock.absent)


if __name__ == "__main__":
    main()
