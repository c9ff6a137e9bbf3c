"""Shared pieces of the emulator's EKS additions: lookups, errors, updates.

The additions keep their state on moto's own ``Cluster`` objects (in a
:class:`ClusterExtras` attribute), so add-ons, access entries and updates
vanish with their cluster and with moto's reset.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from moto.eks.models import EKSBackend, eks_backends
from moto.utilities.utils import get_partition

from .lifecycle import GONE, TRACKER, LingeringDict, Timeline
from .protocols import ApiError, Call

# Kubernetes versions EKS offers for new clusters (oldest first), standard and
# extended support, as checked on 2026-12-02: 1.31's extended support ended in
# November 2026, 1.32 and 1.33 are in extended support, 1.34 and 1.35 in standard.
SUPPORTED_VERSIONS = ("1.32", "1.33", "1.34", "1.35")
DEFAULT_VERSION = SUPPORTED_VERSIONS[-1]


def not_found(message: str, **fields: Any) -> ApiError:
    return ApiError(404, "ResourceNotFoundException", message, **fields)


def in_use(message: str, **fields: Any) -> ApiError:
    return ApiError(409, "ResourceInUseException", message, **fields)


def invalid_parameter(message: str, **fields: Any) -> ApiError:
    return ApiError(400, "InvalidParameterException", message, **fields)


def invalid_request(message: str, **fields: Any) -> ApiError:
    return ApiError(400, "InvalidRequestException", message, **fields)


class EksUpdate:
    """An EKS ``Update`` (DescribeUpdate/ListUpdates), InProgress -> Successful."""

    def __init__(self, update_type: str, params: list[dict[str, str]], duration: str,
                 nodegroup: str | None = None, addon: str | None = None, open_ended: bool = False):
        self.id = str(uuid.uuid4())
        self.type = update_type
        self.params = params
        self.created_at = time.time()
        self.nodegroup = nodegroup
        self.addon = addon
        self.errors: list[dict[str, Any]] = []
        self.timeline: Timeline = TRACKER.track("eks_update", lambda: self.id)
        if open_ended:  # InProgress until :meth:`succeed` or :meth:`fail` (a node replacement reports its end)
            self.timeline.set("InProgress")
        else:
            self.timeline.begin("InProgress", "Successful", TRACKER.seconds(duration))

    def succeed(self, after: float = 0.0) -> None:
        """An open-ended update becomes Successful ``after`` seconds from now."""
        self.timeline.begin("InProgress", "Successful", after)

    def fail(self, code: str, message: str, resource_ids: list[str] | None = None) -> None:
        """The update is Failed now, with EKS's ``ErrorDetail``."""
        self.errors = [{"errorCode": code, "errorMessage": message, "resourceIds": list(resource_ids or [])}]
        self.timeline.set("Failed")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.timeline.state(),
            "type": self.type,
            "params": self.params,
            "createdAt": self.created_at,
            "errors": [dict(error) for error in self.errors],
        }


class ClusterExtras:
    """The emulator's per-cluster state that moto does not model."""

    def __init__(self) -> None:
        self.addons: LingeringDict = LingeringDict(lambda addon: addon.timeline.gone())
        self.access_entries: dict[str, Any] = {}
        self.updates: dict[str, EksUpdate] = {}
        self.creator_arn: str | None = None


def extras(cluster: Any) -> ClusterExtras:
    """The :class:`ClusterExtras` of a moto cluster, created on first use."""
    found = cluster.__dict__.get("_emulator")
    if found is None:
        found = cluster.__dict__["_emulator"] = ClusterExtras()
    return found


def backend(call: Call) -> EKSBackend:
    return eks_backends[call.account][call.region]


def arn_prefix(call: Call) -> str:
    return f"arn:{get_partition(call.region)}:eks:{call.region}:{call.account}"


def get_cluster(call: Call, name: str) -> Any:
    """The moto cluster ``name``, or EKS's ResourceNotFoundException."""
    cluster = backend(call).clusters.get(name)
    if cluster is None:
        raise not_found(f"No cluster found for name: {name}.", clusterName=name)
    return cluster


def require_active(cluster: Any) -> None:
    """EKS refuses changes while a cluster is creating, updating or deleting."""
    status = cluster.status
    if status == "ACTIVE":
        return
    if status == "UPDATING":
        raise in_use(f"Cluster {cluster.name} has an update in progress", clusterName=cluster.name)
    raise invalid_request(
        f"Cluster '{cluster.name}' is not in ACTIVE status (current status: {status})",
        clusterName=cluster.name,
    )


def record_update(cluster: Any, update: EksUpdate) -> dict[str, Any]:
    """Store an update on its cluster and return the response payload."""
    extras(cluster).updates[update.id] = update
    return {"update": update.to_dict()}


def paginate(items: list[Any], params: dict[str, Any], default_max: int = 100) -> tuple[list[Any], str | None]:
    """Slice ``items`` by ``maxResults``/``nextToken`` (an opaque offset)."""
    try:
        start = int(params.get("nextToken") or 0)
    except ValueError:
        raise invalid_parameter("The nextToken is invalid.") from None
    size = int(params.get("maxResults") or default_max)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def is_gone(obj: Any) -> bool:
    """True if a model with a status timeline has finished deleting."""
    timeline = obj.__dict__.get("_emulator_status_timeline")
    return timeline is not None and timeline.gone()


__all__ = [
    "GONE", "ClusterExtras", "EksUpdate", "SUPPORTED_VERSIONS", "DEFAULT_VERSION",
    "arn_prefix", "backend", "extras", "get_cluster", "in_use", "invalid_parameter",
    "invalid_request", "is_gone", "not_found", "paginate", "record_update", "require_active",
]
