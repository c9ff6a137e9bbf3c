"""The registry tying each emulated EKS cluster to its Kubernetes API.

When a cluster has become ``ACTIVE`` the registry starts its API (a
:data:`Factory` builds it: by default ``apiserver.ApiServer`` over a new
``store.Store`` seeded with :func:`auth.bootstrap_rbac`) on a free 127.0.0.1
port, with the cluster's own CA and serving certificate (:mod:`.tls`).
``DescribeCluster`` then answers ``endpoint: https://127.0.0.1:<port>`` and
``certificateAuthority.data`` (base64 of the CA's PEM), as EKS would; while
the cluster is ``CREATING`` both stay out of the answer, as before. The API
keeps running while the cluster is ``UPDATING`` or ``DELETING`` and is
stopped, its port freed, once the cluster is gone from ``DescribeCluster``,
when the emulator is reset (``POST /_emulator/reset``) and when the last
:class:`~emulator.server.EmulatorServer` of the process stops.

Lifecycles are computed from timestamps (``lifecycle.py``, no background
thread), so the registry is told when to look: :func:`install` wraps moto's
``Cluster.__init__`` and ``EKSBackend.delete_cluster`` to schedule a
:meth:`Registry.reconcile` at the moment the create or delete settles, and
reading a cluster's ``endpoint``/``certificate_authority`` (what
``DescribeCluster`` does) starts a due API at once. APIs only run while an
``EmulatorServer`` is up (:meth:`Registry.acquire`/:meth:`Registry.release`):
moto used on its own never opens ports.

A :data:`Factory` is called as ``factory(cluster_name=..., kubernetes_version=...,
authenticate=..., authorize=..., ssl_context=..., cluster=...)`` (plus
``port=`` and ``store=`` when the API restarts for a new Kubernetes version:
same port, same objects) and returns a started server with a ``port``
attribute and a ``stop()`` method. ``authenticate(token, store=None) ->
UserInfo | None`` comes bound to the cluster (``store``: where ``aws-auth`` is
read), ``authorize(user, attributes, store) -> (allowed, reason)`` is
:func:`auth.authorize`, ``cluster`` the :class:`~.auth.ClusterRef`. The
default, :func:`apiserver_factory`, serves a new ``store.Store`` seeded with
:func:`seed_rbac` through ``apiserver.serve``.

:meth:`Registry.subscribe` tells controllers when an API starts and stops
(``ClusterApi.store`` is the objects it serves, ``ClusterApi.cluster`` the
moto cluster).

A version update (``UpdateClusterVersion``) restarts the API on its port
once the update has succeeded, so ``/version`` and OpenAPI tell the new
version; :func:`install` also schedules a reconcile when an EKS update settles.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from . import auth, tls
from .auth import ClusterRef

LOG = logging.getLogger("emulator.k8s")

Factory = Callable[..., Any]
_FAILED = "_emulator_api_failed"  # set on a moto cluster whose API could not start


@dataclass
class ClusterApi:
    """One running API: the cluster it serves, its certificates and server."""

    ref: ClusterRef
    cluster: Any  # the moto Cluster object (a new cluster of the same name is another API)
    tls: tls.ClusterTLS
    server: Any
    endpoint: str
    started_at: float = field(default_factory=time.time)

    @property
    def port(self) -> int:
        return int(self.server.port)

    @property
    def store(self) -> Any:
        """The objects the API serves (the apiserver's ``Store``), if the server exposes them."""
        return getattr(self.server, "store", None)


def _reached_active(cluster: Any, now: float | None = None) -> bool:
    """True once the cluster has reached ACTIVE (it may be UPDATING, DELETING or gone since)."""
    from ..lifecycle import timeline_of

    try:
        timeline = timeline_of(cluster, "status")
    except TypeError:  # moto's plain attribute: the emulator's patches are not installed
        return getattr(cluster, "status", None) == "ACTIVE"
    now = time.time() if now is None else now
    return any(state == "ACTIVE" and ts <= now for ts, state in list(timeline.entries))


def _has_been_active(cluster: Any) -> bool:
    """True if the cluster has reached ACTIVE and is not gone: it has an API."""
    from ..lifecycle import timeline_of

    now = time.time()
    if not _reached_active(cluster, now):
        return False
    try:
        return not timeline_of(cluster, "status").gone(now)
    except TypeError:
        return True


def _live_clusters() -> list[Any]:
    """Every cluster moto's EKS backends know (deleted ones vanish from them when gone)."""
    from moto.eks.models import eks_backends

    clusters = []
    for regions in list(dict.values(eks_backends)):
        for backend in list(dict.values(regions)):
            clusters.extend(backend.clusters.values())
    return clusters


def default_factory() -> Factory | None:
    """The factory building ``apiserver.ApiServer`` instances, or None while there is no apiserver module."""
    try:
        from . import apiserver  # noqa: F401
    except ImportError:
        return None
    return apiserver_factory


def seed_rbac(store: Any) -> None:
    """Create :func:`auth.bootstrap_rbac`'s ClusterRoles and bindings in a new ``store.Store``."""
    from .errors import ApiError

    for obj in auth.bootstrap_rbac():
        try:
            store.create(store.resources.for_kind(obj["apiVersion"], obj["kind"]), obj)
        except ApiError as error:
            if error.status != 409:  # already there
                raise


def apiserver_factory(*, cluster_name: str, kubernetes_version: str, authenticate: Callable[..., Any],
                      authorize: Callable[..., Any], ssl_context: Any, cluster: ClusterRef,
                      store: Any = None, port: int = 0) -> Any:
    """A started ``apiserver.ApiServer`` over ``store`` (a new ``Store`` seeded with the bootstrap RBAC)."""
    from . import apiserver
    from .store import Store

    if store is None:
        store = Store()
        seed_rbac(store)

    def authn(token: str) -> auth.UserInfo | None:  # aws-auth is read from this cluster's store
        return authenticate(token, store=store)

    return apiserver.serve(cluster_name, kubernetes_version, authn, authorize, ssl_context, cluster=cluster,
                           store=store, port=port)


class Registry:
    """The running APIs, by cluster; thread-safe."""

    def __init__(self, factory: Factory | None = None) -> None:
        self.factory = factory
        self._lock = threading.RLock()
        self._apis: dict[ClusterRef, ClusterApi] = {}
        self._users = 0
        self._listeners: list[Callable[[str, ClusterApi], None]] = []

    # -- who follows the APIs (controllers) --------------------------------------------

    def subscribe(self, callback: Callable[[str, ClusterApi], None]) -> Callable[[], None]:
        """Call ``callback("started", api)`` after an API starts and ``callback("stopping", api)`` before it stops.

        Callbacks run in the registry's lock (keep them short; they may read the
        registry). A version restart is a "stopping" then a "started" with the
        same store. Returns a function that unsubscribes.
        """
        with self._lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return unsubscribe

    def _notify(self, event: str, api: ClusterApi) -> None:
        for callback in list(self._listeners):
            try:
                callback(event, api)
            except Exception:  # noqa: BLE001 - a listener must not break the lifecycle
                LOG.exception("cluster %s: a listener of %s APIs failed", api.ref.name, event)

    # -- who wants APIs ----------------------------------------------------------

    def acquire(self) -> None:
        """An emulator server starts: APIs may run from now on."""
        with self._lock:
            self._users += 1
        self.reconcile()

    def release(self) -> None:
        """An emulator server stops: with the last one, every API stops."""
        with self._lock:
            self._users = max(0, self._users - 1)
            if self._users == 0:
                self.stop_all()

    @property
    def enabled(self) -> bool:
        return self._users > 0

    # -- looking up and starting ----------------------------------------------------

    def apis(self) -> list[ClusterApi]:
        with self._lock:
            return list(self._apis.values())

    def get(self, ref: ClusterRef) -> ClusterApi | None:
        with self._lock:
            return self._apis.get(ref)

    def api_for(self, cluster: Any) -> ClusterApi | None:
        """The API of a live, ACTIVE-once ``cluster``, started now if it is due; None otherwise."""
        if not self.enabled or not _has_been_active(cluster):
            return None
        ref = ClusterRef.of(cluster)
        with self._lock:
            api = self._apis.get(ref)
            if api is not None and api.cluster is cluster:
                return self._sync_version(api)
            if ref.cluster() is not cluster:
                return None  # a cluster object moto no longer holds (deleted, reset)
            if api is not None:  # the API of an earlier cluster of that name
                self._stop(ref)
            if cluster.__dict__.get(_FAILED):  # not retried at every read
                return None
            return self._start(ref, cluster)

    def _factory(self) -> Factory | None:
        return self.factory if self.factory is not None else default_factory()

    def _start(self, ref: ClusterRef, cluster: Any, material: tls.ClusterTLS | None = None, **reuse: Any
               ) -> ClusterApi | None:
        factory = self._factory()
        if factory is None:
            return None
        material = material or tls.generate()
        try:
            server = factory(
                cluster_name=ref.name,
                kubernetes_version=cluster.version,
                authenticate=functools.partial(_authenticate, ref),
                authorize=auth.authorize,
                ssl_context=material.server_context(),
                cluster=ref,
                **reuse,
            )
        except Exception:
            LOG.exception("cluster %s: the Kubernetes API could not start", ref.name)
            cluster.__dict__[_FAILED] = True
            return None
        api = ClusterApi(ref, cluster, material, server, f"https://127.0.0.1:{int(server.port)}")
        self._apis[ref] = api
        self._notify("started", api)
        LOG.info("cluster %s (%s, %s): Kubernetes API %s on %s", ref.name, ref.account_id, ref.region,
                 cluster.version, api.endpoint)
        return api

    def _sync_version(self, api: ClusterApi) -> ClusterApi | None:
        """After a version update has succeeded the API serves the new version.

        Like EKS's control plane update: the API restarts on the same port,
        with the same certificates and the same objects.
        """
        version = api.cluster.version
        if getattr(api.server, "kubernetes_version", version) == version:
            return api
        LOG.info("cluster %s: Kubernetes API restarts for version %s", api.ref.name, version)
        port, store = api.port, getattr(api.server, "store", None)
        self._stop(api.ref)
        return self._start(api.ref, api.cluster, api.tls, port=port, store=store)

    # -- stopping ------------------------------------------------------------------------

    def _stop(self, ref: ClusterRef) -> None:
        api = self._apis.pop(ref, None)
        if api is not None:
            self._notify("stopping", api)
            self._shutdown(api)

    @staticmethod
    def _shutdown(api: ClusterApi) -> None:
        try:
            api.server.stop()
        except Exception:  # noqa: BLE001 - stopping must go on for the others
            LOG.exception("cluster %s: stopping the Kubernetes API failed", api.ref.name)
        LOG.info("cluster %s: Kubernetes API on %s stopped", api.ref.name, api.endpoint)

    def stop(self, ref: ClusterRef) -> None:
        with self._lock:
            self._stop(ref)

    def stop_all(self) -> None:
        """Stop every API (reset, last server stopped), all at once: each takes a server poll interval."""
        with self._lock:
            apis = list(self._apis.values())
            self._apis.clear()
            for api in apis:
                self._notify("stopping", api)
            threads = [threading.Thread(target=self._shutdown, args=(api,), daemon=True) for api in apis]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=10)

    # -- following the lifecycles ------------------------------------------------------------

    def reconcile(self) -> None:
        """Start the APIs of ACTIVE clusters, stop those of clusters that are gone."""
        with self._lock:
            for ref, api in list(self._apis.items()):
                if ref.cluster() is not api.cluster:
                    self._stop(ref)
            if not self.enabled:
                return
            for cluster in _live_clusters():
                try:
                    self.api_for(cluster)
                except Exception:  # noqa: BLE001 - one cluster must not keep the others from starting
                    LOG.exception("cluster %s: reconciling its Kubernetes API failed", getattr(cluster, "name", "?"))

    def schedule(self, delay: float) -> None:
        """Reconcile after ``delay`` seconds (when a lifecycle transition settles)."""
        timer = threading.Timer(max(delay, 0.0) + 0.005, self._reconcile_quietly)
        timer.daemon = True
        timer.name = "k8s-api-reconcile"
        timer.start()

    def _reconcile_quietly(self) -> None:
        try:
            self.reconcile()
        except Exception:  # noqa: BLE001 - a timer thread has nobody to raise to
            LOG.exception("reconciling the Kubernetes APIs failed")

    def schedule_settle(self, cluster: Any) -> None:
        """Reconcile when ``cluster``'s current lifecycle transition settles."""
        if not self.enabled:
            return
        from ..lifecycle import timeline_of

        try:
            settle = timeline_of(cluster, "status").settle_time()
        except TypeError:
            settle = time.time()
        self.schedule(settle - time.time())


REGISTRY = Registry()


def _authenticate(ref: ClusterRef, token: str, store: Any = None) -> auth.UserInfo | None:
    return auth.authenticate(token, ref, store=store)


class ServedByApi:
    """``Cluster.endpoint`` / ``Cluster.certificate_authority``: the running API's, else the stored value.

    Wraps the emulator's ``HiddenWhileCreating`` descriptor: None until the
    cluster has been ACTIVE (while CREATING, and when deleted before that).
    """

    def __init__(self, hidden: Any, attribute: str) -> None:
        self.hidden = hidden
        self.attribute = attribute

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = self.hidden.__get__(obj, owner)
        if value is None or not _reached_active(obj):  # EKS shows them once the cluster has been ACTIVE
            return None
        api = REGISTRY.api_for(obj)
        if api is None:
            return value
        if self.attribute == "endpoint":
            return api.endpoint
        return {"data": api.tls.ca_data}

    def __set__(self, obj: Any, value: Any) -> None:
        self.hidden.__set__(obj, value)


def install() -> None:
    """Serve an API behind every ACTIVE cluster of moto's EKS (after ``eks_cluster_patches.install``)."""
    from moto.eks.models import Cluster, EKSBackend

    from ..eks_common import EksUpdate

    if isinstance(Cluster.__dict__.get("endpoint"), ServedByApi):
        return
    for attribute in ("endpoint", "certificate_authority"):
        setattr(Cluster, attribute, ServedByApi(Cluster.__dict__[attribute], attribute))

    original_init = Cluster.__init__
    original_delete = EKSBackend.delete_cluster

    @functools.wraps(original_init)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        REGISTRY.schedule_settle(self)

    @functools.wraps(original_delete)
    def delete_cluster(self: Any, name: str) -> Any:
        cluster = original_delete(self, name)
        REGISTRY.schedule_settle(cluster)
        return cluster

    Cluster.__init__ = init
    EKSBackend.delete_cluster = delete_cluster

    original_update_init = EksUpdate.__init__

    @functools.wraps(original_update_init)
    def update_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_update_init(self, *args, **kwargs)
        if REGISTRY.enabled:  # a version update takes effect when it succeeds
            REGISTRY.schedule(self.timeline.settle_time() - time.time())

    EksUpdate.__init__ = update_init


__all__ = ["ClusterApi", "Factory", "REGISTRY", "Registry", "ServedByApi", "apiserver_factory", "default_factory",
           "install", "seed_rbac"]
