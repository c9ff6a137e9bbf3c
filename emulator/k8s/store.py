"""One cluster's objects: what etcd plus kube-apiserver's registry do (thread-safe).

Every write gets the next value of one cluster-wide counter as its
``resourceVersion`` (strings on the wire); a write that changes nothing is a
no-op (same resourceVersion, no watch event). Objects are stored once per
``ResourceType.storage`` in their preferred version and answered in the
version asked for (only ``apiVersion`` differs).

The store also does what the API server and its in-process controllers do
around storage: defaulting and validation (``defaults``), ``generateName``,
``uid``/``creationTimestamp``/``generation``, Service cluster IPs (from
172.20.0.0/16) and node ports, status kept apart from spec for types with a
status subresource, finalizers and ``deletionTimestamp``, namespace
termination, owner-reference garbage collection (Background, Foreground,
Orphan), the default namespaces and service accounts, CRDs registering their
types, admission hooks, and watches over a retained window of events.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import random
import string
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from . import defaults
from .errors import ApiError, already_exists, conflict, forbidden, invalid, not_found
from .resources import Resources, ResourceType
from .selectors import FieldSelector, LabelSelector

__all__ = ["AdmissionRequest", "ApiError", "Store", "Watch", "clone", "now_rfc3339"]

SERVICE_CIDR = ipaddress.ip_network("172.20.0.0/16")
NODE_PORTS = range(30000, 32768)
DEFAULT_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

# field selectors beyond metadata.name / metadata.namespace, per (group, kind)
FIELD_LABELS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "Pod"): ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                  "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"),
    ("", "Secret"): ("type",),
    ("", "Event"): ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                    "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
                    "reason", "reportingComponent", "source", "type"),
    ("events.k8s.io", "Event"): ("regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid",
                                 "reason", "reportingController", "type"),
    ("", "Node"): ("spec.unschedulable",),
    ("", "Namespace"): ("status.phase",),
    ("", "ReplicationController"): ("status.replicas",),
    ("apps", "ReplicaSet"): ("status.replicas",),
    ("batch", "Job"): ("status.successful",),
    ("certificates.k8s.io", "CertificateSigningRequest"): ("spec.signerName",),
}


def now_rfc3339(moment: _dt.datetime | None = None) -> str:
    moment = moment or _dt.datetime.now(_dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def clone(value: Any) -> Any:
    """A deep copy of JSON-like data (faster than copy.deepcopy)."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def _meta(obj: dict) -> dict:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        obj["metadata"] = meta
    return meta


def _without_volatile(obj: dict) -> dict:
    """The object minus what a no-op write may change (managedFields timestamps, resourceVersion)."""
    copy = clone(obj)
    meta = copy.get("metadata") or {}
    meta.pop("resourceVersion", None)
    for entry in meta.get("managedFields") or []:
        if isinstance(entry, dict):
            entry.pop("time", None)
    return copy


@dataclass
class AdmissionRequest:
    """What an admission hook sees: it may change ``obj`` in place or raise ApiError."""

    operation: str  # CREATE | UPDATE | DELETE
    rt: ResourceType
    obj: dict | None
    old: dict | None
    namespace: str
    name: str
    user: Any = None
    dry_run: bool = False
    subresource: str = ""
    store: Any = None


@dataclass
class _Event:
    rv: int
    storage: str
    type: str
    obj: dict
    old: dict | None


@dataclass
class _Pending:
    notifications: list = field(default_factory=list)
    depth: int = 0


class Watch:
    """An iterator of ``(type, obj)`` over one watch; ``stop()`` ends it from any thread.

    ``events(idle)`` also yields ``(None, None)`` after ``idle`` seconds without
    an event, so a server can check its connection and send bookmarks.
    """

    def __init__(self, store: "Store", rt: ResourceType, namespace: str | None, start_rv: int,
                 initial: list[dict], label_selector: LabelSelector, field_selector: FieldSelector,
                 timeout: float | None) -> None:
        self._store = store
        self._rt = rt
        self._namespace = namespace
        self._position = start_rv
        self._initial = deque(initial)
        self._labels = label_selector
        self._fields = field_selector
        self._stopped = False
        import time

        self._deadline = None if timeout is None else time.monotonic() + timeout

    def stop(self) -> None:
        with self._store._cond:
            self._stopped = True
            self._store._cond.notify_all()

    @property
    def resource_version(self) -> str:
        return str(self._position)

    def _selected(self, obj: dict | None) -> bool:
        if obj is None:
            return False
        meta = obj.get("metadata") or {}
        if self._namespace and meta.get("namespace") != self._namespace:
            return False
        return self._labels.matches(meta.get("labels")) and self._fields.matches(obj)

    def __iter__(self) -> Iterator[tuple[str, dict]]:
        for kind, obj in self.events(idle=1.0):
            if kind is not None:
                yield kind, obj

    def events(self, idle: float = 1.0) -> Iterator[tuple[str | None, dict | None]]:
        import time

        while self._initial:
            obj = self._initial.popleft()
            yield "ADDED", obj
        store = self._store
        while True:
            batch: list[tuple[str, dict]] = []
            with store._cond:
                while True:
                    if self._stopped:
                        return
                    if self._deadline is not None and time.monotonic() >= self._deadline:
                        return
                    if store._rv > self._position:
                        break
                    wait = idle
                    if self._deadline is not None:
                        wait = min(wait, max(0.0, self._deadline - time.monotonic()))
                    if not store._cond.wait(wait):
                        break
                if store._rv > self._position:
                    if self._position < store._compacted:
                        raise ApiError(410, "Expired",
                                       f"too old resource version: {self._position} ({store._compacted + 1})")
                    for event in store._log_after(self._position):
                        self._position = event.rv
                        if event.storage != self._rt.storage:
                            continue
                        now_in = self._selected(event.obj) if event.type != "DELETED" else False
                        before_in = self._selected(event.old) if event.old is not None else False
                        if event.type == "ADDED" and now_in:
                            batch.append(("ADDED", event.obj))
                        elif event.type == "MODIFIED":
                            if now_in and before_in:
                                batch.append(("MODIFIED", event.obj))
                            elif now_in:
                                batch.append(("ADDED", event.obj))
                            elif before_in:
                                batch.append(("DELETED", event.obj))
                        elif event.type == "DELETED" and self._selected(event.obj):
                            batch.append(("DELETED", event.obj))
                    self._position = max(self._position, store._rv)
            if not batch:
                yield None, None
                continue
            for kind, obj in batch:
                yield kind, store._present(self._rt, obj)


class Store:
    """One cluster's objects (see the module docstring)."""

    def __init__(self, resources: Resources | None = None, *, history: int = 10000,
                 clock: Callable[[], _dt.datetime] | None = None, bootstrap: bool = True,
                 namespace_delay: float | None = 1.0) -> None:
        self.resources = resources or Resources()
        # the namespace controller's lag: a Terminating namespace keeps its contents this long (None: no lag),
        # so `kubectl delete -f` of a manifest with its namespace first still finds the rest
        self.namespace_delay = namespace_delay
        self._namespaces_due: set[str] = set()
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._data: dict[str, dict[tuple[str, str], dict]] = {}
        self._rv = 0
        self._log: deque[_Event] = deque()
        self._history = history
        self._compacted = 0
        self._subscribers: list[Callable[..., None]] = []
        self._local = threading.local()
        self._clock = clock or (lambda: _dt.datetime.now(_dt.timezone.utc))
        self._random = random.Random()
        self._service_ips: set[str] = set()
        self._node_ports: set[int] = set()
        # admission hooks: callables taking an AdmissionRequest, run on create/update/delete
        self.admission: list[Callable[[AdmissionRequest], None]] = []
        if bootstrap:
            self._bootstrap()

    # -- basics -------------------------------------------------------------------------------

    @property
    def resource_version(self) -> str:
        with self._lock:
            return str(self._rv)

    def now(self) -> str:
        return now_rfc3339(self._clock())

    def subscribe(self, callback: Callable[[str, ResourceType, dict, dict | None], None]) -> Callable[[], None]:
        """Call ``callback(type, rt, obj, old)`` after every committed change (ADDED/MODIFIED/DELETED).

        Callbacks run in the writing thread, after the store's lock is released,
        in commit order per thread; writes they make are delivered after theirs.
        Returns a function that unsubscribes.
        """
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def _pending(self) -> _Pending:
        pending = getattr(self._local, "pending", None)
        if pending is None:
            pending = _Pending()
            self._local.pending = pending
        return pending

    def _enter(self) -> None:
        self._lock.acquire()
        self._pending().depth += 1

    def _exit(self) -> None:
        pending = self._pending()
        pending.depth -= 1
        flush = pending.depth == 0
        notifications = []
        if flush:
            notifications, pending.notifications = pending.notifications, []
        self._lock.release()
        if flush:
            for event_type, storage, obj, old in notifications:
                rt = self.resources.preferred(storage) or self._storage_type(storage)
                if rt is None:
                    continue
                for callback in list(self._subscribers):
                    try:
                        callback(event_type, rt, clone(obj), clone(old) if old is not None else None)
                    except Exception:  # noqa: BLE001 - a failing controller must not break the write
                        import logging

                        logging.getLogger(__name__).exception("store subscriber failed")

    def _storage_type(self, storage: str) -> ResourceType | None:
        for rt in self.resources.all():
            if rt.storage == storage:
                return rt
        return None

    def _bucket(self, rt: ResourceType) -> dict[tuple[str, str], dict]:
        return self._data.setdefault(rt.storage, {})

    def _key(self, rt: ResourceType, namespace: str | None, name: str) -> tuple[str, str]:
        return ((namespace or "") if rt.namespaced else "", name)

    def _present(self, rt: ResourceType, obj: dict) -> dict:
        """A copy of a stored object as ``rt``'s version answers it."""
        result = clone(obj)
        result["apiVersion"] = rt.api_version
        result["kind"] = rt.kind
        return result

    def _commit(self, rt: ResourceType, event_type: str, obj: dict, old: dict | None) -> dict:
        """Store (or remove, for DELETED) ``obj`` under the next resourceVersion; log and notify."""
        self._rv += 1
        stored = clone(obj)
        preferred = self.resources.preferred(rt.storage) or rt
        stored["apiVersion"] = preferred.api_version
        stored["kind"] = preferred.kind
        meta = _meta(stored)
        meta["resourceVersion"] = str(self._rv)
        key = self._key(rt, meta.get("namespace"), meta.get("name", ""))
        bucket = self._bucket(rt)
        if event_type == "DELETED":
            bucket.pop(key, None)
        else:
            bucket[key] = stored
        self._log.append(_Event(self._rv, rt.storage, event_type, stored, old))
        while len(self._log) > self._history:
            self._compacted = self._log.popleft().rv
        self._pending().notifications.append((event_type, rt.storage, stored, old))
        self._cond.notify_all()
        return stored

    def _log_after(self, rv: int) -> list[_Event]:
        return [event for event in self._log if event.rv > rv]

    # -- reads --------------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict:
        with self._lock:
            obj = self._bucket(rt).get(self._key(rt, namespace, name))
            if obj is None:
                raise not_found(rt, name)
            return self._present(rt, obj)

    def try_get(self, rt: ResourceType, namespace: str | None, name: str) -> dict | None:
        try:
            return self.get(rt, namespace, name)
        except ApiError:
            return None

    def field_supported(self, rt: ResourceType, path: str) -> bool:
        if path in ("metadata.name", "metadata.namespace"):
            return True
        if rt.custom:
            return False
        return path in FIELD_LABELS.get((rt.group, rt.kind), ())

    def _selectors(self, rt: ResourceType, label_selector: Any, field_selector: Any) -> tuple[LabelSelector,
                                                                                              FieldSelector]:
        labels = label_selector if isinstance(label_selector, LabelSelector) else LabelSelector.parse(label_selector)
        if isinstance(field_selector, FieldSelector):
            fields = field_selector
        else:
            fields = FieldSelector.parse(field_selector, lambda path: self.field_supported(rt, path))
        return labels, fields

    def list(self, rt: ResourceType, namespace: str | None = None, label_selector: Any = None,
             field_selector: Any = None) -> tuple[list[dict], str]:
        """``(items, resourceVersion)``: matching objects in key order (namespace, name)."""
        labels, fields = self._selectors(rt, label_selector, field_selector)
        with self._lock:
            items = []
            for key in sorted(self._bucket(rt)):
                obj = self._bucket(rt)[key]
                if rt.namespaced and namespace and key[0] != namespace:
                    continue
                if labels and not labels.matches((obj.get("metadata") or {}).get("labels")):
                    continue
                if fields and not fields.matches(obj):
                    continue
                items.append(self._present(rt, obj))
            return items, str(self._rv)

    def list_objects(self, group: str, resource: str, namespace: str | None) -> list[dict]:
        """The objects of ``group``/``resource`` (plural) in ``namespace`` (None: all); [] for an unknown one.

        What ``auth.authorize`` reads RBAC objects (and ``aws-auth``) through.
        """
        for rt in self.resources.all():
            if rt.group == group and rt.plural == resource and rt.preferred:
                return self.list(rt, namespace)[0]
        return []

    def watch(self, rt: ResourceType, namespace: str | None = None, resource_version: str | None = None,
              label_selector: Any = None, field_selector: Any = None, timeout: float | None = None,
              send_initial: bool | None = None) -> Watch:
        """A :class:`Watch` from ``resource_version`` (unset or "0": the current objects as ADDED first).

        Raises ApiError 410 Expired when ``resource_version`` is older than the retained window.
        """
        labels, fields = self._selectors(rt, label_selector, field_selector)
        with self._lock:
            initial: list[dict] = []
            if resource_version in (None, "", "0") or send_initial:
                start = self._rv
                items, _ = self.list(rt, namespace, labels, fields)
                initial = items
            else:
                try:
                    start = int(resource_version)
                except ValueError:
                    raise ApiError(400, "BadRequest", f'invalid resource version "{resource_version}"') from None
                if start < self._compacted:
                    raise ApiError(410, "Expired", f"too old resource version: {start} ({self._compacted + 1})")
            return Watch(self, rt, namespace, start, initial, labels, fields, timeout)

    # -- writes -------------------------------------------------------------------------------

    def _admit(self, request: AdmissionRequest) -> None:
        request.store = self
        for hook in list(self.admission):
            hook(request)

    def _check_namespace(self, rt: ResourceType, namespace: str, name: str) -> None:
        if not rt.namespaced:
            return
        ns_rt = self.resources.get("", "v1", "namespaces")
        if not namespace:
            raise ApiError(400, "BadRequest", "the server could not find the requested resource")
        ns = self._bucket(ns_rt).get(("", namespace))
        if ns is None:
            raise not_found(ns_rt, namespace)
        if (ns.get("metadata") or {}).get("deletionTimestamp"):
            raise ApiError(
                403, "Forbidden",
                f'{rt.qualified} "{name}" is forbidden: unable to create new content in namespace {namespace} '
                "because it is being terminated",
                {"name": name, **({"group": rt.group} if rt.group else {}), "kind": rt.plural,
                 "causes": [{"reason": "NamespaceTerminating",
                             "message": f"namespace {namespace} is being terminated",
                             "field": "metadata.namespace"}]},
            )

    def _generate_name(self, rt: ResourceType, namespace: str, prefix: str) -> str:
        bucket = self._bucket(rt)
        prefix = prefix[:58]
        for _ in range(100):
            name = prefix + "".join(self._random.choice(_GENERATE_ALPHABET) for _ in range(5))
            if self._key(rt, namespace, name) not in bucket:
                return name
        raise ApiError(500, "InternalError", "could not generate a unique name")

    def create(self, rt: ResourceType, obj: dict, dry_run: bool = False, *, user: Any = None,
               finalize: Callable[[dict | None, dict], dict] | None = None) -> dict:
        """Create ``obj``; ``finalize(None, obj)`` (managedFields) runs after defaulting and admission."""
        self._enter()
        try:
            return self._create(rt, clone(obj), dry_run, user, finalize)
        finally:
            self._exit()

    def _create(self, rt: ResourceType, obj: dict, dry_run: bool, user: Any, finalize: Any) -> dict:
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        meta = _meta(obj)
        if rt.namespaced:
            namespace = meta.get("namespace") or ""
        else:
            meta.pop("namespace", None)
            namespace = ""
        name = meta.get("name") or ""
        if not name and meta.get("generateName"):
            name = self._generate_name(rt, namespace, str(meta["generateName"]))
            meta["name"] = name
        if not name:
            raise invalid(rt, "", [("FieldValueRequired", "metadata.name",
                                    "Required value: name or generateName is required")])
        causes = defaults.validate_name(rt, name)
        if causes:
            raise invalid(rt, name, causes)
        self._check_namespace(rt, namespace, name)
        if self._key(rt, namespace, name) in self._bucket(rt):
            raise already_exists(rt, name)
        for volatile in ("resourceVersion", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(volatile, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = self.now()
        if rt.generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        if rt.has_status:
            status = defaults.initial_status(rt, obj)
            if status is None:
                obj.pop("status", None)
            else:
                obj["status"] = status
        defaults.apply_defaults(rt, obj)
        self._type_defaults(rt, obj, None, dry_run)
        self._admit(AdmissionRequest("CREATE", rt, obj, None, namespace, name, user, dry_run))
        if finalize is not None:
            obj = finalize(None, obj)
        defaults.validate(rt, obj, None)
        if rt.kind == "CustomResourceDefinition" and rt.group == "apiextensions.k8s.io":
            self._crd_status(obj)
        if dry_run:
            self._release_allocations(obj, rt, keep=None)
            result = self._present(rt, obj)
            return result
        stored = self._commit(rt, "ADDED", obj, None)
        self._after_create(rt, stored)
        return self._present(rt, stored)

    def _after_create(self, rt: ResourceType, obj: dict) -> None:
        if rt.group == "" and rt.kind == "Namespace":
            self._ensure_service_account(obj["metadata"]["name"])
        if rt.group == "apiextensions.k8s.io" and rt.kind == "CustomResourceDefinition":
            self._register_crd(obj)

    def _ensure_service_account(self, namespace: str) -> None:
        sa_rt = self.resources.get("", "v1", "serviceaccounts")
        if ("" if not sa_rt.namespaced else namespace, "default") in self._bucket(sa_rt):
            return
        self._create(sa_rt, {"metadata": {"name": "default", "namespace": namespace}}, False, None, None)

    def update(self, rt: ResourceType, obj: dict, dry_run: bool = False, *, subresource: str = "",
               user: Any = None, finalize: Callable[[dict | None, dict], dict] | None = None) -> dict:
        """Replace an object (409 Conflict on a stale ``metadata.resourceVersion``, none: unconditional)."""
        self._enter()
        try:
            return self._update(rt, clone(obj), dry_run, subresource, user, finalize)
        finally:
            self._exit()

    def _update(self, rt: ResourceType, obj: dict, dry_run: bool, subresource: str, user: Any,
                finalize: Any) -> dict:
        meta = _meta(obj)
        namespace = (meta.get("namespace") or "") if rt.namespaced else ""
        name = meta.get("name") or ""
        key = self._key(rt, namespace, name)
        current = self._bucket(rt).get(key)
        if current is None:
            raise not_found(rt, name)
        old = self._present(rt, current)
        requested_rv = meta.get("resourceVersion")
        if requested_rv and requested_rv != current["metadata"].get("resourceVersion"):
            raise conflict(rt, name)
        new = self._merge_update(rt, old, obj, subresource)
        if subresource != "status":
            defaults.apply_defaults(rt, new)
            self._type_defaults(rt, new, old, dry_run)
        self._admit(AdmissionRequest("UPDATE", rt, new, old, namespace, name, user, dry_run, subresource))
        if finalize is not None:
            new_meta = _meta(new)
            if "managedFields" not in new_meta and (old.get("metadata") or {}).get("managedFields"):
                new_meta["managedFields"] = clone(old["metadata"]["managedFields"])
            new = finalize(old, new)
        if subresource != "status":
            defaults.validate(rt, new, old)
        new_meta = _meta(new)
        if rt.generation and subresource != "status":
            if _spec_part(new) != _spec_part(old):
                new_meta["generation"] = int((old.get("metadata") or {}).get("generation") or 0) + 1
        is_crd = rt.kind == "CustomResourceDefinition" and rt.group == "apiextensions.k8s.io"
        if is_crd and subresource != "status":
            self._crd_status(new)
        if _without_volatile(new) == _without_volatile(old):
            return old
        if dry_run:
            self._release_allocations(new, rt, keep=old)
            new_meta["resourceVersion"] = old["metadata"].get("resourceVersion")
            return self._present(rt, new)
        if new_meta.get("deletionTimestamp") and not new_meta.get("finalizers"):
            self._release_allocations(new, rt, keep=None)
            self._remove(rt, new)
            return self._present(rt, new)
        stored = self._commit(rt, "MODIFIED", new, old)
        if is_crd:
            self._register_crd(stored)
        if new_meta.get("deletionTimestamp"):
            self._progress_deletion(rt, stored)
        return self._present(rt, self._bucket(rt).get(key, stored))

    def _merge_update(self, rt: ResourceType, old: dict, obj: dict, subresource: str) -> dict:
        """The object an update stores: server-owned metadata and the other half (spec/status) from ``old``."""
        old_meta = old.get("metadata") or {}
        if subresource == "status":
            new = clone(old)
            if "status" in obj:
                new["status"] = clone(obj["status"])
            else:
                new.pop("status", None)
            if "managedFields" in (obj.get("metadata") or {}):
                new["metadata"]["managedFields"] = clone(obj["metadata"]["managedFields"])
            return new
        new = clone(obj)
        new["apiVersion"] = rt.api_version
        new["kind"] = rt.kind
        meta = _meta(new)
        for fixed in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation",
                      "name", "namespace"):
            if fixed in old_meta:
                meta[fixed] = old_meta[fixed]
            else:
                meta.pop(fixed, None)
        meta.pop("selfLink", None)
        if "generateName" in old_meta:
            meta["generateName"] = old_meta["generateName"]
        else:
            meta.pop("generateName", None)
        if old_meta.get("deletionTimestamp"):
            # finalizers may only be removed once deletion started
            meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f in (old_meta.get("finalizers") or [])]
            if not meta["finalizers"]:
                meta.pop("finalizers")
        if rt.has_status:
            if "status" in old:
                new["status"] = clone(old["status"])
            else:
                new.pop("status", None)
        return new

    def _type_defaults(self, rt: ResourceType, obj: dict, old: dict | None, dry_run: bool) -> None:
        """Defaults that need the store: Service IPs and node ports, a Job's selector."""
        key = (rt.group, rt.kind)
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else None
        if key == ("", "Service") and spec is not None:
            self._service_allocations(rt, obj, old)
        elif key == ("batch", "Job") and spec is not None and old is None:
            uid = obj["metadata"]["uid"]
            name = obj["metadata"]["name"]
            if not spec.get("manualSelector"):
                spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
                template = spec.setdefault("template", {})
                labels = template.setdefault("metadata", {}).setdefault("labels", {})
                labels.setdefault("batch.kubernetes.io/controller-uid", uid)
                labels.setdefault("batch.kubernetes.io/job-name", name)
                labels.setdefault("controller-uid", uid)
                labels.setdefault("job-name", name)

    def _service_allocations(self, rt: ResourceType, obj: dict, old: dict | None) -> None:
        spec = obj["spec"]
        name = obj["metadata"].get("name", "")
        old_spec = (old or {}).get("spec") or {}
        if spec.get("type") == "ExternalName":
            spec.pop("clusterIP", None) if not old_spec.get("clusterIP") else None
            return
        if old is not None and old_spec.get("clusterIP"):
            if not spec.get("clusterIP"):
                spec["clusterIP"] = old_spec["clusterIP"]
                spec["clusterIPs"] = clone(old_spec.get("clusterIPs") or [old_spec["clusterIP"]])
            elif spec["clusterIP"] != old_spec["clusterIP"]:
                raise invalid(rt, name, [("FieldValueInvalid", "spec.clusterIPs[0]",
                                          f'Invalid value: []string{{"{spec["clusterIP"]}"}}: may not change once '
                                          "set")])
        requested = spec.get("clusterIP") or (spec.get("clusterIPs") or [None])[0]
        if old is None or not old_spec.get("clusterIP"):
            if requested == "None":
                spec["clusterIP"] = "None"
                spec["clusterIPs"] = ["None"]
            elif requested:
                try:
                    address = ipaddress.ip_address(requested)
                except ValueError:
                    raise invalid(rt, name, [("FieldValueInvalid", "spec.clusterIPs[0]",
                                              f'Invalid value: "{requested}": must be a valid IP address, '
                                              '(e.g. 10.9.8.7 or 2001:db8::ffff)')]) from None
                if address not in SERVICE_CIDR:
                    raise invalid(rt, name, [("FieldValueInvalid", "spec.clusterIPs",
                                              f'Invalid value: []string{{"{requested}"}}: failed to allocate IP '
                                              f"{requested}: the provided IP ({requested}) is not in the valid "
                                              f"range. The range of valid IPs is {SERVICE_CIDR}")])
                if requested in self._service_ips:
                    raise invalid(rt, name, [("FieldValueInvalid", "spec.clusterIPs",
                                              f'Invalid value: []string{{"{requested}"}}: failed to allocate IP '
                                              f"{requested}: provided IP is already allocated")])
                self._service_ips.add(requested)
                spec["clusterIP"] = requested
                spec["clusterIPs"] = [requested]
            else:
                address = self._allocate_ip()
                spec["clusterIP"] = address
                spec["clusterIPs"] = [address]
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                         for p in old_spec.get("ports") or [] if isinstance(p, dict)}
            for port in spec.get("ports") or []:
                if not isinstance(port, dict) or port.get("nodePort"):
                    if isinstance(port, dict) and port.get("nodePort") and old is None:
                        self._node_ports.add(int(port["nodePort"]))
                    continue
                previous = old_ports.get((port.get("port"), port.get("protocol", "TCP")))
                port["nodePort"] = previous or self._allocate_node_port()
        else:
            for port in spec.get("ports") or []:
                if isinstance(port, dict) and port.get("nodePort"):
                    self._node_ports.discard(port.pop("nodePort"))

    def _allocate_ip(self) -> str:
        hosts = SERVICE_CIDR.num_addresses - 2
        for _ in range(1000):
            candidate = str(SERVICE_CIDR.network_address + self._random.randint(11, hosts))
            if candidate not in self._service_ips:
                self._service_ips.add(candidate)
                return candidate
        raise ApiError(500, "InternalError", "range is full")

    def _allocate_node_port(self) -> int:
        for _ in range(1000):
            candidate = self._random.choice(NODE_PORTS)
            if candidate not in self._node_ports:
                self._node_ports.add(candidate)
                return candidate
        raise ApiError(500, "InternalError", "range is full")

    def _release_allocations(self, obj: dict, rt: ResourceType, keep: dict | None) -> None:
        """Free a Service's IP and node ports (dry runs and deletions), except those ``keep`` holds."""
        if (rt.group, rt.kind) != ("", "Service"):
            return
        spec = obj.get("spec") or {}
        kept = (keep or {}).get("spec") or {}
        ip = spec.get("clusterIP")
        if ip and ip != "None" and ip != kept.get("clusterIP"):
            self._service_ips.discard(ip)
        kept_ports = {p.get("nodePort") for p in kept.get("ports") or [] if isinstance(p, dict)}
        for port in spec.get("ports") or []:
            if isinstance(port, dict) and port.get("nodePort") and port["nodePort"] not in kept_ports:
                self._node_ports.discard(port["nodePort"])

    # -- CRDs -------------------------------------------------------------------------------

    def _crd_status(self, crd: dict) -> None:
        spec = crd.get("spec") or {}
        names = dict(spec.get("names") or {})
        if names.get("kind"):
            names.setdefault("singular", names["kind"].lower())
            names.setdefault("listKind", names["kind"] + "List")
        status = crd.setdefault("status", {})
        conflict_reason = self.resources.names_conflict(crd)
        moment = self.now()
        previous = {c.get("type"): c for c in status.get("conditions") or []}

        def condition(kind: str, ok: bool, reason: str, message: str) -> dict:
            before = previous.get(kind)
            state = "True" if ok else "False"
            when = before["lastTransitionTime"] if before and before.get("status") == state else moment
            return {"type": kind, "status": state, "lastTransitionTime": when, "reason": reason, "message": message}

        if conflict_reason is None:
            status["acceptedNames"] = names
            status["conditions"] = [
                condition("NamesAccepted", True, "NoConflicts", "no conflicts found"),
                condition("Established", True, "InitialNamesAccepted", "the initial names have been accepted"),
            ]
        else:
            status.setdefault("acceptedNames", {"plural": "", "kind": ""})
            status["conditions"] = [
                condition("NamesAccepted", False, "PluralConflict" if "in use" in conflict_reason else "KindConflict",
                          conflict_reason),
                condition("Established", False, "NotAccepted", "not all names are accepted"),
            ]
        stored = [v.get("name") for v in spec.get("versions") or [] if v.get("storage")]
        versions = list(status.get("storedVersions") or [])
        for version in stored:
            if version not in versions:
                versions.append(version)
        status["storedVersions"] = versions

    def _register_crd(self, crd: dict) -> None:
        established = any(c.get("type") == "Established" and c.get("status") == "True"
                          for c in (crd.get("status") or {}).get("conditions") or [])
        if established and not (crd.get("metadata") or {}).get("deletionTimestamp"):
            self.resources.set_crd(crd)

    # -- deletes ------------------------------------------------------------------------------

    def delete(self, rt: ResourceType, namespace: str | None, name: str, propagation: str | None = None,
               preconditions: dict | None = None, dry_run: bool = False, *, grace_period: int | None = None,
               user: Any = None) -> tuple[dict, bool]:
        """Delete an object: ``(object, gone)`` where ``gone`` is False while finalizers hold it."""
        self._enter()
        try:
            return self._delete(rt, namespace or "", name, propagation, preconditions or {}, dry_run, user)
        finally:
            self._exit()

    def _delete(self, rt: ResourceType, namespace: str, name: str, propagation: str | None, preconditions: dict,
                dry_run: bool, user: Any) -> tuple[dict, bool]:
        key = self._key(rt, namespace, name)
        current = self._bucket(rt).get(key)
        if current is None:
            raise not_found(rt, name)
        meta = current.get("metadata") or {}
        if preconditions.get("uid") and preconditions["uid"] != meta.get("uid"):
            raise conflict(rt, name, f"Precondition failed: UID in precondition: {preconditions['uid']}, UID in "
                                     f"object meta: {meta.get('uid')}")
        if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != meta.get("resourceVersion"):
            raise conflict(rt, name, "Precondition failed: ResourceVersion in precondition: "
                                     f"{preconditions['resourceVersion']}, ResourceVersion in object meta: "
                                     f"{meta.get('resourceVersion')}")
        obj = clone(current)
        self._admit(AdmissionRequest("DELETE", rt, None, self._present(rt, obj), namespace, name, user, dry_run))
        if propagation is None:
            # batch/v1 Jobs and core/v1 ReplicationControllers orphan by default (kubectl asks for Background)
            orphaning = (rt.group, rt.kind) in (("batch", "Job"), ("", "ReplicationController"))
            propagation = "Orphan" if orphaning else "Background"
        if propagation not in ("Background", "Foreground", "Orphan"):
            raise ApiError(422, "Invalid", f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: '
                                           f'Unsupported value: "{propagation}": supported values: "Foreground", '
                                           '"Background", "Orphan", "nil"')
        is_namespace = rt.group == "" and rt.kind == "Namespace"
        finalizers = list(meta.get("finalizers") or [])
        if propagation == "Foreground" and "foregroundDeletion" not in finalizers and not is_namespace:
            finalizers.append("foregroundDeletion")
        if propagation == "Orphan" and "orphan" not in finalizers and not is_namespace:
            finalizers.append("orphan")
        if dry_run:
            result = self._present(rt, obj)
            if finalizers or is_namespace:
                result["metadata"]["deletionTimestamp"] = meta.get("deletionTimestamp") or self.now()
                result["metadata"]["deletionGracePeriodSeconds"] = 0
                return result, False
            return result, True
        if is_namespace or finalizers:
            if not meta.get("deletionTimestamp") or finalizers != list(meta.get("finalizers") or []):
                obj_meta = obj["metadata"]
                obj_meta.setdefault("deletionTimestamp", self.now())
                obj_meta.setdefault("deletionGracePeriodSeconds", 0)
                if finalizers:
                    obj_meta["finalizers"] = finalizers
                if is_namespace:
                    obj.setdefault("status", {})["phase"] = "Terminating"
                obj = self._commit(rt, "MODIFIED", obj, self._present(rt, current))
            obj = self._progress_deletion(rt, obj)
            gone = self._bucket(rt).get(key) is None
            return self._present(rt, obj), gone
        self._remove(rt, obj)
        return self._present(rt, obj), True

    def _remove(self, rt: ResourceType, obj: dict) -> None:
        """Remove an object for good; then collect its dependents and finish namespaces waiting on it."""
        self._release_allocations(obj, rt, keep=None)
        is_crd = rt.group == "apiextensions.k8s.io" and rt.kind == "CustomResourceDefinition"
        if is_crd:
            self._purge_custom_resources(obj)
        removed = self._commit(rt, "DELETED", obj, None)
        meta = removed["metadata"]
        if is_crd:
            self.resources.remove_crd(meta.get("name", ""))
        if rt.group == "" and rt.kind == "Namespace":
            self._namespaces_due.discard(meta.get("name", ""))
        self._collect_dependents(meta.get("uid", ""))
        for ref in meta.get("ownerReferences") or []:
            owner = self._find_uid(ref.get("uid", ""))
            if owner is not None:
                owner_rt, owner_obj = owner
                owner_meta = owner_obj["metadata"]
                if owner_meta.get("deletionTimestamp") and "foregroundDeletion" in (owner_meta.get("finalizers") or []):
                    self._progress_deletion(owner_rt, owner_obj)
        namespace = meta.get("namespace")
        if namespace and rt.namespaced:
            ns_rt = self.resources.get("", "v1", "namespaces")
            ns = self._bucket(ns_rt).get(("", namespace))
            if ns is not None and (ns.get("metadata") or {}).get("deletionTimestamp"):
                self._progress_deletion(ns_rt, ns)

    def _dependents(self, owner_uid: str) -> list[tuple[ResourceType, dict]]:
        result = []
        for rt in self.resources.storages():
            for obj in list(self._bucket(rt).values()):
                refs = (obj.get("metadata") or {}).get("ownerReferences") or []
                if any(ref.get("uid") == owner_uid for ref in refs if isinstance(ref, dict)):
                    result.append((rt, obj))
        return result

    def _find_uid(self, uid: str) -> tuple[ResourceType, dict] | None:
        if not uid:
            return None
        for rt in self.resources.storages():
            for obj in self._bucket(rt).values():
                if (obj.get("metadata") or {}).get("uid") == uid:
                    return rt, obj
        return None

    def _exists_uid(self, uid: str) -> bool:
        return self._find_uid(uid) is not None

    def _purge_custom_resources(self, crd: dict) -> None:
        """A deleted CRD takes its custom resources with it."""
        spec = crd.get("spec") or {}
        storage = f"{spec.get('group', '')}/{(spec.get('names') or {}).get('plural', '')}"
        cr_rt = self.resources.preferred(storage)
        if cr_rt is None:
            return
        for obj in list(self._bucket(cr_rt).values()):
            self._commit(cr_rt, "DELETED", obj, None)
            self._collect_dependents(obj["metadata"].get("uid", ""))

    def _collect_dependents(self, owner_uid: str) -> None:
        """Background garbage collection after ``owner_uid`` is gone."""
        for rt, dependent in self._dependents(owner_uid):
            meta = dependent["metadata"]
            key = self._key(rt, meta.get("namespace"), meta.get("name", ""))
            current = self._bucket(rt).get(key)
            if current is None:
                continue
            refs = [r for r in current["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid]
            live = [r for r in refs if self._exists_uid(r.get("uid", ""))]
            if live:
                updated = clone(current)
                updated["metadata"]["ownerReferences"] = refs
                self._commit(rt, "MODIFIED", updated, self._present(rt, current))
            elif not current["metadata"].get("deletionTimestamp"):
                self._delete(rt, meta.get("namespace") or "", meta.get("name", ""), "Background", {}, False, None)

    def collect_dangling(self) -> int:
        """What kube-controller-manager's garbage collector does for dependents whose owners are gone.

        An object can name an owner that no longer exists: a controller creates a
        ReplicaSet or a pod from a view taken just before its owner was deleted, or a
        client writes a reference to an owner already gone. Background propagation
        collects only the dependents present when the owner goes; the garbage
        collector finds the others later: an object all of whose owners are absent is
        deleted (background), one with a live owner left loses the dangling
        references. Objects being deleted are left to their finalizers. Returns the
        number of objects changed.
        """
        self._enter()
        try:
            storages = self.resources.storages()
            uids = {(obj.get("metadata") or {}).get("uid") for rt in storages for obj in self._bucket(rt).values()}
            changed = 0
            for rt in storages:
                for current in list(self._bucket(rt).values()):
                    meta = current.get("metadata") or {}
                    refs = [r for r in meta.get("ownerReferences") or [] if isinstance(r, dict)]
                    if not refs or meta.get("deletionTimestamp"):
                        continue
                    live = [r for r in refs if r.get("uid") in uids]
                    if len(live) == len(refs):
                        continue
                    if live:
                        updated = clone(current)
                        updated["metadata"]["ownerReferences"] = live
                        self._commit(rt, "MODIFIED", updated, self._present(rt, current))
                    else:
                        self._delete(rt, meta.get("namespace") or "", meta.get("name", ""), "Background", {}, False,
                                     None)
                    changed += 1
            return changed
        finally:
            self._exit()

    def _progress_deletion(self, rt: ResourceType, obj: dict) -> dict:
        """Do what the GC and namespace controllers do for an object being deleted; remove it when done."""
        uid = obj["metadata"].get("uid", "")
        busy = self.__dict__.setdefault("_finalizing", set())
        if uid in busy:
            return obj
        busy.add(uid)
        try:
            return self._progress_deletion_once(rt, obj)
        finally:
            busy.discard(uid)

    def _progress_deletion_once(self, rt: ResourceType, obj: dict) -> dict:
        meta = obj["metadata"]
        key = self._key(rt, meta.get("namespace"), meta.get("name", ""))
        uid = meta.get("uid", "")
        finalizers = list(meta.get("finalizers") or [])
        changed = False
        if "orphan" in finalizers:
            for dep_rt, dependent in self._dependents(uid):
                updated = clone(dependent)
                updated["metadata"]["ownerReferences"] = [
                    r for r in dependent["metadata"].get("ownerReferences") or [] if r.get("uid") != uid
                ]
                if not updated["metadata"]["ownerReferences"]:
                    updated["metadata"].pop("ownerReferences")
                self._commit(dep_rt, "MODIFIED", updated, self._present(dep_rt, dependent))
            finalizers.remove("orphan")
            changed = True
        if "foregroundDeletion" in finalizers:
            for dep_rt, dependent in self._dependents(uid):
                dep_meta = dependent["metadata"]
                if not dep_meta.get("deletionTimestamp"):
                    self._delete(dep_rt, dep_meta.get("namespace") or "", dep_meta.get("name", ""), "Foreground",
                                 {}, False, None)
            blocking = [d for d in self._dependents(uid)
                        if any(r.get("uid") == uid and r.get("blockOwnerDeletion")
                               for r in d[1]["metadata"].get("ownerReferences") or [])]
            if not blocking:
                finalizers.remove("foregroundDeletion")
                changed = True
        if rt.group == "" and rt.kind == "Namespace":
            namespace = meta.get("name", "")
            if self.namespace_delay and namespace not in self._namespaces_due:
                self._schedule_namespace(namespace)
                return obj
            remaining = 0
            for content_rt in self.resources.storages():
                if not content_rt.namespaced:
                    continue
                for (ns, name), content in list(self._bucket(content_rt).items()):
                    if ns != namespace:
                        continue
                    if not content["metadata"].get("deletionTimestamp"):
                        self._delete(content_rt, ns, name, "Background", {}, False, None)
                    if self._bucket(content_rt).get((ns, name)) is not None:
                        remaining += 1
            spec_finalizers = list((obj.get("spec") or {}).get("finalizers") or [])
            current = self._bucket(rt).get(key)
            if current is None:
                return obj
            obj = current
            if remaining == 0 and spec_finalizers:
                updated = clone(obj)
                updated["spec"]["finalizers"] = []
                obj = self._commit(rt, "MODIFIED", updated, self._present(rt, obj))
                spec_finalizers = []
            if remaining == 0 and not spec_finalizers and not finalizers:
                self._remove(rt, obj)
                return obj
        current = self._bucket(rt).get(key)
        if current is None:
            return obj
        if changed:
            updated = clone(current)
            if finalizers:
                updated["metadata"]["finalizers"] = finalizers
            else:
                updated["metadata"].pop("finalizers", None)
            if finalizers:
                return self._commit(rt, "MODIFIED", updated, self._present(rt, current))
            obj = updated
        else:
            obj = current
        if not (obj["metadata"].get("finalizers")) and not (rt.group == "" and rt.kind == "Namespace"):
            self._remove(rt, obj)
        return obj

    def _schedule_namespace(self, namespace: str) -> None:
        if namespace in self.__dict__.setdefault("_namespaces_scheduled", set()):
            return
        self._namespaces_scheduled.add(namespace)

        def finish() -> None:
            self._enter()
            try:
                self._namespaces_scheduled.discard(namespace)
                self._namespaces_due.add(namespace)
                ns_rt = self.resources.get("", "v1", "namespaces")
                current = self._bucket(ns_rt).get(("", namespace))
                if current is not None and current["metadata"].get("deletionTimestamp"):
                    self._progress_deletion(ns_rt, current)
                if self._bucket(ns_rt).get(("", namespace)) is None:
                    self._namespaces_due.discard(namespace)
            finally:
                self._exit()

        timer = threading.Timer(self.namespace_delay or 0, finish)
        timer.daemon = True
        timer.start()

    def delete_collection(self, rt: ResourceType, namespace: str | None = None, label_selector: Any = None,
                          field_selector: Any = None, propagation: str | None = None, dry_run: bool = False, *,
                          user: Any = None) -> list[dict]:
        """Delete every matching object; the objects as deleted (or marked for deletion)."""
        self._enter()
        try:
            items, _ = self.list(rt, namespace, label_selector, field_selector)
            result = []
            for item in items:
                meta = item["metadata"]
                try:
                    obj, _ = self._delete(rt, meta.get("namespace") or "", meta["name"], propagation, {}, dry_run,
                                          user)
                except ApiError as error:
                    if error.status == 404:
                        continue
                    raise
                result.append(obj)
            return result
        finally:
            self._exit()

    # -- bootstrap ----------------------------------------------------------------------------

    def _bootstrap(self) -> None:
        ns_rt = self.resources.get("", "v1", "namespaces")
        self._enter()
        try:
            for name in DEFAULT_NAMESPACES:
                self._create(ns_rt, {"metadata": {"name": name}}, False, None, None)
            svc_rt = self.resources.get("", "v1", "services")
            self._create(svc_rt, {
                "metadata": {"name": "kubernetes", "namespace": "default",
                             "labels": {"component": "apiserver", "provider": "kubernetes"}},
                "spec": {"clusterIP": str(SERVICE_CIDR.network_address + 1),
                         "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443}]},
            }, False, None, None)
            pc_rt = self.resources.get("scheduling.k8s.io", "v1", "priorityclasses")
            for name, value, description in (
                ("system-cluster-critical", 2000000000, "Used for system critical pods that must run in the "
                                                        "cluster, but can be moved to another node if necessary."),
                ("system-node-critical", 2000001000, "Used for system critical pods that must not be moved from "
                                                     "their current node."),
            ):
                self._create(pc_rt, {"metadata": {"name": name}, "value": value, "description": description},
                             False, None, None)
        finally:
            self._exit()


def _spec_part(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}
