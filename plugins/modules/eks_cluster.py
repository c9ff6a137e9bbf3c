#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_cluster
short_description: An EKS cluster with secrets encryption, control plane logging and endpoint access, updated in place
version_added: 0.1.0
description:
  - Creates, updates in place and deletes one Amazon EKS cluster (the control plane), including what
    M(community.aws.eks_cluster) cannot set, namely KMS envelope encryption of secrets, control plane logging,
    private/public endpoint access with public CIDR restrictions and the authentication mode.
  - Subnets, security groups, the IAM role and the KMS key may be given by name (C(Name) tag, group name, role name,
    C(alias/...)); they are resolved to ids and ARNs with one describe call each.
  - On an existing cluster each difference is applied as its own EKS update, one after the other, because EKS runs
    one update at a time. In order, endpoint access, logging, authentication mode (one step at a time, only
    C(CONFIG_MAP) -> C(API_AND_CONFIG_MAP) -> C(API)), secrets encryption of a cluster without it, then the
    Kubernetes version (one minor version up). Each update is waited for (C(Successful), cluster C(ACTIVE)) before
    the next is started. Tags are changed with C(TagResource)/C(UntagResource).
  - What EKS cannot change, or this module does not change, is refused with a message before anything is modified,
    namely subnets, security groups, the cluster IAM role, removing or replacing the encryption key, the service CIDR,
    a Kubernetes downgrade or a jump of more than one minor version, a move back to an earlier authentication
    mode.
  - Input errors (version format, CIDRs, log types, service CIDR range) fail before any AWS call.
  - In check mode nothing is changed; with C(--diff) the settings before and after are shown. When the cluster does
    not exist yet, references that cannot be resolved in check mode (subnets or a role created by an earlier task
    that did not run) are shown as given, with a warning.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  name:
    description: Name of the cluster (1-100 letters, digits, hyphens and underscores, starting with a letter or digit).
    type: str
    required: true
  version:
    description:
      - Kubernetes minor version, as a string (C("1.35"), not C(1.35)). C(1.32) to C(1.35), the versions EKS offers (checked 2026-12-02).
      - On an existing cluster a version one minor above the current one is an in-place upgrade; anything else than
        the current version or the next minor fails.
    type: str
    default: "1.35"
  role:
    description:
      - Cluster IAM role (trusting C(eks.amazonaws.com), with C(AmazonEKSClusterPolicy)), by name or ARN.
      - Required to create the cluster. Cannot be changed afterwards.
    type: str
  subnets:
    description:
      - Subnets of the cluster's network interfaces, by id or C(Name) tag, in one VPC and at least two availability
        zones.
      - Required to create the cluster. Cannot be changed afterwards by this module; when omitted on an existing
        cluster its subnets are kept.
    type: list
    elements: str
  security_groups:
    description:
      - Additional security groups of the control plane network interfaces, by id, group name or C(Name) tag, in the
        subnets' VPC. EKS always adds its own cluster security group (returned as RV(cluster_security_group_id)).
      - Cannot be changed after creation by this module.
    type: list
    elements: str
    default: []
  endpoint_private_access:
    description: Whether the Kubernetes API is reachable from inside the VPC.
    type: bool
    default: true
  endpoint_public_access:
    description: Whether the Kubernetes API is reachable from the internet (from O(public_access_cidrs)).
    type: bool
    default: true
  public_access_cidrs:
    description:
      - CIDR blocks allowed to reach the public endpoint. Must not be empty while O(endpoint_public_access=true).
      - Ignored when O(endpoint_public_access=false).
    type: list
    elements: str
    default: ["0.0.0.0/0"]
  encryption_key:
    description:
      - KMS key encrypting Kubernetes secrets (envelope encryption), by key ARN, key id, C(alias/NAME) or alias ARN;
        stored on the cluster as the key ARN.
      - Can be added to an existing cluster without encryption; cannot be removed or replaced once set.
    type: str
  logging:
    description: Control plane log types sent to CloudWatch Logs; the others are disabled. V([]) disables them all.
    type: list
    elements: str
    choices: [api, audit, authenticator, controllerManager, scheduler]
    default: [api, audit, authenticator, controllerManager, scheduler]
  authentication_mode:
    description:
      - How IAM principals are mapped to Kubernetes identities, with access entries (V(API)), the C(aws-auth)
        ConfigMap (V(CONFIG_MAP)) or both.
      - An existing cluster can only move C(CONFIG_MAP) -> C(API_AND_CONFIG_MAP) -> C(API).
    type: str
    choices: [API, API_AND_CONFIG_MAP, CONFIG_MAP]
    default: API_AND_CONFIG_MAP
  bootstrap_cluster_creator_admin_permissions:
    description: Whether the identity creating the cluster gets a cluster-admin access entry. Only used on creation.
    type: bool
    default: true
  service_ipv4_cidr:
    description:
      - CIDR of Kubernetes service IP addresses, a /12 to /24 block in 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16
        that does not overlap the VPC. EKS picks one when omitted. Cannot be changed after creation.
    type: str
  tag_cluster_security_group:
    description:
      - Also put O(tags) on the cluster security group EKS creates for the cluster (C(eks-cluster-sg-*)), which EKS
        tags with its own tags only, as terraform-aws-modules/eks's C(create_cluster_primary_security_group_tags)
        does; so that cost allocation tags cover it too.
      - Tags are only added or updated there, never removed (EKS's own tags stay).
    type: bool
    default: true
  wait:
    description:
      - Wait until the cluster is C(ACTIVE) after a create or the last update, or gone after a delete.
      - Updates before the last one are always waited for, as EKS runs one update at a time.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for a create, each update, or the delete.
    type: int
    default: 1800
  state:
    description:
      - V(present) creates or updates the cluster.
      - V(absent) deletes it; it fails, naming them, while node groups or Fargate profiles remain.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
notes:
  - EKS takes 10 to 15 minutes to create a cluster and up to 10 minutes per update.
  - M(community.aws.eks_cluster) manages the same resource without encryption, logging, endpoint access or in-place
    updates; do not manage one cluster with both.
"""

EXAMPLES = r"""
# The names are those the iam and vpc roles create for the cluster llm-analytics-hub-prod-eks.
- name: The production control plane
  llmhub.eks.eks_cluster:
    name: llm-analytics-hub-prod-eks
    version: "1.35"
    role: llm-analytics-hub-prod-eks-cluster-role
    subnets:
      - llm-analytics-hub-prod-eks-private-us-east-1a
      - llm-analytics-hub-prod-eks-private-us-east-1b
      - llm-analytics-hub-prod-eks-private-us-east-1c
    security_groups: [llm-analytics-hub-prod-eks-cluster]
    endpoint_private_access: true
    endpoint_public_access: true
    public_access_cidrs: [203.0.113.0/24]
    encryption_key: alias/llm-analytics-hub-prod-eks
    logging: [api, audit, authenticator, controllerManager, scheduler]
    authentication_mode: API_AND_CONFIG_MAP
    tags:
      Project: llm-analytics-hub
      Environment: prod
      llmhub.io/cluster: llm-analytics-hub-prod-eks
  register: eks_cluster_result

- name: Upgrade the control plane by one minor version
  llmhub.eks.eks_cluster:
    name: llm-analytics-hub-prod-eks
    version: "1.32"
    encryption_key: alias/llm-analytics-hub-prod-eks
    public_access_cidrs: [203.0.113.0/24]
    security_groups: [llm-analytics-hub-prod-eks-cluster]

- name: Delete it (node groups and Fargate profiles first)
  llmhub.eks.eks_cluster:
    name: llm-analytics-hub-prod-eks
    state: absent
"""

RETURN = r"""
cluster:
  description:
    - The cluster as C(DescribeCluster) returns it, with snake_case keys (tag keys are kept as they are).
    - Empty after O(state=absent), and in check mode when the cluster would be created.
  returned: always
  type: dict
  contains:
    name:
      description: Cluster name.
      type: str
    arn:
      description: Cluster ARN.
      type: str
      sample: arn:aws:eks:us-east-1:123456789012:cluster/llm-analytics-hub-prod-eks
    version:
      description: Kubernetes version.
      type: str
      sample: "1.35"
    platform_version:
      description: EKS platform version.
      type: str
      sample: eks.26
    status:
      description: C(CREATING), C(ACTIVE), C(UPDATING), C(DELETING) or C(FAILED).
      type: str
    role_arn:
      description: Cluster IAM role.
      type: str
    resources_vpc_config:
      description: Subnets, security groups, cluster security group, VPC and endpoint access.
      type: dict
    kubernetes_network_config:
      description: Service CIDR and IP family.
      type: dict
    logging:
      description: Control plane logging, as C(cluster_logging) groups of types with C(enabled).
      type: dict
    encryption_config:
      description: Secrets encryption (C(resources) and C(provider.key_arn)).
      type: list
      elements: dict
    access_config:
      description: Authentication mode and creator admin permissions.
      type: dict
    tags:
      description: Tags of the cluster.
      type: dict
arn:
  description:
    - Cluster ARN.
    - In check mode, when the cluster would be created, this and the other values AWS assigns (RV(endpoint),
      RV(certificate_authority_data), RV(oidc_issuer), RV(cluster_security_group_id), RV(status)) are V((known after apply\)).
  returned: when O(state=present)
  type: str
  sample: arn:aws:eks:us-east-1:123456789012:cluster/llm-analytics-hub-prod-eks
endpoint:
  description: Kubernetes API endpoint (null while the cluster is being created; V((known after apply\)) in check mode when
    it would be created).
  returned: when O(state=present)
  type: str
  sample: https://0123456789ABCDEF0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com
certificate_authority_data:
  description: Base64 encoded certificate authority of the API endpoint, for kubeconfig.
  returned: when O(state=present)
  type: str
oidc_issuer:
  description: OpenID Connect issuer URL of the cluster, for an IAM OIDC provider (IRSA).
  returned: when O(state=present)
  type: str
  sample: https://oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF
cluster_security_group_id:
  description: Security group EKS created for the control plane and managed nodes.
  returned: when O(state=present)
  type: str
  sample: sg-0123456789abcdef0
status:
  description: Cluster status after the call.
  returned: when O(state=present)
  type: str
  sample: ACTIVE
version:
  description: Kubernetes version after the call.
  returned: when O(state=present)
  type: str
  sample: "1.35"
updates:
  description: EKS updates started by the call, in order (in check mode, those that would be, with the id and
    status V((known after apply\))).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Update id (C(DescribeUpdate)).
      type: str
    type:
      description: C(EndpointAccessUpdate), C(LoggingUpdate), C(AccessConfigUpdate), C(AssociateEncryptionConfig)
        or C(VersionUpdate).
      type: str
    status:
      description: Update status when the call returned.
      type: str
  sample: [{"id": "0a1b2c3d-...", "type": "LoggingUpdate", "status": "Successful"}]
"""

import ipaddress
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.llmhub.eks.plugins.module_utils.common import KNOWN_AFTER_APPLY
from ansible_collections.llmhub.eks.plugins.module_utils.common import fill_unknown
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import ec2_client
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import reconcile_tags
from ansible_collections.llmhub.eks.plugins.module_utils.ec2 import tags_of
from ansible_collections.llmhub.eks.plugins.module_utils.eks import CLUSTER_NAME_PATTERN
from ansible_collections.llmhub.eks.plugins.module_utils.eks import LOG_TYPES
from ansible_collections.llmhub.eks.plugins.module_utils.eks import UnresolvedReferences
from ansible_collections.llmhub.eks.plugins.module_utils.eks import authentication_mode_steps
from ansible_collections.llmhub.eks.plugins.module_utils.eks import cluster_view
from ansible_collections.llmhub.eks.plugins.module_utils.eks import describe_cluster
from ansible_collections.llmhub.eks.plugins.module_utils.eks import eks_client
from ansible_collections.llmhub.eks.plugins.module_utils.eks import logging_config
from ansible_collections.llmhub.eks.plugins.module_utils.eks import resolve_kms_key_arn
from ansible_collections.llmhub.eks.plugins.module_utils.eks import resolve_role_arn
from ansible_collections.llmhub.eks.plugins.module_utils.eks import resolve_security_groups
from ansible_collections.llmhub.eks.plugins.module_utils.eks import resolve_subnets
from ansible_collections.llmhub.eks.plugins.module_utils.eks import upgrade_error
from ansible_collections.llmhub.eks.plugins.module_utils.eks import version_error
from ansible_collections.llmhub.eks.plugins.module_utils.eks import wait_for_cluster_deleted
from ansible_collections.llmhub.eks.plugins.module_utils.eks import wait_for_cluster_status
from ansible_collections.llmhub.eks.plugins.module_utils.eks import wait_for_update

DIFF_KEYS = (
    "version", "role_arn", "subnet_ids", "security_group_ids", "endpoint_private_access", "endpoint_public_access",
    "public_access_cidrs", "encryption_key_arn", "logging", "authentication_mode", "tags",
)
SERVICE_CIDR_RANGES = tuple(ipaddress.ip_network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


# -- input checks (no AWS call) ----------------------------------------------------------

def cidr_error(cidr):
    try:
        ipaddress.ip_network(str(cidr), strict=True)
    except ValueError as e:
        return f"{cidr!r} ({e})"
    return None


def service_cidr_error(cidr):
    try:
        network = ipaddress.IPv4Network(str(cidr), strict=True)
    except ValueError as e:
        return f"service_ipv4_cidr: {cidr!r} is not an IPv4 CIDR block ({e})"
    if not 12 <= network.prefixlen <= 24 or not any(network.subnet_of(r) for r in SERVICE_CIDR_RANGES):
        return (f"service_ipv4_cidr: {cidr} must be a /12 to /24 block inside 10.0.0.0/8, 172.16.0.0/12 or"
                " 192.168.0.0/16 (e.g. 172.20.0.0/16)")
    return None


def input_errors(params):
    """Everything wrong with the parameters that needs no AWS call to know, as messages naming the option."""
    errors = []
    if not CLUSTER_NAME_PATTERN.match(params["name"] or ""):
        errors.append(f"name: {params['name']!r} is not a valid cluster name (1-100 letters, digits, '-' and '_',"
                      " starting with a letter or digit)")
    if params["state"] == "absent":
        return errors
    error = version_error(params["version"])
    if error:
        errors.append(error)
    if not params["endpoint_private_access"] and not params["endpoint_public_access"]:
        errors.append("endpoint_private_access, endpoint_public_access: at least one endpoint must be enabled")
    if params["endpoint_public_access"]:
        cidrs = params["public_access_cidrs"] or []
        if not cidrs:
            errors.append("public_access_cidrs: must list at least one CIDR while endpoint_public_access is true"
                          " (use 0.0.0.0/0 for everyone, or disable the public endpoint)")
        bad = [message for message in (cidr_error(c) for c in cidrs) if message]
        if bad:
            errors.append(f"public_access_cidrs: not valid CIDR blocks: {'; '.join(bad)}")
    if params["service_ipv4_cidr"]:
        error = service_cidr_error(params["service_ipv4_cidr"])
        if error:
            errors.append(error)
    if params["wait_timeout"] <= 0:
        errors.append("wait_timeout: must be a positive number of seconds")
    for option in ("subnets", "security_groups"):
        if any(not str(v or "").strip() for v in params[option] or []):
            errors.append(f"{option}: contains an empty value")
    if params["subnets"] is not None and not params["subnets"]:
        errors.append("subnets: give at least two subnets in different availability zones, or omit it")
    reserved = sorted(k for k in params["tags"] or {} if str(k).lower().startswith("aws:"))
    if reserved:
        errors.append(f"tags: keys starting with 'aws:' are reserved by AWS: {reserved}")
    return errors


# -- planning (pure) ---------------------------------------------------------------------

def wanted_view(params, resolved, current):
    """The view (same keys as eks.cluster_view) the parameters ask for, on top of the current cluster."""
    current = current or {}
    public = params["endpoint_public_access"]
    if public or not current:
        cidrs = sorted(set(params["public_access_cidrs"] or []))
    else:
        cidrs = current.get("public_access_cidrs", [])
    current_tags = current.get("tags", {})
    if params["tags"] is None:
        tags = dict(current_tags)
    else:
        to_set, to_unset = compare_aws_tags(current_tags, params["tags"], purge_tags=params["purge_tags"])
        tags = {k: v for k, v in current_tags.items() if k not in to_unset}
        tags.update({k: str(v) for k, v in to_set.items()})
    return {
        "version": params["version"],
        "role_arn": resolved.get("role_arn") or current.get("role_arn"),
        "subnet_ids": sorted(resolved["subnet_ids"]) if resolved.get("subnet_ids") is not None
        else current.get("subnet_ids", []),
        "security_group_ids": sorted(resolved.get("security_group_ids") or []),
        "endpoint_private_access": params["endpoint_private_access"],
        "endpoint_public_access": public,
        "public_access_cidrs": cidrs,
        "encryption_key_arn": resolved.get("encryption_key_arn"),
        "logging": sorted(set(params["logging"] or [])),
        "authentication_mode": params["authentication_mode"],
        "service_ipv4_cidr": params["service_ipv4_cidr"] or current.get("service_ipv4_cidr"),
        "tags": tags,
    }


def refusals(before, after):
    """Messages for the differences EKS (or this module) will not change in place."""
    problems = []
    if before["role_arn"] != after["role_arn"]:
        problems.append(f"role: the cluster uses {before['role_arn']}; its IAM role cannot be changed"
                        f" (asked for {after['role_arn']}). Keep the role or create a new cluster.")
    if before["subnet_ids"] != after["subnet_ids"]:
        problems.append(f"subnets: the cluster uses {before['subnet_ids']}; this module does not change the subnets"
                        f" of a cluster (asked for {after['subnet_ids']}). Keep them or create a new cluster.")
    if before["security_group_ids"] != after["security_group_ids"]:
        problems.append(f"security_groups: the cluster uses {before['security_group_ids']}; this module does not"
                        f" change them (asked for {after['security_group_ids']}). Keep them or create a new cluster.")
    if before["encryption_key_arn"] and before["encryption_key_arn"] != after["encryption_key_arn"]:
        if after["encryption_key_arn"]:
            problems.append(f"encryption_key: the cluster's secrets are encrypted with {before['encryption_key_arn']};"
                            f" EKS cannot change the key (asked for {after['encryption_key_arn']}).")
        else:
            problems.append(f"encryption_key: the cluster's secrets are encrypted with {before['encryption_key_arn']};"
                            " EKS cannot remove encryption. Set encryption_key to that key.")
    if before.get("service_ipv4_cidr") and before.get("service_ipv4_cidr") != after.get("service_ipv4_cidr"):
        problems.append(f"service_ipv4_cidr: the cluster uses {before['service_ipv4_cidr']}; it cannot be changed"
                        f" (asked for {after['service_ipv4_cidr']}). Omit it or create a new cluster.")
    error = upgrade_error(before["version"], after["version"])
    if error:
        problems.append(error)
    error = authentication_mode_steps(before["authentication_mode"], after["authentication_mode"])[1]
    if error:
        problems.append(error)
    return problems


def planned_updates(before, after):
    """The EKS updates turning ``before`` into ``after``, in the order they run: [(type, request kwargs)]."""
    updates = []
    endpoint_keys = ["endpoint_private_access", "endpoint_public_access"]
    if after["endpoint_public_access"]:
        endpoint_keys.append("public_access_cidrs")
    if any(before[key] != after[key] for key in endpoint_keys):
        vpc_config = {
            "endpointPrivateAccess": after["endpoint_private_access"],
            "endpointPublicAccess": after["endpoint_public_access"],
        }
        if after["endpoint_public_access"]:
            vpc_config["publicAccessCidrs"] = after["public_access_cidrs"]
        updates.append(("EndpointAccessUpdate", {"resourcesVpcConfig": vpc_config}))
    if before["logging"] != after["logging"]:
        updates.append(("LoggingUpdate", {"logging": logging_config(after["logging"])}))
    steps = authentication_mode_steps(before["authentication_mode"], after["authentication_mode"])[0]
    for mode in steps:
        updates.append(("AccessConfigUpdate", {"accessConfig": {"authenticationMode": mode}}))
    if not before["encryption_key_arn"] and after["encryption_key_arn"]:
        updates.append(("AssociateEncryptionConfig", {"encryptionConfig": encryption_config(after["encryption_key_arn"])}))
    if before["version"] != after["version"]:
        updates.append(("VersionUpdate", {"version": after["version"]}))
    return updates


def tag_changes(before, after):
    """(tags to set, keys to remove) taking ``before['tags']`` to ``after['tags']``."""
    return compare_aws_tags(before["tags"], after["tags"], purge_tags=True)


def encryption_config(key_arn):
    return [{"resources": ["secrets"], "provider": {"keyArn": key_arn}}]


def diff_of(view):
    return {key: view[key] for key in DIFF_KEYS} if view else {}


# -- AWS side ------------------------------------------------------------------------------

class Runner:
    """One invocation of the module: its clients, parameters and results."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.name = module.params["name"]
        self.eks = eks_client(module)
        self.updates = []

    @property
    def timeout(self):
        return self.params["wait_timeout"]

    def warn(self, message):
        self.module.warn(message)

    # references -------------------------------------------------------------------

    def start_lookups(self, pool):
        """Look the role, the subnets and the key up concurrently (and while the cluster is read): futures."""
        params = self.params
        lookups = {}
        if params["role"]:
            lookups["role"] = pool.submit(resolve_role_arn, retrying_client(self.module, "iam"), params["role"])
        if params["subnets"]:
            self.ec2 = ec2_client(self.module)
            lookups["subnets"] = pool.submit(resolve_subnets, self.ec2, params["subnets"])
        if params["encryption_key"]:
            lookups["key"] = pool.submit(resolve_kms_key_arn, retrying_client(self.module, "kms"),
                                         params["encryption_key"], "encryption_key", self.module.check_mode)
        return lookups

    def resolve(self, cluster, lookups):
        """Ids and ARNs for the references in the parameters (tolerating missing ones for a planned cluster)."""
        params = self.params
        planned = cluster is None and self.module.check_mode
        resolved = {}
        vpc_id = ((cluster or {}).get("resourcesVpcConfig") or {}).get("vpcId")
        if params["role"]:
            resolved["role_arn"] = self.tolerant(planned, lookups["role"].result, params["role"])
        ec2 = None
        if params["subnets"]:
            ec2 = self.ec2
            subnets = self.tolerant(planned, lookups["subnets"].result, None)
            if subnets is None:
                resolved["subnet_ids"] = list(params["subnets"])
            else:
                resolved["subnet_ids"] = [s["SubnetId"] for s in subnets]
                vpc_id = vpc_id or subnets[0]["VpcId"]
                if cluster is None and len({s["AvailabilityZone"] for s in subnets}) < 2:
                    self.module.fail_json(msg=f"subnets: EKS needs subnets in at least two availability zones;"
                                              f" {resolved['subnet_ids']} are all in {subnets[0]['AvailabilityZone']}")
        if params["security_groups"]:
            if vpc_id is None:
                resolved["security_group_ids"] = list(params["security_groups"])
            else:
                ec2 = ec2 or ec2_client(self.module)
                groups = self.tolerant(planned, lambda: resolve_security_groups(ec2, params["security_groups"], vpc_id),
                                       None)
                resolved["security_group_ids"] = ([g["GroupId"] for g in groups] if groups is not None
                                                  else list(params["security_groups"]))
        if params["encryption_key"]:
            resolved["encryption_key_arn"] = self.tolerant(planned, lookups["key"].result, params["encryption_key"])
        return resolved

    def tolerant(self, planned, resolve, fallback):
        try:
            return resolve()
        except UnresolvedReferences as e:
            if not planned:
                raise
            self.warn(f"{e.message}; assuming an earlier task creates them (check mode).")
            return fallback

    def same_key(self, current_arn, wanted_arn):
        """Whether the cluster's key ARN (possibly an alias ARN) is the wanted key."""
        if current_arn == wanted_arn:
            return True
        if not current_arn or not wanted_arn or ":alias/" not in current_arn:
            return False
        kms = retrying_client(self.module, "kms")
        try:
            return resolve_kms_key_arn(kms, current_arn) == wanted_arn
        except UnresolvedReferences:
            return False

    # present ------------------------------------------------------------------------

    def present(self):
        with ThreadPoolExecutor(max_workers=3) as pool:
            lookups = self.start_lookups(pool)
            self.present_with(describe_cluster(self.eks, self.name), lookups)

    def present_with(self, cluster, lookups):
        if cluster is not None and cluster.get("status") == "DELETING":
            if self.module.check_mode:
                cluster = None
            else:
                wait_for_cluster_deleted(self.eks, self.name, self.timeout)
                cluster = None
        if cluster is not None and cluster.get("status") == "FAILED":
            self.module.fail_json(msg=f"EKS cluster {self.name} is FAILED; delete it (state=absent) and create it again.",
                                  cluster=describe(cluster))
        if cluster is None:
            missing = [option for option in ("role", "subnets") if not self.params[option]]
            if missing:
                self.module.fail_json(msg=f"{' and '.join(missing)}: required to create EKS cluster {self.name}")
            return self.create(self.resolve(None, lookups))
        return self.update(cluster, self.resolve(cluster, lookups))

    def create(self, resolved):
        params = self.params
        after = wanted_view(params, resolved, None)
        request = dict(
            name=self.name,
            version=params["version"],
            roleArn=resolved["role_arn"],
            resourcesVpcConfig={
                "subnetIds": resolved["subnet_ids"],
                "securityGroupIds": resolved.get("security_group_ids") or [],
                "endpointPrivateAccess": params["endpoint_private_access"],
                "endpointPublicAccess": params["endpoint_public_access"],
            },
            logging=logging_config(after["logging"]),
            accessConfig={
                "authenticationMode": params["authentication_mode"],
                "bootstrapClusterCreatorAdminPermissions": params["bootstrap_cluster_creator_admin_permissions"],
            },
        )
        if params["endpoint_public_access"]:
            request["resourcesVpcConfig"]["publicAccessCidrs"] = after["public_access_cidrs"]
        if resolved.get("encryption_key_arn"):
            request["encryptionConfig"] = encryption_config(resolved["encryption_key_arn"])
        if params["service_ipv4_cidr"]:
            request["kubernetesNetworkConfig"] = {"serviceIpv4Cidr": params["service_ipv4_cidr"]}
        if after["tags"]:
            request["tags"] = after["tags"]
        cluster = {}
        if not self.module.check_mode:
            cluster = self.eks.create_cluster(aws_retry=True, **request)["cluster"]
            if params["wait"]:
                cluster = wait_for_cluster_status(self.eks, self.name, "ACTIVE", self.timeout)
        self.finish(True, {}, after, cluster)

    def plan(self, cluster, resolved):
        """(before, after, updates) for an existing cluster; fails on what cannot change in place."""
        before = cluster_view(cluster)
        after = wanted_view(self.params, resolved, before)
        if before["encryption_key_arn"] != after["encryption_key_arn"] and self.same_key(
                before["encryption_key_arn"], after["encryption_key_arn"]):
            before["encryption_key_arn"] = after["encryption_key_arn"]  # the same key, named by an alias ARN
        problems = refusals(before, after)
        if problems:
            self.module.fail_json(msg=f"EKS cluster {self.name} cannot be changed as asked: " + " ".join(problems),
                                  cluster=describe(cluster))
        return before, after, planned_updates(before, after)

    def update(self, cluster, resolved):
        before, after, updates = self.plan(cluster, resolved)
        if updates and not self.module.check_mode and cluster.get("status") != "ACTIVE":
            # An earlier create or update (wait=false) still runs: plan again from where it ends.
            cluster = wait_for_cluster_status(self.eks, self.name, "ACTIVE", self.timeout)
            before, after, updates = self.plan(cluster, resolved)
        to_set, to_unset = tag_changes(before, after)
        changed = bool(updates or to_set or to_unset)
        if self.module.check_mode:
            self.updates = [{"id": KNOWN_AFTER_APPLY, "type": kind, "status": KNOWN_AFTER_APPLY}
                            for kind, _request in updates]
            return self.finish(changed, before, after, cluster)
        if to_unset:
            self.eks.untag_resource(aws_retry=True, resourceArn=cluster["arn"], tagKeys=list(to_unset))
        if to_set:
            self.eks.tag_resource(aws_retry=True, resourceArn=cluster["arn"], tags={k: str(v) for k, v in to_set.items()})
        for index, (kind, request) in enumerate(updates):
            if cluster.get("status") != "ACTIVE":
                cluster = wait_for_cluster_status(self.eks, self.name, "ACTIVE", self.timeout)
            update = self.start_update(kind, request)
            last = index == len(updates) - 1
            if not last or self.params["wait"]:
                update = wait_for_update(self.eks, self.name, update["id"], self.timeout)
            self.updates.append({"id": update["id"], "type": update.get("type", kind), "status": update.get("status")})
            cluster = {"status": "UPDATING"}
        if self.params["wait"] and (updates or cluster.get("status") in ("CREATING", "UPDATING")):
            cluster = wait_for_cluster_status(self.eks, self.name, "ACTIVE", self.timeout)
        elif changed:
            cluster = describe_cluster(self.eks, self.name) or {}
        self.finish(changed, before, after, cluster)

    def start_update(self, kind, request):
        if kind == "VersionUpdate":
            return self.eks.update_cluster_version(aws_retry=True, name=self.name, **request)["update"]
        if kind == "AssociateEncryptionConfig":
            return self.eks.associate_encryption_config(aws_retry=True, clusterName=self.name, **request)["update"]
        return self.eks.update_cluster_config(aws_retry=True, name=self.name, **request)["update"]

    def tag_cluster_security_group(self, cluster):
        """Adds the cluster's tags (never removes any) to the security group EKS made for it. Returns changed."""
        group_id = ((cluster or {}).get("resourcesVpcConfig") or {}).get("clusterSecurityGroupId")
        tags = self.params["tags"]
        if not (self.params["tag_cluster_security_group"] and tags and group_id) or group_id == KNOWN_AFTER_APPLY:
            return False
        ec2 = ec2_client(self.module)
        groups = ec2.describe_security_groups(aws_retry=True, GroupIds=[group_id])["SecurityGroups"]
        return bool(groups) and reconcile_tags(ec2, self.module, group_id, tags_of(groups[0]), tags, purge=False)

    def finish(self, changed, before, after, cluster):
        changed = self.tag_cluster_security_group(cluster) or changed
        result = dict(changed=changed, cluster=describe(cluster), updates=self.updates)
        vpc = (cluster or {}).get("resourcesVpcConfig") or {}
        result.update(
            arn=(cluster or {}).get("arn"),
            endpoint=(cluster or {}).get("endpoint"),
            certificate_authority_data=((cluster or {}).get("certificateAuthority") or {}).get("data"),
            oidc_issuer=(((cluster or {}).get("identity") or {}).get("oidc") or {}).get("issuer"),
            cluster_security_group_id=vpc.get("clusterSecurityGroupId"),
            status=(cluster or {}).get("status"),
            version=(cluster or {}).get("version"),
        )
        if self.module.check_mode:
            # A cluster that would be created, or one still being created: what AWS assigns is not known yet.
            result.update(fill_unknown(result, ("arn", "endpoint", "certificate_authority_data", "oidc_issuer",
                                                "cluster_security_group_id", "status")))
            result["version"] = result["version"] or after.get("version")
        result["diff"] = dict(before=diff_of(before), after=diff_of(after))
        self.module.exit_json(**result)

    # absent ---------------------------------------------------------------------------

    def absent(self):
        cluster = describe_cluster(self.eks, self.name)
        before = cluster_view(cluster)
        if cluster is None or cluster.get("status") == "DELETING":
            if cluster is not None and self.params["wait"] and not self.module.check_mode:
                wait_for_cluster_deleted(self.eks, self.name, self.timeout)
            return self.gone(False, before)
        dependents = self.dependents()
        if dependents:
            message = (f"EKS cluster {self.name} still has {', '.join(dependents)}; delete them first"
                       " (e.g. with the nodegroups role's state=absent) and run again.")
            if not self.module.check_mode:
                self.module.fail_json(msg=message, cluster=describe(cluster))
            self.warn(message)
        if not self.module.check_mode:
            if cluster.get("status") in ("CREATING", "UPDATING"):
                wait_for_cluster_status(self.eks, self.name, "ACTIVE", self.timeout)
            try:
                self.eks.delete_cluster(aws_retry=True, name=self.name)
            except is_boto3_error_code("ResourceNotFoundException"):
                pass
            if self.params["wait"]:
                wait_for_cluster_deleted(self.eks, self.name, self.timeout)
        self.gone(True, before)

    def dependents(self):
        nodegroups = paginate(self.eks, "list_nodegroups", "nodegroups", clusterName=self.name)
        profiles = paginate(self.eks, "list_fargate_profiles", "fargateProfileNames", clusterName=self.name)
        found = []
        if nodegroups:
            found.append(f"node groups {sorted(nodegroups)}")
        if profiles:
            found.append(f"Fargate profiles {sorted(profiles)}")
        return found

    def gone(self, changed, before):
        result = dict(changed=changed, cluster={}, updates=[])
        result["diff"] = dict(before=diff_of(before), after={})
        self.module.exit_json(**result)


def describe(cluster):
    if not cluster or "arn" not in cluster:
        return {}
    result = camel_dict_to_snake_dict(cluster, ignore_list=["tags"])
    result["tags"] = dict(cluster.get("tags") or {})
    return result


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        version=dict(type="str", default="1.35"),
        role=dict(type="str"),
        subnets=dict(type="list", elements="str"),
        security_groups=dict(type="list", elements="str", default=[]),
        endpoint_private_access=dict(type="bool", default=True),
        endpoint_public_access=dict(type="bool", default=True),
        public_access_cidrs=dict(type="list", elements="str", default=["0.0.0.0/0"]),
        encryption_key=dict(type="str", no_log=False),
        logging=dict(type="list", elements="str", choices=list(LOG_TYPES), default=list(LOG_TYPES)),
        authentication_mode=dict(type="str", choices=["API", "API_AND_CONFIG_MAP", "CONFIG_MAP"],
                                 default="API_AND_CONFIG_MAP"),
        bootstrap_cluster_creator_admin_permissions=dict(type="bool", default=True),
        service_ipv4_cidr=dict(type="str"),
        tag_cluster_security_group=dict(type="bool", default=True),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    errors = input_errors(module.params)
    if errors:
        module.fail_json(msg="; ".join(errors))
    runner = Runner(module)
    run_module(module, runner.present if module.params["state"] == "present" else runner.absent)


if __name__ == "__main__":
    main()
