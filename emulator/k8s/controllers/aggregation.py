"""kube-aggregator's availability controllers: the ``Available`` condition of every APIService.

* no ``spec.service`` (a group kube-apiserver serves itself): ``True``,
  ``Local``, *Local APIServices are always available*;
* otherwise, in order, as ``AvailableConditionController`` checks:
  ``ServiceNotFound`` (no such Service), ``ServicePortError`` (a ClusterIP
  Service not listening on ``spec.service.port``), ``EndpointsNotFound``,
  ``MissingEndpoints`` (no ready address for that port's name), then the
  discovery check: the emulated backends of ``..aggregator.BACKENDS``
  (``metrics.k8s.io/v1beta1``) pass (``Passed``, *all checks passed*), any
  other group fails it (``FailedDiscoveryCheck``: connection refused, as
  nothing listens on the Service's address here).

What the API server then serves follows the condition (see ``..aggregator``).
"""

from __future__ import annotations

from typing import Any

from ..aggregator import BACKENDS
from .runtime import Context
from .util import set_condition


def availability(apiservice: dict, services: dict[tuple[str, str], dict],
                 endpoints: dict[tuple[str, str], dict]) -> tuple[str, str, str]:
    """(status, reason, message) of an APIService's ``Available`` condition."""
    spec = apiservice.get("spec") or {}
    reference = spec.get("service")
    if not isinstance(reference, dict):
        return "True", "Local", "Local APIServices are always available"
    namespace, name = reference.get("namespace") or "", reference.get("name") or ""
    port = int(reference.get("port") or 443)
    service = services.get((namespace, name))
    if service is None:
        return "False", "ServiceNotFound", f'service/{name} in "{namespace}" is not present'
    service_spec = service.get("spec") or {}
    address = service_spec.get("clusterIP") or ""
    if service_spec.get("type", "ClusterIP") == "ClusterIP":
        port_name = None
        for entry in service_spec.get("ports") or []:
            if entry.get("port") == port:
                port_name = entry.get("name") or ""
                break
        if port_name is None:
            return "False", "ServicePortError", f'service/{name} in "{namespace}" is not listening on port {port}'
        found = endpoints.get((namespace, name))
        if found is None:
            return "False", "EndpointsNotFound", f'cannot find endpoints for service/{name} in "{namespace}"'
        active = any(subset.get("addresses") and any((p.get("name") or "") == port_name
                                                     for p in subset.get("ports") or [])
                     for subset in found.get("subsets") or [])
        if not active:
            return "False", "MissingEndpoints", (f'endpoints for service/{name} in "{namespace}" have no addresses '
                                                 f'with port name "{port_name}"')
    if (spec.get("group"), spec.get("version")) not in BACKENDS:
        url = f"https://{address}:{port}/apis/{spec.get('group')}/{spec.get('version')}"
        return "False", "FailedDiscoveryCheck", (f'failing or missing response from {url}: Get "{url}": dial tcp '
                                                 f"{address}:{port}: connect: connection refused")
    return "True", "Passed", "all checks passed"


class AggregationController:
    """Keeps the ``Available`` condition of the APIServices (see the module docstring)."""

    def reconcile(self, ctx: Context) -> None:
        apiservices = ctx.list("apiservices")
        if not apiservices:
            return
        services = {(s["metadata"].get("namespace", ""), s["metadata"]["name"]): s for s in ctx.list("services")}
        endpoints = {(e["metadata"].get("namespace", ""), e["metadata"]["name"]): e for e in ctx.list("endpoints")}
        for apiservice in apiservices:
            if apiservice["metadata"].get("deletionTimestamp"):
                continue
            status, reason, message = availability(apiservice, services, endpoints)
            current: dict[str, Any] = dict(apiservice.get("status") or {})
            conditions = set_condition(current.get("conditions") or [], "Available", status, reason, message,
                                       ctx.timestamp)
            if conditions == (current.get("conditions") or []):
                continue
            updated = dict(apiservice)
            updated["status"] = dict(current, conditions=conditions)
            ctx.update_status("apiservices", updated)
