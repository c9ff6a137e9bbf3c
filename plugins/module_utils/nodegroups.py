# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rules of llmhub.eks.ec2_launch_templates and llmhub.eks.eks_nodegroups.

Most of this file is pure and tested without AWS:

* validation of both modules' input, before any AWS call, with the option
  path of every problem (``nodegroups[1].scaling: min_size 3 > desired_size 2``);
* launch template data built from the options, and a normalised *view* of
  any template data, so that a template whose content did not change is
  recognised whatever the ordering of its security groups and tags, or ints
  given as strings: no new version on every run;
* what an existing node group needs: the UpdateNodegroupConfig payload
  (scaling, labels and taints as addOrUpdate/remove diffs, update config),
  the UpdateNodegroupVersion payload (launch template version, AMI release),
  the fields that cannot change in place, and the desired size drift rule
  (a desired size moved by the cluster autoscaler within [min, max] is left
  alone unless ``enforce_desired_size``).

The rest resolves references (subnet Name tags, launch template names) in one
describe call each and reads node groups for the set waiter.
"""

from __future__ import annotations

import re

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import name_of
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.eks_versions import parse_version

# --------------------------------------------------------------------------- launch templates

VOLUME_TYPES = ("gp2", "gp3", "io1", "io2", "st1", "sc1", "standard")
IOPS_VOLUME_TYPES = ("gp3", "io1", "io2")
HTTP_TOKENS = ("required", "optional")
HTTP_ENDPOINT = ("enabled", "disabled")
# Resource types whose tags a template propagates (the ones this collection manages).
PROPAGATED_TAG_TYPES = ("instance", "volume", "network-interface")
# Top-level members of LaunchTemplateData this collection writes.
MANAGED_DATA_KEYS = ("EbsOptimized", "Monitoring", "MetadataOptions", "BlockDeviceMappings", "SecurityGroupIds",
                     "TagSpecifications")
LAUNCH_TEMPLATE_NAME = re.compile(r"^[a-zA-Z0-9().\-/_]{3,128}$")


def _is_int(value):
    if isinstance(value, bool):
        return False
    try:
        int(str(value))
    except ValueError:
        return False
    return True


def _int(value):
    """An int for an int or its string form; None stays None."""
    if value is None or value == "":
        return None
    return int(str(value))


def _bool(value):
    """A bool for a bool or its string form; None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def security_group_is_id(reference):
    return str(reference).startswith("sg-")


def validate_launch_templates(templates, state, vpc_id=None, check_mode=False, option="launch_templates"):
    """Problems of the launch templates' input, each with its option path; empty when all is well."""
    problems = []
    seen = {}
    for index, spec in enumerate(templates or []):
        where = f"{option}[{index}]"
        name = spec.get("name")
        if not name or not LAUNCH_TEMPLATE_NAME.match(str(name)):
            problems.append(f"{where}.name: {name!r} must be 3-128 letters, digits and ().-/_")
        elif name in seen:
            problems.append(f"{where}.name: {name!r} is already {option}[{seen[name]}]; names must be unique")
        else:
            seen[name] = index
        if state != "present":
            continue
        metadata = spec.get("metadata") or {}
        hop_limit = metadata.get("http_put_response_hop_limit")
        if hop_limit is not None and not 1 <= hop_limit <= 64:
            problems.append(f"{where}.metadata.http_put_response_hop_limit: {hop_limit} must be between 1 and 64")
        for key, allowed in (("http_tokens", HTTP_TOKENS), ("http_endpoint", HTTP_ENDPOINT)):
            if metadata.get(key) is not None and metadata[key] not in allowed:
                problems.append(f"{where}.metadata.{key}: {metadata[key]!r} must be one of {list(allowed)}")
        volume = spec.get("root_volume")
        if volume:
            problems += _volume_problems(f"{where}.root_volume", volume)
        if not vpc_id and not check_mode:
            names = [ref for ref in spec.get("security_groups") or [] if not security_group_is_id(ref)]
            if names:
                problems.append(f"{where}.security_groups: {names} are group names; give vpc_id to resolve them in "
                                "that VPC, or give security group ids (sg-...)")
    return problems


def _volume_problems(where, volume):
    problems = []
    size = volume.get("size_gb")
    kind = volume.get("type") or "gp3"
    if size is None:
        problems.append(f"{where}.size_gb: required (the root volume size in GiB)")
    elif not 1 <= size <= 16384:
        problems.append(f"{where}.size_gb: {size} must be between 1 and 16384 GiB")
    if kind not in VOLUME_TYPES:
        problems.append(f"{where}.type: {kind!r} must be one of {list(VOLUME_TYPES)}")
    iops = volume.get("iops")
    if iops is not None:
        if kind not in IOPS_VOLUME_TYPES:
            problems.append(f"{where}.iops: only {list(IOPS_VOLUME_TYPES)} volumes take iops, not {kind}")
        elif kind == "gp3" and not 3000 <= iops <= 16000:
            problems.append(f"{where}.iops: gp3 volumes take 3000-16000 IOPS, got {iops}")
        elif kind in ("io1", "io2") and not 100 <= iops <= 256000:
            problems.append(f"{where}.iops: {kind} volumes take 100-256000 IOPS, got {iops}")
    throughput = volume.get("throughput")
    if throughput is not None:
        if kind != "gp3":
            problems.append(f"{where}.throughput: only gp3 volumes take a throughput, not {kind}")
        elif not 125 <= throughput <= 1000:
            problems.append(f"{where}.throughput: gp3 takes 125-1000 MiB/s, got {throughput}")
    if volume.get("kms_key") and volume.get("encrypted") is False:
        problems.append(f"{where}.kms_key: a KMS key needs encrypted=true")
    return problems


def template_data(spec, security_group_ids, kms_key_arn=None):
    """The LaunchTemplateData of a template's options (no instance type, AMI or user data: EKS sets them)."""
    metadata = spec.get("metadata") or {}
    data = {
        "EbsOptimized": bool(spec.get("ebs_optimized", True)),
        "Monitoring": {"Enabled": bool(spec.get("monitoring", True))},
        "MetadataOptions": {
            "HttpTokens": metadata.get("http_tokens") or "required",
            "HttpPutResponseHopLimit": int(metadata.get("http_put_response_hop_limit") or 2),
            "HttpEndpoint": metadata.get("http_endpoint") or "enabled",
        },
    }
    volume = spec.get("root_volume")
    if volume:
        ebs = {
            "VolumeSize": int(volume["size_gb"]),
            "VolumeType": volume.get("type") or "gp3",
            "Encrypted": volume.get("encrypted", True) is not False,
            "DeleteOnTermination": volume.get("delete_on_termination", True) is not False,
        }
        if volume.get("iops") is not None:
            ebs["Iops"] = int(volume["iops"])
        if volume.get("throughput") is not None:
            ebs["Throughput"] = int(volume["throughput"])
        if kms_key_arn:
            ebs["KmsKeyId"] = kms_key_arn
        data["BlockDeviceMappings"] = [{"DeviceName": volume.get("device_name") or "/dev/xvda", "Ebs": ebs}]
    if security_group_ids:
        data["SecurityGroupIds"] = list(security_group_ids)
    instance_tags = spec.get("instance_tags")
    if instance_tags:
        tags = ansible_dict_to_boto3_tag_list({str(k): str(v) for k, v in instance_tags.items()})
        data["TagSpecifications"] = [{"ResourceType": kind, "Tags": tags} for kind in PROPAGATED_TAG_TYPES]
    return data


def _block_device_view(mapping):
    ebs = mapping.get("Ebs") or {}
    return {
        "device_name": mapping.get("DeviceName"),
        "size_gb": _int(ebs.get("VolumeSize")),
        "type": ebs.get("VolumeType"),
        "iops": _int(ebs.get("Iops")),
        "throughput": _int(ebs.get("Throughput")),
        "encrypted": _bool(ebs.get("Encrypted")),
        "kms_key_id": ebs.get("KmsKeyId") or None,
        "delete_on_termination": _bool(ebs.get("DeleteOnTermination")),
    }


def template_view(data):
    """A normalised, comparable view of LaunchTemplateData (from the API or from :func:`template_data`).

    Security group ids are sorted, tag lists become dicts, ints and booleans
    given as strings are converted, members left empty are dropped. Tags of
    resource types other than instance and volume are not this collection's
    and are ignored. Any other member (an AMI, user data... added outside
    this collection) is kept under ``other`` so that it shows as a change.
    """
    data = data or {}
    metadata = data.get("MetadataOptions") or {}
    tags = {}
    for spec in data.get("TagSpecifications") or []:
        if spec.get("ResourceType") in PROPAGATED_TAG_TYPES:
            tags.setdefault(spec["ResourceType"], {}).update(boto3_tag_list_to_ansible_dict(spec.get("Tags") or []))
    other = {key: value for key, value in data.items() if key not in MANAGED_DATA_KEYS and value not in (None, "", [], {})}
    view = {
        "ebs_optimized": bool(_bool(data.get("EbsOptimized"))),
        "monitoring": bool(_bool((data.get("Monitoring") or {}).get("Enabled"))),
        "metadata": {
            "http_tokens": metadata.get("HttpTokens"),
            "http_put_response_hop_limit": _int(metadata.get("HttpPutResponseHopLimit")),
            "http_endpoint": metadata.get("HttpEndpoint"),
        },
        "block_devices": sorted((_block_device_view(m) for m in data.get("BlockDeviceMappings") or []),
                                key=lambda m: str(m["device_name"])),
        "security_group_ids": sorted(set(data.get("SecurityGroupIds") or [])),
        "propagated_tags": {kind: tags[kind] for kind in sorted(tags) if tags[kind]},
    }
    if other:
        view["other"] = other
    return view


def template_differs(current_data, wanted_data):
    return template_view(current_data) != template_view(wanted_data)


# --------------------------------------------------------------------------- node groups

CAPACITY_TYPES = ("ON_DEMAND", "SPOT", "CAPACITY_BLOCK")
TAINT_EFFECTS = ("NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE")
# Kubernetes spelling accepted too.
TAINT_EFFECT_ALIASES = {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE", "PreferNoSchedule": "PREFER_NO_SCHEDULE"}
NODEGROUP_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,62}$")
# Statuses a node group leaves on its own.
TRANSIENT_STATUSES = ("CREATING", "UPDATING", "DELETING")
FAILED_STATUSES = ("CREATE_FAILED", "DELETE_FAILED", "DEGRADED")
# What cannot change in place: option name -> how to read it from describe_nodegroup.
IMMUTABLE_FIELDS = ("instance_types", "capacity_type", "subnets", "ami_type", "node_role", "disk_size",
                    "launch_template")


def taint_effect(effect):
    """The EKS spelling of a taint effect (Kubernetes spelling accepted), or None if unknown."""
    effect = TAINT_EFFECT_ALIASES.get(effect, effect)
    return effect if effect in TAINT_EFFECTS else None


def validate_nodegroups(groups, recreate, state, option="nodegroups"):
    """Problems of the node groups' input, each with its option path; empty when all is well."""
    problems = []
    seen = {}
    for index, group in enumerate(groups or []):
        where = f"{option}[{index}]"
        name = group.get("name")
        if not name or not NODEGROUP_NAME.match(str(name)):
            problems.append(f"{where}.name: {name!r} must be 1-63 letters, digits, - or _, starting with a letter "
                            "or digit")
        elif name in seen:
            problems.append(f"{where}.name: {name!r} is already {option}[{seen[name]}]; names must be unique")
        else:
            seen[name] = index
        if state == "present":
            problems += _group_problems(where, group)
    recreate = list(recreate or [])
    if recreate and state != "present":
        problems.append("recreate: only with state=present (state=absent deletes the listed node groups)")
    unknown = [name for name in recreate if name not in seen]
    if unknown:
        problems.append(f"recreate: {unknown} are not listed in {option} ({sorted(seen)}); list every node group to "
                        "recreate with its full definition")
    return problems


def _group_problems(where, group):
    problems = []
    if not group.get("node_role"):
        problems.append(f"{where}.node_role: required with state=present (the node IAM role name or ARN)")
    if not group.get("subnets"):
        problems.append(f"{where}.subnets: required with state=present (subnet ids or Name tags)")
    if not group.get("instance_types"):
        problems.append(f"{where}.instance_types: must list at least one instance type")
    capacity = group.get("capacity_type") or "ON_DEMAND"
    if capacity not in CAPACITY_TYPES:
        problems.append(f"{where}.capacity_type: {capacity!r} must be one of {list(CAPACITY_TYPES)}")
    problems += _scaling_problems(f"{where}.scaling", group.get("scaling"))
    for position, taint in enumerate(group.get("taints") or []):
        spot = f"{where}.taints[{position}]"
        if not taint.get("key"):
            problems.append(f"{spot}.key: required")
        if taint_effect(taint.get("effect")) is None:
            problems.append(f"{spot}.effect: {taint.get('effect')!r} must be one of {list(TAINT_EFFECTS)}")
    seen_taints = set()
    for taint in group.get("taints") or []:
        identity = (taint.get("key"), taint_effect(taint.get("effect")))
        if identity in seen_taints:
            problems.append(f"{where}.taints: key {identity[0]!r} with effect {identity[1]} is listed twice")
        seen_taints.add(identity)
    update = group.get("update_config") or {}
    given = [key for key in ("max_unavailable", "max_unavailable_percentage") if update.get(key) is not None]
    if len(given) > 1:
        problems.append(f"{where}.update_config: give max_unavailable or max_unavailable_percentage, not both")
    for key in given:
        if not 1 <= update[key] <= 100:
            problems.append(f"{where}.update_config.{key}: {update[key]} must be between 1 and 100")
    template = group.get("launch_template")
    if template:
        if not template.get("id") and not template.get("name"):
            problems.append(f"{where}.launch_template: give its id or its name")
        elif template.get("id") and template.get("name"):
            problems.append(f"{where}.launch_template: give its id or its name, not both")
        version = template.get("version")
        if version is not None and str(version) not in ("$Latest", "$Default") and not (
                _is_int(version) and int(str(version)) >= 1):
            problems.append(f"{where}.launch_template.version: {version!r} must be a version number, $Latest or "
                            "$Default")
        if group.get("disk_size") is not None:
            problems.append(f"{where}.disk_size: only without a launch template; set the root volume size in the "
                            "launch template (llmhub.eks.ec2_launch_templates root_volume.size_gb)")
    if group.get("disk_size") is not None and group["disk_size"] < 1:
        problems.append(f"{where}.disk_size: {group['disk_size']} must be at least 1 GiB")
    version = group.get("version")
    if version is not None and parse_version(version) is None:
        problems.append(f"{where}.version: {version!r} must be a Kubernetes minor version such as '1.35'")
    if group.get("release_version") == "latest" and ami_release_parameter(group.get("ami_type") or "", "1.0") is None:
        problems.append(f"{where}.release_version: latest is known for the AMI types {sorted(AMI_RELEASE_PARAMETERS)}"
                        f", not {group.get('ami_type')!r}; give the release version")
    return problems


def _scaling_problems(where, scaling):
    if not scaling:
        return [f"{where}: required with state=present (min_size, desired_size, max_size)"]
    missing = [key for key in ("min_size", "desired_size", "max_size") if scaling.get(key) is None]
    if missing:
        return [f"{where}: {', '.join(missing)} missing"]
    low, desired, high = scaling["min_size"], scaling["desired_size"], scaling["max_size"]
    problems = []
    if low < 0:
        problems.append(f"{where}: min_size {low} must be >= 0")
    if high < 1:
        problems.append(f"{where}: max_size {high} must be >= 1")
    if low > desired:
        problems.append(f"{where}: min_size {low} > desired_size {desired}")
    if desired > high:
        problems.append(f"{where}: desired_size {desired} > max_size {high}")
    if low > high:
        problems.append(f"{where}: min_size {low} > max_size {high}")
    return problems


def wanted_taints(taints):
    """Taints of the options in EKS's form: key, effect, value only when set."""
    result = []
    for taint in taints or []:
        entry = {"key": str(taint["key"]), "effect": taint_effect(taint.get("effect"))}
        if taint.get("value") not in (None, ""):
            entry["value"] = str(taint["value"])
        result.append(entry)
    return result


def _taint_index(taints):
    """{(key, effect): value or None}: EKS identifies a taint by its key and effect."""
    return {(t["key"], t.get("effect")): (t.get("value") or None) for t in taints or []}


def _taint(identity, value):
    taint = {"key": identity[0], "effect": identity[1]}
    if value is not None:
        taint["value"] = value
    return taint


def labels_change(current, wanted):
    """The ``labels`` of UpdateNodegroupConfig turning ``current`` into ``wanted``, or None if equal."""
    current = {str(k): str(v) for k, v in (current or {}).items()}
    wanted = {str(k): str(v) for k, v in (wanted or {}).items()}
    add = {key: value for key, value in sorted(wanted.items()) if current.get(key) != value}
    remove = sorted(key for key in current if key not in wanted)
    change = {}
    if add:
        change["addOrUpdateLabels"] = add
    if remove:
        change["removeLabels"] = remove
    return change or None


def taints_change(current, wanted):
    """The ``taints`` of UpdateNodegroupConfig turning ``current`` into ``wanted``, or None if equal."""
    have, want = _taint_index(current), _taint_index(wanted)
    add = [_taint(identity, value) for identity, value in want.items() if identity not in have or have[identity] != value]
    remove = [_taint(identity, value) for identity, value in have.items() if identity not in want]
    change = {}
    if add:
        change["addOrUpdateTaints"] = add
    if remove:
        change["removeTaints"] = remove
    return change or None


def scaling_change(current, wanted, enforce_desired_size=False):
    """(scalingConfig to send or None, drift or None) for a node group's scaling.

    ``current`` is describe_nodegroup's scalingConfig, ``wanted`` the options'
    ``scaling``. Unless ``enforce_desired_size``, a desired size that differs
    from the options but lies within the wanted [min_size, max_size] was set
    by the cluster autoscaler: it is kept (and reported as drift, a dict with
    ``desired_size`` and ``current_desired_size``). Outside that range, or
    when enforcing, the wanted desired size is set.
    """
    current = current or {}
    have = {"minSize": _int(current.get("minSize")), "maxSize": _int(current.get("maxSize")),
            "desiredSize": _int(current.get("desiredSize"))}
    low, desired, high = int(wanted["min_size"]), int(wanted["desired_size"]), int(wanted["max_size"])
    drift = None
    target_desired = desired
    current_desired = have["desiredSize"]
    if current_desired is not None and current_desired != desired:
        if not enforce_desired_size and low <= current_desired <= high:
            target_desired = current_desired
            drift = {"desired_size": desired, "current_desired_size": current_desired}
    target = {"minSize": low, "maxSize": high, "desiredSize": target_desired}
    return (None if target == have else target), drift


def update_config_target(update_config):
    """The updateConfig of the options (default: one node unavailable at a time)."""
    update_config = update_config or {}
    if update_config.get("max_unavailable_percentage") is not None:
        return {"maxUnavailablePercentage": int(update_config["max_unavailable_percentage"])}
    return {"maxUnavailable": int(update_config.get("max_unavailable") or 1)}


def update_config_change(current, update_config):
    """The updateConfig to send, or None when the node group already has it."""
    target = update_config_target(update_config)
    have = {key: _int(value) for key, value in (current or {}).items()
            if key in ("maxUnavailable", "maxUnavailablePercentage") and value is not None}
    return None if have == target else target


def immutable_changes(current, target):
    """[(option, current value, wanted value)] of what cannot change in place.

    ``target`` holds the resolved wanted values: instance_types, capacity_type,
    subnets (ids), ami_type, node_role (ARN), disk_size (None: not managed) and
    launch_template (id or, when not resolved yet, name; None: none).
    """
    have = {
        "instance_types": list(current.get("instanceTypes") or []),
        "capacity_type": current.get("capacityType") or "ON_DEMAND",
        "subnets": sorted(current.get("subnets") or []),
        "ami_type": current.get("amiType"),
        "node_role": current.get("nodeRole"),
        "disk_size": _int(current.get("diskSize")),
    }
    changes = []
    for field in ("instance_types", "capacity_type", "subnets", "ami_type", "node_role"):
        wanted = sorted(target[field]) if field == "subnets" else target[field]
        if wanted is not None and have[field] != wanted:
            changes.append((field, have[field], wanted))
    if target.get("disk_size") is not None and have["disk_size"] != target["disk_size"]:
        changes.append(("disk_size", have["disk_size"], target["disk_size"]))
    template = current.get("launchTemplate") or {}
    wanted_template = target.get("launch_template")
    if not template and wanted_template:
        changes.append(("launch_template", None, wanted_template))
    elif template and not wanted_template:
        changes.append(("launch_template", template.get("id") or template.get("name"), None))
    elif template and wanted_template not in (template.get("id"), template.get("name")):
        changes.append(("launch_template", template.get("id") or template.get("name"), wanted_template))
    return changes


def version_change(current, launch_template_version=None, release_version=None, version=None):
    """The parameters of UpdateNodegroupVersion (without names) or None when nothing changes.

    ``version`` (Kubernetes) different from the node group's is sent with ``release_version`` when given (EKS takes
    the latest AMI release of the new version otherwise).
    """
    params = {}
    if version is not None and current.get("version") != str(version):
        params["version"] = str(version)
    template = current.get("launchTemplate") or {}
    if launch_template_version is not None and template and str(template.get("version")) != str(launch_template_version):
        params["launchTemplate"] = {"id": template["id"], "version": str(launch_template_version)} if template.get(
            "id") else {"name": template["name"], "version": str(launch_template_version)}
    if release_version and current.get("releaseVersion") != release_version:
        params["releaseVersion"] = release_version
    return params or None


# The public SSM parameters naming the latest EKS optimized AMI release of a Kubernetes version, per AMI type
# (https://docs.aws.amazon.com/eks/latest/userguide/retrieve-ami-id.html and retrieve-ami-id-bottlerocket.html).
_EKS_AMI = "/aws/service/eks/optimized-ami/{version}/"
AMI_RELEASE_PARAMETERS = {
    "AL2023_x86_64_STANDARD": _EKS_AMI + "amazon-linux-2023/x86_64/standard/recommended/release_version",
    "AL2023_ARM_64_STANDARD": _EKS_AMI + "amazon-linux-2023/arm64/standard/recommended/release_version",
    "AL2023_x86_64_NVIDIA": _EKS_AMI + "amazon-linux-2023/x86_64/nvidia/recommended/release_version",
    "AL2023_ARM_64_NVIDIA": _EKS_AMI + "amazon-linux-2023/arm64/nvidia/recommended/release_version",
    "AL2023_x86_64_NEURON": _EKS_AMI + "amazon-linux-2023/x86_64/neuron/recommended/release_version",
    "AL2_x86_64": _EKS_AMI + "amazon-linux-2/recommended/release_version",
    "AL2_x86_64_GPU": _EKS_AMI + "amazon-linux-2-gpu/recommended/release_version",
    "AL2_ARM_64": _EKS_AMI + "amazon-linux-2-arm64/recommended/release_version",
    "BOTTLEROCKET_x86_64": "/aws/service/bottlerocket/aws-k8s-{version}/x86_64/latest/image_version",
    "BOTTLEROCKET_ARM_64": "/aws/service/bottlerocket/aws-k8s-{version}/arm64/latest/image_version",
    "BOTTLEROCKET_x86_64_NVIDIA": "/aws/service/bottlerocket/aws-k8s-{version}-nvidia/x86_64/latest/image_version",
    "BOTTLEROCKET_ARM_64_NVIDIA": "/aws/service/bottlerocket/aws-k8s-{version}-nvidia/arm64/latest/image_version",
}


def ami_release_parameter(ami_type, version):
    """The SSM parameter holding the latest AMI release of ``ami_type`` for Kubernetes ``version``, or None."""
    template = AMI_RELEASE_PARAMETERS.get(ami_type)
    return template.format(version=version) if template else None


def nodegroup_view(nodegroup):
    """The settings of a describe_nodegroup result that the module compares, returns and shows in a diff."""
    if not nodegroup:
        return {}
    scaling = nodegroup.get("scalingConfig") or {}
    template = nodegroup.get("launchTemplate") or None
    update = nodegroup.get("updateConfig") or {}
    return {
        "name": nodegroup.get("nodegroupName"),
        "arn": nodegroup.get("nodegroupArn"),
        "status": nodegroup.get("status"),
        "capacity_type": nodegroup.get("capacityType"),
        "instance_types": list(nodegroup.get("instanceTypes") or []),
        "ami_type": nodegroup.get("amiType"),
        "node_role": nodegroup.get("nodeRole"),
        "subnets": sorted(nodegroup.get("subnets") or []),
        "scaling": {"min_size": _int(scaling.get("minSize")), "desired_size": _int(scaling.get("desiredSize")),
                    "max_size": _int(scaling.get("maxSize"))},
        "labels": dict(nodegroup.get("labels") or {}),
        "taints": sorted((_taint((t["key"], t.get("effect")), t.get("value") or None)
                          for t in nodegroup.get("taints") or []), key=lambda t: (t["key"], t["effect"])),
        "update_config": {
            "max_unavailable": _int(update.get("maxUnavailable")),
            "max_unavailable_percentage": _int(update.get("maxUnavailablePercentage")),
        },
        "launch_template": ({"id": template.get("id"), "name": template.get("name"),
                             "version": None if template.get("version") is None else str(template.get("version"))}
                            if template else None),
        "disk_size": _int(nodegroup.get("diskSize")),
        "release_version": nodegroup.get("releaseVersion"),
        "version": nodegroup.get("version"),
        "health_issues": [f"{i.get('code')}: {i.get('message')}" for i in (nodegroup.get("health") or {}).get(
            "issues") or []],
        "tags": dict(nodegroup.get("tags") or {}),
    }


def failure_reason(nodegroup):
    """Why a node group is failed (status and health issues), or None."""
    status = nodegroup.get("status")
    if status not in FAILED_STATUSES:
        return None
    issues = "; ".join(
        f"{issue.get('code')}: {issue.get('message')}"
        + (f" ({', '.join(issue.get('resourceIds') or [])})" if issue.get("resourceIds") else "")
        for issue in (nodegroup.get("health") or {}).get("issues") or []
    )
    return f"status {status}" + (f", health issues: {issues}" if issues else ", no health issues reported")


# --------------------------------------------------------------------------- lookups


def resolve_subnets_in_vpc(ec2, references_by_path, vpc_id):
    """{reference: subnet id} for subnet ids or Name tags of ``vpc_id``, in one describe call.

    ``references_by_path`` maps an option path to its references; unresolved
    ones raise an error naming each path and reference.
    """
    subnets = paginate(ec2, "describe_subnets", "Subnets", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    ids = {s["SubnetId"]: s["SubnetId"] for s in subnets}
    named = {}
    for subnet in subnets:
        named.setdefault(name_of(subnet), []).append(subnet["SubnetId"])
    resolved, problems = {}, []
    for path, references in references_by_path.items():
        for reference in references:
            if reference in ids:
                resolved[reference] = reference
            elif len(named.get(reference, [])) == 1:
                resolved[reference] = named[reference][0]
            elif named.get(reference):
                problems.append(f"{path}: the Name tag {reference!r} matches several subnets of {vpc_id}; give ids")
            else:
                problems.append(f"{path}: no subnet {reference!r} (id or Name tag) in the cluster's VPC {vpc_id}")
    if problems:
        raise AnsibleAWSError(message="; ".join(problems))
    return resolved


def find_launch_templates(ec2, names=(), ids=()):
    """Launch templates by name and id: ({name: template}, {id: template}); missing ones are left out."""
    found = []
    names, ids = sorted(set(names)), sorted(set(ids))
    if names:
        found += paginate(ec2, "describe_launch_templates", "LaunchTemplates",
                          Filters=[{"Name": "launch-template-name", "Values": names}])
    if ids:
        try:
            found += paginate(ec2, "describe_launch_templates", "LaunchTemplates", LaunchTemplateIds=ids)
        except is_boto3_error_code(("InvalidLaunchTemplateId.NotFound", "InvalidLaunchTemplateId.Malformed")):
            for template_id in ids:
                try:
                    found += paginate(ec2, "describe_launch_templates", "LaunchTemplates", LaunchTemplateIds=[template_id])
                except is_boto3_error_code(("InvalidLaunchTemplateId.NotFound", "InvalidLaunchTemplateId.Malformed")):
                    pass
    by_name = {t["LaunchTemplateName"]: t for t in found}
    by_id = {t["LaunchTemplateId"]: t for t in found}
    return by_name, by_id


def describe_nodegroup(eks, cluster_name, name):
    """A node group as describe_nodegroup returns it, or None if there is none."""
    try:
        return eks.describe_nodegroup(aws_retry=True, clusterName=cluster_name, nodegroupName=name)["nodegroup"]
    except is_boto3_error_code("ResourceNotFoundException"):
        return None
