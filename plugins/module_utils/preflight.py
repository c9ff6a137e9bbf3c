# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the preflight's environment check decides, apart from the AWS calls (module eks_preflight_info).

Standard library only, so that unit tests exercise the decisions without an
endpoint: which instance types count against the on-demand Standard vCPU
quota, which (type, AZ) pairs a node group lacks, what a deploy would add to
each quota, and the messages that name the variable or the quota to change.
"""

from __future__ import annotations

import re

# The quotas that stop an EKS deploy, with the values AWS documents as defaults for a new account
# (used only when Service Quotas answers neither the applied nor the AWS default value).
QUOTAS = {
    "vpcs": {"service_code": "vpc", "quota_code": "L-F678F1CE", "name": "VPCs per Region", "default": 5},
    "elastic_ips": {"service_code": "ec2", "quota_code": "L-0263D0A3", "name": "EC2-VPC Elastic IPs", "default": 5},
    "nat_gateways_per_az": {"service_code": "vpc", "quota_code": "L-FE5A380F",
                            "name": "NAT gateways per Availability Zone", "default": 5},
    "on_demand_standard_vcpus": {"service_code": "ec2", "quota_code": "L-1216C47A",
                                 "name": "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
                                 "default": 5},
}

# Families whose letters start like a standard one but have their own vCPU quota.
_OWN_QUOTA_FAMILIES = ("inf", "trn", "dl", "mac", "hpc", "u-")
_FAMILY = re.compile(r"^([a-z]+)\d")

CHECKS = ("credentials", "region", "availability_zones", "kubernetes_version", "instance_types", "quotas")

DEFAULT_VARIABLES = {
    "region": "llmhub_aws_region",
    "kubernetes_version": "eks_version",
    "availability_zones": "vpc_azs",
    "node_groups": "nodegroups_definitions",
}


def is_standard_family(instance_type):
    """Whether ``instance_type`` counts against the Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) quota."""
    text = str(instance_type).lower()
    if text.startswith(_OWN_QUOTA_FAMILIES):
        return False
    match = _FAMILY.match(text)
    return bool(match) and match.group(1)[0] in "acdhimrtz"


def offering_gaps(groups, azs, offered, variable="nodegroups_definitions"):
    """Messages for every node group instance type not offered in one of ``azs``.

    ``offered`` is a set of ``(instance_type, az)``; ``groups`` are node group definitions (name, instance_types).
    """
    problems = []
    for index, group in enumerate(groups):
        for instance_type in group.get("instance_types") or []:
            missing = [az for az in azs if (instance_type, az) not in offered]
            if not missing:
                continue
            where = f"{variable}[{index}].instance_types"
            if len(missing) == len(azs):
                problems.append(f"{where}: node group {group.get('name')!r}: {instance_type} is offered in none of "
                                f"the availability zones {list(azs)} (EC2 DescribeInstanceTypeOfferings): choose an "
                                "instance type this region offers")
            else:
                offered_in = [az for az in azs if az not in missing]
                problems.append(f"{where}: node group {group.get('name')!r}: {instance_type} is not offered in "
                                f"{missing} (offered in {offered_in}); EKS refuses a node group whose subnets are in "
                                f"such a zone: choose another instance type or other zones (vpc_azs)")
    return problems


def on_demand_vcpus(groups, vcpus):
    """The vCPUs the on-demand node groups reach at their max sizes, counted against the Standard quota.

    Returns ``(total, counted, unchecked)``: ``counted`` lists ``{name, max_size, vcpus, instance_type}`` per group
    (the largest of its types); ``unchecked`` names groups whose types count against another quota or are unknown.
    """
    total, counted, unchecked = 0, [], []
    for group in groups:
        if str(group.get("capacity_type") or "ON_DEMAND") != "ON_DEMAND":
            continue
        types = [str(t) for t in group.get("instance_types") or []]
        max_size = int(((group.get("scaling") or {}).get("max_size")) or 0)
        if not types or not all(is_standard_family(t) for t in types) or not all(t in vcpus for t in types):
            unchecked.append(group.get("name"))
            continue
        largest = max(types, key=lambda t: vcpus[t])
        total += max_size * vcpus[largest]
        counted.append({"name": group.get("name"), "max_size": max_size, "instance_type": largest,
                        "vcpus": max_size * vcpus[largest]})
    return total, counted, unchecked


def quota_problem(quota, region, need, usage, scope="", remedy=""):
    """The message of a quota the deploy would exceed, or None when ``usage + need`` fits."""
    limit = quota["limit"]
    if need <= 0 or usage + need <= limit:
        return None
    where = f" in {scope}" if scope else ""
    return (f"quota {quota['quota_code']} {quota['name']!r} ({quota['service_code']}){where} of {region}: this deploy "
            f"adds {_number(need)}, {_number(usage)} in use, limit {_number(limit)} ({quota['source']}). "
            f"{remedy}Request an increase to at least {_number(usage + need)} in the Service Quotas console or with "
            f"`aws service-quotas request-service-quota-increase --region {region} --service-code "
            f"{quota['service_code']} --quota-code {quota['quota_code']} --desired-value {_number(usage + need)}`")


def _number(value):
    return int(value) if float(value).is_integer() else value


def version_key(version):
    try:
        return tuple(int(part) for part in str(version).split("."))
    except ValueError:
        return (0,)
