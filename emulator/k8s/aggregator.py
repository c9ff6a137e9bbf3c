"""API aggregation: the groups an APIService (``apiregistration.k8s.io/v1``) adds to a cluster's API.

kube-apiserver's aggregator serves, next to its own groups, the group and
version of every APIService that names a Service (``spec.service``): they are
listed in discovery (``/apis``, aggregated discovery) whether or not the
backend is reachable, and requests under ``/apis/<group>/<version>`` are
proxied to the Service while the APIService's ``Available`` condition is
``True``; otherwise they are answered ``503`` (``service unavailable``, which
clients report as *the server is currently unable to handle the request*)
and aggregated discovery marks the version ``Stale`` with no resources.

Nothing runs behind a Service here, so a backend is emulated or absent:
:data:`BACKENDS` has ``metrics.k8s.io/v1beta1`` (:class:`~.metrics.MetricsApi`,
the answers of metrics-server, whether installed by the EKS add-on or a Helm
chart). ``controllers/aggregation.py`` keeps the ``Available`` condition as
kube-aggregator's availability controller does: the Service must exist,
listen on the APIService's port and have ready endpoints for it, and the
backend must answer (an APIService whose group has no emulated backend fails
the discovery check: connection refused).
"""

from __future__ import annotations

from typing import Any

from .metrics import MetricsApi

__all__ = ["BACKENDS", "NOT_FOUND", "UNAVAILABLE", "available", "remote_apiservices", "resource_error"]

BACKENDS: dict[tuple[str, str], type] = {(MetricsApi.group, MetricsApi.version): MetricsApi}
NOT_FOUND = "the server could not find the requested resource"
UNAVAILABLE = "the server is currently unable to handle the request"


def available(apiservice: dict | None) -> bool:
    if apiservice is None:
        return False
    return any(c.get("type") == "Available" and c.get("status") == "True"
               for c in (apiservice.get("status") or {}).get("conditions") or [])


def _rt(store: Any) -> Any:
    return store.resources.get("apiregistration.k8s.io", "v1", "apiservices")


def remote_apiservices(store: Any) -> list[dict]:
    """The APIServices that name a Service, for groups the cluster does not serve itself, in discovery order:
    by ``groupPriorityMinimum`` (highest first), then group name, then ``versionPriority`` (highest first)."""
    rt = _rt(store)
    if rt is None:
        return []
    local_groups = {group for group, _versions in store.resources.groups()}
    found = [a for a in store.list(rt)[0]
             if isinstance((a.get("spec") or {}).get("service"), dict) and (a.get("spec") or {}).get("group")
             and a["spec"]["group"] not in local_groups]
    return sorted(found, key=lambda a: (-int(a["spec"].get("groupPriorityMinimum") or 0), a["spec"]["group"],
                                        -int(a["spec"].get("versionPriority") or 0), a["spec"].get("version", "")))


def resource_error(store: Any, group: str, version: str) -> str | None:
    """Why a request to ``group/version`` would fail (a client's wording), or None when it is served."""
    rt = _rt(store)
    apiservice = store.try_get(rt, None, f"{version}.{group}") if rt is not None else None
    if apiservice is None or not isinstance((apiservice.get("spec") or {}).get("service"), dict):
        return NOT_FOUND
    if not available(apiservice) or (group, version) not in BACKENDS:
        return UNAVAILABLE
    return None
