#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ec2_launch_templates
short_description: Reconcile a set of EC2 launch templates for EKS managed node groups in one call
version_added: 0.1.0
description:
  - Creates, versions, tags and deletes all listed launch templates in a single module invocation.
  - The templates carry what EKS managed node groups leave to a launch template (EBS optimisation, detailed
    monitoring, instance metadata options, the root volume, security groups, tags propagated to instances,
    volumes and network interfaces). They carry no instance type, AMI or user data, which the node group sets.
  - Describes all listed templates in one call. For an existing template the wanted content is compared with the
    content of its default version, normalised (ordering of security groups and tags, numbers given as strings); a
    new version is created, and made the default version, B(only) when the content differs. A run without changes
    creates no version.
  - If the latest version already has the wanted content (an earlier run stopped before making it the default), it
    is made the default version instead of creating another one.
  - Missing templates are created concurrently.
  - Launch templates not listed are left alone.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  launch_templates:
    description: The launch templates managed by this call.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Unique name of the launch template.
        type: str
        required: true
      ebs_optimized:
        description: Whether instances are EBS-optimized.
        type: bool
        default: true
      monitoring:
        description: Whether detailed (one-minute) CloudWatch monitoring is enabled.
        type: bool
        default: true
      metadata:
        description: Instance metadata service (IMDS) options.
        type: dict
        suboptions:
          http_tokens:
            description: V(required) enforces IMDSv2 session tokens.
            type: str
            choices: [required, optional]
            default: required
          http_put_response_hop_limit:
            description: Hop limit of IMDS responses; 2 lets containers reach IMDSv2. 1 to 64.
            type: int
            default: 2
          http_endpoint:
            description: Whether the metadata endpoint is reachable.
            type: str
            choices: [enabled, disabled]
            default: enabled
      root_volume:
        description:
          - The root EBS volume of the instances. When omitted, the AMI's default root volume is used.
        type: dict
        suboptions:
          device_name:
            description: Device name of the root volume (V(/dev/xvda) for Amazon Linux).
            type: str
            default: /dev/xvda
          size_gb:
            description: Size in GiB. Required when O(launch_templates[].root_volume) is given.
            type: int
          type:
            description: EBS volume type.
            type: str
            choices: [gp2, gp3, io1, io2, st1, sc1, standard]
            default: gp3
          iops:
            description: Provisioned IOPS (gp3 3000-16000, io1/io2).
            type: int
          throughput:
            description: Throughput in MiB/s (gp3 only, 125-1000).
            type: int
          encrypted:
            description: Whether the volume is encrypted.
            type: bool
            default: true
          kms_key:
            description:
              - KMS key encrypting the volume, as key id, key ARN, alias name (V(alias/...)) or alias ARN; resolved to
                the key ARN. When omitted, the account's default EBS key is used.
            type: str
          delete_on_termination:
            description: Whether the volume is deleted when the instance terminates.
            type: bool
            default: true
      security_groups:
        description:
          - Security groups of the instances, as ids or group names (or C(Name) tags). Names are resolved in O(vpc_id).
        type: list
        elements: str
      instance_tags:
        description: Tags the template propagates to the instances, their volumes and their network interfaces.
        type: dict
      tags:
        description: Tags of the launch template itself, merged over O(tags).
        type: dict
  vpc_id:
    description:
      - VPC in which security group names are resolved. Only needed when some O(launch_templates[].security_groups)
        are names.
      - In check mode V((known after apply\)), the id of a planned VPC, means the same as none.
    type: str
  state:
    description:
      - V(present) creates and updates the listed templates; V(absent) deletes them (all their versions).
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
notes:
  - Tags of a template are managed when O(tags) or O(launch_templates[].tags) is given; O(purge_tags) removes the
    others.
  - Security group names cannot be resolved in check mode without O(vpc_id); they are then shown as given.
"""

EXAMPLES = r"""
- name: Launch templates of the node groups (a new version only when the content changes)
  llmhub.eks.ec2_launch_templates:
    vpc_id: "{{ vpc_outputs.vpc_id }}"
    tags:
      Project: llm-analytics-hub
      llmhub.io/cluster: llm-analytics-hub-prod-eks
    launch_templates:
      - name: llm-analytics-hub-prod-eks-system
        root_volume: {size_gb: 100, type: gp3, iops: 3000}
        security_groups: [llm-analytics-hub-prod-eks-node]
        instance_tags: {Name: llm-analytics-hub-prod-eks-system, llmhub.io/nodegroup: system}
      - name: llm-analytics-hub-prod-eks-database
        root_volume: {size_gb: 500, type: gp3, iops: 3000, throughput: 125}
        security_groups: [llm-analytics-hub-prod-eks-node]
        instance_tags: {Name: llm-analytics-hub-prod-eks-database, llmhub.io/nodegroup: database}
  register: nodegroups_templates_result

- name: The version the system node group uses
  ansible.builtin.debug:
    msg: "{{ nodegroups_templates_result.launch_templates_by_name['llm-analytics-hub-prod-eks-system'].version }}"

- name: Delete them (after their node groups)
  llmhub.eks.ec2_launch_templates:
    state: absent
    launch_templates:
      - name: llm-analytics-hub-prod-eks-system
      - name: llm-analytics-hub-prod-eks-database
"""

RETURN = r"""
launch_templates:
  description: The listed templates after the call, in the order given (empty for O(state=absent)).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Template name.
      type: str
      sample: llm-analytics-hub-prod-eks-system
    id:
      description: Template id (V((known after apply\)) in check mode for a template not created yet).
      type: str
      sample: lt-0123456789abcdef0
    default_version:
      description: Default version number after the call (planned in check mode, V((known after apply\)) for a
        template not created yet).
      type: int
      sample: 2
    latest_version:
      description: Latest version number after the call (planned in check mode, V((known after apply\)) for a
        template not created yet).
      type: int
      sample: 2
    new_version_created:
      description: Whether this call created the template or a new version of it (or would, in check mode).
      type: bool
    tags:
      description: Tags of the template.
      type: dict
launch_templates_by_name:
  description:
    - Id and default version (a string, as node groups take it) keyed by name. Both are V((known after apply\)) in
      check mode for templates that would be created.
  returned: always
  type: dict
  sample: {"llm-analytics-hub-prod-eks-system": {"id": "lt-0123456789abcdef0", "version": "2"}}
created:
  description: Names of the templates created (or that would be).
  returned: always
  type: list
  elements: str
updated:
  description: Names of the templates that got a new default version or new tags (or would).
  returned: always
  type: list
  elements: str
deleted:
  description: Names of the templates deleted (or that would be).
  returned: always
  type: list
  elements: str
"""

import uuid

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils.common import KNOWN_AFTER_APPLY
from ansible_collections.llmhub.eks.plugins.module_utils.common import known_option
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_concurrently
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import ec2_client
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import reconcile_tags
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import tag_specifications
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import tags_of
from ansible_collections.llmhub.eks.plugins.module_utils.eks import UnresolvedReferences
from ansible_collections.llmhub.eks.plugins.module_utils.eks import resolve_kms_key_arn
from ansible_collections.llmhub.eks.plugins.module_utils.eks import resolve_security_groups
from ansible_collections.llmhub.eks.plugins.module_utils.nodegroups import security_group_is_id
from ansible_collections.llmhub.eks.plugins.module_utils.nodegroups import template_data
from ansible_collections.llmhub.eks.plugins.module_utils.nodegroups import template_view
from ansible_collections.llmhub.eks.plugins.module_utils.nodegroups import validate_launch_templates

VERSION_DESCRIPTION = "managed by llmhub.eks.ec2_launch_templates"


def wanted_tags(module, spec):
    """Tags of the template resource, or None when tags are not managed."""
    if module.params.get("tags") is None and spec.get("tags") is None:
        return None
    tags = dict(module.params.get("tags") or {})
    tags.update(spec.get("tags") or {})
    return {str(k): str(v) for k, v in tags.items()}


def find_templates(client, names):
    found = paginate(client, "describe_launch_templates", "LaunchTemplates",
                     Filters=[{"Name": "launch-template-name", "Values": sorted(set(names))}])
    return {t["LaunchTemplateName"]: t for t in found}


def resolve_groups(module, client, specs):
    """{reference: group id} for every security group reference, in one describe call."""
    vpc_id = module.params.get("vpc_id")
    references = []
    for spec in specs:
        references += spec.get("security_groups") or []
    references = list(dict.fromkeys(references))
    resolved = {ref: ref for ref in references if security_group_is_id(ref)}
    names = [ref for ref in references if not security_group_is_id(ref)]
    if not names:
        return resolved
    if not vpc_id:  # check mode only (validated before): show the names as given
        resolved.update({ref: ref for ref in names})
        return resolved
    try:
        groups = resolve_security_groups(client, names, vpc_id)
    except UnresolvedReferences as e:
        paths = [f"launch_templates[{index}].security_groups: {ref!r}"
                 for index, spec in enumerate(specs) for ref in spec.get("security_groups") or [] if ref in e.missing]
        message = f"No single security group of {vpc_id} with that id, group name or Name tag: " + "; ".join(paths)
        if not module.check_mode:
            raise AnsibleAWSError(message=message) from None
        # Check mode: groups an earlier task would create keep their names in the plan.
        module.warn(f"{message}; assuming an earlier task creates them (check mode).")
        resolved.update({ref: ref for ref in e.missing})
        names = [ref for ref in names if ref not in e.missing]
        groups = resolve_security_groups(client, names, vpc_id) if names else []
    for ref in names:  # same precedence as resolve_security_groups: group name, then Name tag
        group = next((g for g in groups if g.get("GroupName") == ref), None)
        group = group or next(g for g in groups if tags_of(g).get("Name") == ref)
        resolved[ref] = group["GroupId"]
    return resolved


def resolve_keys(module, kms, specs):
    """{key reference: key ARN} for every root volume KMS key (one describe_key per distinct key)."""
    paths = {}
    for index, spec in enumerate(specs):
        key = (spec.get("root_volume") or {}).get("kms_key")
        if key:
            paths.setdefault(key, f"launch_templates[{index}].root_volume.kms_key")
    if not paths:
        return {}
    arns = run_concurrently(lambda key: resolve_kms_key_arn(kms, key, option=paths[key]), list(paths),
                            "resolve KMS keys")
    return dict(zip(paths, arns))


def wanted_data(spec, groups, keys):
    security_groups = [groups[ref] for ref in spec.get("security_groups") or []]
    kms_key = (spec.get("root_volume") or {}).get("kms_key")
    return template_data(spec, list(dict.fromkeys(security_groups)), keys.get(kms_key) if kms_key else None)


def versions_of(client, template):
    """(default version, latest version) of an existing template, in one call."""
    wanted = ["$Default"] if template["DefaultVersionNumber"] == template["LatestVersionNumber"] else ["$Default", "$Latest"]
    versions = client.describe_launch_template_versions(
        aws_retry=True, LaunchTemplateId=template["LaunchTemplateId"], Versions=wanted
    )["LaunchTemplateVersions"]
    by_number = {v["VersionNumber"]: v for v in versions}
    default = by_number.get(template["DefaultVersionNumber"])
    latest = by_number.get(template["LatestVersionNumber"], default)
    return default, latest


def plan_template(module, spec, found, current_versions, data):
    """What one template needs: dict(action, ...); action is create, new_version, set_default or None."""
    plan = {"spec": spec, "found": found, "data": data, "tags": wanted_tags(module, spec)}
    if found is None:
        plan["action"] = "create"
        return plan
    default, latest = current_versions
    wanted_view = template_view(data)
    if template_view(default.get("LaunchTemplateData")) == wanted_view:
        plan["action"] = None
    elif latest is not default and template_view(latest.get("LaunchTemplateData")) == wanted_view:
        plan["action"] = "set_default"
    else:
        plan["action"] = "new_version"
    return plan


def ensure_present(module, client, kms):
    specs = module.params["launch_templates"]
    found = find_templates(client, [spec["name"] for spec in specs])
    groups = resolve_groups(module, client, specs)
    keys = resolve_keys(module, kms, specs)
    existing = [found[spec["name"]] for spec in specs if spec["name"] in found]
    versions = dict(zip(
        [t["LaunchTemplateId"] for t in existing],
        run_concurrently(lambda t: versions_of(client, t), existing, "describe launch template versions",
                         label=lambda t: t["LaunchTemplateName"]),
    ))
    plans = []
    for spec in specs:
        template = found.get(spec["name"])
        current = versions.get(template["LaunchTemplateId"]) if template else None
        plans.append(plan_template(module, spec, template, current, wanted_data(spec, groups, keys)))

    def create(plan):
        spec = plan["spec"]
        params = dict(LaunchTemplateName=spec["name"], LaunchTemplateData=plan["data"],
                      VersionDescription=VERSION_DESCRIPTION, ClientToken=str(uuid.uuid4()))
        if plan["tags"]:
            params["TagSpecifications"] = tag_specifications(plan["tags"], "launch-template")
        template = client.create_launch_template(aws_retry=True, **params)["LaunchTemplate"]
        return {"id": template["LaunchTemplateId"], "default": template["DefaultVersionNumber"],
                "latest": template["LatestVersionNumber"], "tags": plan["tags"] or {}, "new_version": True}

    def update(plan):
        template = plan["found"]
        template_id = template["LaunchTemplateId"]
        default, latest = template["DefaultVersionNumber"], template["LatestVersionNumber"]
        changed = False
        if plan["action"] == "new_version":
            changed = True
            latest = default = latest + 1
            if not module.check_mode:
                version = client.create_launch_template_version(
                    aws_retry=True, LaunchTemplateId=template_id, LaunchTemplateData=plan["data"],
                    VersionDescription=VERSION_DESCRIPTION, ClientToken=str(uuid.uuid4()),
                )["LaunchTemplateVersion"]
                latest = default = version["VersionNumber"]
        elif plan["action"] == "set_default":
            changed = True
            default = latest
        if plan["action"] and not module.check_mode:
            client.modify_launch_template(aws_retry=True, LaunchTemplateId=template_id, DefaultVersion=str(default))
        tags = tags_of(template)
        if plan["tags"] is not None:
            changed = reconcile_tags(client, module, template_id, tags, plan["tags"]) or changed
            if module.params["purge_tags"]:
                tags = {k: v for k, v in tags.items() if k.startswith("aws:")}
            tags.update(plan["tags"])
        return {"id": template_id, "default": default, "latest": latest, "tags": tags,
                "new_version": plan["action"] == "new_version", "changed": changed}

    to_create = [plan for plan in plans if plan["found"] is None]
    to_check = [plan for plan in plans if plan["found"] is not None]
    if module.check_mode:
        created = [{"id": KNOWN_AFTER_APPLY, "default": KNOWN_AFTER_APPLY, "latest": KNOWN_AFTER_APPLY,
                    "tags": plan["tags"] or {}, "new_version": True} for plan in to_create]
    else:
        created = run_concurrently(create, to_create, "create launch templates", label=lambda p: p["spec"]["name"])
    checked = run_concurrently(update, to_check, "update launch templates", label=lambda p: p["spec"]["name"])
    outcome = dict(zip([p["spec"]["name"] for p in to_create], created))
    outcome.update(zip([p["spec"]["name"] for p in to_check], checked))

    result_templates, by_name = [], {}
    for spec in specs:
        state = outcome[spec["name"]]
        result_templates.append({
            "name": spec["name"], "id": state["id"], "default_version": state["default"],
            "latest_version": state["latest"], "new_version_created": state["new_version"], "tags": state["tags"],
        })
        by_name[spec["name"]] = {"id": state["id"],
                                 "version": None if state["default"] is None else str(state["default"])}
    updated = [p["spec"]["name"] for p, state in zip(to_check, checked) if state["changed"]]
    result = dict(
        changed=bool(to_create or updated),
        launch_templates=result_templates,
        launch_templates_by_name=by_name,
        created=[p["spec"]["name"] for p in to_create],
        updated=updated,
        deleted=[],
    )
    before, after = {}, {}
    for plan in plans:
        name = plan["spec"]["name"]
        if plan["found"] is not None:
            default = versions[plan["found"]["LaunchTemplateId"]][0]
            before[name] = {"data": template_view(default.get("LaunchTemplateData")),
                            "tags": tags_of(plan["found"])}
        after[name] = {"data": template_view(plan["data"]), "tags": outcome[name]["tags"]}
    result["diff"] = dict(before=before, after=after)
    module.exit_json(**result)


def ensure_absent(module, client, _kms):
    specs = module.params["launch_templates"]
    found = find_templates(client, [spec["name"] for spec in specs])
    doomed = [found[spec["name"]] for spec in specs if spec["name"] in found]

    def delete(template):
        try:
            client.delete_launch_template(aws_retry=True, LaunchTemplateId=template["LaunchTemplateId"])
        except is_boto3_error_code(("InvalidLaunchTemplateId.NotFound", "InvalidLaunchTemplateName.NotFoundException")):
            pass

    if not module.check_mode:
        run_concurrently(delete, doomed, "delete launch templates", label=lambda t: t["LaunchTemplateName"])
    result = dict(changed=bool(doomed), launch_templates=[], launch_templates_by_name={}, created=[], updated=[],
                  deleted=[t["LaunchTemplateName"] for t in doomed])
    result["diff"] = dict(before={t["LaunchTemplateName"]: {"id": t["LaunchTemplateId"]} for t in doomed}, after={})
    module.exit_json(**result)


def main():
    argument_spec = dict(
        launch_templates=dict(
            type="list",
            elements="dict",
            required=True,
            options=dict(
                name=dict(type="str", required=True),
                ebs_optimized=dict(type="bool", default=True),
                monitoring=dict(type="bool", default=True),
                metadata=dict(
                    type="dict",
                    apply_defaults=True,
                    options=dict(
                        http_tokens=dict(type="str", choices=["required", "optional"], default="required"),
                        http_put_response_hop_limit=dict(type="int", default=2),
                        http_endpoint=dict(type="str", choices=["enabled", "disabled"], default="enabled"),
                    ),
                ),
                root_volume=dict(
                    type="dict",
                    options=dict(
                        device_name=dict(type="str", default="/dev/xvda"),
                        size_gb=dict(type="int"),
                        type=dict(type="str", choices=["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"],
                                  default="gp3"),
                        iops=dict(type="int"),
                        throughput=dict(type="int"),
                        encrypted=dict(type="bool", default=True),
                        kms_key=dict(type="str", no_log=False),
                        delete_on_termination=dict(type="bool", default=True),
                    ),
                ),
                security_groups=dict(type="list", elements="str"),
                instance_tags=dict(type="dict"),
                tags=dict(type="dict"),
            ),
        ),
        vpc_id=dict(type="str"),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    module.params["vpc_id"] = known_option(module, "vpc_id")  # None for a VPC planned in check mode
    problems = validate_launch_templates(module.params["launch_templates"], module.params["state"],
                                         module.params["vpc_id"], module.check_mode)
    if problems:
        module.fail_json(msg="Invalid launch_templates: " + "; ".join(problems))
    client = ec2_client(module)
    handler = ensure_present if module.params["state"] == "present" else ensure_absent
    kms = retrying_client(module, "kms") if handler is ensure_present else None
    run_module(module, handler, module, client, kms)


if __name__ == "__main__":
    main()
