#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: guardduty_detector
short_description: The GuardDuty detector of the account and Region, its features, tags and findings export
version_added: 0.1.0
description:
  - GuardDuty has one detector per account and Region. This module adopts it when it exists (whoever made it) and
    creates it otherwise; it never creates a second one.
  - Reconciles O(enable), O(finding_publishing_frequency) and the features named in O(features) (for the EKS
    protection plans C(EKS_AUDIT_LOGS) and C(EKS_RUNTIME_MONITORING) with its C(EKS_ADDON_MANAGEMENT) additional
    configuration); features not named are left as they are, so other teams' protection plans on a shared account
    are not touched.
  - Optionally exports findings to an S3 bucket (a publishing destination, O(publishing_destination)); GuardDuty
    encrypts the exported findings with a KMS key whose policy must let GuardDuty use it, and the bucket policy
    must let GuardDuty write.
  - No module of amazon.aws or community.aws manages GuardDuty.
  - With O(state=absent) the detector is deleted, with its findings, for the whole account and Region.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  state:
    description: V(present) creates, adopts or updates the detector; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  enable:
    description: Whether the detector is enabled (GuardDuty analyses events and bills only while enabled).
    type: bool
    default: true
  finding_publishing_frequency:
    description: How often updated findings are published to EventBridge and the export; left as it is when omitted
      (a new detector publishes every six hours).
    type: str
    choices: [FIFTEEN_MINUTES, ONE_HOUR, SIX_HOURS]
  features:
    description:
      - Features (protection plans) to set; features not named are left as they are.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Feature name, as GuardDuty's API names it.
        type: str
        required: true
        choices: [S3_DATA_EVENTS, EKS_AUDIT_LOGS, EBS_MALWARE_PROTECTION, RDS_LOGIN_EVENTS, EKS_RUNTIME_MONITORING,
                  LAMBDA_NETWORK_LOGS, RUNTIME_MONITORING, AI_PROTECTION, AI_ANALYST]
      status:
        description: Whether the feature is on.
        type: str
        choices: [ENABLED, DISABLED]
        default: ENABLED
      additional_configuration:
        description:
          - Additional configurations of the feature, for example C(EKS_ADDON_MANAGEMENT) of
            C(EKS_RUNTIME_MONITORING) (GuardDuty manages its security agent as an EKS add-on of every cluster).
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: Additional configuration name.
            type: str
            required: true
            choices: [EKS_ADDON_MANAGEMENT, ECS_FARGATE_AGENT_MANAGEMENT, EC2_AGENT_MANAGEMENT, RDS_DATA_RISK]
          status:
            description: Whether it is on.
            type: str
            choices: [ENABLED, DISABLED]
            default: ENABLED
  publishing_destination:
    description:
      - Export of findings to S3. Omitted, an existing export is left as it is.
    type: dict
    suboptions:
      destination_arn:
        description: ARN of the bucket, or of a folder in it (C(arn:aws:s3:::bucket/guardduty)).
        type: str
      kms_key_arn:
        description: ARN of the KMS key GuardDuty encrypts the exported findings with.
        type: str
      expected_bucket_owner:
        description: Account id that must own the bucket.
        type: str
      state:
        description: V(present) ensures the export; V(absent) removes it.
        type: str
        choices: [present, absent]
        default: present
  purge_tags:
    description:
      - Remove tags not in O(tags). Off by default, unlike most modules, because the detector is shared by
        everything in the account and Region (other clusters' deployments tag it too).
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
notes:
  - With O(tags) omitted, the detector's tags are left as they are.
  - Diff mode shows the detector's settings, the features named in O(features), the tags and the export.
"""

EXAMPLES = r"""
- name: GuardDuty with EKS audit-log and runtime monitoring (the agent as a managed add-on)
  llmhub.eks.guardduty_detector:
    features:
      - name: EKS_AUDIT_LOGS
      - name: EKS_RUNTIME_MONITORING
        additional_configuration:
          - name: EKS_ADDON_MANAGEMENT
    tags:
      Project: llm-analytics-hub
      llmhub.io/cluster: llm-analytics-hub-prod-eks

- name: Also export the findings to the artifacts bucket
  llmhub.eks.guardduty_detector:
    features:
      - name: EKS_AUDIT_LOGS
    publishing_destination:
      destination_arn: arn:aws:s3:::llmhub-artifacts-123456789012-us-east-1/guardduty
      kms_key_arn: arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
"""

RETURN = r"""
detector:
  description: The detector after the change (in check mode as it would be, with C(detector_id)
    V((known after apply\)) when it would be created). Null with O(state=absent).
  returned: always
  type: dict
  contains:
    detector_id:
      description: Id of the detector.
      type: str
      sample: 12abc34d567e8fa901bc2d34e56789f0
    arn:
      description: ARN of the detector.
      type: str
      sample: arn:aws:guardduty:us-east-1:123456789012:detector/12abc34d567e8fa901bc2d34e56789f0
    status:
      description: C(ENABLED) or C(DISABLED).
      type: str
    finding_publishing_frequency:
      description: How often findings are published.
      type: str
      sample: SIX_HOURS
    features:
      description: Status of every feature the detector reports, additional configurations as C(FEATURE/NAME).
      type: dict
      sample:
        EKS_AUDIT_LOGS: ENABLED
        EKS_RUNTIME_MONITORING: ENABLED
        EKS_RUNTIME_MONITORING/EKS_ADDON_MANAGEMENT: ENABLED
    tags:
      description: Tags of the detector.
      type: dict
    publishing_destination:
      description: The S3 export (C(destination_id), C(destination_arn), C(kms_key_arn), C(status)), null if none.
      type: dict
adopted:
  description: Whether the detector existed before this task.
  returned: always
  type: bool
actions:
  description: What was done (or would be in check mode), in order.
  returned: always
  type: list
  elements: str
  sample:
    - create detector
    - enable feature EKS_RUNTIME_MONITORING
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils.common import KNOWN_AFTER_APPLY
from ansible_collections.llmhub.eks.plugins.module_utils.common import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.guardduty import destination_properties
from ansible_collections.llmhub.eks.plugins.module_utils.guardduty import duplicate_names
from ansible_collections.llmhub.eks.plugins.module_utils.guardduty import feature_changes
from ansible_collections.llmhub.eks.plugins.module_utils.guardduty import flatten_features
from ansible_collections.llmhub.eks.plugins.module_utils.guardduty import requested_features
from ansible_collections.llmhub.eks.plugins.module_utils.guardduty import tag_changes


def validate(module):
    duplicates = duplicate_names(module.params["features"])
    if duplicates:
        module.fail_json(msg=f"features: {', '.join(duplicates)} given more than once; name each feature (and each "
                             "additional configuration of a feature) once")
    export = module.params["publishing_destination"]
    if export and export["state"] == "present" and not (export.get("destination_arn") and export.get("kms_key_arn")):
        module.fail_json(msg="publishing_destination: destination_arn (the bucket's ARN) and kms_key_arn (the key "
                             "GuardDuty encrypts the findings with) are both required to export findings")


def find_detector(guardduty):
    ids = paginate(guardduty, "list_detectors", "DetectorIds")
    return ids[0] if ids else None


def detector_arn(module, detector_id):
    identity = retrying_client(module, "sts").get_caller_identity(aws_retry=True)
    partition = identity["Arn"].split(":")[1]
    return f"arn:{partition}:guardduty:{module.region}:{identity['Account']}:detector/{detector_id}"


def list_destinations(guardduty, detector_id):
    """Every publishing destination of the detector (botocore has no paginator for the call)."""
    destinations, token = [], None
    while True:
        page = guardduty.list_publishing_destinations(aws_retry=True, DetectorId=detector_id,
                                                      **({"NextToken": token} if token else {}))
        destinations += page.get("Destinations", [])
        token = page.get("NextToken")
        if not token:
            return destinations


def read_destination(guardduty, detector_id):
    for summary in list_destinations(guardduty, detector_id):
        if summary.get("DestinationType") == "S3":
            described = guardduty.describe_publishing_destination(aws_retry=True, DetectorId=detector_id,
                                                                  DestinationId=summary["DestinationId"])
            properties = described.get("DestinationProperties", {})
            return {"destination_id": summary["DestinationId"], "destination_arn": properties.get("DestinationArn"),
                    "kms_key_arn": properties.get("KmsKeyArn"), "status": described.get("Status"),
                    "expected_bucket_owner": properties.get("ExpectedBucketOwner")}
    return None


def read_detector(module, guardduty, detector_id):
    answer = guardduty.get_detector(aws_retry=True, DetectorId=detector_id)
    arn = detector_arn(module, detector_id)
    return {
        "detector_id": detector_id, "arn": arn, "status": answer.get("Status"),
        "finding_publishing_frequency": answer.get("FindingPublishingFrequency"),
        "features": flatten_features(answer.get("Features")),
        "tags": guardduty.list_tags_for_resource(aws_retry=True, ResourceArn=arn).get("Tags", {}),
        "publishing_destination": read_destination(guardduty, detector_id),
    }


def diff_view(detector, names):
    """What diff mode shows: settings, the features the task names, tags and export."""
    if not detector:
        return {}
    return {
        "status": detector["status"], "finding_publishing_frequency": detector["finding_publishing_frequency"],
        "features": {name: detector["features"].get(name) for name in names},
        "tags": detector["tags"],
        "publishing_destination": {key: value for key, value in (detector["publishing_destination"] or {}).items()
                                   if key in ("destination_arn", "kms_key_arn")} or None,
    }


def ensure_destination(module, guardduty, before, after, actions):
    option = module.params["publishing_destination"]
    if not option:
        return
    current, detector_id = before["publishing_destination"] if before else None, after["detector_id"]
    if option["state"] == "absent":
        if current:
            actions.append(f"remove findings export to {current['destination_arn']}")
            after["publishing_destination"] = None
            if not module.check_mode:
                guardduty.delete_publishing_destination(aws_retry=True, DetectorId=detector_id,
                                                        DestinationId=current["destination_id"])
        return
    properties = destination_properties(option)
    wanted = {"destination_arn": option["destination_arn"], "kms_key_arn": option["kms_key_arn"],
              "expected_bucket_owner": option.get("expected_bucket_owner")}
    if current and all(current.get(key) == value for key, value in wanted.items() if value):
        return
    if current:
        actions.append(f"move findings export to {option['destination_arn']}")
        after["publishing_destination"] = {**current, **wanted}
        if not module.check_mode:
            guardduty.update_publishing_destination(aws_retry=True, DetectorId=detector_id,
                                                    DestinationId=current["destination_id"],
                                                    DestinationProperties=properties)
        return
    actions.append(f"export findings to {option['destination_arn']}")
    after["publishing_destination"] = {"destination_id": KNOWN_AFTER_APPLY, **wanted, "status": KNOWN_AFTER_APPLY}
    if not module.check_mode:
        answer = guardduty.create_publishing_destination(aws_retry=True, DetectorId=detector_id,
                                                         DestinationType="S3", DestinationProperties=properties)
        after["publishing_destination"]["destination_id"] = answer["DestinationId"]


def ensure_present(module, guardduty):
    params = module.params
    detector_id = find_detector(guardduty)
    before = read_detector(module, guardduty, detector_id) if detector_id else None
    actions = []
    status = "ENABLED" if params["enable"] else "DISABLED"
    frequency = params["finding_publishing_frequency"]
    names = list(flatten_features(params["features"]))
    if before is None:
        actions.append("create detector" + ("" if params["enable"] else " (disabled)"))
        after = {"detector_id": KNOWN_AFTER_APPLY, "arn": KNOWN_AFTER_APPLY, "status": status,
                 "finding_publishing_frequency": frequency or "SIX_HOURS",
                 "features": flatten_features(params["features"]), "tags": dict(params["tags"] or {}),
                 "publishing_destination": None}
        if not module.check_mode:
            request = {"Enable": params["enable"], "Features": requested_features(params["features"])}
            if frequency:
                request["FindingPublishingFrequency"] = frequency
            if params["tags"]:
                request["Tags"] = params["tags"]
            detector_id = guardduty.create_detector(aws_retry=True, **request)["DetectorId"]
            after = read_detector(module, guardduty, detector_id)
    else:
        after = {**before, "features": dict(before["features"]), "tags": dict(before["tags"])}
        update = {}
        if before["status"] != status:
            update["Enable"] = params["enable"]
            actions.append(f"{'enable' if params['enable'] else 'disable'} detector")
        if frequency and before["finding_publishing_frequency"] != frequency:
            update["FindingPublishingFrequency"] = frequency
            actions.append(f"publish findings every {frequency}")
        changes = feature_changes(before["features"], params["features"])
        if changes:
            update["Features"] = changes
            wanted = flatten_features(params["features"])
            for name in names:
                if before["features"].get(name) != wanted[name]:
                    actions.append(f"{'enable' if wanted[name] == 'ENABLED' else 'disable'} feature {name}")
            after["features"].update(wanted)
        after["status"] = status
        after["finding_publishing_frequency"] = frequency or before["finding_publishing_frequency"]
        if update and not module.check_mode:
            guardduty.update_detector(aws_retry=True, DetectorId=detector_id, **update)
        to_set, to_remove = tag_changes(before["tags"], params["tags"], params["purge_tags"])
        if to_set:
            actions.append(f"tag detector {', '.join(sorted(to_set))}")
            after["tags"].update(to_set)
            if not module.check_mode:
                guardduty.tag_resource(aws_retry=True, ResourceArn=before["arn"], Tags=to_set)
        if to_remove:
            actions.append(f"untag detector {', '.join(to_remove)}")
            for key in to_remove:
                after["tags"].pop(key, None)
            if not module.check_mode:
                guardduty.untag_resource(aws_retry=True, ResourceArn=before["arn"], TagKeys=to_remove)
    ensure_destination(module, guardduty, before, after, actions)
    if actions and not module.check_mode and after["detector_id"] != KNOWN_AFTER_APPLY:
        after = read_detector(module, guardduty, after["detector_id"])
    module.exit_json(changed=bool(actions), actions=actions, adopted=before is not None, detector=after,
                     diff=dict(before=diff_view(before, names), after=diff_view(after, names)))


def ensure_absent(module, guardduty):
    detector_id = find_detector(guardduty)
    before = read_detector(module, guardduty, detector_id) if detector_id else None
    actions = [f"delete detector {detector_id}"] if detector_id else []
    if detector_id and not module.check_mode:
        try:
            guardduty.delete_detector(aws_retry=True, DetectorId=detector_id)
        except is_boto3_error_code("BadRequestException"):
            if find_detector(guardduty) == detector_id:
                raise
    names = list(flatten_features(module.params["features"]))
    module.exit_json(changed=bool(actions), actions=actions, adopted=before is not None, detector=None,
                     diff=dict(before=diff_view(before, names), after={}))


def main():
    extra = dict(name=dict(type="str", required=True,
                           choices=["EKS_ADDON_MANAGEMENT", "ECS_FARGATE_AGENT_MANAGEMENT", "EC2_AGENT_MANAGEMENT",
                                    "RDS_DATA_RISK"]),
                 status=dict(type="str", choices=["ENABLED", "DISABLED"], default="ENABLED"))
    feature = dict(name=dict(type="str", required=True,
                             choices=["S3_DATA_EVENTS", "EKS_AUDIT_LOGS", "EBS_MALWARE_PROTECTION", "RDS_LOGIN_EVENTS",
                                      "EKS_RUNTIME_MONITORING", "LAMBDA_NETWORK_LOGS", "RUNTIME_MONITORING",
                                      "AI_PROTECTION", "AI_ANALYST"]),
                   status=dict(type="str", choices=["ENABLED", "DISABLED"], default="ENABLED"),
                   additional_configuration=dict(type="list", elements="dict", default=[], options=extra))
    argument_spec = dict(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        enable=dict(type="bool", default=True),
        finding_publishing_frequency=dict(type="str", choices=["FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS"]),
        features=dict(type="list", elements="dict", default=[], options=feature),
        publishing_destination=dict(type="dict", options=dict(
            destination_arn=dict(type="str"), kms_key_arn=dict(type="str", no_log=False),
            expected_bucket_owner=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"))),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=False),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    validate(module)
    guardduty = retrying_client(module, "guardduty")
    handler = ensure_present if module.params["state"] == "present" else ensure_absent
    run_module(module, handler, module, guardduty)


if __name__ == "__main__":
    main()
