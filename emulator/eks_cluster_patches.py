"""EKS clusters and managed node groups closer to real EKS than bare moto.

:func:`install` patches moto's EKS models once:

* ``Cluster.status`` and ``Nodegroup.status`` become timed lifecycles
  (``CREATING`` -> ``ACTIVE``, ``UPDATING`` -> ``ACTIVE``, ``DELETING`` ->
  gone) driven by the profile's ``eks_cluster_*``/``eks_nodegroup_*``
  durations; the backend's cluster dict and each cluster's node-group dict
  keep deleting resources visible until their delete completes. A cluster
  with node groups (even deleting ones) or Fargate profiles can't be deleted.
* CreateCluster validates its input like EKS (name, Kubernetes version, an
  existing cluster role, subnets in two AZs, security groups, endpoint
  access, log types) and keeps
  what moto drops (``accessConfig``, ``upgradePolicy``, ``zonalShiftConfig``,
  ``deletionProtection``); DescribeCluster gets EKS's defaults: a unique
  endpoint and OIDC issuer, a PEM-like certificate authority, ``vpcId``, a
  cluster security group (created in EC2, deleted with the cluster), endpoint
  access defaults, ``ipFamily``, a platform version, ``health``.
* CreateNodegroup checks the node role, subnets, launch template, scaling
  and version (not newer than the cluster's), defaults
  ``version``/``releaseVersion`` to the cluster's,
  keeps ``updateConfig``/``nodeRepairConfig`` and creates the node role's
  access entry when the cluster's authentication mode includes ``API``.

:data:`HANDLERS` adds or replaces (moto's versions return the wrong shape or
finish instantly): UpdateClusterConfig, UpdateClusterVersion,
AssociateEncryptionConfig, DescribeUpdate, ListUpdates,
UpdateNodegroupConfig, UpdateNodegroupVersion and the tagging operations
(which also cover node groups, Fargate profiles, add-ons and access entries).
The resource is ``UPDATING`` and the returned ``Update`` ``InProgress`` for
the ``*_update`` duration. Version changes (cluster version, node group
version, AMI release, launch template version) take effect when the update
succeeds, as in EKS (:class:`Deferred`); configuration changes at once. A node
group version update whose cluster runs a Kubernetes API (:data:`NODE_REPLACEMENT`)
replaces the nodes there (``k8s/controllers/nodes.py``): it stays ``InProgress``
until the controllers report the replacement over (:func:`finish_rollout`), then
lasts at least ``eks_nodegroup_update``; a drain blocked by a PodDisruptionBudget
ends it ``Failed`` with ``PodEvictionFailure``. While
a cluster is ``CREATING`` its ``endpoint`` and ``certificateAuthority`` are
left out, as EKS does; once it is ACTIVE they are those of the Kubernetes API
the emulator serves for it (``k8s/clusters.py``), the made-up values here
only when no API runs (moto without an ``EmulatorServer``).
"""

from __future__ import annotations

import base64
import copy
import functools
import inspect
import ipaddress
import json
import os
import re
import time
import uuid
from typing import Any, Callable

from moto.core.utils import utcnow

from . import eks_access, eks_amis
from .eks_common import (
    DEFAULT_VERSION, SUPPORTED_VERSIONS, EksUpdate, backend, extras, get_cluster, in_use,
    invalid_parameter, invalid_request, is_gone, not_found, paginate, record_update, require_active,
)
from .lifecycle import GONE, TRACKER, LifecycleAttribute, LingeringDict, Phase, timeline_of
from .protocols import ApiError, Call
from .test_controls import CONTROLS

Handler = Callable[[Call, dict[str, Any]], dict[str, Any]]

PLATFORM_VERSIONS = {
    "1.32": "eks.24", "1.33": "eks.17", "1.34": "eks.8", "1.35": "eks.3",
}
LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
AUTHENTICATION_MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")
TAINT_EFFECTS = ("NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE")
CLUSTER_SG_DESCRIPTION = ("EKS created security group applied to ENI that is attached to EKS Control Plane "
                          "master nodes, as well as any managed workloads.")
_CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$")
_KMS_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/.+$")

CLUSTER_PHASES = {
    "ACTIVE": Phase("CREATING", "ACTIVE", "eks_cluster_create"),
    "UPDATING": Phase("UPDATING", "ACTIVE", "eks_cluster_update", once=False),
    "DELETING": Phase("DELETING", GONE, "eks_cluster_delete"),
}
NODEGROUP_PHASES = {
    "ACTIVE": Phase("CREATING", "ACTIVE", "eks_nodegroup_create"),
    "UPDATING": Phase("UPDATING", "ACTIVE", "eks_nodegroup_update", once=False),
    "DELETING": Phase("DELETING", GONE, "eks_nodegroup_delete"),
}


# -- helpers --------------------------------------------------------------------

def minor(version: str) -> tuple[int, int]:
    """``"1.30"`` -> ``(1, 30)``; InvalidParameterException for anything else."""
    match = re.match(r"^(\d+)\.(\d+)$", str(version))
    if not match:
        raise invalid_parameter(f"unsupported Kubernetes version {version}")
    return int(match.group(1)), int(match.group(2))


def release_version(version: str) -> str:
    """The latest EKS optimized AMI release of a Kubernetes minor version (``eks_amis.py``)."""
    return eks_amis.latest_release(version)


def platform_version(version: str) -> str:
    """The EKS platform version of a cluster on ``version``."""
    return PLATFORM_VERSIONS.get(version, "eks.1")


def check_version(version: str) -> str:
    """``version`` if the emulated EKS supports it, else InvalidParameterException."""
    if version not in SUPPORTED_VERSIONS or CONTROLS.version_status(version) == "UNSUPPORTED":
        raise invalid_parameter(f"unsupported Kubernetes version {version}")
    return version


def _to_moto(exc: ApiError) -> Exception:
    """An :class:`ApiError` as a moto EKS exception (for code run inside moto's responses)."""
    from moto.eks.exceptions import EKSError

    error_class = type(exc.code, (EKSError,), {"TYPE": exc.code, "STATUS": exc.status})
    return error_class(message=exc.message, **exc.fields)


def _moto_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn :class:`ApiError` raised by ``func`` into moto's EKS errors."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ApiError as exc:
            raise _to_moto(exc) from None

    return wrapper


def _ec2(account: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account][region]


def _subnets(ec2: Any, subnet_ids: Any) -> list[Any]:
    """moto's subnets for ``subnet_ids``, or EKS's InvalidParameterException."""
    if not isinstance(subnet_ids, list) or not subnet_ids:
        raise invalid_parameter("Subnets are required.")
    subnets = []
    for subnet_id in subnet_ids:
        try:
            subnets.append(ec2.get_subnet(subnet_id))
        except Exception:  # noqa: BLE001 - moto raises InvalidSubnetIdError
            raise invalid_parameter(f"The subnet ID '{subnet_id}' does not exist") from None
    if len({subnet.vpc_id for subnet in subnets}) > 1:
        raise invalid_parameter("Subnets must all be in the same VPC.")
    return subnets


def _check_security_groups(ec2: Any, group_ids: Any, vpc_id: str) -> None:
    if group_ids is None:
        return
    if not isinstance(group_ids, list):
        raise invalid_parameter("securityGroupIds must be a list.")
    for group_id in group_ids:
        group = ec2.get_security_group_from_id(group_id)
        if group is None:
            raise invalid_parameter(f"The security group '{group_id}' does not exist")
        if group.vpc_id != vpc_id:
            raise invalid_parameter(f"Security group {group_id} is not in the cluster's VPC {vpc_id}.")


def _check_cidrs(cidrs: Any) -> list[str]:
    if not isinstance(cidrs, list) or not cidrs:
        raise invalid_parameter("publicAccessCidrs must be a non-empty list of CIDR blocks.")
    for cidr in cidrs:
        try:
            ipaddress.ip_network(cidr, strict=True)
        except (TypeError, ValueError):
            raise invalid_parameter(f"The CIDR block {cidr} is not valid.") from None
    return list(cidrs)


def _log_state(logging: Any) -> dict[str, bool]:
    """Per log type: enabled? (later entries win, unknown types are refused)."""
    state = dict.fromkeys(LOG_TYPES, False)
    if logging is None:
        return state
    if not isinstance(logging, dict) or not isinstance(logging.get("clusterLogging", []), list):
        raise invalid_parameter("logging must be {'clusterLogging': [...]}.")
    for setup in logging.get("clusterLogging", []):
        for log_type in setup.get("types") or []:
            if log_type not in LOG_TYPES:
                raise invalid_parameter(f"The log type {log_type} is not valid; expected one of "
                                        f"[{', '.join(LOG_TYPES)}].")
            state[log_type] = bool(setup.get("enabled"))
    return state


def _logging_from_state(state: dict[str, bool]) -> dict[str, Any]:
    """EKS's rendering: one enabled and one disabled group, empty groups left out."""
    groups = []
    for enabled in (True, False):
        types = [log_type for log_type in LOG_TYPES if state.get(log_type, False) is enabled]
        if types:
            groups.append({"types": types, "enabled": enabled})
    return {"clusterLogging": groups}


def _check_encryption_config(config: Any) -> list[dict[str, Any]]:
    if not isinstance(config, list) or len(config) != 1:
        raise invalid_parameter("encryptionConfig must hold exactly one configuration.")
    item = config[0]
    if item.get("resources") != ["secrets"]:
        raise invalid_parameter("Only 'secrets' can be encrypted (resources must be ['secrets']).")
    key_arn = (item.get("provider") or {}).get("keyArn", "")
    if not _KMS_ARN.match(key_arn):
        raise invalid_parameter(f"The keyArn {key_arn!r} is not a valid KMS key ARN.")
    return [{"resources": ["secrets"], "provider": {"keyArn": key_arn}}]


def _fake_certificate() -> str:
    """A base64 PEM block shaped like an EKS cluster CA (random content)."""
    body = base64.b64encode(os.urandom(768)).decode()
    lines = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    pem = f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----\n"
    return base64.b64encode(pem.encode()).decode()


def _region_of(arn: str) -> str:
    return arn.split(":")[3]


def _default_service_cidr(vpc_cidr: str | None) -> str:
    """EKS picks 10.100.0.0/16 unless the VPC overlaps it, then 172.20.0.0/16."""
    if vpc_cidr:
        try:
            if ipaddress.ip_network(vpc_cidr, strict=False).overlaps(ipaddress.ip_network("10.100.0.0/16")):
                return "172.20.0.0/16"
        except ValueError:
            pass
    return "10.100.0.0/16"


# -- model patches ----------------------------------------------------------------

class Deferred:
    """A model attribute whose new value takes effect when the update carrying it succeeds.

    ``defer(obj, update, value)`` schedules the value; reads return the old
    value until ``update`` is ``Successful`` (as EKS reports the old version
    while a version update runs). A plain assignment cancels a pending value.
    """

    def __init__(self, name: str) -> None:
        self.slot = f"_emulator_{name}"
        self.pending_slot = f"_emulator_{name}_pending"

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        pending = obj.__dict__.get(self.pending_slot)
        if pending is not None and pending[0].timeline.state() == "Successful":
            obj.__dict__[self.slot] = pending[1]
            del obj.__dict__[self.pending_slot]
        return obj.__dict__.get(self.slot)

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.slot] = value
        obj.__dict__.pop(self.pending_slot, None)

    def defer(self, obj: Any, update: EksUpdate, value: Any) -> None:
        """Make ``value`` the attribute's value once ``update`` has succeeded."""
        obj.__dict__[self.pending_slot] = (update, value)


class HiddenWhileCreating:
    """A cluster attribute EKS leaves out until the cluster is first ACTIVE (endpoint, CA)."""

    def __init__(self, name: str) -> None:
        self.slot = f"_emulator_{name}"

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        if obj.status == "CREATING":
            return None
        return obj.__dict__.get(self.slot)

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.slot] = value


def defer(obj: Any, attribute: str, update: EksUpdate, value: Any) -> None:
    """Schedule ``obj.attribute = value`` for when ``update`` succeeds."""
    descriptor = type(obj).__dict__[attribute]
    assert isinstance(descriptor, Deferred)
    descriptor.defer(obj, update, value)


def _patch_cluster_init(cluster_class: type) -> None:
    original = cluster_class.__init__

    @functools.wraps(original)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.nodegroups = LingeringDict(is_gone, self.nodegroups)
        if not kwargs.get("version"):
            self.version = DEFAULT_VERSION
        self.platformVersion = platform_version(self.version)
        self.logging = _logging_from_state(_log_state(copy.deepcopy(self.logging)))
        network = dict(self.kubernetes_network_config or {})
        network.setdefault("ipFamily", "ipv4")
        self.kubernetes_network_config = network
        vpc = dict(self.resources_vpc_config or {})
        vpc.setdefault("securityGroupIds", [])
        vpc.setdefault("endpointPublicAccess", True)
        vpc.setdefault("endpointPrivateAccess", False)
        if vpc["endpointPublicAccess"]:
            vpc.setdefault("publicAccessCidrs", ["0.0.0.0/0"])
        self.resources_vpc_config = vpc
        region = _region_of(self.arn)
        cluster_id = uuid.uuid4().hex.upper()
        self.endpoint = f"https://{cluster_id}.gr7.{region}.eks.amazonaws.com"
        self.identity = {"oidc": {"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{cluster_id}"}}
        self.certificate_authority = {"data": _fake_certificate()}
        self.access_config = {"bootstrapClusterCreatorAdminPermissions": True, "authenticationMode": "CONFIG_MAP"}
        self.upgrade_policy = {"supportType": "EXTENDED"}
        self.health = {"issues": []}
        self.deletion_protection = False
        self.encryption_config = self.encryption_config or None

    cluster_class.__init__ = init


def _patch_nodegroup_init(nodegroup_class: type) -> None:
    original = nodegroup_class.__init__

    @functools.wraps(original)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.scaling_config = dict(self.scaling_config)
        self.labels = dict(self.labels)
        self.taints = [dict(taint) for taint in self.taints]
        self.health = {"issues": []}
        self.resources = {"autoScalingGroups": [{"name": f"eks-{self.nodegroup_name}-{self.uuid}"}]}
        if kwargs.get("remote_access"):
            self.resources["remoteAccessSecurityGroup"] = "sg-" + uuid.uuid4().hex[:17]
        else:
            self.remote_access = None
        if kwargs.get("launch_template"):
            self.disk_size = kwargs.get("disk_size")
        else:
            self.disk_size = int(self.disk_size)
        if not self.update_config:
            self.update_config = {"maxUnavailable": 1}

    nodegroup_class.__init__ = init


def _patch_backend(backend_class: type) -> None:
    from moto.eks.models import CLUSTER_IN_USE_MSG

    original_init = backend_class.__init__
    original_create_nodegroup = backend_class.create_nodegroup
    signature = inspect.signature(original_create_nodegroup)

    @functools.wraps(original_init)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.clusters = LingeringDict(is_gone, self.clusters)

    @_moto_errors
    def delete_cluster(self: Any, name: str) -> Any:
        cluster = self.clusters.get(name)
        if cluster is None:
            raise not_found(f"No cluster found for name: {name}.")
        if cluster.status == "UPDATING":
            raise in_use(f"Cluster {name} has an update in progress and can't be deleted.", clusterName=name)
        if cluster.deletion_protection:
            raise invalid_request(f"Cluster {name} can't be deleted while deletion protection is enabled.",
                                  clusterName=name)
        if len(cluster.nodegroups):
            raise in_use(CLUSTER_IN_USE_MSG, clusterName=name, nodegroupName=",".join(cluster.nodegroups.keys()))
        if cluster.fargate_profiles:
            raise in_use("Cluster has fargate profiles attached", clusterName=name)
        cluster.status = "DELETING"
        for addon in extras(cluster).addons.values():
            if not addon.timeline.heading_to(GONE):
                addon.timeline.begin("DELETING", GONE, TRACKER.seconds("eks_addon_delete"))
        _delete_cluster_security_group(self.account_id, self.region_name, cluster)
        return cluster

    @_moto_errors
    def delete_nodegroup(self: Any, cluster_name: str, nodegroup_name: str) -> Any:
        cluster = self.clusters.get(cluster_name)
        if cluster is None:
            raise not_found(f"No cluster found for name: {cluster_name}.")
        nodegroup = cluster.nodegroups.get(nodegroup_name)
        if nodegroup is None:
            raise not_found(f"No node group found for name: {nodegroup_name}.",
                            clusterName=cluster_name, nodegroupName=nodegroup_name)
        nodegroup.status = "DELETING"
        return nodegroup

    @_moto_errors
    def create_nodegroup(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        arguments = bound.arguments
        cluster = self.clusters.get(arguments["cluster_name"])
        if cluster is None or arguments["nodegroup_name"] in cluster.nodegroups or not cluster.is_active:
            return original_create_nodegroup(*bound.args, **bound.kwargs)  # moto's own errors
        version = arguments.get("version") or cluster.version
        if version not in SUPPORTED_VERSIONS or minor(version) > minor(cluster.version):
            raise invalid_parameter(f"Requested Nodegroup Kubernetes version {version} is not supported "
                                    f"by cluster {cluster.name} (version {cluster.version}).")
        release = eks_amis.check_release(version, arguments.get("release_version") or release_version(version))
        _check_scaling(arguments.get("scaling_config") or {"minSize": 2, "maxSize": 2, "desiredSize": 2})
        _check_role(self.account_id, arguments.get("node_role") or "")
        ec2 = _ec2(self.account_id, self.region_name)
        _subnets(ec2, arguments.get("subnets"))
        if arguments.get("launch_template"):
            _check_launch_template(ec2, arguments["launch_template"])
        arguments["version"], arguments["release_version"] = version, release
        return original_create_nodegroup(*bound.args, **bound.kwargs)

    backend_class.__init__ = init
    backend_class.delete_cluster = delete_cluster
    backend_class.delete_nodegroup = delete_nodegroup
    backend_class.create_nodegroup = create_nodegroup


def _check_role(account: str, role_arn: str) -> None:
    """EKS refuses an IAM role (cluster or node role) that does not exist."""
    if ":role/" not in role_arn:
        return  # moto's own format check answers
    if not eks_access.principal_exists(account, role_arn):
        raise invalid_parameter(f"The role with ARN {role_arn} cannot be found.")


def _check_launch_template(ec2: Any, template: dict[str, Any]) -> None:
    """EKS refuses a launch template (or version) that does not exist."""
    if not template.get("name") and not template.get("id"):
        raise invalid_parameter("A launch template needs a name or an id.")
    try:
        if template.get("id"):
            found = ec2.describe_launch_templates(template_ids=[template["id"]])
        else:
            found = ec2.describe_launch_templates(template_names=[template["name"]])
    except Exception:  # noqa: BLE001 - moto raises its own not-found errors
        found = []
    if not found:
        raise invalid_parameter(f"Launch template {template.get('name') or template.get('id')} does not exist.")
    version = str(template.get("version") or "")
    if version.isdigit() and int(version) > len(found[0].versions):
        raise invalid_parameter(f"Launch template version {version} does not exist.")


def _delete_cluster_security_group(account: str, region: str, cluster: Any) -> None:
    group_id = (cluster.resources_vpc_config or {}).get("clusterSecurityGroupId")
    if not group_id:
        return
    try:
        _ec2(account, region).delete_security_group(group_id=group_id)
    except Exception:  # noqa: BLE001 - already gone or still referenced: leave it
        pass


def _validate_create_cluster(response: Any) -> dict[str, Any]:
    """Validate a CreateCluster request like EKS; returns facts for the new cluster."""
    name = response._get_param("name") or ""
    if not _CLUSTER_NAME.match(name):
        raise invalid_parameter(f"The cluster name {name!r} is not valid: it must be 1-100 characters "
                                "of letters, digits, hyphens and underscores, starting with a letter or digit.")
    version = response._get_param("version")
    if version is not None:
        check_version(version)
    _check_role(response.current_account, response._get_param("roleArn") or "")
    ec2 = _ec2(response.current_account, response.region)
    vpc_config = response._get_param("resourcesVpcConfig") or {}
    subnets = _subnets(ec2, vpc_config.get("subnetIds"))
    if len({subnet.availability_zone for subnet in subnets}) < 2:
        raise invalid_parameter("Subnets specified must be in at least two different AZs")
    vpc_id = subnets[0].vpc_id
    _check_security_groups(ec2, vpc_config.get("securityGroupIds"), vpc_id)
    if vpc_config.get("endpointPublicAccess") is False and not vpc_config.get("endpointPrivateAccess"):
        raise invalid_parameter("Private and public endpoint access can't both be disabled.")
    if "publicAccessCidrs" in vpc_config:
        _check_cidrs(vpc_config["publicAccessCidrs"])
    _log_state(response._get_param("logging"))
    if response._get_param("encryptionConfig"):
        _check_encryption_config(response._get_param("encryptionConfig"))
    network = response._get_param("kubernetesNetworkConfig") or {}
    if network.get("serviceIpv4Cidr"):
        try:
            ipaddress.IPv4Network(network["serviceIpv4Cidr"], strict=True)
        except ValueError:
            raise invalid_parameter(f"The serviceIpv4Cidr {network['serviceIpv4Cidr']} is not valid.") from None
    access = response._get_param("accessConfig") or {}
    mode = access.get("authenticationMode") or "CONFIG_MAP"
    if mode not in AUTHENTICATION_MODES:
        raise invalid_parameter(f"The authentication mode {mode} is not valid.")
    support = (response._get_param("upgradePolicy") or {}).get("supportType") or "EXTENDED"
    if support not in ("STANDARD", "EXTENDED"):
        raise invalid_parameter(f"The support type {support} is not valid.")
    vpc = ec2.vpcs.get(vpc_id)
    return {
        "vpc_id": vpc_id,
        "vpc_cidr": getattr(vpc, "cidr_block", None),
        "service_cidr_given": bool(network.get("serviceIpv4Cidr")),
        "access": {
            "bootstrapClusterCreatorAdminPermissions": access.get("bootstrapClusterCreatorAdminPermissions", True),
            "authenticationMode": mode,
        },
        "support_type": support,
    }


def _patch_responses(response_class: type) -> None:
    original_create_cluster = response_class.create_cluster
    original_create_nodegroup = response_class.create_nodegroup

    @_moto_errors
    def create_cluster(self: Any) -> Any:
        name = self._get_param("name")
        if name in self.eks_backend.clusters:
            return original_create_cluster(self)  # moto's ResourceInUseException
        facts = _validate_create_cluster(self)
        result = original_create_cluster(self)
        cluster = result.result["cluster"]
        cluster.access_config = facts["access"]
        cluster.upgrade_policy = {"supportType": facts["support_type"]}
        if self._get_param("zonalShiftConfig") is not None:
            cluster.zonal_shift_config = {"enabled": bool(self._get_param("zonalShiftConfig").get("enabled"))}
        cluster.deletion_protection = bool(self._get_param("deletionProtection"))
        vpc = cluster.resources_vpc_config
        vpc["vpcId"] = facts["vpc_id"]
        ec2 = _ec2(self.current_account, self.region)
        group_name = f"eks-cluster-sg-{name}-{uuid.uuid4().hex[:10]}"
        try:
            group = ec2.create_security_group(
                group_name, CLUSTER_SG_DESCRIPTION, vpc_id=facts["vpc_id"],
                tags={"Name": group_name, f"kubernetes.io/cluster/{name}": "owned", "aws:eks:cluster-name": name},
            )
            vpc["clusterSecurityGroupId"] = group.id
        except Exception:  # noqa: BLE001 - the VPC vanished meanwhile: no cluster security group
            pass
        if not facts["service_cidr_given"]:
            cluster.kubernetes_network_config["serviceIpv4Cidr"] = _default_service_cidr(facts["vpc_cidr"])
        principal = eks_access.caller_principal(self.current_account, self.region, self.get_access_key())
        eks_access.register_creator(cluster, principal, facts["access"]["bootstrapClusterCreatorAdminPermissions"])
        return result

    @_moto_errors
    def create_nodegroup(self: Any) -> Any:
        update_config = self._get_param("updateConfig")
        if update_config is not None:
            update_config = _check_update_config(update_config, {})
        repair = self._get_param("nodeRepairConfig")
        result = original_create_nodegroup(self)
        nodegroup = result.result["nodegroup"]
        if update_config:
            nodegroup.update_config = update_config
        if repair is not None:
            nodegroup.node_repair_config = {"enabled": bool(repair.get("enabled"))}
        cluster = self.eks_backend.clusters[nodegroup.cluster_name]
        updates = extras(cluster).updates
        for update_id in [key for key, update in updates.items() if update.nodegroup == nodegroup.nodegroup_name]:
            del updates[update_id]
        eks_access.ensure_node_entry(cluster, nodegroup.node_role,
                                     windows=str(nodegroup.ami_type).startswith("WINDOWS"))
        return result

    response_class.create_cluster = create_cluster
    response_class.create_nodegroup = create_nodegroup


def install() -> None:
    """Patch moto's EKS models and responses (idempotent)."""
    from moto.eks.models import Cluster, EKSBackend, Nodegroup
    from moto.eks.responses import EKSResponse

    if isinstance(Cluster.__dict__.get("status"), LifecycleAttribute):
        return
    Cluster.status = LifecycleAttribute("status", "eks_cluster", lambda cluster: cluster.name, CLUSTER_PHASES)
    Nodegroup.status = LifecycleAttribute(
        "status", "eks_nodegroup", lambda ng: f"{ng.cluster_name}/{ng.nodegroup_name}", NODEGROUP_PHASES,
    )
    for attribute in ("version", "platformVersion"):
        setattr(Cluster, attribute, Deferred(attribute))
    for attribute in ("endpoint", "certificate_authority"):
        setattr(Cluster, attribute, HiddenWhileCreating(attribute))
    for attribute in ("version", "release_version", "launch_template"):
        setattr(Nodegroup, attribute, Deferred(attribute))
    _patch_cluster_init(Cluster)
    _patch_nodegroup_init(Nodegroup)
    _patch_backend(EKSBackend)
    _patch_responses(EKSResponse)


# -- cluster updates ----------------------------------------------------------------

def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _endpoint_update(cluster: Any, config: dict[str, Any]) -> tuple[list[dict[str, str]], Callable[[], None]]:
    current = cluster.resources_vpc_config
    public = config.get("endpointPublicAccess", current.get("endpointPublicAccess", True))
    private = config.get("endpointPrivateAccess", current.get("endpointPrivateAccess", False))
    old_cidrs = current.get("publicAccessCidrs") or ["0.0.0.0/0"]
    cidrs = _check_cidrs(config["publicAccessCidrs"]) if "publicAccessCidrs" in config else old_cidrs
    if not public and not private:
        raise invalid_parameter("Private and public endpoint access can't both be disabled.")
    if (public, private, sorted(cidrs)) == (current.get("endpointPublicAccess"), current.get("endpointPrivateAccess"),
                                            sorted(old_cidrs)):
        raise invalid_parameter(
            f"Cluster is already at the desired configuration with endpointPrivateAccess: {_bool(private)}, "
            f"endpointPublicAccess: {_bool(public)}, and publicAccessCidrs: [{', '.join(cidrs)}]",
            clusterName=cluster.name,
        )
    params = [
        {"type": "EndpointPublicAccess", "value": _bool(public)},
        {"type": "EndpointPrivateAccess", "value": _bool(private)},
        {"type": "PublicAccessCidrs", "value": _json(cidrs)},
    ]

    def apply() -> None:
        current.update(endpointPublicAccess=public, endpointPrivateAccess=private, publicAccessCidrs=list(cidrs))

    return params, apply


def _vpc_update(call: Call, cluster: Any, config: dict[str, Any]) -> tuple[list[dict[str, str]], Callable[[], None]]:
    current = cluster.resources_vpc_config
    ec2 = _ec2(call.account, call.region)
    params, changes = [], {}
    if "subnetIds" in config and sorted(config["subnetIds"] or []) != sorted(current.get("subnetIds") or []):
        subnets = _subnets(ec2, config["subnetIds"])
        if subnets[0].vpc_id != current.get("vpcId"):
            raise invalid_parameter("Subnets must be in the cluster's VPC.")
        if len({subnet.availability_zone for subnet in subnets}) < 2:
            raise invalid_parameter("Subnets specified must be in at least two different AZs")
        changes["subnetIds"] = list(config["subnetIds"])
        params.append({"type": "Subnets", "value": _json(changes["subnetIds"])})
    if ("securityGroupIds" in config
            and sorted(config["securityGroupIds"] or []) != sorted(current.get("securityGroupIds") or [])):
        _check_security_groups(ec2, config["securityGroupIds"], current.get("vpcId", ""))
        changes["securityGroupIds"] = list(config["securityGroupIds"])
        params.append({"type": "SecurityGroups", "value": _json(changes["securityGroupIds"])})
    if not changes:
        raise invalid_parameter("Cluster is already at the desired VPC configuration.", clusterName=cluster.name)
    return params, lambda: current.update(changes)


def _logging_update(cluster: Any, logging: dict[str, Any]) -> tuple[list[dict[str, str]], Callable[[], None]]:
    current = _log_state(cluster.logging)
    wanted = dict(current)
    requested = _log_state(logging)
    for setup in logging.get("clusterLogging", []):
        for log_type in setup.get("types") or []:
            wanted[log_type] = requested[log_type]
    if wanted == current:
        raise invalid_parameter("No changes needed for the logging config provided", clusterName=cluster.name)
    new_logging = _logging_from_state(wanted)
    params = [{"type": "ClusterLogging", "value": _json(new_logging["clusterLogging"])}]

    def apply() -> None:
        cluster.logging = new_logging

    return params, apply


def _access_update(cluster: Any, access: dict[str, Any]) -> tuple[list[dict[str, str]], Callable[[], None]]:
    mode = access.get("authenticationMode")
    current = eks_access.authentication_mode(cluster)
    if mode not in AUTHENTICATION_MODES:
        raise invalid_parameter(f"The authentication mode {mode} is not valid.")
    if mode == current:
        raise invalid_parameter(f"No changes needed for the authentication mode provided ({mode}).",
                                clusterName=cluster.name)
    if AUTHENTICATION_MODES.index(mode) != AUTHENTICATION_MODES.index(current) + 1:
        raise invalid_parameter(f"Unsupported authentication mode update from {current} to {mode}",
                                clusterName=cluster.name)

    def apply() -> None:
        cluster.access_config = {**cluster.access_config, "authenticationMode": mode}

    return [{"type": "AuthenticationMode", "value": mode}], apply


def _upgrade_policy_update(cluster: Any, policy: dict[str, Any]) -> tuple[list[dict[str, str]], Callable[[], None]]:
    support = policy.get("supportType")
    if support not in ("STANDARD", "EXTENDED"):
        raise invalid_parameter(f"The support type {support} is not valid.")
    if support == cluster.upgrade_policy.get("supportType"):
        raise invalid_parameter("No changes needed for the upgrade policy provided.", clusterName=cluster.name)

    def apply() -> None:
        cluster.upgrade_policy = {"supportType": support}

    return [{"type": "UpgradePolicy", "value": _json({"supportType": support})}], apply


def _zonal_shift_update(cluster: Any, config: dict[str, Any]) -> tuple[list[dict[str, str]], Callable[[], None]]:
    enabled = bool(config.get("enabled"))

    def apply() -> None:
        cluster.zonal_shift_config = {"enabled": enabled}

    return [{"type": "ZonalShiftConfig", "value": _json({"enabled": enabled})}], apply


def _deletion_protection_update(cluster: Any, enabled: bool) -> tuple[list[dict[str, str]], Callable[[], None]]:
    if bool(enabled) == bool(cluster.deletion_protection):
        raise invalid_parameter("No changes needed for the deletion protection provided.", clusterName=cluster.name)

    def apply() -> None:
        cluster.deletion_protection = bool(enabled)

    return [{"type": "DeletionProtection", "value": _bool(bool(enabled))}], apply


def _vpc_config_changes(cluster: Any, config: dict[str, Any]) -> tuple[bool, bool]:
    """(endpoint access changes?, subnets/security groups change?) of a resourcesVpcConfig request."""
    current = cluster.resources_vpc_config
    endpoint = any(
        key in config and config[key] != current.get(key)
        for key in ("endpointPublicAccess", "endpointPrivateAccess")
    ) or ("publicAccessCidrs" in config
          and sorted(config["publicAccessCidrs"] or []) != sorted(current.get("publicAccessCidrs") or []))
    vpc = any(
        key in config and sorted(config[key] or []) != sorted(current.get(key) or [])
        for key in ("subnetIds", "securityGroupIds")
    )
    return endpoint, vpc


_CLUSTER_CONFIG_UNSUPPORTED = (
    "computeConfig", "storageConfig", "kubernetesNetworkConfig", "remoteNetworkConfig",
    "controlPlaneScalingConfig", "kubeApiServerConfig", "kubeSchedulerConfig", "kubeControllerManagerConfig",
)
_ENDPOINT_KEYS = ("endpointPublicAccess", "endpointPrivateAccess", "publicAccessCidrs")


def update_cluster_config(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateClusterConfig: one kind of change per call, as EKS requires."""
    cluster = get_cluster(call, params["name"])
    unsupported = [key for key in _CLUSTER_CONFIG_UNSUPPORTED if params.get(key) is not None]
    if unsupported:
        raise invalid_parameter(f"The emulator does not support updating {', '.join(unsupported)}.")
    vpc_config = params.get("resourcesVpcConfig") or {}
    kinds: list[tuple[str, Callable[[], tuple[list[dict[str, str]], Callable[[], None]]]]] = []
    # resourcesVpcConfig may repeat current values (modules often send the whole block): only the
    # part that changes counts as the update; if nothing changes, the endpoint (or VPC) builder says so.
    endpoint_given = any(key in vpc_config for key in _ENDPOINT_KEYS)
    vpc_given = "subnetIds" in vpc_config or "securityGroupIds" in vpc_config
    endpoint_changed, vpc_changed = _vpc_config_changes(cluster, vpc_config)
    if endpoint_given and (endpoint_changed or not vpc_changed):
        kinds.append(("EndpointAccessUpdate", lambda: _endpoint_update(cluster, vpc_config)))
    if vpc_given and (vpc_changed or not (endpoint_given or endpoint_changed)):
        kinds.append(("VpcConfigUpdate", lambda: _vpc_update(call, cluster, vpc_config)))
    if params.get("logging") is not None:
        kinds.append(("LoggingUpdate", lambda: _logging_update(cluster, params["logging"])))
    if params.get("accessConfig") is not None:
        kinds.append(("AccessConfigUpdate", lambda: _access_update(cluster, params["accessConfig"])))
    if params.get("upgradePolicy") is not None:
        kinds.append(("UpgradePolicyUpdate", lambda: _upgrade_policy_update(cluster, params["upgradePolicy"])))
    if params.get("zonalShiftConfig") is not None:
        kinds.append(("ZonalShiftConfigUpdate", lambda: _zonal_shift_update(cluster, params["zonalShiftConfig"])))
    if params.get("deletionProtection") is not None:
        kinds.append(("DeletionProtectionUpdate",
                      lambda: _deletion_protection_update(cluster, params["deletionProtection"])))
    if not kinds:
        raise invalid_parameter("At least one cluster configuration change must be specified.")
    if len(kinds) > 1:
        raise invalid_parameter("Only one type of update can be allowed.")
    require_active(cluster)
    update_type, build = kinds[0]
    update_params, apply = build()
    apply()
    cluster.status = "UPDATING"
    return record_update(cluster, EksUpdate(update_type, update_params, "eks_cluster_update"))


def update_cluster_version(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateClusterVersion: one minor version up at a time."""
    cluster = get_cluster(call, params["name"])
    require_active(cluster)
    target = str(params["version"])
    check_version(target)
    current = cluster.version
    (major, current_minor), (target_major, target_minor) = minor(current), minor(target)
    if (target_major, target_minor) != (major, current_minor + 1):
        raise invalid_parameter(f"Unsupported Kubernetes minor version update from {current} to {target}",
                                clusterName=cluster.name)
    update_params = [
        {"type": "Version", "value": target},
        {"type": "PlatformVersion", "value": platform_version(target)},
    ]
    # The update is created first so that it succeeds (and the version flips) before the cluster is ACTIVE.
    update = EksUpdate("VersionUpdate", update_params, "eks_cluster_update")
    defer(cluster, "version", update, target)
    defer(cluster, "platformVersion", update, platform_version(target))
    cluster.status = "UPDATING"
    return record_update(cluster, update)


def associate_encryption_config(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """AssociateEncryptionConfig: envelope-encrypt secrets of a cluster without encryption."""
    cluster = get_cluster(call, params["clusterName"])
    config = _check_encryption_config(params.get("encryptionConfig"))
    if cluster.encryption_config:
        raise invalid_request("Encryption is already enabled on the cluster.", clusterName=cluster.name)
    require_active(cluster)
    cluster.encryption_config = config
    cluster.status = "UPDATING"
    update_params = [{"type": "EncryptionConfig", "value": _json(config)}]
    return record_update(cluster, EksUpdate("AssociateEncryptionConfig", update_params, "eks_cluster_update"))


def _nodegroup(cluster: Any, name: str) -> Any:
    nodegroup = cluster.nodegroups.get(name)
    if nodegroup is None:
        raise not_found(f"No node group found for name: {name}.", clusterName=cluster.name, nodegroupName=name)
    return nodegroup


def describe_update(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeUpdate; node group and add-on updates need their ``nodegroupName``/``addonName``."""
    cluster = get_cluster(call, params["name"])
    update = extras(cluster).updates.get(params["updateId"])
    if (update is None or update.nodegroup != params.get("nodegroupName")
            or update.addon != params.get("addonName")):
        raise not_found(f"No update found for ID: {params['updateId']}", clusterName=cluster.name)
    return {"update": update.to_dict()}


def list_updates(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """ListUpdates of a cluster, or of one of its node groups or add-ons."""
    cluster = get_cluster(call, params["name"])
    nodegroup_name, addon_name = params.get("nodegroupName"), params.get("addonName")
    if nodegroup_name:
        _nodegroup(cluster, nodegroup_name)
    if addon_name and addon_name not in extras(cluster).addons:
        raise not_found(f"No addon: {addon_name} found in cluster: {cluster.name}",
                        clusterName=cluster.name, addonName=addon_name)
    updates = sorted(extras(cluster).updates.values(), key=lambda update: update.created_at)
    ids = [u.id for u in updates if u.nodegroup == nodegroup_name and u.addon == addon_name]
    page, token = paginate(ids, params)
    return {"updateIds": page, "nextToken": token}


# -- node group updates ----------------------------------------------------------------

def _check_scaling(scaling: dict[str, Any]) -> None:
    try:
        low, high = int(scaling["minSize"]), int(scaling["maxSize"])
        desired = int(scaling.get("desiredSize", low))
    except (KeyError, TypeError, ValueError):
        raise invalid_parameter("scalingConfig needs integer minSize, maxSize and desiredSize.") from None
    if low < 0 or high < 1:
        raise invalid_parameter("Minimum size must be >= 0 and maximum size >= 1.")
    if not low <= desired <= high:
        raise invalid_parameter(f"Desired capacity:{desired} can't be lower than the minimum size:{low} "
                                f"or greater than the maximum size:{high}")


def _check_update_config(config: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The node group's new ``updateConfig`` (the two maxUnavailable forms exclude each other)."""
    if "maxUnavailable" in config and "maxUnavailablePercentage" in config:
        raise invalid_parameter("Only one of maxUnavailable and maxUnavailablePercentage can be specified.")
    result = dict(current)
    if "maxUnavailable" in config:
        value = config["maxUnavailable"]
        if not isinstance(value, int) or not 1 <= value <= 100:
            raise invalid_parameter("maxUnavailable must be between 1 and 100.")
        result.pop("maxUnavailablePercentage", None)
        result["maxUnavailable"] = value
    if "maxUnavailablePercentage" in config:
        value = config["maxUnavailablePercentage"]
        if not isinstance(value, int) or not 1 <= value <= 100:
            raise invalid_parameter("maxUnavailablePercentage must be between 1 and 100.")
        result.pop("maxUnavailable", None)
        result["maxUnavailablePercentage"] = value
    if "updateStrategy" in config:
        if config["updateStrategy"] not in ("DEFAULT", "MINIMAL"):
            raise invalid_parameter("updateStrategy must be DEFAULT or MINIMAL.")
        result["updateStrategy"] = config["updateStrategy"]
    if "maxUnavailable" not in result and "maxUnavailablePercentage" not in result:
        result["maxUnavailable"] = 1
    return result


def _check_taints(taints: Any, what: str) -> list[dict[str, str]]:
    if not isinstance(taints, list):
        raise invalid_parameter(f"{what} must be a list of taints.")
    for taint in taints:
        if not isinstance(taint, dict) or not taint.get("key"):
            raise invalid_parameter(f"Each taint in {what} needs a key.")
        if taint.get("effect") is not None and taint["effect"] not in TAINT_EFFECTS:
            raise invalid_parameter(f"The taint effect {taint['effect']} is not valid.")
    return [dict(taint) for taint in taints]


def _require_nodegroup_idle(nodegroup: Any) -> None:
    status = nodegroup.status
    if status not in ("ACTIVE", "DEGRADED"):
        raise in_use(f"Nodegroup {nodegroup.nodegroup_name} cannot be updated while in {status} status.",
                     clusterName=nodegroup.cluster_name, nodegroupName=nodegroup.nodegroup_name)


def update_nodegroup_config(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateNodegroupConfig: labels, taints, scaling, update and repair configuration."""
    cluster = get_cluster(call, params["clusterName"])
    nodegroup = _nodegroup(cluster, params["nodegroupName"])
    update_params: list[dict[str, str]] = []
    changes: list[Callable[[], None]] = []

    labels = params.get("labels")
    if labels is not None:
        add = dict(labels.get("addOrUpdateLabels") or {})
        remove = list(labels.get("removeLabels") or [])
        both = sorted(set(add) & set(remove))
        if both:
            raise invalid_parameter(f"The labels {', '.join(both)} can't be both added and removed.")
        if add:
            update_params.append({"type": "LabelsToAdd", "value": _json(add)})
        if remove:
            update_params.append({"type": "LabelsToRemove", "value": _json(remove)})

        def apply_labels() -> None:
            nodegroup.labels.update(add)
            for key in remove:
                nodegroup.labels.pop(key, None)

        changes.append(apply_labels)

    taints = params.get("taints")
    if taints is not None:
        add_taints = _check_taints(taints.get("addOrUpdateTaints") or [], "addOrUpdateTaints")
        remove_taints = _check_taints(taints.get("removeTaints") or [], "removeTaints")
        if add_taints:
            update_params.append({"type": "TaintsToAdd", "value": _json(add_taints)})
        if remove_taints:
            update_params.append({"type": "TaintsToRemove", "value": _json(remove_taints)})

        def matches(taint: dict[str, str], other: dict[str, str]) -> bool:
            return taint["key"] == other["key"] and other.get("effect") in (None, taint.get("effect"))

        def apply_taints() -> None:
            kept = [t for t in nodegroup.taints if not any(matches(t, r) for r in remove_taints)]
            for new in add_taints:
                kept = [t for t in kept if not (t["key"] == new["key"] and t.get("effect") == new.get("effect"))]
                kept.append(new)
            nodegroup.taints = kept

        changes.append(apply_taints)

    scaling = params.get("scalingConfig")
    if scaling is not None:
        merged = {**nodegroup.scaling_config, **scaling}
        _check_scaling(merged)
        for key, kind in (("minSize", "MinSize"), ("maxSize", "MaxSize"), ("desiredSize", "DesiredSize")):
            if key in scaling:
                update_params.append({"type": kind, "value": str(scaling[key])})
        changes.append(lambda: nodegroup.scaling_config.update(merged))

    update_config = params.get("updateConfig")
    if update_config is not None:
        new_config = _check_update_config(update_config, nodegroup.update_config or {})
        for key, kind in (("maxUnavailable", "MaxUnavailable"),
                          ("maxUnavailablePercentage", "MaxUnavailablePercentage"),
                          ("updateStrategy", "UpdateStrategy")):
            if key in update_config:
                update_params.append({"type": kind, "value": str(update_config[key])})

        def apply_update_config() -> None:
            nodegroup.update_config = new_config

        changes.append(apply_update_config)

    repair = params.get("nodeRepairConfig")
    if repair is not None:
        enabled = bool(repair.get("enabled"))
        update_params.append({"type": "NodeRepairEnabled", "value": _bool(enabled)})

        def apply_repair() -> None:
            nodegroup.node_repair_config = {"enabled": enabled}

        changes.append(apply_repair)

    if not update_params:
        raise invalid_parameter("No changes were specified: give labels, taints, scalingConfig, updateConfig "
                                "or nodeRepairConfig.")
    _require_nodegroup_idle(nodegroup)
    for change in changes:
        change()
    nodegroup.modified_at = utcnow()
    nodegroup.status = "UPDATING"
    update = EksUpdate("ConfigUpdate", update_params, "eks_nodegroup_update", nodegroup=nodegroup.nodegroup_name)
    return record_update(cluster, update)


def update_nodegroup_version(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateNodegroupVersion: Kubernetes version, AMI release or launch template version."""
    cluster = get_cluster(call, params["clusterName"])
    nodegroup = _nodegroup(cluster, params["nodegroupName"])
    template = params.get("launchTemplate")
    version, release = params.get("version"), params.get("releaseVersion")
    update_params: list[dict[str, str]] = []
    new_template = None
    if template is not None:
        current = nodegroup.launch_template or {}
        if not current:
            raise invalid_parameter("A launch template can't be specified for a node group created without one.")
        for key in ("name", "id"):
            if template.get(key) and current.get(key) and template[key] != current[key]:
                raise invalid_parameter(f"The launch template {key} can't be changed; give {current[key]}.")
        new_template = {**current, "version": str(template.get("version") or current.get("version") or "1")}
        _check_launch_template(_ec2(call.account, call.region), new_template)
        update_params += [
            {"type": "LaunchTemplateName", "value": str(new_template.get("name", ""))},
            {"type": "LaunchTemplateVersion", "value": new_template["version"]},
        ]
    if version is None and release is None and template is None:
        version = cluster.version
    if release is not None and version is None:
        version = nodegroup.version
    if version is not None:
        check_version(version)
        if minor(version) > minor(cluster.version):
            raise invalid_parameter(f"Requested Nodegroup Kubernetes version {version} is newer than the "
                                    f"cluster's version {cluster.version}.")
        if minor(version) < minor(nodegroup.version):
            raise invalid_parameter(f"Requested Nodegroup Kubernetes version {version} is older than the "
                                    f"node group's version {nodegroup.version}.")
        release = eks_amis.check_release(version, release or release_version(version))
        update_params = [{"type": "Version", "value": version},
                         {"type": "ReleaseVersion", "value": release}] + update_params
    require_active(cluster)
    _require_nodegroup_idle(nodegroup)
    replaces = NODE_REPLACEMENT is not None and NODE_REPLACEMENT(cluster)
    update = EksUpdate("VersionUpdate", update_params, "eks_nodegroup_update", nodegroup=nodegroup.nodegroup_name,
                       open_ended=replaces)
    if version is not None:
        defer(nodegroup, "version", update, version)
        defer(nodegroup, "release_version", update, release)
    if new_template is not None:
        defer(nodegroup, "launch_template", update, new_template)
    nodegroup.modified_at = utcnow()
    if replaces:
        timeline_of(nodegroup, "status").set("UPDATING")
        nodegroup.__dict__["_emulator_rollout"] = NodeRollout(
            update, version or nodegroup.version, release or nodegroup.release_version,
            new_template or nodegroup.launch_template, bool(params.get("force")))
    else:
        nodegroup.status = "UPDATING"
    return record_update(cluster, update)


# -- node replacement ---------------------------------------------------------------------

# Set by ``k8s/eks_bridge.py``: does a Kubernetes API (with its node controller) run for this cluster? Then a
# version update replaces the nodes there and ends when they are replaced; else it is timed.
NODE_REPLACEMENT: Callable[[Any], bool] | None = None
POD_EVICTION_FAILURE = "Reached max retries while trying to evict pods from nodes in node group {name}"


class NodeRollout:
    """The node replacement of an UpdateNodegroupVersion: its update, what the new nodes run, ``force``."""

    def __init__(self, update: EksUpdate, version: str, release: str, launch_template: dict[str, Any] | None,
                 force: bool) -> None:
        self.update = update
        self.version = version
        self.release = release
        self.launch_template = dict(launch_template) if launch_template else None
        self.force = force
        self.started = update.created_at
        self.reported = False  # the controllers said the replacement is over (the update may still be timed)

    @property
    def in_progress(self) -> bool:
        return self.update.timeline.state() == "InProgress"


def node_rollout(nodegroup: Any) -> NodeRollout | None:
    """The node replacement of ``nodegroup`` still in progress (None: none)."""
    rollout = nodegroup.__dict__.get("_emulator_rollout")
    return rollout if rollout is not None and rollout.in_progress else None


def replacing(nodegroup: Any) -> bool:
    """Are the nodes of ``nodegroup`` being replaced (a replacement started and not reported over)?"""
    rollout = node_rollout(nodegroup)
    return rollout is not None and not rollout.reported


def finish_rollout(nodegroup: Any, update_id: str, error: tuple[str, str, tuple[str, ...]] | None = None) -> None:
    """The nodes of ``nodegroup`` are replaced (or could not be): the update and the group follow.

    Success: the update is Successful and the group ACTIVE once the profile's ``eks_nodegroup_update`` has
    passed since the update began (at once if it has), and the new version/release/launch template show.
    Failure (``(code, message, resource ids)``): the update is Failed with that error now, the group ACTIVE
    with the nodes it has and its old version.
    """
    rollout = node_rollout(nodegroup)
    if rollout is None or rollout.update.id != update_id:
        return
    rollout.reported = True
    status = timeline_of(nodegroup, "status")
    if error is None:
        remaining = max(0.0, rollout.started + TRACKER.seconds("eks_nodegroup_update") - time.time())
        rollout.update.succeed(remaining)
        status.begin("UPDATING", "ACTIVE", remaining)
    else:
        code, message, resource_ids = error
        rollout.update.fail(code, message, list(resource_ids))
        status.set("ACTIVE")


# -- tagging ---------------------------------------------------------------------

def _taggable(call: Call, arn: str) -> Any:
    """The cluster, node group, Fargate profile, add-on or access entry with ``arn``."""
    for cluster in backend(call).clusters.values():
        if cluster.arn == arn:
            return cluster
        for nodegroup in cluster.nodegroups.values():
            if nodegroup.arn == arn:
                return nodegroup
        for profile in cluster.fargate_profiles.values():
            if profile.fargate_profile_arn == arn:
                return profile
        for item in list(extras(cluster).addons.values()) + list(extras(cluster).access_entries.values()):
            if item.arn == arn:
                return item
    if not arn.startswith("arn:"):
        raise ApiError(400, "BadRequestException", f"{arn} is not a valid ARN")
    raise ApiError(404, "NotFoundException", "Resource was not found")


def tag_resource(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """TagResource for every taggable EKS resource (moto only tags clusters)."""
    resource = _taggable(call, params["resourceArn"])
    tags = params.get("tags") or {}
    for key in tags:
        if key.lower().startswith("aws:") or not 1 <= len(key) <= 128:
            raise ApiError(400, "BadRequestException", f"The tag key {key} is not valid.")
    if resource.tags is None:
        resource.tags = {}
    resource.tags.update(tags)
    return {}


def untag_resource(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """UntagResource."""
    resource = _taggable(call, params["resourceArn"])
    for key in params.get("tagKeys") or []:
        (resource.tags or {}).pop(key, None)
    return {}


def list_tags_for_resource(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """ListTagsForResource."""
    return {"tags": dict(_taggable(call, params["resourceArn"]).tags or {})}


HANDLERS: dict[str, Handler] = {
    "UpdateClusterConfig": update_cluster_config,
    "UpdateClusterVersion": update_cluster_version,
    "AssociateEncryptionConfig": associate_encryption_config,
    "DescribeUpdate": describe_update,
    "ListUpdates": list_updates,
    "UpdateNodegroupConfig": update_nodegroup_config,
    "UpdateNodegroupVersion": update_nodegroup_version,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
}
