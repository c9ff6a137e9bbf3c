# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sweep of llmhub.eks.eks_leftovers: find every AWS resource that belongs to a cluster, delete it in
dependency order, and say what remains and why.

A resource belongs to the cluster when one of the tags in ``cluster_tags`` marks it (ours, EKS's, the AWS Load
Balancer Controller's, the EBS CSI driver's, the VPC CNI's), when it lies inside a VPC that belongs to the cluster,
or when it is a log group under one of the cluster's log group names. ``kubernetes.io/cluster/<name>=shared`` does
not make a resource the cluster's (a shared subnet belongs to someone else).

One enumerator per resource type returns records ``{"type", "id", "name", "marked_by", "raw"}``; the enumerators of
a round run concurrently. Deletions run in phases (a phase's deletions concurrently, then its waits), each error
kept against its resource instead of stopping the sweep. Pure helpers (tags, records, the plan) need no boto3.
"""

from __future__ import annotations

import datetime

# (resource type, the name the report uses); the order is the report's
RESOURCE_TYPES = (
    "eks_clusters", "autoscaling_groups", "instances", "load_balancers", "target_groups", "certificates", "vpc_endpoints",
    "nat_gateways", "elastic_ips", "network_interfaces", "security_groups", "launch_templates", "volumes",
    "snapshots", "dlm_policies", "internet_gateways", "route_tables", "subnets", "network_acls", "vpcs",
    "log_groups", "lambda_functions", "secrets", "iam_policies", "instance_profiles", "oidc_providers", "iam_roles",
    "kms_keys",
)
# Deletion order: a phase starts when the one before it is done (and waited for).
PHASES = (
    ("eks_clusters", "autoscaling_groups"),
    ("instances", "load_balancers", "vpc_endpoints", "nat_gateways"),
    # an ACM certificate is deletable once no load balancer's listener uses it
    ("target_groups", "certificates", "elastic_ips", "launch_templates", "volumes", "snapshots", "dlm_policies"),
    ("network_interfaces",),
    ("security_groups", "internet_gateways", "route_tables"),
    ("subnets",),
    ("network_acls", "vpcs"),
    ("log_groups", "lambda_functions", "secrets", "iam_policies", "instance_profiles", "oidc_providers", "kms_keys"),
    ("iam_roles",),
)
# Types whose state the earlier phases change: read again before their phase.
READ_AGAIN = ("elastic_ips", "network_interfaces", "security_groups", "route_tables", "subnets", "network_acls",
              "internet_gateways", "volumes", "target_groups")
BACKUP_ID_TAG = "llmhub.io/backup-id"
DLM_POLICY_TAG = "aws:dlm:lifecycle-policy-id"
CSI_TAG = "ebs.csi.aws.com/cluster"
# The Resource Groups Tagging API's ARNs of the types the enumerators cover ("service:type" prefixes).
HANDLED_ARN_TYPES = (
    "ec2:vpc/", "ec2:subnet/", "ec2:security-group/", "ec2:network-interface/", "ec2:elastic-ip/",
    "ec2:natgateway/", "ec2:internet-gateway/", "ec2:route-table/", "ec2:network-acl/", "ec2:vpc-endpoint/",
    "ec2:launch-template/", "ec2:volume/", "ec2:snapshot/", "ec2:instance/", "ec2:flow-logs/", "ec2:vpc-flow-log/",
    "elasticloadbalancing:loadbalancer/", "elasticloadbalancing:targetgroup/", "logs:log-group:", "kms:key/",
    "eks:", "autoscaling:", "iam:role/", "iam:policy/", "iam:instance-profile/", "iam:oidc-provider/",
    "dlm:policy/", "lambda:function:", "secretsmanager:secret:", "acm:certificate/",
)


def cluster_tags(cluster):
    """(key, value) pairs that mark a resource as the cluster's."""
    return (
        ("llmhub.io/cluster", cluster),  # every resource this collection makes
        (f"kubernetes.io/cluster/{cluster}", "owned"),  # EKS, the EBS CSI driver, Kubernetes cloud providers
        ("elbv2.k8s.aws/cluster", cluster),  # the AWS Load Balancer Controller
        ("KubernetesCluster", cluster),  # the EBS CSI driver and the legacy cloud provider
        ("eks:cluster-name", cluster),  # resources EKS makes (node group launch templates, cluster ENIs)
        ("aws:eks:cluster-name", cluster),  # EKS's cluster security group, managed node groups' instances
        ("cluster.k8s.amazonaws.com/name", cluster),  # network interfaces of the VPC CNI
    )


def marked_by(tags, cluster):
    """The ``key=value`` tag that makes ``tags``' resource the cluster's, or None."""
    for key, value in cluster_tags(cluster):
        if (tags or {}).get(key) == value:
            return f"{key}={value}"
    return None


def tag_dict(tag_list, key="Key", value="Value"):
    return {t[key]: t.get(value, "") for t in tag_list or []}


def record(resource_type, resource_id, name=None, marked=None, raw=None, **extra):
    found = {"type": resource_type, "id": resource_id, "name": name, "marked_by": marked, "raw": raw or {}}
    found.update(extra)
    return found


def public(found, **extra):
    """A record as the module returns it (without the raw description)."""
    view = {"type": found["type"], "id": found["id"], "name": found["name"]}
    view.update(extra)
    return view


def label(found):
    name = f" ({found['name']})" if found.get("name") and found["name"] != found["id"] else ""
    return f"{found['type']} {found['id']}{name}"


def keep_reason(found, delete_snapshots, kept_roles, delete_claim_volumes=False):
    """Why the sweep leaves this resource on purpose, or None when it goes."""
    kind = found["type"]
    if kind == "volumes" and not delete_claim_volumes and tag_dict(found["raw"].get("Tags")).get(CSI_TAG) == "true":
        return ("made by the EBS CSI driver for a claim (volumes of Retain classes such as gp3-retain outlive the "
                "cluster on purpose): kept unless destroy_volumes=true")
    if kind == "snapshots":
        backup_id = tag_dict(found["raw"].get("Tags")).get(BACKUP_ID_TAG)
        if backup_id:
            return (f"part of backup set {backup_id}: removed with its set (backup.yml -e backup_action=prune), "
                    "never by a destroy")
        if not delete_snapshots:
            made = "made by Data Lifecycle Manager" if DLM_POLICY_TAG in tag_dict(found["raw"].get("Tags")) else "a snapshot"
            return f"{made}, a backup: kept unless destroy_snapshots=true"
    if kind == "dlm_policies" and not delete_snapshots:
        return "the backup schedule of the cluster's volumes, kept with its snapshots unless destroy_snapshots=true"
    if kind == "iam_roles" and found["raw"].get("Arn") in kept_roles:
        return "the execution role of a Data Lifecycle Manager policy that is kept"
    if kind == "secrets" and found["raw"].get("DeletedDate"):
        return ("deletion scheduled: restorable until its recovery window ends (a site.yml run with the secret declared "
                "restores it)")
    if kind == "kms_keys" and found["raw"].get("KeyState") in ("PendingDeletion", "PendingReplicaDeletion"):
        when = found["raw"].get("DeletionDate")
        if isinstance(when, datetime.datetime):
            when = when.strftime("%Y-%m-%d %H:%M UTC")
        return f"deletion scheduled{' for ' + str(when) if when else ''} (a site.yml run before then cancels it)"
    return None


def unhandled_arn(arn):
    """Whether a Resource Groups Tagging API ARN is of a type no enumerator covers."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return True
    service, resource = parts[2], parts[5]
    return not any(f"{service}:{resource}".startswith(prefix) for prefix in HANDLED_ARN_TYPES)
