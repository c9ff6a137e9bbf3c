"""Nodes from the EKS managed node groups, and the pod garbage collector.

Each node group that is ``ACTIVE`` (or ``UPDATING``/``DEGRADED``: it keeps its
instances) shows up as ``desiredSize`` Node objects, as the EKS-optimized AMI's
kubelet registers them: named after their private IP in one of the group's
subnets (``ip-10-0-1-23.ec2.internal``), labelled with the node group, capacity
type, instance type, zone, Region, OS and architecture plus the group's own
labels, tainted with the group's taints, with capacity and allocatable computed
as the AMI computes them (``max-pods`` from the ENI limits, kube-reserved CPU and
memory, the 100Mi eviction threshold) and Ready at once (kwok-style: no kubelet
runs). A scaled-down group loses the nodes of an older configuration first, then its
newest nodes; a deleted group all of them. Labels and taints of UpdateNodegroupConfig
change the nodes in place; what a node was launched with (kubelet version, AMI, launch
template version) changes only by replacing it.

A version update (UpdateNodegroupVersion: Kubernetes version, AMI release, launch
template version) replaces the nodes as EKS's managed node update does
(:meth:`NodeController._roll`): new nodes first, the old ones cordoned, drained
through the Eviction API (PodDisruptionBudgets hold) up to ``maxUnavailable`` at a
time, terminated; the end (or ``PodEvictionFailure`` after the drain timeout) is
reported to EKS through :meth:`Cloud.finish_rollout`.

Pods bound to a node that is gone are deleted (the pod GC), at once when this
controller removed the node, after 40 s otherwise.
"""

from __future__ import annotations

import hashlib
import ipaddress
import random
import uuid
from typing import Any

from ..errors import ApiError
from .cloud import ClusterInfo, InstanceType, NodeGroup, Rollout, Subnet
from .runtime import Context
from .util import format_cpu, format_memory_ki

NODEGROUP_LABEL = "eks.amazonaws.com/nodegroup"
IMAGE_LABEL = "eks.amazonaws.com/nodegroup-image"
LAUNCH_TEMPLATE_VERSION_LABEL = "eks.amazonaws.com/sourceLaunchTemplateVersion"
EXCLUDE_FROM_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
# what a node was launched with: kept by the label refresh, changed only by replacing the node
LAUNCH_LABELS = (IMAGE_LABEL, "eks.amazonaws.com/sourceLaunchTemplateId", LAUNCH_TEMPLATE_VERSION_LABEL)
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
DRAIN_RETRY = 5.0  # seconds between eviction attempts of a pod a disruption budget protects (as kubectl drain)
EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}
POD_GC_GRACE = 40.0
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
CONTAINERD = "containerd://2.1.4"


def node_name(ip: str, region: str) -> str:
    dashed = ip.replace(".", "-")
    return f"ip-{dashed}.ec2.internal" if region == "us-east-1" else f"ip-{dashed}.{region}.compute.internal"


def reserved_cpu_millis(vcpus: int) -> int:
    """kube-reserved CPU of the EKS AMIs: 6% of the first core, 1% of the second, 0.5% of two more, 0.25% above."""
    millis = 0.0
    for core in range(vcpus):
        millis += 60 if core == 0 else 10 if core == 1 else 5 if core < 4 else 2.5
    return int(millis)


def capacity(itype: InstanceType, disk_gib: int, gpu: bool) -> tuple[dict[str, str], dict[str, str]]:
    """``(capacity, allocatable)`` of a node of ``itype`` with a ``disk_gib`` root volume."""
    memory_ki = int(itype.memory_mib * 1024 * 0.965)
    reserved_ki = (11 * itype.max_pods + 255) * 1024 + 100 * 1024  # kube-reserved + eviction-hard
    storage_ki = max(disk_gib, 1) * 1024 * 1024 - 12 * 1024
    cap = {
        "cpu": str(itype.vcpus),
        "ephemeral-storage": format_memory_ki(storage_ki),
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": format_memory_ki(memory_ki),
        "pods": str(itype.max_pods),
    }
    alloc = {
        "cpu": format_cpu(itype.vcpus * 1000 - reserved_cpu_millis(itype.vcpus)),
        "ephemeral-storage": str(max(int(storage_ki * 1024 * 0.9) - 2 ** 30, 0)),
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": format_memory_ki(max(memory_ki - reserved_ki, 0)),
        "pods": str(itype.max_pods),
    }
    if gpu and itype.gpus:
        cap["nvidia.com/gpu"] = alloc["nvidia.com/gpu"] = str(itype.gpus)
    return cap, alloc


def _os_of(ami_type: str) -> str:
    return "windows" if ami_type.upper().startswith("WINDOWS") else "linux"


def _arch_of(group: NodeGroup, itype: InstanceType) -> str:
    ami = group.ami_type.upper()
    if "ARM" in ami:
        return "arm64"
    if "X86" in ami or ami.startswith("AL2_X86") or ami.startswith("WINDOWS"):
        return "amd64"
    return itype.arch


def _os_image(group: NodeGroup) -> tuple[str, str]:
    """(osImage, kernelVersion) of the group's AMI."""
    ami = group.ami_type.upper()
    release = group.release_version.rpartition("-")[2] or "20261118"
    arch = "aarch64" if "ARM" in ami else "x86_64"
    if ami.startswith("BOTTLEROCKET"):
        return "Bottlerocket OS 1.50.0 (aws-k8s-" + (group.version or "1.35") + ")", "6.12.46"
    if ami.startswith("WINDOWS"):
        return "Windows Server 2022 Datacenter", "10.0.20348.4297"
    if ami.startswith("AL2_"):
        return "Amazon Linux 2", f"5.10.240-238.966.amzn2.{arch}"
    return f"Amazon Linux 2023.9.{release}", f"6.12.46-66.121.amzn2023.{arch}"


def kubelet_version(group: NodeGroup, cluster_version: str) -> str:
    release = group.release_version.partition("-")[0] or f"{group.version or cluster_version}.0"
    commit = hashlib.sha1(f"eks-{release}".encode()).hexdigest()[:7]
    return f"v{release}-eks-{commit}"


def desired_labels(info: ClusterInfo, group: NodeGroup, itype: InstanceType, zone: str, zone_id: str,
                   name: str) -> dict[str, str]:
    arch = _arch_of(group, itype)
    os_name = _os_of(group.ami_type)
    labels = {
        "beta.kubernetes.io/arch": arch,
        "beta.kubernetes.io/instance-type": itype.name,
        "beta.kubernetes.io/os": os_name,
        "eks.amazonaws.com/capacityType": group.capacity_type or "ON_DEMAND",
        NODEGROUP_LABEL: group.name,
        "failure-domain.beta.kubernetes.io/region": info.region,
        "failure-domain.beta.kubernetes.io/zone": zone,
        "kubernetes.io/arch": arch,
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": os_name,
        "node.kubernetes.io/instance-type": itype.name,
        "topology.kubernetes.io/region": info.region,
        "topology.kubernetes.io/zone": zone,
    }
    if group.image_id:
        labels[IMAGE_LABEL] = group.image_id
    if group.launch_template_id:
        labels["eks.amazonaws.com/sourceLaunchTemplateId"] = group.launch_template_id
        if group.launch_template_version:
            labels[LAUNCH_TEMPLATE_VERSION_LABEL] = group.launch_template_version
    if zone_id:
        labels["topology.k8s.aws/zone-id"] = zone_id
    labels.update(dict(group.labels))
    return labels


def desired_taints(group: NodeGroup) -> list[dict[str, str]]:
    taints = []
    for key, value, effect in group.taints:
        taint = {"key": key, "effect": EFFECTS.get(effect, effect)}
        if value:
            taint["value"] = value
        taints.append(taint)
    return taints


def node_status(info: ClusterInfo, group: NodeGroup, itype: InstanceType, name: str, ip: str, now: str,
                previous: dict | None = None) -> dict[str, Any]:
    gpu = any(word in group.ami_type.upper() for word in ("NVIDIA", "GPU"))
    cap, alloc = capacity(itype, group.disk_size or 20, gpu)
    os_image, kernel = _os_image(group)
    seed = hashlib.sha1(name.encode()).hexdigest()
    old_conditions = {c.get("type"): c for c in (previous or {}).get("conditions") or []}

    def cond(kind: str, status: str, reason: str, message: str) -> dict[str, str]:
        old = old_conditions.get(kind) or {}
        since = old.get("lastTransitionTime") if old.get("status") == status else None
        return {"type": kind, "status": status, "lastHeartbeatTime": old.get("lastHeartbeatTime") or now,
                "lastTransitionTime": since or now, "reason": reason, "message": message}

    return {
        "addresses": [{"type": "InternalIP", "address": ip}, {"type": "InternalDNS", "address": name},
                      {"type": "Hostname", "address": name}],
        "allocatable": alloc,
        "capacity": cap,
        "conditions": [
            cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "architecture": _arch_of(group, itype),
            "bootID": str(uuid.UUID(seed[:32])),
            "containerRuntimeVersion": CONTAINERD,
            "kernelVersion": kernel,
            "kubeProxyVersion": "",
            "kubeletVersion": kubelet_version(group, info.version),
            "machineID": seed[:32],
            "operatingSystem": _os_of(group.ami_type),
            "osImage": os_image,
            "systemUUID": "ec2" + seed[3:8] + "-" + seed[8:12] + "-" + seed[12:16] + "-" + seed[16:20] + "-"
                          + seed[20:32],
        },
    }


def node_ip(node: dict) -> str | None:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return address.get("address")
    return None


def used_ips(ctx: Context) -> set[str]:
    ips = {ip for ip in (node_ip(n) for n in ctx.list("nodes")) if ip}
    for pod in ctx.list("pods"):
        ip = (pod.get("status") or {}).get("podIP")
        if ip:
            ips.add(ip)
    return ips


def free_ip(cidr: str, used: set[str], rng: random.Random) -> str:
    """A free host address of ``cidr`` (AWS keeps the first four and the last)."""
    network = ipaddress.ip_network(cidr, strict=False)
    first = int(network.network_address) + 4
    last = int(network.broadcast_address) - 1
    if last < first:
        raise ValueError(f"subnet {cidr} has no host addresses")
    for _ in range(200):
        candidate = str(ipaddress.ip_address(rng.randint(first, last)))
        if candidate not in used:
            return candidate
    for value in range(first, last + 1):
        candidate = str(ipaddress.ip_address(value))
        if candidate not in used:
            return candidate
    raise ValueError(f"subnet {cidr} is full")


def subnet_of(ip: str | None, subnets: tuple[Subnet, ...] | list[Subnet]) -> Subnet | None:
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    for subnet in subnets:
        try:
            if address in ipaddress.ip_network(subnet.cidr, strict=False):
                return subnet
        except ValueError:
            continue
    return None


def all_subnets(info: ClusterInfo | None) -> list[Subnet]:
    if info is None:
        return []
    seen: dict[str, Subnet] = {s.id: s for s in info.subnets}
    for group in info.nodegroups:
        for subnet in group.subnets:
            seen.setdefault(subnet.id, subnet)
    return list(seen.values())


def fingerprint(node: dict) -> tuple[str, str, str]:
    """What a node was launched with: kubelet version, AMI (``nodegroup-image``), launch template version."""
    labels = node["metadata"].get("labels") or {}
    kubelet = ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")
    return kubelet, labels.get(IMAGE_LABEL, ""), labels.get(LAUNCH_TEMPLATE_VERSION_LABEL, "")


def group_fingerprint(group: NodeGroup, info: ClusterInfo) -> tuple[str, str, str]:
    """The :func:`fingerprint` of a node launched now for ``group``."""
    return (kubelet_version(group, info.version), group.image_id or "",
            group.launch_template_version if group.launch_template_id else "")


def _created(node: dict) -> tuple[str, str]:
    return node["metadata"].get("creationTimestamp", ""), node["metadata"]["name"]


def _instance_id(node: dict) -> str:
    return str((node.get("spec") or {}).get("providerID", "")).rpartition("/")[2] or node["metadata"]["name"]


class NodeController:
    """Node objects following the node groups; node replacement of version updates; the pod garbage collector."""

    def __init__(self) -> None:
        self.rng = random.Random()
        self.removed: set[str] = set()  # names of the nodes this controller deleted
        self._orphans: dict[str, float] = {}  # pod uid -> when first seen on a missing node
        # the group's labels and taints as last applied, so that those the group drops leave its nodes
        self._group_labels: dict[str, set[str]] = {}
        self._group_taints: dict[str, set[tuple[str, str]]] = {}
        self._finished: set[str] = set()  # updates whose replacement is over (reported to EKS)
        self._drains: dict[str, dict[str, float]] = {}  # update id -> node name -> when its drain began
        self._hurried: set[str] = set()  # updates whose drains time out now (POST /_emulator/settle)
        self._hurry_at = 0.0
        # group -> (desiredSize, nodes) after a failed replacement: the nodes it left are kept
        self._left: dict[str, tuple[int, int]] = {}

    def hurry(self, moment: float) -> None:
        """Every replacement in progress at ``moment``: drains a budget blocks time out at once (settle)."""
        self._hurry_at = moment

    # -- nodes ----------------------------------------------------------------------------------

    def reconcile(self, ctx: Context) -> None:
        info = ctx.info
        if info is None:
            return
        ours: dict[str, list[dict]] = {}
        for node in ctx.list("nodes"):
            group = ((node["metadata"].get("labels") or {}).get(NODEGROUP_LABEL))
            if group:
                ours.setdefault(group, []).append(node)
        used: set[str] | None = None
        for group in info.nodegroups:
            have = sorted(ours.pop(group.name, []), key=_created)
            rollout = group.rollout
            if rollout is not None and rollout.update_id in self._finished:
                rollout = None
            want = group.desired if group.has_nodes else 0
            left = self._left.get(group.name)
            if left is not None and (left[0] != group.desired or rollout is not None):
                del self._left[group.name]
                left = None
            keep = max(want, left[1]) if left is not None and group.has_nodes else want
            refreshed = all([self._refresh(ctx, info, group, node) for node in have])
            if refreshed:
                self._group_labels[group.name] = set(dict(group.labels))
                self._group_taints[group.name] = {(t["key"], t["effect"]) for t in desired_taints(group)}
            if used is None:
                used = used_ips(ctx)
            if rollout is not None and group.has_nodes:
                self._roll(ctx, info, group, rollout, have, used)
                continue
            if len(have) > keep:
                # the Auto Scaling group's default termination policy: the oldest launch configuration first
                current = group_fingerprint(group, info)
                outdated = [n for n in have if fingerprint(n) != current]
                newest = [n for n in reversed(have) if fingerprint(n) == current]
                for node in (outdated + newest)[:len(have) - keep]:
                    self._remove(ctx, node)
            elif len(have) < want and group.subnets and group.instance_types:
                for _ in range(want - len(have)):
                    created = self._add(ctx, info, group, have, used)
                    if created is None:
                        break
                    have.append(created)
        for leftovers in ours.values():  # node groups that are gone
            for node in leftovers:
                self._remove(ctx, node)

    # -- node replacement (UpdateNodegroupVersion) ------------------------------------------------

    def _roll(self, ctx: Context, info: ClusterInfo, group: NodeGroup, rollout: Rollout, have: list[dict],
              used: set[str]) -> None:
        """One step of EKS's managed node update: scale up, cordon, drain and terminate, scale down.

        New nodes (``rollout.target``'s version, AMI, launch template) are launched first: as many as the
        larger of twice the group's Availability Zones and ``max_unavailable`` (no more than the group's
        size), then one for every old node terminated. Every old node is cordoned (``spec.unschedulable``,
        the ``node.kubernetes.io/unschedulable`` taint, the ``exclude-from-external-load-balancers`` label);
        up to ``max_unavailable`` of them at a time are drained through the Eviction API, so that
        PodDisruptionBudgets hold (DaemonSet and mirror pods stay), and terminated once empty. A pod whose
        eviction is refused is tried again; after ``drain_timeout`` the update fails with
        ``PodEvictionFailure`` unless it is forced, and then such a pod is deleted instead.
        """
        target = rollout.target
        want = group.desired
        current = group_fingerprint(target, info)
        old = [n for n in have if fingerprint(n) != current]
        new = [n for n in have if fingerprint(n) == current]
        if not old:
            for node in list(reversed(new))[:max(len(new) - want, 0)]:  # scale down phase
                self._remove(ctx, node)
            self._finish(ctx, group, rollout)
            return
        zones = {subnet.az for subnet in target.subnets}
        surge = max(min(2 * len(zones), want), rollout.max_unavailable)
        wanted_new = min(want, surge + max(want - len(old), 0))
        if target.subnets and target.instance_types:
            while len(new) < wanted_new:
                created = self._add(ctx, info, target, new, used)
                if created is None:
                    break
                new.append(created)
        if not new and want:
            return  # nowhere to move the pods yet
        for node in old:
            self._cordon(ctx, node)
        drains = self._drains.setdefault(rollout.update_id, {})
        names = {n["metadata"]["name"] for n in old}
        for name in [name for name in drains if name not in names]:
            del drains[name]
        for node in old:
            if len(drains) >= rollout.max_unavailable:
                break
            drains.setdefault(node["metadata"]["name"], ctx.now)
        if rollout.started <= self._hurry_at:
            self._hurried.add(rollout.update_id)
        stuck = []
        for node in old:
            name = node["metadata"]["name"]
            if name not in drains:
                continue
            if not self._drain(ctx, node, rollout.force):
                self._remove(ctx, node)  # terminated: the next old node is drained in the next pass
                del drains[name]
                ctx.runtime.mark_dirty()
                continue
            deadline = drains[name] + rollout.drain_timeout
            if ctx.now >= deadline or rollout.update_id in self._hurried:
                stuck.append(node)
            else:
                ctx.wake_at(min(deadline, ctx.now + DRAIN_RETRY))
        if stuck:
            self._left[group.name] = (group.desired, len(have))
            self._finish(ctx, group, rollout, ("PodEvictionFailure",
                                               f"Reached max retries while trying to evict pods from nodes in "
                                               f"node group {group.name}",
                                               tuple(_instance_id(node) for node in stuck)))

    def _finish(self, ctx: Context, group: NodeGroup, rollout: Rollout,
                error: tuple[str, str, tuple[str, ...]] | None = None) -> None:
        self._finished.add(rollout.update_id)
        self._drains.pop(rollout.update_id, None)
        self._hurried.discard(rollout.update_id)
        ctx.cloud.finish_rollout(group.name, rollout.update_id, error)

    def _cordon(self, ctx: Context, node: dict) -> None:
        """``kubectl cordon`` as EKS does it before draining, with the node lifecycle controller's taint."""
        node = ctx.get("nodes", None, node["metadata"]["name"]) or node
        meta, spec = node["metadata"], dict(node.get("spec") or {})
        labels = dict(meta.get("labels") or {})
        taints = list(spec.get("taints") or [])
        if spec.get("unschedulable") and labels.get(EXCLUDE_FROM_LB_LABEL) == "true" \
                and any(t.get("key") == UNSCHEDULABLE_TAINT for t in taints):
            return
        labels[EXCLUDE_FROM_LB_LABEL] = "true"
        spec["unschedulable"] = True
        if not any(t.get("key") == UNSCHEDULABLE_TAINT for t in taints):
            taints.append({"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule", "timeAdded": ctx.timestamp})
        spec["taints"] = taints
        if ctx.update("nodes", dict(node, metadata=dict(meta, labels=labels), spec=spec)) is not None:
            ctx.event(node, "Normal", "NodeNotSchedulable", f"Node {meta['name']} status is now: NodeNotSchedulable",
                      "kubelet", meta["name"])

    def _drain(self, ctx: Context, node: dict, force: bool) -> list[dict]:
        """Evict the node's pods (``kubectl drain --ignore-daemonsets``); those still there."""
        name = node["metadata"]["name"]
        left = []
        for pod in [p for p in ctx.list("pods") if (p.get("spec") or {}).get("nodeName") == name]:
            meta = pod["metadata"]
            owners = meta.get("ownerReferences") or []
            if any(o.get("kind") == "DaemonSet" and o.get("controller") for o in owners) \
                    or MIRROR_ANNOTATION in (meta.get("annotations") or {}):
                continue
            if meta.get("deletionTimestamp"):
                left.append(pod)
                continue
            try:
                ctx.evict(meta.get("namespace"), meta["name"], meta.get("uid"))
            except ApiError as error:
                if error.status == 404:
                    continue
                if force and ctx.delete("pods", meta.get("namespace"), meta["name"], uid=meta.get("uid")):
                    continue
                left.append(pod)
        return left

    def _pick(self, group: NodeGroup, have: list[dict]) -> tuple[Subnet, InstanceType]:
        """The subnet (AZ) and instance type with the fewest nodes of the group, as the ASG balances them."""
        per_subnet = {s.id: 0 for s in group.subnets}
        per_type = {t.name: 0 for t in group.instance_types}
        for node in have:
            subnet = subnet_of(node_ip(node), group.subnets)
            if subnet is not None:
                per_subnet[subnet.id] = per_subnet.get(subnet.id, 0) + 1
            itype = (node["metadata"].get("labels") or {}).get("node.kubernetes.io/instance-type")
            if itype in per_type:
                per_type[itype] += 1
        subnet = min(group.subnets, key=lambda s: (per_subnet.get(s.id, 0), group.subnets.index(s)))
        itype = min(group.instance_types, key=lambda t: (per_type.get(t.name, 0), group.instance_types.index(t)))
        return subnet, itype

    def _add(self, ctx: Context, info: ClusterInfo, group: NodeGroup, have: list[dict], used: set[str]
             ) -> dict | None:
        subnet, itype = self._pick(group, have)
        try:
            ip = free_ip(subnet.cidr, used, self.rng)
        except ValueError:
            return None
        used.add(ip)
        name = node_name(ip, info.region)
        instance_id = "i-" + "".join(self.rng.choice("0123456789abcdef") for _ in range(17))
        node = {
            "metadata": {
                "name": name,
                "labels": desired_labels(info, group, itype, subnet.az, subnet.az_id, name),
                "annotations": {
                    "alpha.kubernetes.io/provided-node-ip": ip,
                    "node.alpha.kubernetes.io/ttl": "0",
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                },
            },
            "spec": {"providerID": f"aws:///{subnet.az}/{instance_id}"},
        }
        taints = desired_taints(group)
        if taints:
            node["spec"]["taints"] = taints
        self.removed.discard(name)
        created = ctx.try_create("nodes", node)
        if created is None:
            return None
        created["status"] = node_status(info, group, itype, name, ip, ctx.timestamp)
        updated = ctx.update_status("nodes", created)
        ctx.event(created, "Normal", "RegisteredNode", f"Node {name} event: Registered Node {name} in Controller",
                  "node-controller")
        return updated or created

    def _refresh(self, ctx: Context, info: ClusterInfo, group: NodeGroup, node: dict) -> bool:
        """Labels, taints and kubelet version follow the group (UpdateNodegroupConfig/Version).

        Labels and taints that the group had (as last seen) and no longer has are
        removed; those added by hand (``kubectl label``/``taint``) are kept.
        """
        meta = node["metadata"]
        labels = dict(meta.get("labels") or {})
        itype = next((t for t in group.instance_types
                      if t.name == labels.get("node.kubernetes.io/instance-type")), None)
        if itype is None:
            return True
        wanted = desired_labels(info, group, itype, labels.get("topology.kubernetes.io/zone", ""),
                                labels.get("topology.k8s.aws/zone-id", ""), meta["name"])
        for key in LAUNCH_LABELS:  # what the node was launched with changes only with a new node
            if key in labels:
                wanted[key] = labels[key]
            else:
                wanted.pop(key, None)
        previous_labels = self._group_labels.get(group.name, set(dict(group.labels)))
        merged = {k: v for k, v in labels.items() if k not in previous_labels or k in wanted}
        merged.update(wanted)
        spec = node.get("spec") or {}
        own = desired_taints(group)
        previous_taints = self._group_taints.get(group.name, set()) | {(t["key"], t["effect"]) for t in own}
        others = [t for t in spec.get("taints") or [] if (t.get("key"), t.get("effect")) not in previous_taints
                  and t.get("key") != UNSCHEDULABLE_TAINT]
        taints = own + others
        if spec.get("unschedulable"):  # kubectl cordon: the node lifecycle controller's taint
            previous = next((t for t in spec.get("taints") or [] if t.get("key") == UNSCHEDULABLE_TAINT), None)
            taints.append(previous or {"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule", "timeAdded": ctx.timestamp})
        ok = True
        if merged != labels or taints != (spec.get("taints") or []):
            updated = dict(node, metadata=dict(meta, labels=merged), spec=dict(spec))
            if taints:
                updated["spec"]["taints"] = taints
            else:
                updated["spec"].pop("taints", None)
            result = ctx.update("nodes", updated)
            ok = result is not None
            node = result or node
        status = node.get("status") or {}
        if not status.get("conditions"):
            ip = node_ip(node) or (meta.get("annotations") or {}).get("alpha.kubernetes.io/provided-node-ip", "")
            node["status"] = node_status(info, group, itype, meta["name"], ip, ctx.timestamp, status)
            ok = ctx.update_status("nodes", node) is not None and ok
        return ok

    def _remove(self, ctx: Context, node: dict) -> None:
        name = node["metadata"]["name"]
        self.removed.add(name)
        if ctx.delete("nodes", None, name, uid=node["metadata"].get("uid")):
            ctx.event(node, "Normal", "RemovingNode", f"Node {name} event: Removing Node {name} from Controller",
                      "node-controller")

    # -- pod garbage collection -----------------------------------------------------------------

    def collect_pods(self, ctx: Context) -> None:
        names = {n["metadata"]["name"] for n in ctx.list("nodes")}
        seen: set[str] = set()
        for pod in ctx.list("pods"):
            node = (pod.get("spec") or {}).get("nodeName")
            if not node or node in names:
                continue
            meta = pod["metadata"]
            uid = meta.get("uid", "")
            seen.add(uid)
            first = self._orphans.setdefault(uid, ctx.now)
            if node in self.removed or ctx.now - first >= POD_GC_GRACE:
                if ctx.delete("pods", meta.get("namespace"), meta["name"], uid=uid):
                    self._orphans.pop(uid, None)
            else:
                ctx.wake_at(first + POD_GC_GRACE)
        for uid in list(self._orphans):
            if uid not in seen:
                del self._orphans[uid]


def node_ready(node: dict) -> bool:
    for entry in (node.get("status") or {}).get("conditions") or []:
        if entry.get("type") == "Ready":
            return entry.get("status") == "True"
    return False
