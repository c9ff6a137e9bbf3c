"""Endpoints and EndpointSlices of Services with a selector (the endpoint and endpointslice controllers).

The pods in the Service's namespace that match its selector and have an IP
are its endpoints: ready ones as ``addresses`` / ``ready: true``, the others
as ``notReadyAddresses`` / ``ready: false`` (all ready with
``publishNotReadyAddresses``), with their node, zone and pod reference; named
target ports are resolved per pod from its containers' ports. The
``default/kubernetes`` Service points at two control-plane addresses in the
cluster's subnets, port 443, as on EKS.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any

from .nodes import all_subnets
from .runtime import Context
from .util import is_terminal, owner_ref, pod_is_ready

MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
SLICE_CONTROLLER = "endpointslice-controller.k8s.io"
ENDPOINTS_MANAGED_BY = "endpoints.kubernetes.io/managed-by"
TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
SERVICE_NAME = "kubernetes.io/service-name"
ZONE = "topology.kubernetes.io/zone"


def _resolve(port: dict, pod: dict) -> int | None:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for container in (pod.get("spec") or {}).get("containers") or []:
        for container_port in container.get("ports") or []:
            if container_port.get("name") == target and \
                    (container_port.get("protocol") or "TCP") == (port.get("protocol") or "TCP"):
                return container_port.get("containerPort")
    return None


def _strip(obj: dict | None, keys: tuple[str, ...]) -> dict:
    return {k: v for k, v in (obj or {}).items() if k in keys}


class EndpointsController:
    """See the module docstring."""

    def reconcile(self, ctx: Context) -> None:
        services = ctx.list("services")
        pods = ctx.list("pods")
        zones = {n["metadata"]["name"]: (n["metadata"].get("labels") or {}).get(ZONE) for n in ctx.list("nodes")}
        endpoints = {(e["metadata"].get("namespace"), e["metadata"]["name"]): e for e in ctx.list("endpoints")}
        slices: dict[tuple[str, str], list[dict]] = {}
        for item in ctx.list("endpointslices"):
            labels = item["metadata"].get("labels") or {}
            if labels.get(MANAGED_BY) == SLICE_CONTROLLER and labels.get(SERVICE_NAME):
                slices.setdefault((item["metadata"].get("namespace"), labels[SERVICE_NAME]), []).append(item)
        by_namespace: dict[str, list[dict]] = {}
        for pod in pods:
            by_namespace.setdefault(pod["metadata"].get("namespace", ""), []).append(pod)
        seen = set()
        for service in services:
            meta = service["metadata"]
            key = (meta.get("namespace"), meta["name"])
            spec = service.get("spec") or {}
            if meta.get("deletionTimestamp"):
                continue
            if key == ("default", "kubernetes"):
                self._kubernetes(ctx, service, endpoints.get(key))
                seen.add(key)
                continue
            selector = spec.get("selector")
            if not selector or spec.get("type") == "ExternalName":
                continue
            seen.add(key)
            members = []
            for pod in by_namespace.get(meta.get("namespace", ""), []):
                labels = pod["metadata"].get("labels") or {}
                if any(labels.get(k) != v for k, v in selector.items()):
                    continue
                if is_terminal(pod) or not (pod.get("status") or {}).get("podIP"):
                    continue
                members.append(pod)
            groups = self._groups(service, members, zones)
            self._endpoints(ctx, service, groups, endpoints.get(key))
            self._slices(ctx, service, groups, slices.get(key, []))
        for key, existing in endpoints.items():
            if key not in seen and (existing["metadata"].get("labels") or {}).get(ENDPOINTS_MANAGED_BY) \
                    == "endpoint-controller":
                ctx.delete("endpoints", key[0], key[1])

    def _groups(self, service: dict, pods: list[dict], zones: dict[str, Any]) -> dict[tuple, list[dict]]:
        """Endpoints grouped by their resolved port set: ``{((name, port, protocol, appProtocol), ...): [entry]}``."""
        spec = service.get("spec") or {}
        publish = bool(spec.get("publishNotReadyAddresses"))
        groups: dict[tuple, list[dict]] = {}
        for pod in pods:
            ports = []
            for port in spec.get("ports") or []:
                number = _resolve(port, pod)
                if number is None:
                    continue
                ports.append((port.get("name", ""), int(number), port.get("protocol") or "TCP",
                              port.get("appProtocol")))
            terminating = bool(pod["metadata"].get("deletionTimestamp"))
            ready = (pod_is_ready(pod) or publish) and not terminating
            node = (pod.get("spec") or {}).get("nodeName")
            groups.setdefault(tuple(ports), []).append({
                "ip": pod["status"]["podIP"], "ready": ready, "serving": pod_is_ready(pod) or publish,
                "terminating": terminating, "node": node, "zone": zones.get(node),
                "hostname": (pod.get("spec") or {}).get("hostname") if (pod.get("spec") or {}).get("subdomain")
                == service["metadata"]["name"] else None,
                "ref": {"kind": "Pod", "name": pod["metadata"]["name"],
                        "namespace": pod["metadata"].get("namespace"), "uid": pod["metadata"].get("uid")},
            })
        return groups

    def _endpoints(self, ctx: Context, service: dict, groups: dict[tuple, list[dict]], existing: dict | None) -> None:
        meta = service["metadata"]
        subsets = []
        for ports, entries in sorted(groups.items()):
            if not ports:
                continue
            ready = []
            not_ready = []
            for entry in sorted(entries, key=lambda e: ipaddress.ip_address(e["ip"])):
                if entry["terminating"]:
                    continue
                address: dict[str, Any] = {"ip": entry["ip"], "targetRef": dict(entry["ref"])}
                if entry["hostname"]:
                    address["hostname"] = entry["hostname"]
                if entry["node"]:
                    address["nodeName"] = entry["node"]
                (ready if entry["ready"] else not_ready).append(address)
            if not ready and not not_ready:
                continue
            subset: dict[str, Any] = {}
            if ready:
                subset["addresses"] = ready
            if not_ready:
                subset["notReadyAddresses"] = not_ready
            subset["ports"] = [dict({"name": n, "port": p, "protocol": proto}, **({"appProtocol": a} if a else {}))
                               if n else dict({"port": p, "protocol": proto}, **({"appProtocol": a} if a else {}))
                               for n, p, proto, a in ports]
            subsets.append(subset)
        labels = dict(meta.get("labels") or {})
        labels[ENDPOINTS_MANAGED_BY] = "endpoint-controller"
        if (service.get("spec") or {}).get("clusterIP") == "None":
            labels["service.kubernetes.io/headless"] = ""
        if existing is None:
            body: dict[str, Any] = {"metadata": {"name": meta["name"], "namespace": meta.get("namespace"),
                                                 "labels": labels,
                                                 "annotations": {TRIGGER_TIME: ctx.timestamp}}}
            if subsets:
                body["subsets"] = subsets
            ctx.try_create("endpoints", body)
            return
        if (existing.get("subsets") or []) == subsets and (existing["metadata"].get("labels") or {}) == labels:
            return
        updated = dict(existing)
        updated["metadata"] = dict(existing["metadata"], labels=labels,
                                   annotations=dict(existing["metadata"].get("annotations") or {},
                                                    **{TRIGGER_TIME: ctx.timestamp}))
        if subsets:
            updated["subsets"] = subsets
        else:
            updated.pop("subsets", None)
        ctx.update("endpoints", updated)

    def _slices(self, ctx: Context, service: dict, groups: dict[tuple, list[dict]], existing: list[dict]) -> None:
        meta = service["metadata"]
        labels = dict(meta.get("labels") or {})
        labels.update({MANAGED_BY: SLICE_CONTROLLER, SERVICE_NAME: meta["name"]})
        if (service.get("spec") or {}).get("clusterIP") == "None":
            labels["service.kubernetes.io/headless"] = ""
        wanted: dict[tuple, dict] = {}
        for ports, entries in groups.items():
            endpoints = []
            for entry in sorted(entries, key=lambda e: ipaddress.ip_address(e["ip"])):
                item: dict[str, Any] = {"addresses": [entry["ip"]],
                                        "conditions": {"ready": entry["ready"], "serving": entry["serving"],
                                                       "terminating": entry["terminating"]},
                                        "targetRef": dict(entry["ref"])}
                if entry["hostname"]:
                    item["hostname"] = entry["hostname"]
                if entry["node"]:
                    item["nodeName"] = entry["node"]
                if entry["zone"]:
                    item["zone"] = entry["zone"]
                endpoints.append(item)
            body: dict[str, Any] = {"addressType": "IPv4", "endpoints": endpoints}
            if ports:
                body["ports"] = [dict({"name": n, "port": p, "protocol": proto},
                                      **({"appProtocol": a} if a else {})) for n, p, proto, a in ports]
            wanted[ports] = body
        if not wanted:
            wanted[()] = {"addressType": "IPv4"}  # the placeholder slice of a Service without endpoints
        remaining = list(existing)
        for ports, body in sorted(wanted.items()):
            match = next((s for s in remaining if self._port_key(s) == ports), None) or \
                (remaining[0] if remaining and len(wanted) == 1 else None)
            if match is not None:
                remaining.remove(match)
                current = {k: match.get(k) for k in ("addressType", "endpoints", "ports") if match.get(k) is not None}
                if current == body and (match["metadata"].get("labels") or {}) == labels:
                    continue
                updated = {k: v for k, v in match.items() if k not in ("endpoints", "ports")}
                updated.update(body)
                updated["metadata"] = dict(match["metadata"], labels=labels,
                                           annotations=dict(match["metadata"].get("annotations") or {},
                                                            **{TRIGGER_TIME: ctx.timestamp}))
                ctx.update("endpointslices", updated)
                continue
            ctx.try_create("endpointslices", dict(body, metadata={
                "generateName": f"{meta['name']}-", "namespace": meta.get("namespace"), "labels": labels,
                "annotations": {TRIGGER_TIME: ctx.timestamp},
                "ownerReferences": [owner_ref(dict(service, apiVersion="v1", kind="Service"))]}))
        for stale in remaining:
            ctx.delete("endpointslices", stale["metadata"].get("namespace"), stale["metadata"]["name"])

    @staticmethod
    def _port_key(item: dict) -> tuple:
        return tuple((p.get("name", ""), p.get("port"), p.get("protocol") or "TCP", p.get("appProtocol"))
                     for p in item.get("ports") or [])

    def _kubernetes(self, ctx: Context, service: dict, existing: dict | None) -> None:
        """``default/kubernetes``: the EKS control plane's two addresses in the cluster's subnets."""
        if ctx.info is None:
            return
        subnets = sorted(ctx.info.subnets or all_subnets(ctx.info), key=lambda s: s.id)[:2]
        addresses = []
        for index, subnet in enumerate(subnets):
            network = ipaddress.ip_network(subnet.cidr, strict=False)
            seed = int(hashlib.sha256(f"{ctx.info.name}/{subnet.id}/{index}".encode()).hexdigest(), 16)
            hosts = max(int(network.num_addresses) - 6, 1)
            addresses.append(str(network.network_address + 4 + seed % hosts))
        if not addresses:
            return
        subsets = [{"addresses": [{"ip": ip} for ip in sorted(addresses)],
                    "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}]
        if existing is None:
            ctx.try_create("endpoints", {"metadata": {"name": "kubernetes", "namespace": "default",
                                                      "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                                         "subsets": subsets})
        elif existing.get("subsets") != subsets:
            ctx.update("endpoints", dict(existing, subsets=subsets))
        slice_body = {"addressType": "IPv4",
                      "endpoints": [{"addresses": [ip], "conditions": {"ready": True, "serving": True,
                                                                      "terminating": False}} for ip in sorted(addresses)],
                      "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}
        current = ctx.get("endpointslices", "default", "kubernetes")
        if current is None:
            ctx.try_create("endpointslices", dict(slice_body, metadata={
                "name": "kubernetes", "namespace": "default", "labels": {SERVICE_NAME: "kubernetes"}}))
        elif _strip(current, ("addressType", "endpoints", "ports")) != slice_body:
            ctx.update("endpointslices", dict(current, **slice_body))
