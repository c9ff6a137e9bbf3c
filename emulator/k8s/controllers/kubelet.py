"""The kubelets of all nodes, kwok-style: pods bound to a Ready node start without containers.

A bound pod is ``ContainerCreating`` for the profile's ``k8s_pod_start`` seconds
(0 in ``instant``: it goes Running at once), then ``Running`` with every
container running and ready, the conditions ``PodReadyToStartContainers``,
``Initialized``, ``Ready``, ``ContainersReady`` and ``PodScheduled`` True, a pod
IP from its node's subnet (the node's own IP for ``hostNetwork`` pods, as the
VPC CNI does), ``hostIP``, ``startTime`` and container statuses with
containerd IDs. Pods of Jobs run as long again and then Succeed (exit code 0,
reason Completed). A pod whose container image is changed restarts that
container (``restartCount`` + 1) with the new image.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from .nodes import all_subnets, free_ip, node_ip, node_ready, subnet_of
from .runtime import Context
from .util import controller_of, now_rfc3339, set_condition

ORDER = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
FALLBACK_POD_CIDR = "10.244.0.0/16"


def normalize_image(image: str) -> str:
    """How containerd reports an image reference (``nginx`` -> ``docker.io/library/nginx:latest``)."""
    name, _, digest = image.partition("@")
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    if digest:
        return f"{name}@{digest}"
    if ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name


def image_id(image: str) -> str:
    normalized = normalize_image(image)
    if "@" in normalized:
        return normalized
    repository = normalized.rsplit(":", 1)[0]
    return f"{repository}@sha256:{hashlib.sha256(normalized.encode()).hexdigest()}"


def container_id(pod_uid: str, name: str, restarts: int = 0) -> str:
    return "containerd://" + hashlib.sha256(f"{pod_uid}/{name}/{restarts}".encode()).hexdigest()


def _condition_list(status: dict, values: dict[str, tuple[str, str, str]], now: str) -> list[dict]:
    conditions = list(status.get("conditions") or [])
    for kind in ORDER:
        if kind not in values:
            continue
        state, reason, message = values[kind]
        conditions = set_condition(conditions, kind, state, reason, message, now, probe_time=True, order=ORDER)
    return conditions


class Kubelet:
    """See the module docstring."""

    def __init__(self) -> None:
        self.rng = random.Random()
        self._bound: dict[str, float] = {}  # pod uid -> when this kubelet first saw it bound

    def reconcile(self, ctx: Context) -> None:
        nodes = {n["metadata"]["name"]: n for n in ctx.list("nodes")
                 if node_ready(n) and not n["metadata"].get("deletionTimestamp")}
        pods = ctx.list("pods")
        live = set()
        delay = ctx.seconds("k8s_pod_start")
        used_ips: set[str] | None = None
        for pod in pods:
            spec = pod.get("spec") or {}
            meta = pod["metadata"]
            uid = meta.get("uid", "")
            live.add(uid)
            node = nodes.get(spec.get("nodeName") or "")
            if node is None or meta.get("deletionTimestamp"):
                continue
            status = pod.get("status") or {}
            phase = status.get("phase", "Pending")
            if phase in ("Succeeded", "Failed"):
                continue
            first = self._bound.setdefault(uid, ctx.now)
            running_at = first + delay
            if phase == "Running":
                if self._is_job_pod(pod):
                    done_at = running_at + delay
                    if ctx.now >= done_at:
                        ctx.update_status("pods", dict(pod, status=self._succeeded(pod, status, ctx)))
                    else:
                        ctx.wake_at(done_at)
                else:
                    self._follow_images(ctx, pod, status)
                continue
            if ctx.now < running_at:
                creating = self._creating(pod, status, node, first, ctx)
                if creating != status:
                    ctx.update_status("pods", dict(pod, status=creating))
                ctx.wake_at(running_at)
                continue
            if used_ips is None:
                used_ips = {ip for ip in (node_ip(n) for n in ctx.list("nodes")) if ip}
                used_ips |= {(p.get("status") or {}).get("podIP") for p in pods} - {None}
            running = self._running(ctx, pod, status, node, first, used_ips)
            ctx.update_status("pods", dict(pod, status=running))  # a Job's pod completes on a later pass
        for uid in list(self._bound):
            if uid not in live:
                del self._bound[uid]

    @staticmethod
    def _is_job_pod(pod: dict) -> bool:
        owner = controller_of(pod)
        return owner is not None and owner.get("kind") == "Job" and \
            (pod.get("spec") or {}).get("restartPolicy") in ("Never", "OnFailure")

    # -- statuses -------------------------------------------------------------------------------------

    @staticmethod
    def _base(status: dict, node: dict, first: float, pod: dict) -> dict:
        result = dict(status)
        host_ip = node_ip(node) or ""
        result["hostIP"] = host_ip
        result["hostIPs"] = [{"ip": host_ip}]
        result.setdefault("startTime", now_rfc3339(first))
        generation = pod["metadata"].get("generation")
        if generation is not None:
            result["observedGeneration"] = generation
        return result

    def _creating(self, pod: dict, status: dict, node: dict, first: float, ctx: Context) -> dict:
        spec = pod.get("spec") or {}
        result = self._base(status, node, first, pod)
        result["phase"] = "Pending"
        names = [c.get("name", "") for c in spec.get("containers") or []]
        unready = f"containers with unready status: [{' '.join(names)}]"
        inits = [c for c in spec.get("initContainers") or []]
        values = {
            "PodReadyToStartContainers": ("False", "", ""),
            "Initialized": ("True", "", "") if not inits else
            ("False", "ContainersNotInitialized",
             f"containers with incomplete status: [{' '.join(c.get('name', '') for c in inits)}]"),
            "Ready": ("False", "ContainersNotReady", unready),
            "ContainersReady": ("False", "ContainersNotReady", unready),
            "PodScheduled": ("True", "", ""),
        }
        result["conditions"] = _condition_list(status, values, ctx.timestamp)
        waiting_reason = "PodInitializing" if inits else "ContainerCreating"
        result["containerStatuses"] = sorted(
            ({"name": c.get("name", ""), "image": c.get("image", ""), "imageID": "", "ready": False,
              "restartCount": 0, "started": False, "lastState": {},
              "state": {"waiting": {"reason": waiting_reason}}} for c in spec.get("containers") or []),
            key=lambda s: s["name"])
        if inits:
            result["initContainerStatuses"] = [
                {"name": c.get("name", ""), "image": c.get("image", ""), "imageID": "", "ready": False,
                 "restartCount": 0, "started": False, "lastState": {},
                 "state": {"waiting": {"reason": "PodInitializing"}}} for c in inits]
        return result

    def _pod_ip(self, ctx: Context, pod: dict, node: dict, used: set[str]) -> str:
        spec = pod.get("spec") or {}
        host_ip = node_ip(node) or ""
        if spec.get("hostNetwork"):
            return host_ip
        subnet = subnet_of(host_ip, all_subnets(ctx.info))
        cidr = subnet.cidr if subnet is not None else FALLBACK_POD_CIDR
        try:
            address = free_ip(cidr, used, self.rng)
        except ValueError:
            address = free_ip(FALLBACK_POD_CIDR, used, self.rng)
        used.add(address)
        return address

    def _running(self, ctx: Context, pod: dict, status: dict, node: dict, first: float, used: set[str]) -> dict:
        spec = pod.get("spec") or {}
        meta = pod["metadata"]
        uid = meta.get("uid", "")
        result = self._base(status, node, first, pod)
        result["phase"] = "Running"
        pod_ip = status.get("podIP") or self._pod_ip(ctx, pod, node, used)
        result["podIP"] = pod_ip
        result["podIPs"] = [{"ip": pod_ip}]
        values = {kind: ("True", "", "") for kind in ORDER}
        result["conditions"] = _condition_list(status, values, ctx.timestamp)
        started = ctx.timestamp
        result["containerStatuses"] = sorted(
            ({"containerID": container_id(uid, c.get("name", "")), "image": normalize_image(c.get("image", "")),
              "imageID": image_id(c.get("image", "")), "lastState": {}, "name": c.get("name", ""), "ready": True,
              "restartCount": 0, "started": True, "state": {"running": {"startedAt": started}}}
             for c in spec.get("containers") or []),
            key=lambda s: s["name"])
        inits = []
        for container in spec.get("initContainers") or []:
            name = container.get("name", "")
            entry: dict[str, Any] = {"containerID": container_id(uid, name),
                                     "image": normalize_image(container.get("image", "")),
                                     "imageID": image_id(container.get("image", "")), "lastState": {}, "name": name,
                                     "restartCount": 0}
            if container.get("restartPolicy") == "Always":  # a sidecar keeps running
                entry.update(ready=True, started=True, state={"running": {"startedAt": started}})
            else:
                entry.update(ready=True, started=False, state={"terminated": {
                    "containerID": entry["containerID"], "exitCode": 0, "finishedAt": started, "reason": "Completed",
                    "startedAt": started}})
            inits.append(entry)
        if inits:
            result["initContainerStatuses"] = inits
        return result

    @staticmethod
    def _succeeded(pod: dict, status: dict, ctx: Context) -> dict:
        result = dict(status)
        result["phase"] = "Succeeded"
        values = {
            "PodReadyToStartContainers": ("False", "", ""),
            "Initialized": ("True", "", ""),
            "Ready": ("False", "PodCompleted", ""),
            "ContainersReady": ("False", "PodCompleted", ""),
            "PodScheduled": ("True", "", ""),
        }
        result["conditions"] = _condition_list(status, values, ctx.timestamp)
        statuses = []
        for entry in status.get("containerStatuses") or []:
            running = (entry.get("state") or {}).get("running") or {}
            statuses.append(dict(entry, ready=False, started=False, state={"terminated": {
                "containerID": entry.get("containerID", ""), "exitCode": 0, "finishedAt": ctx.timestamp,
                "reason": "Completed", "startedAt": running.get("startedAt", ctx.timestamp)}}))
        result["containerStatuses"] = statuses
        return result

    @staticmethod
    def _follow_images(ctx: Context, pod: dict, status: dict) -> None:
        """A container whose image was changed (``kubectl set image pod``) restarts with it."""
        wanted = {c.get("name"): c.get("image", "") for c in (pod.get("spec") or {}).get("containers") or []}
        statuses = []
        changed = False
        uid = pod["metadata"].get("uid", "")
        for entry in status.get("containerStatuses") or []:
            image = wanted.get(entry.get("name"))
            if image is not None and entry.get("image") != normalize_image(image):
                restarts = int(entry.get("restartCount") or 0) + 1
                previous = (entry.get("state") or {}).get("running") or {}
                entry = dict(entry, image=normalize_image(image), imageID=image_id(image), restartCount=restarts,
                             containerID=container_id(uid, entry.get("name", ""), restarts),
                             lastState={"terminated": {"containerID": entry.get("containerID", ""), "exitCode": 0,
                                                       "finishedAt": ctx.timestamp, "reason": "Completed",
                                                       "startedAt": previous.get("startedAt", ctx.timestamp)}},
                             state={"running": {"startedAt": ctx.timestamp}})
                changed = True
            statuses.append(entry)
        if changed:
            ctx.update_status("pods", dict(pod, status=dict(status, containerStatuses=statuses)))
