"""The per-cluster controller runtime: one background thread reconciling the store, level-triggered.

:class:`Controllers` subscribes to the store; a change only marks the runtime
dirty and wakes its thread (the writer, often an API request, never waits on
a controller). The thread then runs *passes*: every controller looks at the
current objects (:class:`Context` lists them, cached until the pass writes that
kind) and writes what differs. Writes cause further events, hence further
passes, until a pass changes nothing. Timed work (a pod starting after the
profile's ``k8s_pod_start``, a minReadySeconds, a CronJob's next run) asks for
a pass at a given time with :meth:`Context.wake_at`; the cloud (node groups,
add-ons) is looked at every ``poll`` seconds and whenever :meth:`sync` is
called.

A write that loses a race (409 Conflict, 404) is not an error: the object
changed meanwhile, and the next pass sees it.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from typing import Any, Callable

from ..errors import ApiError
from ..store import Store
from .cloud import Cloud, ClusterInfo, NullCloud
from .util import now_rfc3339

LOG = logging.getLogger("emulator.k8s.controllers")

# short names of the resources the controllers use: (group, version, plural)
KINDS: dict[str, tuple[str, str, str]] = {
    "pods": ("", "v1", "pods"),
    "nodes": ("", "v1", "nodes"),
    "namespaces": ("", "v1", "namespaces"),
    "services": ("", "v1", "services"),
    "endpoints": ("", "v1", "endpoints"),
    "events": ("", "v1", "events"),
    "configmaps": ("", "v1", "configmaps"),
    "serviceaccounts": ("", "v1", "serviceaccounts"),
    "persistentvolumeclaims": ("", "v1", "persistentvolumeclaims"),
    "persistentvolumes": ("", "v1", "persistentvolumes"),
    "deployments": ("apps", "v1", "deployments"),
    "replicasets": ("apps", "v1", "replicasets"),
    "statefulsets": ("apps", "v1", "statefulsets"),
    "daemonsets": ("apps", "v1", "daemonsets"),
    "controllerrevisions": ("apps", "v1", "controllerrevisions"),
    "jobs": ("batch", "v1", "jobs"),
    "cronjobs": ("batch", "v1", "cronjobs"),
    "endpointslices": ("discovery.k8s.io", "v1", "endpointslices"),
    "ingresses": ("networking.k8s.io", "v1", "ingresses"),
    "ingressclasses": ("networking.k8s.io", "v1", "ingressclasses"),
    "storageclasses": ("storage.k8s.io", "v1", "storageclasses"),
    "csidrivers": ("storage.k8s.io", "v1", "csidrivers"),
    "csinodes": ("storage.k8s.io", "v1", "csinodes"),
    "volumeattachments": ("storage.k8s.io", "v1", "volumeattachments"),
    "poddisruptionbudgets": ("policy", "v1", "poddisruptionbudgets"),
    "clusterroles": ("rbac.authorization.k8s.io", "v1", "clusterroles"),
    "clusterrolebindings": ("rbac.authorization.k8s.io", "v1", "clusterrolebindings"),
    "roles": ("rbac.authorization.k8s.io", "v1", "roles"),
    "rolebindings": ("rbac.authorization.k8s.io", "v1", "rolebindings"),
    "horizontalpodautoscalers": ("autoscaling", "v2", "horizontalpodautoscalers"),
    "apiservices": ("apiregistration.k8s.io", "v1", "apiservices"),
    "secrets": ("", "v1", "secrets"),
    # custom resources: served only while their CRD is (Controllers.rt is then None, Context.list empty)
    "secretstores": ("external-secrets.io", "v1", "secretstores"),
    "clustersecretstores": ("external-secrets.io", "v1", "clustersecretstores"),
    "externalsecrets": ("external-secrets.io", "v1", "externalsecrets"),
}
# storage key ("group/plural") -> short name
_BY_STORAGE = {f"{group}/{plural}": name for name, (group, _version, plural) in KINDS.items()}
_BY_KIND = {
    ("", "Pod"): "pods", ("", "Node"): "nodes", ("", "Namespace"): "namespaces", ("", "Service"): "services",
    ("", "Endpoints"): "endpoints", ("", "ConfigMap"): "configmaps", ("", "ServiceAccount"): "serviceaccounts",
    ("", "PersistentVolumeClaim"): "persistentvolumeclaims", ("", "PersistentVolume"): "persistentvolumes",
    ("apps", "Deployment"): "deployments", ("apps", "ReplicaSet"): "replicasets",
    ("apps", "StatefulSet"): "statefulsets", ("apps", "DaemonSet"): "daemonsets",
    ("batch", "Job"): "jobs", ("batch", "CronJob"): "cronjobs",
    ("networking.k8s.io", "Ingress"): "ingresses", ("storage.k8s.io", "StorageClass"): "storageclasses",
    ("storage.k8s.io", "CSIDriver"): "csidrivers", ("policy", "PodDisruptionBudget"): "poddisruptionbudgets",
    ("rbac.authorization.k8s.io", "ClusterRole"): "clusterroles",
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): "clusterrolebindings",
    ("rbac.authorization.k8s.io", "Role"): "roles", ("rbac.authorization.k8s.io", "RoleBinding"): "rolebindings",
    ("discovery.k8s.io", "EndpointSlice"): "endpointslices",
    ("autoscaling", "HorizontalPodAutoscaler"): "horizontalpodautoscalers",
    ("apiregistration.k8s.io", "APIService"): "apiservices", ("", "Secret"): "secrets",
    ("external-secrets.io", "SecretStore"): "secretstores",
    ("external-secrets.io", "ClusterSecretStore"): "clustersecretstores",
    ("external-secrets.io", "ExternalSecret"): "externalsecrets",
}
EVENT_TTL = 3600.0


def kind_name(obj: dict) -> str | None:
    """The short resource name of a manifest (``apps/v1`` ``Deployment`` -> ``deployments``)."""
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    return _BY_KIND.get((group, obj.get("kind", "")))


class Recorder:
    """Core/v1 Events as kube-controller-manager, the scheduler and the kubelet record them (aggregated)."""

    def __init__(self) -> None:
        # (involved uid, type, reason, message) -> (namespace, event name, count, last seen)
        self._seen: dict[tuple[str, str, str, str], list[Any]] = {}

    def record(self, ctx: "Context", obj: dict, event_type: str, reason: str, message: str, component: str,
               host: str = "") -> None:
        meta = obj.get("metadata") or {}
        uid = meta.get("uid", "")
        key = (uid, event_type, reason, message)
        namespace = meta.get("namespace") or "default"
        stamp = ctx.timestamp
        seen = self._seen.get(key)
        rt = ctx.rt("events")
        if seen is not None:
            existing = ctx.store.try_get(rt, seen[0], seen[1])
            if existing is not None:
                existing["count"] = int(existing.get("count") or 1) + 1
                existing["lastTimestamp"] = stamp
                try:
                    ctx.store.update(rt, existing)
                    seen[2] += 1
                    seen[3] = ctx.now
                    return
                except ApiError:
                    pass
        name = f"{meta.get('name', 'object')}.{time.time_ns():x}"[-253:].lstrip(".-")
        source: dict[str, str] = {"component": component}
        if host:
            source["host"] = host
        event = {
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {"kind": obj.get("kind", ""), "namespace": meta.get("namespace", ""),
                               "name": meta.get("name", ""), "uid": uid, "apiVersion": obj.get("apiVersion", ""),
                               "resourceVersion": meta.get("resourceVersion", "")},
            "reason": reason, "message": message, "source": source, "firstTimestamp": stamp,
            "lastTimestamp": stamp, "count": 1, "type": event_type, "eventTime": None,
            "reportingComponent": component, "reportingInstance": host,
        }
        if not event["involvedObject"]["namespace"]:
            del event["involvedObject"]["namespace"]
        try:
            ctx.store.create(rt, event)
        except ApiError as error:
            LOG.debug("event %s/%s not recorded: %s", namespace, name, error.message)
            return
        self._seen[key] = [namespace, name, 1, ctx.now]

    def expire(self, ctx: "Context") -> None:
        """Forget (and delete) the events last seen more than an hour ago, as the API server's TTL does."""
        cutoff = ctx.now - EVENT_TTL
        rt = ctx.rt("events")
        for key, (namespace, name, _count, last) in list(self._seen.items()):
            if last < cutoff:
                del self._seen[key]
                try:
                    ctx.store.delete(rt, namespace, name)
                except ApiError:
                    pass


class Context:
    """One pass's view of the cluster: cached lists, writes, events, timers."""

    def __init__(self, runtime: "Controllers", info: ClusterInfo | None) -> None:
        self.runtime = runtime
        self.store: Store = runtime.store
        self.cloud: Cloud = runtime.cloud
        self.info = info
        self.now = runtime.clock()
        self.timestamp = now_rfc3339(self.now)
        self._lists: dict[str, list[dict]] = {}
        self.writes = 0

    def rt(self, kind: str) -> Any:
        return self.runtime.rt(kind)

    def seconds(self, kind: str) -> float:
        try:
            return max(0.0, float(self.runtime.durations(kind)))
        except Exception:  # noqa: BLE001 - an unknown kind is instant
            return 0.0

    # -- reads ------------------------------------------------------------------------------

    def list(self, kind: str, namespace: str | None = None) -> list[dict]:
        items = self._lists.get(kind)
        if items is None:
            rt = self.rt(kind)
            items = self.store.list(rt)[0] if rt is not None else []
            self._lists[kind] = items
        if namespace is None:
            return items
        return [item for item in items if item["metadata"].get("namespace") == namespace]

    def get(self, kind: str, namespace: str | None, name: str) -> dict | None:
        rt = self.rt(kind)
        return self.store.try_get(rt, namespace, name) if rt is not None else None

    def invalidate(self, kind: str) -> None:
        self._lists.pop(kind, None)

    def invalidate_all(self) -> None:
        """Forget every cached list (after a write that may touch any kind)."""
        self._lists.clear()

    # -- writes -----------------------------------------------------------------------------

    def _write(self, kind: str, action: Callable[[], Any], what: str) -> Any:
        try:
            result = action()
        except ApiError as error:
            if error.status in (404, 409):
                self.runtime.mark_dirty()
            else:
                LOG.debug("%s %s: %s", what, kind, error.message)
            self.invalidate(kind)
            raise
        self.writes += 1
        self.invalidate(kind)
        return result

    def create(self, kind: str, obj: dict) -> dict:
        return self._write(kind, lambda: self.store.create(self.rt(kind), obj), "create")

    def try_create(self, kind: str, obj: dict) -> dict | None:
        try:
            return self.create(kind, obj)
        except ApiError:
            return None

    def update(self, kind: str, obj: dict) -> dict | None:
        try:
            return self.replace(kind, obj)
        except ApiError:
            return None

    def replace(self, kind: str, obj: dict) -> dict:
        """An update that raises the ApiError (for a controller that reports it)."""
        return self._write(kind, lambda: self.store.update(self.rt(kind), obj), "update")

    def update_status(self, kind: str, obj: dict) -> dict | None:
        try:
            return self._write(kind, lambda: self.store.update(self.rt(kind), obj, subresource="status"),
                               "update status of")
        except ApiError:
            return None

    def delete(self, kind: str, namespace: str | None, name: str, propagation: str | None = "Background",
               uid: str | None = None) -> bool:
        preconditions = {"uid": uid} if uid else None
        try:
            self._write(kind, lambda: self.store.delete(self.rt(kind), namespace, name, propagation, preconditions),
                        "delete")
            return True
        except ApiError:
            return False

    def evict(self, namespace: str | None, name: str, uid: str | None = None) -> None:
        """Evict a pod as the Eviction API does (its PodDisruptionBudget holds); raises the ApiError (429...)."""
        from ..eviction import evict

        try:
            self._write("pods", lambda: evict(self.store, namespace or "", name, {"uid": uid} if uid else None),
                        "evict")
        finally:
            self.invalidate("poddisruptionbudgets")

    def event(self, obj: dict, event_type: str, reason: str, message: str, component: str, host: str = "") -> None:
        self.runtime.recorder.record(self, obj, event_type, reason, message, component, host)

    def wake_at(self, moment: float) -> None:
        self.runtime.wake_at(moment)


Step = Callable[[Context], None]


class Controllers:
    """The controllers of one cluster's store, on a background thread (see the module docstring)."""

    def __init__(self, store: Store, cloud: Cloud | None = None, *, durations: Callable[[str], float] | None = None,
                 poll: float = 0.5, clock: Callable[[], float] = time.time, name: str = "cluster") -> None:
        from . import (
            addons, aggregation, autoscaling, endpoints, external_secrets, kubelet, loadbalancers, nodes, scheduler,
            storage, workloads,
        )

        self.store = store
        self.cloud = cloud or NullCloud()
        self.durations = durations or (lambda kind: 0.0)
        self.poll = poll
        self.clock = clock
        self.name = name
        self.recorder = Recorder()
        self.info: ClusterInfo | None = None
        self._rts: dict[str, Any] = {}
        self._cv = threading.Condition()
        self._dirty = True
        self._busy = False
        self._stopping = False
        self._timers: list[float] = []
        self._next_poll = 0.0
        self._requested = 0  # sync requests made
        self._completed = 0  # sync requests a quiet pass has answered
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._last_expiry = 0.0
        self.nodes = nodes.NodeController()
        self.addons = addons.AddonController()
        self.workloads = workloads.WorkloadControllers()
        self.scheduler = scheduler.Scheduler()
        self.storage = storage.StorageController()
        self.kubelet = kubelet.Kubelet()
        self.endpoints = endpoints.EndpointsController()
        self.loadbalancers = loadbalancers.LoadBalancerController()
        self.aggregation = aggregation.AggregationController()
        self.autoscaling = autoscaling.HorizontalPodAutoscalerController()
        self.external_secrets = external_secrets.ExternalSecretsController()
        self._admission = [self.storage.admit]
        self.steps: list[tuple[str, Step]] = [
            ("nodes", self.nodes.reconcile),
            ("addons", self.addons.reconcile),
            ("pod-gc", self.nodes.collect_pods),
            ("garbage-collector", self.collect_garbage),
            ("deployments", self.workloads.deployments),
            ("replicasets", self.workloads.replicasets),
            ("statefulsets", self.workloads.statefulsets),
            ("daemonsets", self.workloads.daemonsets),
            ("jobs", self.workloads.jobs),
            ("cronjobs", self.workloads.cronjobs),
            ("volumes", self.storage.reconcile),
            ("scheduler", self.scheduler.reconcile),
            ("volumes-after-scheduling", self.storage.reconcile),
            ("kubelet", self.kubelet.reconcile),
            ("disruption-budgets", self.workloads.disruption_budgets),
            ("endpoints", self.endpoints.reconcile),
            ("apiservices", self.aggregation.reconcile),
            ("horizontal-pod-autoscalers", self.autoscaling.reconcile),
            ("load-balancers", self.loadbalancers.reconcile),
            ("external-secrets", self.external_secrets.reconcile),
        ]

    def collect_garbage(self, ctx: Context) -> None:
        """kube-controller-manager's garbage collector: dependents whose owners are gone (see the store)."""
        if ctx.store.collect_dangling():
            ctx.writes += 1
            ctx.invalidate_all()

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> "Controllers":
        if self._thread is not None:
            return self
        self._stopping = False
        for hook in self._admission:
            if hook not in self.store.admission:
                self.store.admission.append(hook)
        self._unsubscribe = self.store.subscribe(self._on_change)
        self._thread = threading.Thread(target=self._run, name=f"k8s-controllers-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for hook in self._admission:
            if hook in self.store.admission:
                self.store.admission.remove(hook)
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stopping

    def rt(self, kind: str) -> Any:
        """The resource type of a short name; None for a custom resource whose CRD is not served (not cached:
        a CRD can come, go or change its schema)."""
        rt = self._rts.get(kind)
        if rt is None:
            group, version, plural = KINDS[kind]
            rt = self.store.resources.get(group, version, plural)
            if rt is not None and not rt.custom:
                self._rts[kind] = rt
        return rt

    # -- waking up ----------------------------------------------------------------------------

    def _on_change(self, event_type: str, rt: Any, obj: dict, old: dict | None) -> None:
        if rt.storage in ("/events", "events.k8s.io/events", "coordination.k8s.io/leases"):
            return
        with self._cv:
            self._dirty = True
            self._cv.notify_all()

    def mark_dirty(self) -> None:
        with self._cv:
            self._dirty = True
            self._cv.notify_all()

    def wake_at(self, moment: float) -> None:
        with self._cv:
            heapq.heappush(self._timers, moment)
            self._cv.notify_all()

    def sync(self, timeout: float = 2.0) -> bool:
        """Look at the cloud now and wait (at most ``timeout``) until a pass has changed nothing."""
        with self._cv:
            self._requested += 1
            wanted = self._requested
            self._next_poll = 0.0
            self._cv.notify_all()
            deadline = time.monotonic() + timeout
            while self._completed < wanted and not self._stopping and self._thread is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cv.wait(remaining)
            return self._completed >= wanted

    def wait_idle(self, timeout: float = 2.0) -> bool:
        """Wait until the thread has nothing to do (no pending change); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while (self._dirty or self._busy) and not self._stopping and self._thread is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cv.wait(remaining)
            return True

    # -- the loop --------------------------------------------------------------------------------

    def _look(self) -> bool:
        """Read the cloud; True when it changed since the last look."""
        try:
            info = self.cloud.snapshot()
        except Exception:  # noqa: BLE001 - moto's state may change under our feet; look again next time
            LOG.debug("cluster %s: reading the cloud failed", self.name, exc_info=True)
            return False
        changed = info != self.info
        self.info = info
        return changed

    def _run(self) -> None:
        busy_passes = 0
        first = True
        while True:
            poll = False
            with self._cv:
                while not self._stopping:
                    now = self.clock()
                    while self._timers and self._timers[0] <= now:
                        heapq.heappop(self._timers)
                        self._dirty = True
                    if self._dirty or now >= self._next_poll:
                        break
                    wait = self._next_poll - now
                    if self._timers:
                        wait = min(wait, self._timers[0] - now)
                    self._cv.wait(max(0.001, min(wait, self.poll)))
                if self._stopping:
                    self._cv.notify_all()
                    return
                if self.clock() >= self._next_poll:
                    poll = True
                    self._next_poll = self.clock() + self.poll
                self._busy = True
                requested = self._requested
            # an idle cluster costs one look at the cloud per poll, not a pass
            changed = self._look() if poll else False
            with self._cv:
                run = self._dirty or changed or first
                self._dirty = False
                if not run:
                    self._busy = False
                    self._completed = max(self._completed, requested)
                    self._cv.notify_all()
                    continue
            first = False
            writes = 0
            try:
                writes = self._pass()
            except Exception:  # noqa: BLE001 - the loop must survive any controller bug
                LOG.exception("cluster %s: a controller pass failed", self.name)
            with self._cv:
                self._busy = False
                if writes:
                    self._dirty = True
                if not self._dirty:
                    self._completed = max(self._completed, requested)
                self._cv.notify_all()
            busy_passes = busy_passes + 1 if writes else 0
            if busy_passes > 200:  # something keeps changing: do not spin
                if busy_passes == 201:
                    LOG.warning("cluster %s: controllers keep writing; slowing down", self.name)
                time.sleep(0.05)

    def _pass(self) -> int:
        ctx = Context(self, self.info)
        for name, step in self.steps:
            if self._stopping:
                break
            try:
                step(ctx)
            except Exception:  # noqa: BLE001 - one controller must not stop the others
                LOG.exception("cluster %s: controller %s failed", self.name, name)
        if ctx.now - self._last_expiry > 60:
            self._last_expiry = ctx.now
            self.recorder.expire(ctx)
        return ctx.writes

    # -- queries (for the EKS side) ------------------------------------------------------------

    def deployment_ready(self, namespace: str, name: str) -> bool:
        """True when the Deployment exists and has as many ready replicas as it wants (at least one)."""
        deployment = self.store.try_get(self.rt("deployments"), namespace, name)
        if deployment is None:
            return False
        wanted = int((deployment.get("spec") or {}).get("replicas", 1) or 0)
        ready = int((deployment.get("status") or {}).get("readyReplicas") or 0)
        return ready >= max(wanted, 1)
