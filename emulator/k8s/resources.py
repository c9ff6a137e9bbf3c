"""The resource types a cluster serves: the built-in table and those made from CRDs.

A :class:`ResourceType` is one REST resource at one group/version (what
discovery lists and what the server routes ``/apis/<group>/<version>/<plural>``
to). Types that share their objects (``autoscaling/v1`` and ``autoscaling/v2``
HorizontalPodAutoscalers, the served versions of a CRD) share a ``storage``
key; the store keeps one object and the server answers it in the version
asked for (only ``apiVersion`` changes: no field conversion).

:class:`Resources` is the per-cluster registry: the built-ins plus the types
of the CustomResourceDefinitions the store holds.
"""

from __future__ import annotations

import hashlib
import base64
import threading
from dataclasses import dataclass, replace
from typing import Any, Iterable

__all__ = ["BUILTIN", "GROUP_ORDER", "ResourceType", "Resources", "types_from_crd"]

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_WRITE_NO_COLLECTION = ("create", "delete", "get", "list", "patch", "update", "watch")
SUBRESOURCE_VERBS = ("get", "patch", "update")


@dataclass(frozen=True)
class ResourceType:
    """One REST resource at one group/version."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str = ""
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = VERBS
    subresources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    # the storage shared by several versions of one resource: "<group>/<plural>"
    storage: str = ""
    # a type made from a CustomResourceDefinition
    custom: bool = False
    # the version discovery names first (preferredVersion) within its group
    preferred: bool = True
    # metadata.generation is kept (and bumped on spec changes)
    generation: bool = False
    # CRD: additionalPrinterColumns, the version's openAPIV3Schema, the scale subresource paths
    printer_columns: tuple[dict, ...] = ()
    crd_schema: dict | None = None
    scale: dict | None = None
    crd_name: str = ""

    def __post_init__(self) -> None:
        if not self.singular:
            object.__setattr__(self, "singular", self.kind.lower())
        if not self.storage:
            object.__setattr__(self, "storage", f"{self.group}/{self.plural}")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    group_version = api_version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def qualified(self) -> str:
        """``deployments.apps`` / ``pods``: how Kubernetes names the resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """``Deployment.apps`` / ``Pod``: how validation errors name the kind."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def has_scale(self) -> bool:
        return "scale" in self.subresources

    def storage_version_hash(self) -> str:
        digest = hashlib.sha256(f"{self.group}/{self.version}/{self.kind}".encode()).digest()
        return base64.b64encode(digest[:8]).decode()

    def with_version(self, version: str, preferred: bool = False) -> "ResourceType":
        return replace(self, version=version, preferred=preferred)


def _rt(group: str, version: str, kind: str, plural: str, **kwargs: Any) -> ResourceType:
    return ResourceType(group=group, version=version, kind=kind, plural=plural, **kwargs)


_STATUS = ("status",)
_STATUS_SCALE = ("scale", "status")

BUILTIN: tuple[ResourceType, ...] = (
    # core/v1
    _rt("", "v1", "Binding", "bindings", verbs=("create",)),
    _rt("", "v1", "ComponentStatus", "componentstatuses", namespaced=False, short_names=("cs",), verbs=("get", "list")),
    _rt("", "v1", "ConfigMap", "configmaps", short_names=("cm",)),
    _rt("", "v1", "Endpoints", "endpoints", singular="endpoints", short_names=("ep",)),
    _rt("", "v1", "Event", "events", short_names=("ev",), storage="/events"),
    _rt("", "v1", "LimitRange", "limitranges", short_names=("limits",)),
    _rt("", "v1", "Namespace", "namespaces", namespaced=False, short_names=("ns",),
        verbs=READ_WRITE_NO_COLLECTION, subresources=("finalize", "status")),
    _rt("", "v1", "Node", "nodes", namespaced=False, short_names=("no",), subresources=_STATUS),
    _rt("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short_names=("pvc",), subresources=_STATUS),
    _rt("", "v1", "PersistentVolume", "persistentvolumes", namespaced=False, short_names=("pv",), subresources=_STATUS),
    _rt("", "v1", "Pod", "pods", short_names=("po",), categories=("all",),
        subresources=("binding", "eviction", "log", "status"), generation=True),
    _rt("", "v1", "PodTemplate", "podtemplates"),
    _rt("", "v1", "ReplicationController", "replicationcontrollers", short_names=("rc",), categories=("all",),
        subresources=_STATUS_SCALE, generation=True),
    _rt("", "v1", "ResourceQuota", "resourcequotas", short_names=("quota",), subresources=_STATUS),
    _rt("", "v1", "Secret", "secrets"),
    _rt("", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",)),
    _rt("", "v1", "Service", "services", short_names=("svc",), categories=("all",),
        verbs=READ_WRITE_NO_COLLECTION + ("deletecollection",), subresources=_STATUS),
    # apps/v1
    _rt("apps", "v1", "ControllerRevision", "controllerrevisions"),
    _rt("apps", "v1", "DaemonSet", "daemonsets", short_names=("ds",), categories=("all",), subresources=_STATUS,
        generation=True),
    _rt("apps", "v1", "Deployment", "deployments", short_names=("deploy",), categories=("all",),
        subresources=_STATUS_SCALE, generation=True),
    _rt("apps", "v1", "ReplicaSet", "replicasets", short_names=("rs",), categories=("all",),
        subresources=_STATUS_SCALE, generation=True),
    _rt("apps", "v1", "StatefulSet", "statefulsets", short_names=("sts",), categories=("all",),
        subresources=_STATUS_SCALE, generation=True),
    # events.k8s.io/v1 (its own storage here: no conversion from core/v1 events)
    _rt("events.k8s.io", "v1", "Event", "events", short_names=("ev",)),
    # authentication / authorization
    _rt("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", namespaced=False,
        verbs=("create",)),
    _rt("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", namespaced=False, verbs=("create",)),
    _rt("authorization.k8s.io", "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", verbs=("create",)),
    _rt("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", namespaced=False,
        verbs=("create",)),
    _rt("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", namespaced=False,
        verbs=("create",)),
    _rt("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", namespaced=False,
        verbs=("create",)),
    # autoscaling: v2 preferred, v1 served from the same storage
    _rt("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short_names=("hpa",),
        categories=("all",), subresources=_STATUS, generation=True),
    _rt("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short_names=("hpa",),
        categories=("all",), subresources=_STATUS, preferred=False, generation=True),
    # batch/v1
    _rt("batch", "v1", "CronJob", "cronjobs", short_names=("cj",), categories=("all",), subresources=_STATUS,
        generation=True),
    _rt("batch", "v1", "Job", "jobs", categories=("all",), subresources=_STATUS, generation=True),
    # networking.k8s.io/v1
    _rt("networking.k8s.io", "v1", "IngressClass", "ingressclasses", namespaced=False),
    _rt("networking.k8s.io", "v1", "Ingress", "ingresses", short_names=("ing",), subresources=_STATUS,
        generation=True),
    _rt("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short_names=("netpol",), generation=True),
    # policy/v1
    _rt("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short_names=("pdb",), subresources=_STATUS,
        generation=True),
    # rbac.authorization.k8s.io/v1
    _rt("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False),
    _rt("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    _rt("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _rt("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    # storage.k8s.io/v1
    _rt("storage.k8s.io", "v1", "CSIDriver", "csidrivers", namespaced=False),
    _rt("storage.k8s.io", "v1", "CSINode", "csinodes", namespaced=False),
    _rt("storage.k8s.io", "v1", "StorageClass", "storageclasses", namespaced=False, short_names=("sc",)),
    _rt("storage.k8s.io", "v1", "VolumeAttachment", "volumeattachments", namespaced=False, subresources=_STATUS),
    # apiextensions.k8s.io/v1
    _rt("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", namespaced=False,
        short_names=("crd", "crds"), categories=("api-extensions",), subresources=_STATUS, generation=True),
    # scheduling.k8s.io/v1
    _rt("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", namespaced=False, short_names=("pc",)),
    # coordination.k8s.io/v1
    _rt("coordination.k8s.io", "v1", "Lease", "leases"),
    # discovery.k8s.io/v1
    _rt("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", generation=True),
    # apiregistration.k8s.io/v1 (the aggregator's own group: /apis lists it first)
    _rt("apiregistration.k8s.io", "v1", "APIService", "apiservices", namespaced=False,
        categories=("api-extensions",), subresources=_STATUS),
)

# The order of /apis (kube-apiserver's group priorities); CRD groups follow, sorted.
GROUP_ORDER = (
    "apiregistration.k8s.io",
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
)

# Review resources: create-only, answered by the server, never stored.
VIRTUAL_KINDS = frozenset(
    {"Binding", "SelfSubjectReview", "TokenReview", "LocalSubjectAccessReview", "SelfSubjectAccessReview",
     "SelfSubjectRulesReview", "SubjectAccessReview"}
)


def _version_priority(version: str) -> tuple:
    """Kubernetes' version ordering: GA > beta > alpha, higher numbers first, then non-matching names."""
    import re

    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (3, 0, 0, version)
    major = int(match.group(1))
    stage = {None: 0, "beta": 1, "alpha": 2}[match.group(2)]
    minor = int(match.group(3) or 0)
    return (stage, -major, -minor, version)


def types_from_crd(crd: dict) -> list[ResourceType]:
    """The ResourceTypes of a CustomResourceDefinition's served versions (preferred first)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    served = [v for v in spec.get("versions") or [] if v.get("served", True)]
    served.sort(key=lambda v: _version_priority(v.get("name", "")))
    result = []
    for index, version in enumerate(served):
        subresources = version.get("subresources") or {}
        subs = tuple(sorted(name for name in ("status", "scale") if name in subresources))
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        result.append(
            ResourceType(
                group=group,
                version=version["name"],
                kind=names.get("kind", ""),
                plural=names.get("plural", ""),
                singular=names.get("singular") or names.get("kind", "").lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=subs,
                custom=True,
                preferred=index == 0,
                generation=True,
                printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
                crd_schema=schema,
                scale=subresources.get("scale"),
                crd_name=(crd.get("metadata") or {}).get("name", ""),
            )
        )
    return result


class Resources:
    """One cluster's resource types: the built-ins plus the established CRDs' (thread-safe)."""

    def __init__(self, builtin: Iterable[ResourceType] = BUILTIN) -> None:
        self._lock = threading.RLock()
        self._builtin = tuple(builtin)
        self._custom: dict[str, tuple[ResourceType, ...]] = {}  # CRD name -> its types
        self._generation = 0  # bumped on every change (discovery and OpenAPI caches key on it)
        self._index()

    @property
    def generation(self) -> int:
        return self._generation

    def _index(self) -> None:
        self._all = self._builtin + tuple(rt for types in self._custom.values() for rt in types)
        self._by_gvr = {(rt.group, rt.version, rt.plural): rt for rt in self._all}
        self._by_gvk = {}
        for rt in self._all:
            self._by_gvk.setdefault((rt.group, rt.version, rt.kind), rt)
        self._generation += 1

    def all(self) -> tuple[ResourceType, ...]:
        return self._all

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_gvr.get((group, version, plural))

    def for_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        return self._by_gvk.get((group, version, kind))

    def for_group_kind(self, group: str, kind: str) -> ResourceType | None:
        """The preferred version's type of a group and kind."""
        candidates = [rt for rt in self._all if rt.group == group and rt.kind == kind]
        for rt in candidates:
            if rt.preferred:
                return rt
        return candidates[0] if candidates else None

    def preferred(self, storage: str) -> ResourceType | None:
        for rt in self._all:
            if rt.storage == storage and rt.preferred:
                return rt
        return None

    def storages(self) -> list[ResourceType]:
        """One type (the preferred) per storage."""
        seen: dict[str, ResourceType] = {}
        for rt in self._all:
            if rt.storage not in seen or (rt.preferred and not seen[rt.storage].preferred):
                seen[rt.storage] = rt
        return list(seen.values())

    def groups(self) -> list[tuple[str, list[str]]]:
        """``[(group, [versions, preferred first])]`` in discovery order, core ("") first."""
        versions: dict[str, list[ResourceType]] = {}
        for rt in self._all:
            versions.setdefault(rt.group, [])
            if rt.version not in [v.version for v in versions[rt.group]]:
                versions[rt.group].append(rt)
        order = [""] + [g for g in GROUP_ORDER if g in versions]
        order += sorted(g for g in versions if g not in order)
        result = []
        for group in order:
            if group not in versions:
                continue
            listed = sorted(versions[group], key=lambda rt: (not rt.preferred, _version_priority(rt.version)))
            result.append((group, [rt.version for rt in listed]))
        return result

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self._all if rt.group == group and rt.version == version]

    def set_crd(self, crd: dict) -> list[ResourceType]:
        """Register (or replace) the types of an established CRD."""
        name = (crd.get("metadata") or {}).get("name", "")
        types = tuple(types_from_crd(crd))
        with self._lock:
            self._custom[name] = types
            self._index()
        return list(types)

    def remove_crd(self, name: str) -> None:
        with self._lock:
            if self._custom.pop(name, None) is not None:
                self._index()

    def names_conflict(self, crd: dict) -> str | None:
        """Why a CRD's names cannot be accepted (plural or kind already served in its group), or None."""
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group = spec.get("group", "")
        name = (crd.get("metadata") or {}).get("name", "")
        for rt in self._all:
            if rt.group != group or rt.crd_name == name:
                continue
            if rt.plural == names.get("plural"):
                return f'"{rt.plural}" is already in use'
            if rt.kind == names.get("kind"):
                return f'"{rt.kind}" is already in use'
        return None

    def resolve(self, resource: str) -> ResourceType | None:
        """A type by plural, singular, short name or kind (``deploy``, ``deployments.apps``)."""
        name, _, group = resource.partition(".")
        name = name.lower()
        for rt in self._all:
            if group and rt.group != group:
                continue
            if not rt.preferred:
                continue
            if name in (rt.plural, rt.singular, rt.kind.lower()) or name in rt.short_names:
                return rt
        return None
