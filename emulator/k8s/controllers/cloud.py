"""What the controllers need from the cloud behind the cluster, as plain data and a small interface.

The controllers never import moto: ``emulator/k8s/eks_bridge.py`` implements
:class:`Cloud` over the emulator's EKS, EC2 and ELBv2 backends. :class:`NullCloud`
is a cluster with no node groups, no add-ons and no AWS resources (a bare
store, tests).
"""

from __future__ import annotations

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

    @property
    def has_nodes(self) -> bool:
        return self.status in ("ACTIVE", "UPDATING", "DEGRADED")


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
