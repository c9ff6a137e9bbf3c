#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ec2_security_groups
short_description: Reconcile a set of VPC security groups whose rules refer to each other by name
version_added: 0.1.0
description:
  - Ensures every listed security group of one VPC with exactly its ingress and egress rules, in one invocation.
  - Rules may name other groups of the set (or the group itself), so mutually referencing groups such as the EKS
    cluster and node groups are declared together; all groups are created first, then their rules reconciled.
  - Rules are compared as (protocol, port range, source) so listing ports or sources in another order, or a rule
    AWS already merged, never shows as a change. Missing rules are authorized and extra ones revoked, one call per
    group and direction, groups in parallel.
  - With O(state=absent), rules that reference other groups of the set are revoked first so the groups can be deleted.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  vpc_id:
    description:
      - The VPC of the groups. Required unless in check mode.
      - In check mode V((known after apply\)), the id of a planned VPC, means the same as none.
    type: str
  security_groups:
    description: The security groups managed by this call.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Group name (also set as the C(Name) tag). Unique within the VPC.
        type: str
        required: true
      description:
        description: Group description. AWS cannot change it after creation; a different one only warns.
        type: str
        required: true
      rules:
        description:
          - Ingress rules. Each has C(protocol) (V(tcp), V(udp), V(icmp) or V(all)), C(from_port) and C(to_port)
            (omitted for V(all)), exactly one source among C(cidr_ip) (a list), C(group_name) (a group of this set or
            of the VPC), C(group_id), or C(self=true), and an optional C(description).
        type: list
        elements: dict
        default: []
      rules_egress:
        description: Egress rules, same format as O(security_groups[].rules) with the destination as source.
        type: list
        elements: dict
        default: []
      tags:
        description: Tags of this group only, merged over O(tags).
        type: dict
        default: {}
  purge_rules:
    description: Revoke rules that are not listed.
    type: bool
    default: true
  state:
    description: V(present) creates and updates the groups; V(absent) deletes them.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Cluster and node groups that refer to each other (as the vpc role makes them)
  llmhub.eks.ec2_security_groups:
    vpc_id: "{{ vpc_net_result.vpc.id }}"
    tags:
      Project: llm-analytics-hub
      llmhub.io/cluster: llm-analytics-hub-prod-eks
    security_groups:
      - name: llm-analytics-hub-prod-eks-cluster
        description: EKS cluster control plane
        rules:
          - {protocol: tcp, from_port: 443, to_port: 443, cidr_ip: [10.0.0.0/16],
             description: Kubernetes API from allowed CIDRs}
          - {protocol: tcp, from_port: 443, to_port: 443, group_name: llm-analytics-hub-prod-eks-node,
             description: Kubernetes API from nodes}
        rules_egress:
          - {protocol: all, cidr_ip: [0.0.0.0/0], description: All egress}
      - name: llm-analytics-hub-prod-eks-node
        description: EKS worker nodes
        rules:
          - {protocol: all, self: true, description: Node to node}
          - {protocol: tcp, from_port: 443, to_port: 443, group_name: llm-analytics-hub-prod-eks-cluster,
             description: Control plane to kubelet and webhooks}
          - {protocol: tcp, from_port: 10250, to_port: 10250, group_name: llm-analytics-hub-prod-eks-cluster,
             description: Control plane to kubelet metrics}
        rules_egress:
          - {protocol: all, cidr_ip: [0.0.0.0/0], description: All egress}
  register: vpc_security_groups_result

- name: Delete them (rules between them are revoked first)
  llmhub.eks.ec2_security_groups:
    vpc_id: "{{ vpc_net_result.vpc.id }}"
    state: absent
    security_groups:
      - {name: llm-analytics-hub-prod-eks-cluster, description: EKS cluster control plane}
      - {name: llm-analytics-hub-prod-eks-node, description: EKS worker nodes}
"""

RETURN = r"""
security_groups:
  description: The groups after the call (empty for O(state=absent)).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Group id.
      type: str
      sample: sg-0123456789abcdef0
    name:
      description: Group name.
      type: str
    rules:
      description: Ingress rules in the module's input format, with group sources as C(group_id).
      type: list
      elements: dict
    rules_egress:
      description: Egress rules, same format.
      type: list
      elements: dict
security_groups_by_name:
  description: Group ids keyed by name (V((known after apply\)) for planned groups in check mode).
  returned: always
  type: dict
created:
  description: Names of the groups created (or that would be).
  returned: always
  type: list
  elements: str
updated:
  description: Names of the groups whose rules or tags changed.
  returned: always
  type: list
  elements: str
deleted:
  description: Names of the groups deleted.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils.common import planned
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_concurrently
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import COMMON_ARGS
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import desired_tags
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import ec2_client
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import reconcile_tags
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import require_vpc
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import tag_specifications
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import tags_of
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import vpc_filter

PROTOCOLS = {"all": "-1", "-1": "-1", "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp"}
DIRECTIONS = (("rules", "IpPermissions"), ("rules_egress", "IpPermissionsEgress"))


class RuleError(Exception):
    pass


def rule_keys(group_name, rule, ids):
    """The normalised keys of one rule spec: {(proto, from, to, kind, source): description}."""
    protocol = PROTOCOLS.get(str(rule.get("protocol", "tcp")).lower())
    if protocol is None:
        raise RuleError(f"{group_name}: protocol {rule.get('protocol')!r} must be one of tcp, udp, icmp, all")
    if protocol == "-1":
        low = high = None
    else:
        try:
            low, high = int(rule["from_port"]), int(rule.get("to_port", rule["from_port"]))
        except (KeyError, TypeError, ValueError):
            raise RuleError(f"{group_name}: rule {rule} needs integer from_port and to_port for protocol {protocol}")
    sources = [k for k in ("cidr_ip", "group_name", "group_id", "self") if rule.get(k)]
    if len(sources) != 1:
        raise RuleError(f"{group_name}: rule {rule} needs exactly one of cidr_ip, group_name, group_id, self")
    description = rule.get("description") or ""
    keys = {}
    if rule.get("cidr_ip"):
        cidrs = rule["cidr_ip"] if isinstance(rule["cidr_ip"], list) else [rule["cidr_ip"]]
        for cidr in cidrs:
            keys[(protocol, low, high, "cidr", cidr)] = description
    else:
        ref = group_name if rule.get("self") else rule.get("group_name")
        target = rule.get("group_id") or ids.get(ref, f"(new:{ref})")
        keys[(protocol, low, high, "group", target)] = description
    return keys


def current_keys(permissions):
    keys = {}
    for permission in permissions:
        protocol = PROTOCOLS.get(str(permission["IpProtocol"]), permission["IpProtocol"])
        low = None if protocol == "-1" else permission.get("FromPort")
        high = None if protocol == "-1" else permission.get("ToPort")
        for ip_range in permission.get("IpRanges", []):
            keys[(protocol, low, high, "cidr", ip_range["CidrIp"])] = ip_range.get("Description", "")
        for pair in permission.get("UserIdGroupPairs", []):
            keys[(protocol, low, high, "group", pair["GroupId"])] = pair.get("Description", "")
    return keys


def to_permissions(keys):
    permissions = []
    for (protocol, low, high, kind, source), description in sorted(keys.items(), key=lambda kv: str(kv[0])):
        permission = {"IpProtocol": protocol}
        if protocol != "-1":
            permission.update(FromPort=low, ToPort=high)
        entry = {"Description": description} if description else {}
        if kind == "cidr":
            permission["IpRanges"] = [dict(CidrIp=source, **entry)]
        else:
            permission["UserIdGroupPairs"] = [dict(GroupId=source, **entry)]
        permissions.append(permission)
    return permissions


def to_spec(keys):
    rules = []
    for (protocol, low, high, kind, source), description in sorted(keys.items(), key=lambda kv: str(kv[0])):
        rule = {"protocol": "all" if protocol == "-1" else protocol, "from_port": low, "to_port": high}
        rule["cidr_ip" if kind == "cidr" else "group_id"] = source
        rule["description"] = description
        rules.append(rule)
    return rules


def vpc_groups(client, vpc_id):
    if not vpc_id:
        return {}
    groups = paginate(client, "describe_security_groups", "SecurityGroups", Filters=vpc_filter(vpc_id))
    return {g["GroupName"]: g for g in groups}


def wanted_rules(module, specs, ids):
    wanted = {}
    try:
        for spec in specs:
            for option, _api_name in DIRECTIONS:
                keys = {}
                for rule in spec[option]:
                    keys.update(rule_keys(spec["name"], rule, ids))
                wanted[(spec["name"], option)] = keys
    except RuleError as e:
        module.fail_json(msg=f"security_groups: {e}")
    return wanted


def describe(group):
    return {
        "id": group["GroupId"],
        "name": group["GroupName"],
        "description": group.get("Description"),
        "vpc_id": group.get("VpcId"),
        "rules": to_spec(current_keys(group.get("IpPermissions", []))),
        "rules_egress": to_spec(current_keys(group.get("IpPermissionsEgress", []))),
        "tags": tags_of(group),
    }


def ensure_present(module, client, vpc_id):
    specs = module.params["security_groups"]
    groups = vpc_groups(client, vpc_id)
    missing = [s for s in specs if s["name"] not in groups]
    for spec in specs:
        found = groups.get(spec["name"])
        if found and found.get("Description") != spec["description"]:
            module.warn(
                f"security group {spec['name']} keeps its description {found.get('Description')!r}:"
                " AWS cannot change a group description (recreate the group to change it)"
            )
    # Validate every rule before creating anything.
    wanted_rules(module, specs, {name: g["GroupId"] for name, g in groups.items()})

    def create(spec):
        return client.create_security_group(
            aws_retry=True,
            GroupName=spec["name"],
            Description=spec["description"],
            VpcId=vpc_id,
            TagSpecifications=tag_specifications(desired_tags(module, spec["name"], spec["tags"]), "security-group"),
        )["GroupId"]

    ids = {name: g["GroupId"] for name, g in groups.items()}
    new_ids = {}
    if not module.check_mode:
        created_ids = run_concurrently(create, missing, "create security groups", label=lambda s: s["name"])
        new_ids = dict(zip([s["name"] for s in missing], created_ids))
        ids.update(new_ids)
    wanted = wanted_rules(module, specs, ids)
    purge = module.params["purge_rules"]

    def reconcile(spec):
        name = spec["name"]
        found = groups.get(name)
        changed = found is None
        current = {}
        if found is not None:
            changed |= reconcile_tags(
                client, module, found["GroupId"], tags_of(found), desired_tags(module, name, spec["tags"])
            )
            current = {o: current_keys(found.get(field, [])) for o, field in DIRECTIONS}
        elif not module.check_mode:
            # A new group comes with AWS's default allow-all egress rule.
            current = {"rules": {}, "rules_egress": {("-1", None, None, "cidr", "0.0.0.0/0"): ""}}
        else:
            return True
        for option, _api_name in DIRECTIONS:
            want, have = wanted[(name, option)], current[option]
            add = {k: v for k, v in want.items() if k not in have}
            remove = {k: v for k, v in have.items() if k not in want} if purge else {}
            if not add and not remove:
                continue
            changed = True
            if module.check_mode:
                continue
            group_id = ids[name]
            if option == "rules":
                authorize, revoke = client.authorize_security_group_ingress, client.revoke_security_group_ingress
            else:
                authorize, revoke = client.authorize_security_group_egress, client.revoke_security_group_egress
            if remove:
                revoke(aws_retry=True, GroupId=group_id, IpPermissions=to_permissions(remove))
            if add:
                authorize(aws_retry=True, GroupId=group_id, IpPermissions=to_permissions(add))
        return changed

    changes = run_concurrently(reconcile, specs, "reconcile security group rules", label=lambda s: s["name"])
    final = groups
    if any(changes) and not module.check_mode:
        final = vpc_groups(client, vpc_id)
    result = dict(
        changed=any(changes),
        security_groups=[describe(final[s["name"]]) for s in specs if s["name"] in final],
        security_groups_by_name={s["name"]: planned(ids.get(s["name"]), module.check_mode) for s in specs},
        created=[s["name"] for s in missing],
        updated=[s["name"] for s, c in zip(specs, changes) if c and s["name"] in groups],
        deleted=[],
    )
    before = {
        n: {o: to_spec(current_keys(groups[n].get(f, []))) for o, f in DIRECTIONS}
        for n in sorted(s["name"] for s in specs) if n in groups
    }
    after = {
        s["name"]: {o: to_spec(wanted[(s["name"], o)]) for o, _api_name in DIRECTIONS}
        for s in sorted(specs, key=lambda s: s["name"])
    }
    result["diff"] = dict(before=before, after=after)
    module.exit_json(**result)


def ensure_absent(module, client, vpc_id):
    specs = module.params["security_groups"]
    groups = vpc_groups(client, vpc_id)
    doomed = [groups[s["name"]] for s in specs if s["name"] in groups]
    doomed_ids = {g["GroupId"] for g in doomed}

    def unlink(group):
        """Revoke rules that reference a group being deleted (they block its deletion)."""
        for option, field in DIRECTIONS:
            refs = {k: v for k, v in current_keys(group.get(field, [])).items() if k[3] == "group" and k[4] in doomed_ids}
            if refs:
                call = client.revoke_security_group_ingress if option == "rules" else client.revoke_security_group_egress
                call(aws_retry=True, GroupId=group["GroupId"], IpPermissions=to_permissions(refs))

    def delete(group):
        try:
            client.delete_security_group(aws_retry=True, GroupId=group["GroupId"])
        except is_boto3_error_code("InvalidGroup.NotFound"):
            pass

    if not module.check_mode:
        run_concurrently(unlink, doomed, "revoke cross-references", label=lambda g: g["GroupName"])
        run_concurrently(delete, doomed, "delete security groups", label=lambda g: g["GroupName"])
    result = dict(
        changed=bool(doomed), security_groups=[], security_groups_by_name={}, created=[], updated=[],
        deleted=[g["GroupName"] for g in doomed],
    )
    result["diff"] = dict(before={g["GroupName"]: describe(g) for g in doomed}, after={})
    module.exit_json(**result)


def main():
    argument_spec = dict(
        security_groups=dict(
            type="list",
            elements="dict",
            required=True,
            options=dict(
                name=dict(type="str", required=True),
                description=dict(type="str", required=True),
                rules=dict(type="list", elements="dict", default=[]),
                rules_egress=dict(type="list", elements="dict", default=[]),
                tags=dict(type="dict", default={}),
            ),
        ),
        purge_rules=dict(type="bool", default=True),
        **COMMON_ARGS,
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    names = [g["name"] for g in module.params["security_groups"]]
    if len(set(names)) != len(names):
        module.fail_json(msg=f"security_groups: names must be unique, got {names}")
    client = ec2_client(module)
    vpc_id = require_vpc(module)
    handler = ensure_present if module.params["state"] == "present" else ensure_absent
    run_module(module, handler, module, client, vpc_id)


if __name__ == "__main__":
    main()
