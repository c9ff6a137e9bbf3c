"""The resource metrics API (``metrics.k8s.io/v1beta1``) as metrics-server serves it, over emulated usage.

No container runs, so usage is a model, deterministic and documented (the
same numbers every time for the same objects):

* a running container uses **40 % of what it requests** (CPU and memory;
  its limit when it requests nothing, as the API server defaults requests
  from limits), memory rounded down to 4 KiB pages; a container that asks
  for nothing uses ``1m`` CPU and ``8Mi``;
* a node uses what its running pods use plus 40 % of what the kubelet
  reserves for the system (capacity minus allocatable);
* a sample covers metrics-server's ``--metric-resolution`` (``15s``) window
  and is stamped with the start of the current 15 s.

Only pods in phase ``Running`` (metrics-server reports no other) and nodes
that are ``Ready`` have metrics. :class:`MetricsApi` answers the requests the
aggregator proxies to metrics-server (``apiserver`` does the routing, the
authorization and the availability: see ``controllers/aggregation.py``):
``NodeMetrics`` (``nodes``, cluster-scoped) and ``PodMetrics`` (``pods``),
``get`` and ``list`` only (label selectors, ``metadata.name`` /
``metadata.namespace`` field selectors), in JSON or as a Table (Name, cpu,
memory, Window, as metrics-server prints them). The HPA controller reads the
same model (:func:`pod_usage`).
"""

from __future__ import annotations

import datetime as _dt
import math
from fractions import Fraction
from typing import Any

from .errors import ApiError
from .selectors import FieldSelector, LabelSelector

__all__ = ["CPU_FRACTION", "GROUP", "MEMORY_FRACTION", "MetricsApi", "VERSION", "WINDOW_SECONDS", "format_cpu",
           "format_memory", "node_usage", "pod_usage"]

GROUP = "metrics.k8s.io"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"
CPU_FRACTION = Fraction(2, 5)
MEMORY_FRACTION = Fraction(2, 5)
SYSTEM_FRACTION = Fraction(2, 5)
IDLE_CPU_NANOCORES = 1_000_000
IDLE_MEMORY_BYTES = 8 * 2 ** 20
PAGE = 4096
WINDOW_SECONDS = 15
RESOURCES = (  # (plural, kind, namespaced)
    ("nodes", "NodeMetrics", False),
    ("pods", "PodMetrics", True),
)


# -- quantities --------------------------------------------------------------------------------------------

def _parse(value: Any) -> Fraction | None:
    from .controllers.util import parse_quantity

    try:
        return parse_quantity(value)
    except (ValueError, TypeError):
        return None


def format_cpu(nanocores: int) -> str:
    """A CPU quantity in nanocores as Kubernetes prints it canonically (``40m``, ``2``, ``1500u``, ``7n``)."""
    for divisor, suffix in ((10 ** 9, ""), (10 ** 6, "m"), (10 ** 3, "u")):
        if nanocores % divisor == 0:
            return f"{nanocores // divisor}{suffix}"
    return f"{nanocores}n"


def format_memory(amount: int) -> str:
    """A BinarySI quantity in bytes as Kubernetes prints it canonically (``26212Ki``, ``100Mi``, ``1536``)."""
    if amount == 0:
        return "0"
    for power, suffix in ((60, "Ei"), (50, "Pi"), (40, "Ti"), (30, "Gi"), (20, "Mi"), (10, "Ki")):
        if amount % (2 ** power) == 0:
            return f"{amount // 2 ** power}{suffix}"
    return str(amount)


# -- the usage model ---------------------------------------------------------------------------------------------

def _containers(pod: dict) -> list[dict]:
    spec = pod.get("spec") or {}
    containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    containers += [c for c in spec.get("initContainers") or [] if isinstance(c, dict)
                   and c.get("restartPolicy") == "Always"]  # sidecars run alongside
    return containers


def _request(container: dict, name: str) -> Fraction | None:
    resources = container.get("resources") or {}
    for field in ("requests", "limits"):
        value = (resources.get(field) or {}).get(name)
        if value is not None:
            parsed = _parse(value)
            if parsed is not None:
                return parsed
    return None


def container_usage(container: dict) -> tuple[int, int]:
    """(CPU nanocores, memory bytes) a running container uses in the model."""
    cpu = _request(container, "cpu")
    memory = _request(container, "memory")
    nanocores = int(cpu * 10 ** 9 * CPU_FRACTION) if cpu is not None else IDLE_CPU_NANOCORES
    used = int(memory * MEMORY_FRACTION) // PAGE * PAGE if memory is not None else IDLE_MEMORY_BYTES
    return max(nanocores, 0), max(used, 0)


def has_metrics(pod: dict) -> bool:
    """metrics-server reports running pods only."""
    return (pod.get("status") or {}).get("phase") == "Running" and not (pod.get("metadata") or {}).get(
        "deletionTimestamp")


def pod_usage(pod: dict) -> list[tuple[str, int, int]] | None:
    """``[(container, nanocores, bytes)]`` of a pod (None: no metrics for it)."""
    if not has_metrics(pod):
        return None
    return [(c.get("name", ""), *container_usage(c)) for c in _containers(pod)]


def _node_ready(node: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def node_usage(node: dict, pods: list[dict]) -> tuple[int, int] | None:
    """(CPU nanocores, memory bytes) a Ready node uses: its running pods plus a share of the system reserve."""
    if not _node_ready(node):
        return None
    name = (node.get("metadata") or {}).get("name")
    cpu = memory = 0
    for pod in pods:
        if (pod.get("spec") or {}).get("nodeName") != name:
            continue
        for _container, nanocores, used in pod_usage(pod) or []:
            cpu += nanocores
            memory += used
    status = node.get("status") or {}
    capacity, allocatable = status.get("capacity") or {}, status.get("allocatable") or {}
    for resource in ("cpu", "memory"):
        total, available = _parse(capacity.get(resource)), _parse(allocatable.get(resource))
        if total is None or available is None or total <= available:
            continue
        reserved = (total - available) * SYSTEM_FRACTION
        if resource == "cpu":
            cpu += int(reserved * 10 ** 9)
        else:
            memory += int(reserved) // PAGE * PAGE
    return cpu, memory


# -- the API objects -------------------------------------------------------------------------------------------

def _rfc3339(moment: float) -> str:
    return _dt.datetime.fromtimestamp(moment, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sample_time(now: float) -> str:
    return _rfc3339(math.floor(now / WINDOW_SECONDS) * WINDOW_SECONDS)


def pod_metrics(pod: dict, now: float) -> dict | None:
    usage = pod_usage(pod)
    if usage is None:
        return None
    meta = pod.get("metadata") or {}
    return {
        "kind": "PodMetrics", "apiVersion": API_VERSION,
        "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace"),
                     "creationTimestamp": _rfc3339(now)},
        "timestamp": _sample_time(now), "window": f"{WINDOW_SECONDS}s",
        "containers": [{"name": name, "usage": {"cpu": format_cpu(cpu), "memory": format_memory(memory)}}
                       for name, cpu, memory in usage],
    }


def node_metrics(node: dict, pods: list[dict], now: float) -> dict | None:
    usage = node_usage(node, pods)
    if usage is None:
        return None
    meta = node.get("metadata") or {}
    return {
        "kind": "NodeMetrics", "apiVersion": API_VERSION,
        "metadata": {"name": meta.get("name"), "creationTimestamp": _rfc3339(now),
                     "labels": dict(meta.get("labels") or {})},
        "timestamp": _sample_time(now), "window": f"{WINDOW_SECONDS}s",
        "usage": {"cpu": format_cpu(usage[0]), "memory": format_memory(usage[1])},
    }


def _table(items: list[dict], include_object: str) -> dict:
    """metrics-server's ``addPodMetricsToTable``/``addNodeMetricsToTable``."""
    columns: list[dict] = []
    rows = []
    for item in items:
        if "containers" in item:
            cpu = sum(_nanocores(c["usage"]["cpu"]) for c in item["containers"])
            memory = sum(_bytes(c["usage"]["memory"]) for c in item["containers"])
        else:
            cpu, memory = _nanocores(item["usage"]["cpu"]), _bytes(item["usage"]["memory"])
        if not columns:
            columns = [{"name": "Name", "type": "string", "format": "name", "description": "Name of the resource",
                        "priority": 0}]
            columns += [{"name": name, "type": "string", "format": "quantity", "description": "", "priority": 0}
                        for name in ("cpu", "memory")]
            columns.append({"name": "Window", "type": "string", "format": "duration", "description": "",
                            "priority": 0})
        row: dict[str, Any] = {"cells": [item["metadata"]["name"], format_cpu(cpu), format_memory(memory),
                                         item["window"]]}
        if include_object == "Object":
            row["object"] = item
        elif include_object != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": item["metadata"]}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "columnDefinitions": columns,
            "rows": rows}


def _nanocores(text: str) -> int:
    return int((_parse(text) or 0) * 10 ** 9)


def _bytes(text: str) -> int:
    return int(_parse(text) or 0)


class MetricsApi:
    """What metrics-server answers under ``/apis/metrics.k8s.io/v1beta1`` (over one cluster's store)."""

    group = GROUP
    version = VERSION

    def __init__(self, store: Any) -> None:
        self.store = store

    def resource_list(self) -> dict:
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": API_VERSION, "resources": [
            {"name": plural, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": ["get", "list"]}
            for plural, kind, namespaced in RESOURCES]}

    def discovery_resources(self) -> list[dict]:
        return [{"resource": plural, "responseKind": {"group": "", "version": "", "kind": kind},
                 "scope": "Namespaced" if namespaced else "Cluster", "singularResource": "", "verbs": ["get", "list"]}
                for plural, kind, namespaced in RESOURCES]

    @staticmethod
    def namespaced(plural: str) -> bool | None:
        return next((namespaced for name, _kind, namespaced in RESOURCES if name == plural), None)

    def _objects(self, plural: str) -> list[dict]:
        rt = self.store.resources.get("", "v1", plural)
        return self.store.list(rt)[0]

    def read(self, plural: str, namespace: str, name: str, label_selector: str | None, field_selector: str | None,
             now: float) -> dict:
        """A NodeMetrics/PodMetrics (``name``) or the list of them; raises :class:`ApiError` as metrics-server."""
        labels = LabelSelector.parse(label_selector) if label_selector else None
        fields = FieldSelector.parse(field_selector, lambda path: path in ("metadata.name", "metadata.namespace")
                                     ) if field_selector else None
        pods = self._objects("pods")
        if plural == "nodes":
            nodes = sorted(self._objects("nodes"), key=lambda n: n["metadata"]["name"])
            if name:
                node = next((n for n in nodes if n["metadata"]["name"] == name), None)
                if node is None:
                    raise ApiError(404, "NotFound", f'node "{name}" not found', {"name": name, "kind": "node"})
                found = node_metrics(node, pods, now)
                if found is None:
                    raise ApiError(404, "NotFound", f'nodemetrics.{GROUP} "{name}" not found',
                                   {"name": name, "group": GROUP, "kind": "nodemetrics"})
                return found
            items = []
            for node in nodes:
                meta = node["metadata"]
                if labels is not None and not labels.matches(meta.get("labels") or {}):
                    continue
                if fields is not None and not fields.matches(node):
                    continue
                found = node_metrics(node, pods, now)
                if found is not None:
                    items.append(found)
            return {"kind": "NodeMetricsList", "apiVersion": API_VERSION, "metadata": {}, "items": items}
        scoped = [p for p in pods if not namespace or p["metadata"].get("namespace") == namespace]
        scoped.sort(key=lambda p: (p["metadata"].get("namespace") or "", p["metadata"]["name"]))
        if name:
            pod = next((p for p in scoped if p["metadata"]["name"] == name), None)
            if pod is None:
                raise ApiError(404, "NotFound", f'pod "{name}" not found', {"name": name, "kind": "pod"})
            found = pod_metrics(pod, now)
            if found is None:
                raise ApiError(404, "NotFound", f'podmetrics.{GROUP} "{namespace}/{name}" not found',
                               {"name": f"{namespace}/{name}", "group": GROUP, "kind": "podmetrics"})
            return found
        items = []
        for pod in scoped:
            meta = pod["metadata"]
            if labels is not None and not labels.matches(meta.get("labels") or {}):
                continue
            if fields is not None and not fields.matches(pod):
                continue
            found = pod_metrics(pod, now)
            if found is not None:
                items.append(found)
        return {"kind": "PodMetricsList", "apiVersion": API_VERSION, "metadata": {}, "items": items}

    @staticmethod
    def table(body: dict, include_object: str = "Metadata") -> dict:
        items = body["items"] if "items" in body else [body]
        return _table(items, include_object)
