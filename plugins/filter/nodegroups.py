# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning of the ``nodegroups`` role: one definition list -> launch templates + node groups.

Validates every definition before any AWS call (errors name the field, e.g.
``nodegroups_definitions[2].scaling``) and produces the inputs of the
``ec2_launch_templates`` and ``eks_nodegroups`` modules.
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.llmhub.eks.plugins.module_utils.plan import is_known
from ansible_collections.llmhub.eks.plugins.plugin_utils import validation

CAPACITY_TYPES = ("ON_DEMAND", "SPOT", "CAPACITY_BLOCK")
# Kubernetes spelling -> EKS API spelling of taint effects.
TAINT_EFFECTS = {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE", "PreferNoSchedule": "PREFER_NO_SCHEDULE",
                 "NO_SCHEDULE": "NO_SCHEDULE", "NO_EXECUTE": "NO_EXECUTE", "PREFER_NO_SCHEDULE": "PREFER_NO_SCHEDULE"}
# Smallest root volume each AMI family boots from, in GiB.
AMI_MIN_DISK_GB = {"AL2023": 20, "AL2": 20, "BOTTLEROCKET": 2, "WINDOWS": 50}
VOLUME_TYPES = ("gp3", "gp2", "io1", "io2")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
DEFINITION_KEYS = ("name", "instance_types", "capacity_type", "scaling", "disk", "labels", "taints", "ami_type",
                   "release_version", "update_config", "tags")
SCALING_KEYS = ("min_size", "desired_size", "max_size")
DISK_KEYS = ("size_gb", "type", "iops", "throughput")
TAINT_KEYS = ("key", "value", "effect")
UPDATE_CONFIG_KEYS = ("max_unavailable", "max_unavailable_percentage")
KUBERNETES_MINOR = re.compile(r"^[1-9][0-9]*\.[0-9]+$")


def _fail(where, message):
    raise AnsibleFilterError(f"{where}: {message}")


def _min_disk(ami_type):
    for family, size in AMI_MIN_DISK_GB.items():
        if ami_type.startswith(family + "_") or ami_type == family:
            return size
    return 20


def _int(where, value):
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            return int(str(value))
        except ValueError:
            _fail(where, f"{value!r} is not a whole number")
    return value


def _scaling(where, scaling):
    if not isinstance(scaling, dict):
        _fail(where, "needs min_size, desired_size and max_size")
    validation.check_keys(where, scaling, SCALING_KEYS)
    sizes = {key: _int(f"{where}.{key}", scaling.get(key)) for key in SCALING_KEYS}
    if sizes["min_size"] < 0 or sizes["max_size"] < 1:
        _fail(where, f"min_size must be >= 0 and max_size >= 1, got {sizes}")
    if sizes["max_size"] > validation.MAX_NODES_PER_NODEGROUP:
        _fail(f"{where}.max_size", f"{sizes['max_size']} is above the {validation.MAX_NODES_PER_NODEGROUP} nodes EKS"
                                   " allows in a managed node group (service quota); split the group")
    if not sizes["min_size"] <= sizes["desired_size"] <= sizes["max_size"]:
        _fail(where, "sizes must satisfy min_size <= desired_size <= max_size, got "
                     f"min_size {sizes['min_size']}, desired_size {sizes['desired_size']}, max_size {sizes['max_size']}")
    return sizes


def _disk(where, disk, ami_type):
    validation.check_keys(where, disk, DISK_KEYS)
    size = _int(f"{where}.size_gb", disk.get("size_gb"))
    minimum = _min_disk(ami_type)
    if size < minimum:
        _fail(f"{where}.size_gb", f"{size} GiB is below the {minimum} GiB the {ami_type} AMI needs")
    kind = disk.get("type", "gp3")
    if kind not in VOLUME_TYPES:
        _fail(f"{where}.type", f"{kind!r} must be one of {list(VOLUME_TYPES)}")
    volume = {"size_gb": size, "type": kind, "encrypted": True}
    if disk.get("iops") is not None:
        iops = _int(f"{where}.iops", disk["iops"])
        if kind == "gp3" and not (3000 <= iops <= 16000 and iops <= 500 * size):
            _fail(f"{where}.iops", f"gp3 takes 3000-16000 IOPS and at most 500 per GiB, got {iops} for {size} GiB")
        volume["iops"] = iops
    if disk.get("throughput") is not None:
        throughput = _int(f"{where}.throughput", disk["throughput"])
        if kind != "gp3" or not 125 <= throughput <= 1000:
            _fail(f"{where}.throughput", f"throughput (125-1000 MiB/s) is for gp3 volumes only, got {throughput} on {kind}")
        volume["throughput"] = throughput
    return volume


def _taints(where, taints):
    planned = []
    for index, taint in enumerate(taints or []):
        spot = f"{where}[{index}]"
        if not isinstance(taint, dict) or not taint.get("key"):
            _fail(spot, "needs a key, an optional value and an effect")
        validation.check_keys(spot, taint, TAINT_KEYS)
        effect = TAINT_EFFECTS.get(taint.get("effect"))
        if effect is None:
            _fail(f"{spot}.effect", f"{taint.get('effect')!r} must be NoSchedule, NoExecute or PreferNoSchedule")
        entry = {"key": taint["key"], "effect": effect}
        if taint.get("value") not in (None, ""):
            entry["value"] = str(taint["value"])
        planned.append(entry)
    return planned


def nodegroups_plan(settings):
    """Validate ``nodegroups_definitions`` and derive the module inputs."""
    cluster = validation.check_cluster_name("nodegroups_cluster_name", settings["nodegroups_cluster_name"])
    validation.check_iam_role_name("nodegroups_node_role_name", settings.get("nodegroups_node_role"))
    for variable in ("nodegroups_wait_timeout", "nodegroups_max_unavailable"):
        if variable in settings:
            validation.check_int(variable, settings[variable], minimum=1)
    definitions = settings.get("nodegroups_definitions") or []
    if not isinstance(definitions, list) or not definitions:
        _fail("nodegroups_definitions", "must list at least one node group")
    tags = dict(settings.get("nodegroups_tags") or {})
    tags["llmhub.io/cluster"] = cluster
    names = []
    templates, groups = [], []
    for index, group in enumerate(definitions):
        where = f"nodegroups_definitions[{index}]"
        validation.check_keys(where, group, DEFINITION_KEYS)
        name = group.get("name")
        if not name or not NAME.match(str(name)):
            _fail(f"{where}.name", f"{name!r} must be 1-63 letters, digits, - or _")
        if name in names:
            _fail(f"{where}.name", f"{name!r} is defined twice")
        names.append(name)
        capacity = group.get("capacity_type", "ON_DEMAND")
        if capacity not in CAPACITY_TYPES:
            _fail(f"{where}.capacity_type", f"{capacity!r} must be one of {list(CAPACITY_TYPES)}")
        instance_types = group.get("instance_types") or []
        if not isinstance(instance_types, list) or not instance_types:
            _fail(f"{where}.instance_types", "must list at least one instance type")
        for type_index, instance_type in enumerate(instance_types):
            validation.check_instance_type(f"{where}.instance_types[{type_index}]", instance_type)
        ami_type = group.get("ami_type") or settings.get("nodegroups_ami_type", "AL2023_x86_64_STANDARD")
        disk = _disk(f"{where}.disk", group.get("disk") or {"size_gb": 20}, ami_type)
        if settings.get("nodegroups_volume_kms_key"):
            disk["kms_key"] = settings["nodegroups_volume_kms_key"]
        labels = {str(k): str(v) for k, v in (group.get("labels") or {}).items()}
        template_name = f"{cluster}-{name}"
        group_tags = {**tags, "llmhub.io/nodegroup": name, **(group.get("tags") or {})}
        templates.append({
            "name": template_name,
            "ebs_optimized": True,
            "monitoring": True,
            "metadata": {"http_tokens": "required", "http_put_response_hop_limit": 2, "http_endpoint": "enabled"},
            "root_volume": {"device_name": "/dev/xvda", **disk},
            "security_groups": list(settings.get("nodegroups_security_groups") or []),
            "instance_tags": {**group_tags, "Name": f"{cluster}-{name}"},
            "tags": group_tags,
        })
        if group.get("update_config") is not None:
            validation.check_keys(f"{where}.update_config", group["update_config"], UPDATE_CONFIG_KEYS)
        update_config = group.get("update_config") or {"max_unavailable": settings.get("nodegroups_max_unavailable", 1)}
        groups.append({
            "name": name,
            "node_role": settings["nodegroups_node_role"],
            "capacity_type": capacity,
            "instance_types": [str(t) for t in instance_types],
            "ami_type": ami_type,
            "scaling": _scaling(f"{where}.scaling", group.get("scaling")),
            "labels": labels,
            "taints": _taints(f"{where}.taints", group.get("taints")),
            "update_config": update_config,
            "launch_template": {"name": template_name},
            "tags": {**group_tags, "k8s.io/cluster-autoscaler/enabled": "true",
                     f"k8s.io/cluster-autoscaler/{cluster}": "owned"},
            **({"release_version": group["release_version"]} if group.get("release_version") else {}),
        })
    recreate = recreate_names(settings.get("nodegroups_recreate"), names)
    only = recreate_names(settings.get("nodegroups_only"), names, variable="nodegroups_only")
    roll_version = settings.get("nodegroups_roll_version")
    if roll_version not in (None, "") and not KUBERNETES_MINOR.match(str(roll_version)):
        _fail("nodegroups_roll_version", f"{roll_version!r} must be a Kubernetes minor version such as '1.35' "
                                         "(or empty: each group keeps its version)")
    return {"launch_templates": templates, "nodegroups": groups, "recreate": recreate, "only": only}


def nodegroups_rolled(groups, only=None, version=None):
    """The placed groups an AMI refresh or an upgrade rolls, one module call each, in order.

    ``only`` (names, empty: every group) selects them; each gets ``release_version: latest`` (the newest EKS optimized
    AMI of its type, read by eks_nodegroups from SSM) unless its definition pins a release, and ``version`` when given
    (the upgrade's target Kubernetes version; empty: the group keeps its own).
    """
    rolled = []
    for group in groups or []:
        if only and group["name"] not in only:
            continue
        spec = {**group, "release_version": group.get("release_version") or "latest"}
        if version not in (None, ""):
            spec["version"] = str(version)
        rolled.append(spec)
    return rolled


def recreate_names(value, names, variable="nodegroups_recreate"):
    """``nodegroups_recreate`` as a list of defined group names, in order, without repeats.

    Accepts a list, a single name or a comma-separated string (``-e nodegroups_recreate=system,application``);
    blanks around names are ignored, nothing (None, "", []) means no group. A name that is not in ``names`` fails,
    naming the variable, the closest defined name and all of them.
    """
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)):
        _fail(variable, f"{value!r} must be a node group name, a comma-separated string of names or a list of "
                        f"names, out of {names}")
    wanted = []
    for index, name in enumerate(value):
        if not isinstance(name, str):
            _fail(f"{variable}[{index}]", f"{name!r} is not a node group name; the node groups are {names}")
        name = name.strip()
        if name and name not in wanted:
            wanted.append(name)
    for name in wanted:
        if name not in names:
            guess = validation.closest(name, names)
            hint = f"did you mean {guess!r}? " if guess else ""
            _fail(variable, f"{name!r} is not a node group of nodegroups_definitions; {hint}the node groups are "
                            f"{names}")
    return wanted


def nodegroups_placed(groups, subnets, templates_by_name=None):
    """The planned groups in ``subnets``, each pinned to the launch template version ec2_launch_templates reports.

    A template that check mode plans (version ``(known after apply)``) is named without a version: eks_nodegroups
    plans the group with it as the template that an earlier task would create.
    """
    placed = []
    for group in groups:
        template = (templates_by_name or {}).get(group["launch_template"]["name"]) or {}
        launch_template = dict(group["launch_template"])
        if is_known(template.get("version")):
            launch_template["version"] = str(template["version"])
        placed.append({**group, "subnets": list(subnets or []), "launch_template": launch_template})
    return placed


class FilterModule:
    """Node group planning filters."""

    def filters(self):
        return {
            "nodegroups_plan": nodegroups_plan,
            "nodegroups_placed": nodegroups_placed,
            "nodegroups_rolled": nodegroups_rolled,
        }
