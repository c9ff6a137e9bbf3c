"""The moto-backed side of the controllers: each EKS cluster's node groups, add-ons, EBS volumes and ELBs.

:class:`MotoCloud` implements :class:`~.controllers.cloud.Cloud` for one
cluster by reading the emulator's backends directly (no AWS call goes through
the emulator's front door, so the request log and fault injection never see
them): the cluster's VPC and subnets, its managed node groups (status,
``desiredSize``, instance types with vCPUs, memory, ENI limits and GPUs from
moto's EC2 instance type data, labels, taints, subnets, AMI type, version),
its add-ons (version, status, IAM role, configuration), and it creates or
deletes EBS volumes in EC2 and load balancers, target groups, listeners and
rules in ELBv2. For the External Secrets Operator it plays STS
``AssumeRoleWithWebIdentity`` (IRSA: the cluster's OIDC issuer, the account's
IAM OIDC providers, the role's trust policy) and Secrets Manager
``GetSecretValue`` as that role (its inline, attached managed and boundary
policies, evaluated by ``controllers/iam.py``), in the cluster's account.

:func:`attach` starts the :class:`~.controllers.Controllers` of a cluster over
its API server's store and :func:`detach` stops them. :func:`install` (called
by ``server.install_patches`` after ``clusters.install``) subscribes them to
``clusters.REGISTRY`` ("started": attach, "stopping": detach; a version
restart is both, over the same store) and hooks the add-ons
(``eks_addons.WORKLOAD_HEALTH``/``ON_DELETE``): an add-on that runs a
Deployment (``coredns``, ``aws-ebs-csi-driver``, ``metrics-server``,
``amazon-cloudwatch-observability``; ``controllers.addons.HEALTH_DEPLOYMENTS``)
is ``DEGRADED`` until that
Deployment's pods are Ready, and ``DeleteAddon --preserve`` keeps its objects.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import math
import threading
import time
from typing import Any

from .. import eks_amis
from .auth import ClusterRef
from .controllers import (
    Addon, Cloud, CloudError, ClusterInfo, Controllers, InstanceType, LoadBalancerSpec, NodeGroup, Rollout,
    SecretValue, Subnet, VolumeRequest,
)
from .controllers import iam as iam_policy
from .controllers.addons import HEALTH_DEPLOYMENTS
from .store import Store

LOG = logging.getLogger("emulator.k8s")
SYNC_TIMEOUT = 1.5
_LOCK = threading.Lock()
_RUNNING: dict[ClusterRef, tuple[Controllers, Any]] = {}
_PRESERVED: dict[ClusterRef, set[str]] = {}
_TYPES: dict[str, InstanceType] = {}


# -- instance types ---------------------------------------------------------------------------------------

def instance_type(name: str) -> InstanceType:
    """vCPUs, memory, EKS max pods (ENIs x (IPv4 per ENI - 1) + 2), architecture and GPUs of an EC2 type."""
    found = _TYPES.get(name)
    if found is not None:
        return found
    try:
        from moto.ec2.models.instance_types import INSTANCE_TYPES

        data = INSTANCE_TYPES.get(name) or {}
    except Exception:  # noqa: BLE001 - moto's data is a convenience
        data = {}
    vcpus = int((data.get("VCpuInfo") or {}).get("DefaultVCpus") or 2)
    memory = int((data.get("MemoryInfo") or {}).get("SizeInMiB") or 4096)
    network = data.get("NetworkInfo") or {}
    enis = int(network.get("MaximumNetworkInterfaces") or 0)
    ips = int(network.get("Ipv4AddressesPerInterface") or 0)
    max_pods = enis * (ips - 1) + 2 if enis and ips else 110
    arches = (data.get("ProcessorInfo") or {}).get("SupportedArchitectures") or ["x86_64"]
    arch = "arm64" if "arm64" in arches and "x86_64" not in arches else "amd64"
    gpus = sum(int(g.get("Count") or 0) for g in (data.get("GpuInfo") or {}).get("Gpus") or [])
    vendor = ((data.get("GpuInfo") or {}).get("Gpus") or [{}])[0].get("Manufacturer", "") if gpus else ""
    found = InstanceType(name=name, vcpus=vcpus, memory_mib=memory, max_pods=max_pods, arch=arch, gpus=gpus,
                         gpu_vendor=vendor)
    _TYPES[name] = found
    return found


# -- the cloud of one cluster --------------------------------------------------------------------------------

def _tags_of(ec2: Any, resource_id: str) -> tuple[tuple[str, str], ...]:
    tags = dict.get(ec2.tags, resource_id) or {}  # not tags[...]: a defaultdict would grow
    return tuple(sorted((str(k), str(v)) for k, v in tags.items()))


class MotoCloud(Cloud):
    """The AWS side of one emulated EKS cluster (see the module docstring)."""

    def __init__(self, ref: ClusterRef) -> None:
        self.ref = ref

    # -- backends ----------------------------------------------------------------------------------------

    def _ec2(self) -> Any:
        from moto.ec2.models import ec2_backends

        return ec2_backends[self.ref.account_id][self.ref.region]

    def _elbv2(self) -> Any:
        from moto.elbv2.models import elbv2_backends

        return elbv2_backends[self.ref.account_id][self.ref.region]

    def _subnet(self, ec2: Any, subnet_id: str) -> Subnet | None:
        try:
            subnet = ec2.get_subnet(subnet_id)
        except Exception:  # noqa: BLE001 - deleted meanwhile
            return None
        return Subnet(id=subnet.id, cidr=subnet.cidr_block, az=subnet.availability_zone,
                      az_id=getattr(subnet, "availability_zone_id", "") or "", tags=_tags_of(ec2, subnet.id))

    # -- snapshot ----------------------------------------------------------------------------------------------

    def snapshot(self) -> ClusterInfo | None:
        cluster = self.ref.cluster()
        if cluster is None:
            return None
        from ..eks_common import extras

        ec2 = self._ec2()
        vpc = cluster.resources_vpc_config or {}
        subnets = tuple(s for s in (self._subnet(ec2, i) for i in vpc.get("subnetIds") or []) if s is not None)
        vpc_id = vpc.get("vpcId") or ""
        if not vpc_id and vpc.get("subnetIds"):
            try:
                vpc_id = ec2.get_subnet(vpc["subnetIds"][0]).vpc_id
            except Exception:  # noqa: BLE001
                vpc_id = ""
        nodegroups = tuple(self._nodegroup(ec2, cluster, ng) for ng in list(cluster.nodegroups.values()))
        addons = []
        for addon in list(extras(cluster).addons.values()):
            addons.append(Addon(name=addon.name, version=addon.version,
                                status=addon.timeline.state() or "CREATING",
                                role_arn=addon.service_account_role_arn,
                                configuration=addon.configuration_values))
        present = {a.name for a in addons}
        with _LOCK:
            preserved = _PRESERVED.setdefault(self.ref, set())
            preserved -= present
            kept = frozenset(preserved)
        return ClusterInfo(name=cluster.name, region=self.ref.region, account=self.ref.account_id,
                           version=cluster.version, vpc_id=vpc_id, subnets=subnets, nodegroups=nodegroups,
                           addons=tuple(addons), preserved_addons=kept)

    def _nodegroup(self, ec2: Any, cluster: Any, nodegroup: Any) -> NodeGroup:
        from ..eks_cluster_patches import node_rollout

        group = self._nodegroup_view(ec2, cluster, nodegroup, nodegroup.version, nodegroup.release_version,
                                     nodegroup.launch_template)
        rollout = node_rollout(nodegroup)
        if rollout is None:
            return group
        target = self._nodegroup_view(ec2, cluster, nodegroup, rollout.version, rollout.release,
                                      rollout.launch_template)
        config = nodegroup.update_config or {}
        if config.get("maxUnavailablePercentage"):
            parallel = math.ceil(group.desired * int(config["maxUnavailablePercentage"]) / 100)
        else:
            parallel = int(config.get("maxUnavailable") or 1)
        return dataclasses.replace(group, rollout=Rollout(
            update_id=rollout.update.id, target=target, max_unavailable=max(parallel, 1), force=rollout.force,
            drain_timeout=_durations("eks_nodegroup_drain_timeout"), started=rollout.started))

    def finish_rollout(self, nodegroup: str, update_id: str, error: tuple[str, str, tuple[str, ...]] | None = None
                       ) -> None:
        cluster = self.ref.cluster()
        found = cluster.nodegroups.get(nodegroup) if cluster is not None else None
        if found is not None:
            from ..eks_cluster_patches import finish_rollout

            finish_rollout(found, update_id, error)

    def _nodegroup_view(self, ec2: Any, cluster: Any, nodegroup: Any, version: str | None, release: str | None,
                        launch_template: dict | None) -> NodeGroup:
        """The node group as its nodes see it, with these version, AMI release and launch template."""
        scaling = nodegroup.scaling_config or {}
        template = launch_template or {}
        types = list(nodegroup.instance_types or [])
        image_id = ""
        template_id = template.get("id") or ""
        if template:
            data = self._launch_template_data(ec2, template)
            if data.get("InstanceType") and (not types or types == ["t3.medium"]):  # moto's default
                types = [data["InstanceType"]]
            image_id = data.get("ImageId") or ""
        if not types:
            types = ["t3.medium"]
        if not image_id:
            image_id = eks_amis.image_id(nodegroup.ami_type, release or "", self.ref.region)
        subnets = tuple(s for s in (self._subnet(ec2, i) for i in nodegroup.subnets or []) if s is not None)
        return NodeGroup(
            name=nodegroup.nodegroup_name,
            status=nodegroup.status or "CREATING",
            desired=int(scaling.get("desiredSize") or 0),
            instance_types=tuple(instance_type(t) for t in types),
            capacity_type=nodegroup.capacity_type or "ON_DEMAND",
            labels=tuple(sorted((str(k), str(v)) for k, v in (nodegroup.labels or {}).items())),
            taints=tuple((t.get("key", ""), t.get("value") or "", t.get("effect") or "NO_SCHEDULE")
                         for t in nodegroup.taints or []),
            subnets=subnets,
            version=version or cluster.version,
            release_version=release or "",
            ami_type=nodegroup.ami_type or "AL2023_x86_64_STANDARD",
            disk_size=int(nodegroup.disk_size or 20),
            launch_template_id=template_id,
            image_id=image_id,
            launch_template_version=str(template.get("version") or "") if template else "",
        )

    @staticmethod
    def _launch_template_data(ec2: Any, template: dict) -> dict:
        try:
            if template.get("id"):
                found = ec2.get_launch_template(template["id"])
            else:
                found = ec2.get_launch_template_by_name(template.get("name"))
            version = str(template.get("version") or "$Default")
            if version == "$Latest":
                chosen = found.latest_version()
            elif version == "$Default":
                chosen = found.default_version()
            else:
                chosen = found.get_version(version)
            return dict(chosen.data or {})
        except Exception:  # noqa: BLE001 - a template we cannot read gives the defaults
            return {}

    # -- load balancer subnets --------------------------------------------------------------------------------

    def lb_subnets(self, internal: bool, explicit: tuple[str, ...] = ()) -> list[Subnet]:
        info = self.snapshot()
        if info is None:
            raise CloudError("FailedBuildModel", "Failed build model due to the cluster is gone")
        ec2 = self._ec2()
        role = "kubernetes.io/role/internal-elb" if internal else "kubernetes.io/role/elb"
        candidates = self._vpc_subnets(ec2, info.vpc_id)
        if explicit:
            chosen = [s for s in candidates if s.id in explicit or dict(s.tags).get("Name") in explicit]
            if not chosen:
                raise CloudError("FailedBuildModel", f"Failed build model due to couldn't find subnets "
                                                     f"{', '.join(explicit)} in VPC {info.vpc_id}")
            return chosen
        cluster_tag = f"kubernetes.io/cluster/{info.name}"
        matching = []
        for subnet in candidates:
            tags = dict(subnet.tags)
            if role not in tags or tags[role] not in ("", "1"):
                continue
            others = [k for k in tags if k.startswith("kubernetes.io/cluster/") and k != cluster_tag]
            if others and cluster_tag not in tags:
                continue
            matching.append(subnet)
        if not matching:
            raise CloudError("FailedBuildModel", "Failed build model due to couldn't auto-discover subnets: unable "
                                                 f"to resolve at least one subnet (0 match VPC and tags: [{role}])")
        per_zone: dict[str, Subnet] = {}
        for subnet in sorted(matching, key=lambda s: (cluster_tag not in dict(s.tags), s.id)):
            per_zone.setdefault(subnet.az, subnet)
        return sorted(per_zone.values(), key=lambda s: s.az)

    def _vpc_subnets(self, ec2: Any, vpc_id: str) -> list[Subnet]:
        result = []
        for zone_subnets in list(ec2.subnets.values()):
            for subnet in list(zone_subnets.values()):
                if subnet.vpc_id == vpc_id:
                    found = self._subnet(ec2, subnet.id)
                    if found is not None:
                        result.append(found)
        return result

    # -- EBS ------------------------------------------------------------------------------------------------------

    def create_volume(self, request: VolumeRequest) -> str:
        ec2 = self._ec2()
        try:
            volume = ec2.create_volume(size=request.size_gib, zone_name=request.zone, encrypted=request.encrypted,
                                       kms_key_id=request.kms_key_id, volume_type=request.volume_type,
                                       iops=request.iops, throughput=request.throughput)
        except Exception as error:  # noqa: BLE001 - moto's EC2 errors carry AWS's code and message
            code = getattr(error, "error_type", None) or type(error).__name__
            raise CloudError("ProvisioningFailed", f"operation error EC2: CreateVolume, {code}: "
                                                   f"{getattr(error, 'message', None) or error}") from None
        if request.tags:
            ec2.create_tags([volume.id], dict(request.tags))
        return volume.id

    def delete_volume(self, volume_id: str) -> None:
        ec2 = self._ec2()
        if volume_id not in ec2.volumes:
            return
        try:
            ec2.delete_volume(volume_id)
        except Exception as error:  # noqa: BLE001
            raise CloudError("VolumeFailedDelete", f"rpc error: code = Internal desc = Could not delete volume ID "
                                                   f"\"{volume_id}\": {getattr(error, 'message', None) or error}"
                             ) from None

    # -- ELBv2 ------------------------------------------------------------------------------------------------------

    def _stack_resources(self, stack_tag: str, stack: str) -> tuple[list[Any], list[Any]]:
        elbv2 = self._elbv2()
        cluster = self.ref.name
        tags_of = elbv2.tagging_service.get_tag_dict_for_resource

        def ours(arn: str) -> bool:
            tags = tags_of(arn)
            return tags.get(stack_tag) == stack and tags.get("elbv2.k8s.aws/cluster") == cluster

        balancers = [lb for lb in list(elbv2.load_balancers.values()) if ours(lb.arn)]
        groups = [tg for tg in list(elbv2.target_groups.values()) if ours(tg.arn)]
        return balancers, groups

    def ensure_load_balancer(self, spec: LoadBalancerSpec) -> str:
        elbv2 = self._elbv2()
        ec2 = self._ec2()
        balancers, groups = self._stack_resources(spec.stack_tag, spec.stack)
        balancer = None
        for existing in balancers:
            if balancer is None and existing.scheme == spec.scheme and existing.type == spec.type:
                balancer = existing
            else:
                self._delete_balancer(elbv2, existing)
        tags = [{"Key": k, "Value": v} for k, v in spec.tags]
        try:
            wanted_groups = self._named_security_groups(ec2, spec) if spec.security_groups else None
            if balancer is not None and wanted_groups is not None and sorted(balancer.security_groups) != sorted(
                    wanted_groups):
                balancer.security_groups = list(wanted_groups)
            if balancer is None:
                security_groups = list(wanted_groups or [])
                if spec.security_group:
                    security_groups = [self._security_group(ec2, spec)]
                balancer = elbv2.create_load_balancer(
                    name=spec.name, security_groups=security_groups, subnet_ids=list(spec.subnets),
                    scheme=spec.scheme, loadbalancer_type=spec.type, ip_address_type=spec.ip_address_type,
                    tags=tags)
            else:
                if sorted(s.id for s in balancer.subnets) != sorted(spec.subnets):
                    balancer.subnets = [ec2.get_subnet(s) for s in spec.subnets]
                if tags:  # the controller reconciles the tags it manages (new default tags, annotations)
                    elbv2.add_tags([balancer.arn], tags)
            for listener_arn in list(balancer.listeners):
                elbv2.delete_listener(listener_arn)
            for group in groups:
                elbv2.delete_target_group(group.arn)
            vpc_id = balancer.vpc_id
            arns = {}
            for group_spec in spec.target_groups:
                kwargs: dict[str, Any] = {"vpc_id": vpc_id, "protocol": group_spec.protocol,
                                          "port": group_spec.port, "target_type": group_spec.target_type}
                if group_spec.health_check_path and group_spec.protocol in ("HTTP", "HTTPS"):
                    kwargs["healthcheck_path"] = group_spec.health_check_path
                group = elbv2.create_target_group(group_spec.name, **kwargs)
                elbv2.add_tags([group.arn], [{"Key": k, "Value": v} for k, v in group_spec.tags])
                if group_spec.targets:
                    elbv2.register_targets(group.arn, [{"Id": target, "Port": port}
                                                       for target, port in group_spec.targets])
                arns[group_spec.name] = group.arn
            for listener_spec in spec.listeners:
                if listener_spec.default_target_group:
                    actions = [{"Type": "forward", "TargetGroupArn": arns[listener_spec.default_target_group]}]
                else:
                    actions = [{"Type": "fixed-response", "FixedResponseConfig": {
                        "StatusCode": "404", "ContentType": "text/plain"}}]
                certificate = listener_spec.certificate_arn
                listener = elbv2.create_listener(
                    load_balancer_arn=balancer.arn, protocol=listener_spec.protocol, port=listener_spec.port,
                    ssl_policy="ELBSecurityPolicy-2016-08" if certificate else None,
                    certificate=certificate, actions=actions, tags=tags)
                for priority, host, path, group_name in listener_spec.rules:
                    conditions = []
                    if host:
                        conditions.append({"Field": "host-header", "HostHeaderConfig": {"Values": [host]}})
                    if path:
                        conditions.append({"Field": "path-pattern", "PathPatternConfig": {"Values": [path]}})
                    elbv2.create_rule(listener.arn, conditions, priority,
                                      [{"Type": "forward", "TargetGroupArn": arns[group_name]}])
        except CloudError:
            raise
        except Exception as error:  # noqa: BLE001 - moto's ELBv2 errors carry AWS's code and message
            code = getattr(error, "error_type", None) or type(error).__name__
            raise CloudError("FailedDeployModel", f"Failed deploy model due to operation error Elastic Load "
                                                  f"Balancing v2, {code}: {getattr(error, 'message', None) or error}"
                             ) from None
        return balancer.dns_name

    @staticmethod
    def _named_security_groups(ec2: Any, spec: LoadBalancerSpec) -> list[str]:
        """The ids of the annotation's groups (an id, or a group name or Name tag in the VPC), as the controller
        resolves them; one missing fails the deploy as it does."""
        vpc_id = ec2.get_subnet(spec.subnets[0]).vpc_id
        ids = []
        for reference in spec.security_groups:
            group = ec2.get_security_group_by_name_or_id(reference, vpc_id)
            if group is None:
                group = next((g for g in ec2.describe_security_groups(filters={"vpc-id": [vpc_id]})
                              if dict(_tags_of(ec2, g.id)).get("Name") == reference), None)
            if group is None:
                raise CloudError("FailedBuildModel", f"Failed build model due to couldn't find all securityGroups, "
                                                     f"nameOrIDs: [{reference}], found: []")
            ids.append(group.id)
        return ids

    def _security_group(self, ec2: Any, spec: LoadBalancerSpec) -> str:
        name = spec.name
        tags = dict(spec.tags)
        tags["elbv2.k8s.aws/resource"] = "ManagedLBSecurityGroup"
        vpc_id = ec2.get_subnet(spec.subnets[0]).vpc_id
        existing = ec2.get_security_group_by_name_or_id(name, vpc_id)
        if existing is not None:
            return existing.id
        group = ec2.create_security_group(name, "[k8s] Managed SecurityGroup for LoadBalancer", vpc_id=vpc_id,
                                          tags=tags)
        return group.id

    def _delete_balancer(self, elbv2: Any, balancer: Any) -> None:
        for listener_arn in list(balancer.listeners):
            elbv2.delete_listener(listener_arn)
        elbv2.delete_load_balancer(balancer.arn)
        ec2 = self._ec2()
        for group_id in list(balancer.security_groups or []):
            group = ec2.get_security_group_from_id(group_id)
            if group is not None and "elbv2.k8s.aws/resource" in dict(_tags_of(ec2, group_id)):
                try:
                    ec2.delete_security_group(group_id=group_id)
                except Exception:  # noqa: BLE001 - still referenced: left behind, as a failed cleanup would
                    LOG.debug("security group %s not deleted", group_id, exc_info=True)

    def delete_load_balancer(self, stack_tag: str, stack: str) -> None:
        elbv2 = self._elbv2()
        try:
            balancers, groups = self._stack_resources(stack_tag, stack)
            for balancer in balancers:
                self._delete_balancer(elbv2, balancer)
            for group in groups:
                elbv2.delete_target_group(group.arn)
        except Exception as error:  # noqa: BLE001
            raise CloudError("FailedCleanup", f"Failed cleanup due to {error}") from None

    # -- IAM, STS, Secrets Manager (the External Secrets Operator) -----------------------------------------------

    def _iam(self) -> Any:
        from moto.iam.models import iam_backends
        from moto.utilities.utils import get_partition

        return iam_backends[self.ref.account_id][get_partition(self.ref.region)]

    def _role(self, iam: Any, role_arn: str) -> iam_policy.IamRole | None:
        """The role with its trust, inline, attached managed and boundary policy documents (None: no such role)."""
        try:
            role = iam.get_role_by_arn(role_arn)
        except Exception:  # noqa: BLE001 - moto's NoSuchEntity
            return None

        def default_document(policy: Any) -> Any:
            versions = list(getattr(policy, "versions", None) or [])
            chosen = next((v for v in versions if getattr(v, "is_default", False)), versions[0] if versions else None)
            return iam_policy.document(getattr(chosen, "document", None))

        policies = [iam_policy.document(text) for text in list((role.policies or {}).values())]
        policies += [default_document(policy) for policy in list((role.managed_policies or {}).values())]
        boundary = None
        if role.permissions_boundary_arn:
            try:
                boundary = default_document(iam.get_policy(role.permissions_boundary_arn))
            except Exception:  # noqa: BLE001 - a boundary that is gone allows nothing
                boundary = {}
        return iam_policy.IamRole(role.arn, role.name, iam_policy.document(role.assume_role_policy_document),
                                  tuple(policies), boundary)

    def assume_role_with_web_identity(self, role_arn: str, namespace: str, service_account: str, session: str,
                                      audience: str = "sts.amazonaws.com") -> str:
        cluster = self.ref.cluster()
        issuer = str(((getattr(cluster, "identity", None) or {}).get("oidc") or {}).get("issuer") or "")
        iam = self._iam()
        providers = {arn: tuple(getattr(provider, "client_id_list", None) or ())
                     for arn, provider in list(iam.open_id_providers.items())}
        partition = role_arn.split(":")[1] if role_arn.count(":") > 1 else "aws"
        return iam_policy.assume_role_with_web_identity(
            self._role(iam, role_arn), issuer, providers, self.ref.account_id, namespace, service_account, session,
            audience, partition)

    def get_secret_value(self, role_arn: str, session: str, secret_id: str, region: str,
                         version_stage: str | None = "AWSCURRENT", version_id: str | None = None) -> SecretValue:
        from moto.secretsmanager.models import secretsmanager_backends

        iam = self._iam()
        role = self._role(iam, role_arn) or iam_policy.IamRole(role_arn, role_arn.rsplit("/", 1)[-1])
        try:
            backend = secretsmanager_backends[self.ref.account_id][region]
        except Exception:  # noqa: BLE001 - not a region moto knows
            raise CloudError("UnrecognizedClientException", "The security token included in the request is "
                                                            "invalid.") from None
        secret = backend.secrets.get(secret_id)
        partition = role.arn.split(":")[1] if role.arn.count(":") > 1 else "aws"
        arn = secret.arn if secret is not None else secret_id if secret_id.startswith("arn:") else (
            f"arn:{partition}:secretsmanager:{region}:{self.ref.account_id}:secret:{secret_id}")
        iam_policy.authorize(role, session, "secretsmanager:GetSecretValue", arn, secret_id)
        if secret is None:
            raise CloudError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
        if secret.is_deleted():
            raise CloudError("InvalidRequestException", "You can't perform this operation on the secret because it "
                                                        "was marked for deletion.")
        try:
            answer = backend.get_secret_value(secret_id, version_id, None if version_id else version_stage)
        except Exception as error:  # noqa: BLE001 - moto's errors carry the service's code and message
            raise CloudError(getattr(error, "error_type", None) or type(error).__name__,
                             getattr(error, "message", None) or str(error)) from None
        binary = answer.get("SecretBinary")
        if isinstance(binary, str):
            try:
                binary = base64.b64decode(binary)
            except ValueError:
                binary = binary.encode()
        return SecretValue(arn=answer["ARN"], name=answer["Name"], version_id=answer["VersionId"],
                           string=answer.get("SecretString"), binary=binary,
                           stages=tuple(answer.get("VersionStages") or ()))


# -- controllers per cluster ---------------------------------------------------------------------------------

def _durations(kind: str) -> float:
    from ..lifecycle import TRACKER

    return TRACKER.seconds(kind)


def attach(ref: ClusterRef, server: Any) -> Controllers | None:
    """Start the controllers of the cluster ``ref`` over ``server.store`` (nothing for a server without a Store)."""
    store = getattr(server, "store", None)
    if not isinstance(store, Store):
        return None
    with _LOCK:
        previous = _RUNNING.pop(ref, None)
    if previous is not None:
        previous[0].stop()
    controllers = Controllers(store, MotoCloud(ref), durations=_durations, name=ref.name)
    with _LOCK:
        _RUNNING[ref] = (controllers, server)
    controllers.start()
    return controllers


def detach(ref: ClusterRef, server: Any = None) -> None:
    """Stop the controllers of ``ref`` (only those over ``server``'s store when given)."""
    with _LOCK:
        entry = _RUNNING.get(ref)
        if entry is None or (server is not None and entry[1] is not server):
            return
        del _RUNNING[ref]
    entry[0].stop()


def controllers_for(ref: ClusterRef) -> Controllers | None:
    with _LOCK:
        entry = _RUNNING.get(ref)
    return entry[0] if entry is not None else None


# -- EKS add-on hooks ------------------------------------------------------------------------------------------

def addon_health(cluster: Any, addon: Any) -> bool | None:
    """Whether an add-on's Deployment is ready (None: no Kubernetes API runs for the cluster, or no Deployment)."""
    target = HEALTH_DEPLOYMENTS.get(addon.name)
    if target is None:
        return None
    try:
        ref = ClusterRef.of(cluster)
    except Exception:  # noqa: BLE001 - not a moto cluster
        return None
    controllers = controllers_for(ref)
    if controllers is None:
        return None
    controllers.sync(SYNC_TIMEOUT)
    return controllers.deployment_ready(*target)


def addon_deleted(cluster: Any, addon: Any, preserve: bool) -> None:
    try:
        ref = ClusterRef.of(cluster)
    except Exception:  # noqa: BLE001
        return
    with _LOCK:
        names = _PRESERVED.setdefault(ref, set())
        if preserve:
            names.add(addon.name)
        else:
            names.discard(addon.name)


# -- node replacement ------------------------------------------------------------------------------------------

def replaces_nodes(cluster: Any) -> bool:
    """``eks_cluster_patches.NODE_REPLACEMENT``: do controllers run for ``cluster`` (to replace its nodes)?"""
    from .clusters import REGISTRY

    try:
        ref = ClusterRef.of(cluster)
    except Exception:  # noqa: BLE001 - not a moto cluster
        return False
    if REGISTRY.api_for(cluster) is None:  # starts (or restarts, after a version update) the API if it is due
        return False
    controllers = controllers_for(ref)
    return controllers is not None and controllers.running


def settle_rollouts(timeout: float = 8.0) -> int:
    """``POST /_emulator/settle``: every node replacement in progress reaches its end now.

    Drains waiting on a PodDisruptionBudget time out at once (``PodEvictionFailure`` unless ``force``);
    the others finish. Waits (at most ``timeout``) until no replacement is left; how many were in progress.
    """
    from ..eks_cluster_patches import replacing

    with _LOCK:
        running = [(ref, entry[0]) for ref, entry in _RUNNING.items()]
    pending = []
    for ref, controllers in running:
        cluster = ref.cluster()
        if cluster is None:
            continue
        groups = [ng for ng in list(cluster.nodegroups.values()) if replacing(ng)]
        if groups:
            controllers.nodes.hurry(time.time())
            pending.append((controllers, groups))
    deadline = time.monotonic() + timeout
    for controllers, groups in pending:
        while any(replacing(ng) for ng in groups) and time.monotonic() < deadline:
            controllers.sync(min(2.0, max(deadline - time.monotonic(), 0.01)))
            time.sleep(0.02)
    return sum(len(groups) for _controllers, groups in pending)


_INSTALLED: list[Any] = []


def _follow(event: str, api: Any) -> None:
    """``clusters.REGISTRY`` listener: an API started (attach its controllers) or is stopping (detach them)."""
    if event == "started":
        attach(api.ref, api.server)
    elif event == "stopping":
        detach(api.ref, api.server)


def install() -> None:
    """Controllers follow the clusters' APIs; the EKS add-ons follow their workloads (idempotent)."""
    from .. import eks_addons, eks_cluster_patches
    from .clusters import REGISTRY

    eks_addons.WORKLOAD_HEALTH = addon_health
    eks_addons.ON_DELETE = addon_deleted
    eks_cluster_patches.NODE_REPLACEMENT = replaces_nodes
    if not _INSTALLED:
        _INSTALLED.append(REGISTRY.subscribe(_follow))


__all__ = ["MotoCloud", "addon_deleted", "addon_health", "attach", "controllers_for", "detach", "install",
           "instance_type", "replaces_nodes", "settle_rollouts"]
