"""What the controllers need from the cloud behind the cluster, as plain data and a small interface.

The controllers never import moto: ``emulator/k8s/eks_bridge.py`` implements
:class:`Cloud` over the emulator's EKS, EC2, ELBv2, IAM and Secrets Manager
backends. :class:`NullCloud` is a cluster with no node groups, no add-ons and
no AWS resources (a bare store, tests); :class:`StaticCloud` is one set by hand.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from typing import Any


class CloudError(Exception):
    """An AWS-side failure the controllers report as an event (``reason``: the event's reason)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Subnet:
    id: str
    cidr: str
    az: str
    az_id: str = ""
    tags: tuple[tuple[str, str], ...] = ()

    def tag(self, key: str) -> str | None:
        return dict(self.tags).get(key)


@dataclass(frozen=True)
class InstanceType:
    """What a node of this type offers: vCPUs, memory, the EKS max-pods value, architecture, GPUs."""

    name: str
    vcpus: int
    memory_mib: int
    max_pods: int
    arch: str = "amd64"
    gpus: int = 0
    gpu_vendor: str = ""


@dataclass(frozen=True)
class NodeGroup:
    """A managed node group as its nodes see it."""

    name: str
    status: str
    desired: int
    instance_types: tuple[InstanceType, ...]
    capacity_type: str = "ON_DEMAND"
    labels: tuple[tuple[str, str], ...] = ()
    taints: tuple[tuple[str, str, str], ...] = ()  # (key, value, effect as Kubernetes writes it)
    subnets: tuple[Subnet, ...] = ()
    version: str = ""
    release_version: str = ""
    ami_type: str = "AL2023_x86_64_STANDARD"
    disk_size: int = 20
    launch_template_id: str = ""
    image_id: str = ""
    launch_template_version: str = ""
    rollout: "Rollout | None" = None  # a version update replacing the nodes (UpdateNodegroupVersion)

    @property
    def has_nodes(self) -> bool:
        return self.status in ("ACTIVE", "UPDATING", "DEGRADED")


@dataclass(frozen=True)
class Rollout:
    """An EKS node group update that replaces the group's nodes with nodes of ``target``'s configuration.

    ``max_unavailable``: how many old nodes are drained at once (``updateConfig``); ``drain_timeout``: how
    long a node's pods may resist eviction before the update fails with ``PodEvictionFailure`` (unless
    ``force``); ``started``: when the update began (epoch seconds).
    """

    update_id: str
    target: NodeGroup
    max_unavailable: int = 1
    force: bool = False
    drain_timeout: float = 900.0
    started: float = 0.0


@dataclass(frozen=True)
class Addon:
    """An EKS managed add-on: what its workloads are built from."""

    name: str
    version: str
    status: str
    role_arn: str | None = None
    configuration: str | None = None


@dataclass(frozen=True)
class ClusterInfo:
    """One look at the EKS cluster: what the node and add-on controllers follow."""

    name: str
    region: str
    account: str
    version: str
    vpc_id: str = ""
    subnets: tuple[Subnet, ...] = ()
    nodegroups: tuple[NodeGroup, ...] = ()
    addons: tuple[Addon, ...] = ()
    preserved_addons: frozenset[str] = frozenset()


@dataclass(frozen=True)
class VolumeRequest:
    zone: str
    size_gib: int
    volume_type: str
    iops: int | None = None
    throughput: int | None = None
    encrypted: bool = False
    kms_key_id: str | None = None
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TargetGroupSpec:
    name: str
    protocol: str
    port: int
    target_type: str
    targets: tuple[tuple[str, int], ...] = ()  # (instance id or IP, port)
    tags: tuple[tuple[str, str], ...] = ()
    health_check_path: str | None = None


@dataclass(frozen=True)
class ListenerSpec:
    protocol: str
    port: int
    default_target_group: str | None  # a TargetGroupSpec name; None: fixed 404 (the ALB default backend)
    certificate_arn: str | None = None
    # ALB rules: (priority, host or None, path pattern or None, target group name)
    rules: tuple[tuple[int, str | None, str | None, str], ...] = ()


@dataclass(frozen=True)
class LoadBalancerSpec:
    """The load balancer an AWS Load Balancer Controller would build for one Service or Ingress (group)."""

    stack: str  # the value of the ``*.k8s.aws/stack`` tag that identifies it
    stack_tag: str  # ``service.k8s.aws/stack`` or ``ingress.k8s.aws/stack``
    name: str
    type: str  # network | application
    scheme: str  # internet-facing | internal
    subnets: tuple[str, ...]
    listeners: tuple[ListenerSpec, ...]
    target_groups: tuple[TargetGroupSpec, ...]
    tags: tuple[tuple[str, str], ...] = ()
    ip_address_type: str = "ipv4"
    security_group: bool = False  # ALB: a managed security group for the listeners
    security_groups: tuple[str, ...] = ()  # ALB: the groups of the security-groups annotation (ids or names)


@dataclass(frozen=True)
class SecretValue:
    """One version of a Secrets Manager secret, as ``GetSecretValue`` answers."""

    arn: str
    name: str
    version_id: str
    string: str | None = None
    binary: bytes | None = None
    stages: tuple[str, ...] = ()


class Cloud:
    """The AWS side of one cluster (see :mod:`emulator.k8s.eks_bridge` for the emulator's)."""

    def snapshot(self) -> ClusterInfo | None:
        """The cluster as EKS describes it now; None when it is gone."""
        return None

    def lb_subnets(self, internal: bool, explicit: tuple[str, ...] = ()) -> list[Subnet]:
        """Subnets for a load balancer: ``explicit`` IDs or names, else discovered by role tags (one per AZ)."""
        raise CloudError("FailedBuildModel", "Failed build model due to couldn't auto-discover subnets: no VPC")

    def create_volume(self, request: VolumeRequest) -> str:
        raise CloudError("ProvisioningFailed", "no EC2 behind this cluster")

    def delete_volume(self, volume_id: str) -> None:
        return None

    def ensure_load_balancer(self, spec: LoadBalancerSpec) -> str:
        """Create or update the load balancer of ``spec.stack``; its DNS name."""
        raise CloudError("FailedDeployModel", "no ELBv2 behind this cluster")

    def delete_load_balancer(self, stack_tag: str, stack: str) -> None:
        return None

    def assume_role_with_web_identity(self, role_arn: str, namespace: str, service_account: str, session: str,
                                      audience: str = "sts.amazonaws.com") -> str:
        """STS ``AssumeRoleWithWebIdentity`` with the projected token of a service account (IRSA).

        The session's ARN (``arn:aws:sts::<account>:assumed-role/<role>/<session>``); CloudError(STS's error
        code, its message) when the cluster's OIDC provider is not in IAM, the audience is not one of its client
        IDs, the role does not exist or its trust policy does not let ``system:serviceaccount:<ns>:<name>`` in.
        """
        raise CloudError("InvalidIdentityToken", "No OpenIDConnect provider found in your account for ")

    def get_secret_value(self, role_arn: str, session: str, secret_id: str, region: str,
                         version_stage: str | None = "AWSCURRENT", version_id: str | None = None) -> SecretValue:
        """Secrets Manager ``GetSecretValue`` in ``region`` *as the role* (its identity policies must allow
        ``secretsmanager:GetSecretValue`` on the secret's ARN, see :mod:`.iam`).

        CloudError(``AccessDeniedException``/``ResourceNotFoundException``/``InvalidRequestException``, the
        service's message) as Secrets Manager refuses.
        """
        raise CloudError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")

    def finish_rollout(self, nodegroup: str, update_id: str, error: tuple[str, str, tuple[str, ...]] | None = None
                       ) -> None:
        """The node replacement of update ``update_id`` is over: done (``error`` None), or failed with ``(error
        code, message, resource ids)`` (EKS's ``ErrorDetail``)."""
        return None

    def describe(self) -> dict[str, Any]:
        return {}


class NullCloud(Cloud):
    """No node groups, no add-ons, no AWS resources."""


@dataclass
class StaticCloud(Cloud):
    """A cloud whose snapshot is set by hand (tests without moto)."""

    info: ClusterInfo | None = None
    volumes: dict[str, VolumeRequest] = field(default_factory=dict)
    load_balancers: dict[str, LoadBalancerSpec] = field(default_factory=dict)
    # IAM (see add_role) and IRSA: the cluster's OIDC issuer and the account's OIDC providers (ARN -> client IDs)
    roles: dict[str, Any] = field(default_factory=dict)
    oidc_issuer: str = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
    oidc_providers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Secrets Manager: (region, name) -> {"arn", "versions": {version id: (string, binary, [stages])}, "deleted"}
    secrets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def snapshot(self) -> ClusterInfo | None:
        return self.info

    def lb_subnets(self, internal: bool, explicit: tuple[str, ...] = ()) -> list[Subnet]:
        subnets = self.info.subnets if self.info else ()
        role = "kubernetes.io/role/internal-elb" if internal else "kubernetes.io/role/elb"
        found = [s for s in subnets if (s.id in explicit if explicit else s.tag(role) in ("1", ""))]
        if not found:
            raise CloudError("FailedBuildModel", "Failed build model due to unable to resolve at least one subnet "
                                                 f"(0 match VPC and tags: [{role}])")
        return found

    def create_volume(self, request: VolumeRequest) -> str:
        volume_id = f"vol-{len(self.volumes):017x}"
        self.volumes[volume_id] = request
        return volume_id

    def delete_volume(self, volume_id: str) -> None:
        self.volumes.pop(volume_id, None)

    def ensure_load_balancer(self, spec: LoadBalancerSpec) -> str:
        self.load_balancers[spec.stack] = spec
        return f"{spec.name}-0123456789.{self.info.region if self.info else 'us-east-1'}.elb.amazonaws.com"

    def delete_load_balancer(self, stack_tag: str, stack: str) -> None:
        self.load_balancers.pop(stack, None)

    # -- IAM, STS, Secrets Manager -----------------------------------------------------------------------

    @property
    def account(self) -> str:
        return self.info.account if self.info else "123456789012"

    def add_oidc_provider(self, client_ids: tuple[str, ...] = ("sts.amazonaws.com",)) -> str:
        """Register the cluster's OIDC issuer as an IAM OIDC provider (as ``eksctl utils associate-iam-oidc-
        provider`` does); its ARN."""
        arn = f"arn:aws:iam::{self.account}:oidc-provider/{self.oidc_issuer.split('://', 1)[-1]}"
        self.oidc_providers[arn] = tuple(client_ids)
        return arn

    def add_role(self, name: str, trust: Any, *policies: Any, boundary: Any = None) -> str:
        """An IAM role with its trust policy and identity-based policy documents; its ARN."""
        from .iam import IamRole, document

        arn = f"arn:aws:iam::{self.account}:role/{name}"
        self.roles[arn] = IamRole(arn, name, document(trust), tuple(document(p) for p in policies),
                                  document(boundary) if boundary is not None else None)
        return arn

    def put_secret(self, name: str, string: str | None = None, binary: bytes | None = None,
                   region: str | None = None) -> str:
        """Create the secret or put a new ``AWSCURRENT`` version (the old one becomes ``AWSPREVIOUS``); its id."""
        region = region or (self.info.region if self.info else "us-east-1")
        secret = self.secrets.setdefault((region, name), {
            "arn": f"arn:aws:secretsmanager:{region}:{self.account}:secret:{name}-{uuid.uuid4().hex[:6]}",
            "versions": {}, "deleted": False})
        for _string, _binary, stages in secret["versions"].values():
            if "AWSPREVIOUS" in stages:
                stages.remove("AWSPREVIOUS")
            if "AWSCURRENT" in stages:
                stages.remove("AWSCURRENT")
                stages.append("AWSPREVIOUS")
        version_id = str(uuid.uuid4())
        secret["versions"][version_id] = (string, binary, ["AWSCURRENT"])
        return version_id

    def assume_role_with_web_identity(self, role_arn: str, namespace: str, service_account: str, session: str,
                                      audience: str = "sts.amazonaws.com") -> str:
        from .iam import assume_role_with_web_identity

        return assume_role_with_web_identity(self.roles.get(role_arn), self.oidc_issuer, self.oidc_providers,
                                             self.account, namespace, service_account, session, audience)

    def get_secret_value(self, role_arn: str, session: str, secret_id: str, region: str,
                         version_stage: str | None = "AWSCURRENT", version_id: str | None = None) -> SecretValue:
        from .iam import IamRole, authorize

        role = self.roles.get(role_arn) or IamRole(role_arn, role_arn.rsplit("/", 1)[-1])
        found = next(((name, s) for (r, name), s in self.secrets.items()
                      if r == region and secret_id in (name, s["arn"])), None)
        arn = found[1]["arn"] if found else (
            secret_id if secret_id.startswith("arn:") else
            f"arn:aws:secretsmanager:{region}:{self.account}:secret:{secret_id}")
        authorize(role, session, "secretsmanager:GetSecretValue", arn, secret_id)
        if found is None:
            raise CloudError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
        name, secret = found
        if secret["deleted"]:
            raise CloudError("InvalidRequestException", "You can't perform this operation on the secret because it "
                                                        "was marked for deletion.")
        for vid, (string, binary, stages) in secret["versions"].items():
            if (version_id and vid == version_id) or (not version_id and version_stage in stages):
                return SecretValue(secret["arn"], name, vid, string,
                                   base64.b64decode(binary) if isinstance(binary, str) else binary, tuple(stages))
        what = f"VersionId: {version_id}" if version_id else f"staging label: {version_stage}"
        raise CloudError("ResourceNotFoundException", f"Secrets Manager can't find the specified secret value for "
                                                      f"{what}")
