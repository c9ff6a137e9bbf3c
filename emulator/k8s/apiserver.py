"""The HTTPS Kubernetes API of one emulated cluster (what kube-apiserver answers).

``ApiServer(cluster_name, kubernetes_version, store, authn, authz, tls)``
serves one :class:`~.store.Store` on its own 127.0.0.1 port
(``ThreadingHTTPServer`` + ``ssl``, HTTP/1.1, one thread per connection):

* ``/version``, ``/healthz``, ``/livez``, ``/readyz``;
* discovery: ``/api``, ``/api/v1``, ``/apis``, ``/apis/<group>[/<version>]``,
  legacy and aggregated (``Accept: application/json;g=apidiscovery.k8s.io;
  v=v2;as=APIGroupDiscoveryList``);
* OpenAPI: ``/openapi/v2`` (JSON, or gnostic protobuf when asked: see
  :mod:`.openapi_pb`),
  ``/openapi/v3`` and ``/openapi/v3/api[s]/...`` (see :mod:`.openapi`);
* every resource type of the store's registry: get, list (``limit``/
  ``continue``, label and field selectors), watch (chunked, one JSON event
  a line, bookmarks, ``timeoutSeconds``), create, update, patch (JSON patch,
  merge patch, strategic merge patch, server-side apply), delete (options,
  propagation, preconditions), deletecollection; the ``status`` and
  ``scale`` subresources; ``dryRun=All``; ``fieldValidation``; managed
  fields on every write; Table and PartialObjectMetadata answers;
* aggregation: the groups of APIServices naming a Service are listed in
  discovery, and their requests answered by the emulated backend while the
  APIService is ``Available``, ``503`` otherwise (see :mod:`.aggregator`;
  ``metrics.k8s.io/v1beta1`` is :class:`~.metrics.MetricsApi`);
* errors as ``Status`` objects worded like Kubernetes';
* admission: the store's hooks (``admission=`` adds more), Pod Security
  admission (:mod:`.podsecurity`) unless ``pod_security=False``;
* request bodies in JSON, YAML or (built-in kinds typed clients write)
  protobuf (:mod:`.protobuf`); answers in JSON (or YAML when asked).

``authn(token) -> user | None`` (None: 401) authenticates bearer tokens; a
request without one is ``system:anonymous``. ``authz(user, attributes
[, store]) -> (allowed, reason)`` decides every request; ``attributes`` is a
dict with ``verb``, ``api_group``, ``api_version``, ``resource``,
``subresource``, ``namespace``, ``name`` and ``path`` (the shape of
``auth.Attributes``). ``tls`` is the server's ``ssl.SSLContext``.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import inspect
import json
import logging
import select
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from . import aggregator, openapi_pb, patch, podsecurity, protobuf, ssa, tables
from .errors import ApiError, bad_request, invalid, not_found, status_success
from .eviction import evict
from .openapi import OpenAPI
from .patch import json_kind
from .resources import VIRTUAL_KINDS, ResourceType
from .store import AdmissionRequest, Store, clone, now_rfc3339

__all__ = ["ANONYMOUS", "AnonymousUser", "ApiServer", "serve"]

LOG = logging.getLogger("emulator.k8s.apiserver")

JSON = "application/json"
YAML = "application/yaml"
PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
PUBLIC_PATHS = ("/version", "/healthz", "/livez", "/readyz")
DEFAULT_WATCH_TIMEOUT = 1800.0
BOOKMARK_INTERVAL = 60.0
MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's request body limit


@dataclass(frozen=True)
class AnonymousUser:
    """``system:anonymous``: a request without a bearer token."""

    username: str = "system:anonymous"
    groups: tuple[str, ...] = ("system:unauthenticated",)
    uid: str = ""
    extra: dict = field(default_factory=dict)
    principal_arn: str = ""
    access_policies: tuple = ()

    def to_dict(self) -> dict[str, Any]:
        return {"username": self.username, "groups": list(self.groups)}


ANONYMOUS = AnonymousUser()


def _user_name(user: Any) -> str:
    return str(getattr(user, "username", None) or getattr(user, "name", None) or user)


def _user_info(user: Any) -> dict[str, Any]:
    if hasattr(user, "to_dict"):
        return user.to_dict()
    return {"username": _user_name(user), "groups": list(getattr(user, "groups", ()) or ())}


# -- media types --------------------------------------------------------------------------------------


def _media_types(header: str | None) -> list[tuple[str, dict[str, str]]]:
    result = []
    for part in (header or "").split(","):
        pieces = [p.strip() for p in part.split(";")]
        if not pieces[0]:
            continue
        params = {}
        for piece in pieces[1:]:
            key, _, value = piece.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        result.append((pieces[0].lower(), params))
    return result


@dataclass
class Representation:
    """What the client accepts for an object answer."""

    kind: str = "json"  # json | yaml | table | partial
    table_version: str = "v1"


def _negotiate(header: str | None) -> Representation | None:
    """The representation to answer (None: nothing acceptable -> 406)."""
    types = _media_types(header)
    if not types:
        return Representation()
    for media, params in types:
        if media in (JSON, "application/*", "*/*") and params.get("as") == "Table" and params.get(
                "g") == "meta.k8s.io":
            return Representation("table", params.get("v", "v1"))
        if media == JSON and params.get("as") in ("PartialObjectMetadata", "PartialObjectMetadataList") and params.get(
                "g") == "meta.k8s.io":
            return Representation("partial", params.get("v", "v1"))
        if media == JSON and "as" not in params:
            return Representation()
        if media in ("*/*", "application/*"):
            return Representation()
        if media in (YAML, "application/x-yaml", "text/yaml"):
            return Representation("yaml")
    return None


def _content_type(header: str | None) -> str:
    return (header or "").split(";")[0].strip().lower()


# -- the server ---------------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], api: "ApiServer") -> None:
        self.api = api
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        # Go's net package (kube-apiserver) turns Nagle off on every TCP connection: with it on,
        # a response written as headers then body waits out the client's delayed ACK (~40 ms).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        wrapped = self.api.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return wrapped, address

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ARG002 - quiet on client resets
        LOG.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        self.request.settimeout(10)
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.close_connection = True
            raise
        self.request.settimeout(120)
        with self.server.connections_lock:
            self.server.connections.add(self.request)
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.request)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class' name
        LOG.debug("%s " + format, self.address_string(), *args)

    def send_response(self, code: int, message: str | None = None) -> None:
        """Like the base class but without a ``Server`` header (kube-apiserver sends none)."""
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def _dispatch(self) -> None:
        self.server.api.handle(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


@dataclass
class Request:
    """One parsed API request."""

    handler: _Handler
    method: str
    path: str
    query: dict[str, list[str]]
    user: Any = None
    body: bytes | None = None
    warnings: list[str] = field(default_factory=list)
    audit_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str) -> bool:
        return (self.param(name) or "").lower() in ("true", "1")

    def header(self, name: str) -> str | None:
        return self.handler.headers.get(name)


@dataclass
class Route:
    """A resource request: its type, namespace, name, subresource and verb."""

    rt: ResourceType
    namespace: str
    name: str
    subresource: str
    verb: str
    all_namespaces: bool = False


class ApiServer:
    """The Kubernetes API of one cluster over HTTPS (see the module docstring).

    ``start()`` binds ``host:port`` (0: a free port) and serves from a
    background thread; ``stop()`` closes the listener, ends watches and open
    connections. Also a context manager. ``url``/``endpoint`` is
    ``https://127.0.0.1:<port>``.
    """

    def __init__(self, cluster_name: str, kubernetes_version: str, store: Store,
                 authn: Callable[[str], Any], authz: Callable[..., tuple[bool, str]], tls: ssl.SSLContext, *,
                 host: str = "127.0.0.1", port: int = 0, admission: Iterable[Callable[[AdmissionRequest], None]] = (),
                 git_version: str | None = None, pod_security: bool = True) -> None:
        self.cluster_name = cluster_name
        self.kubernetes_version = kubernetes_version
        self.store = store
        self.authn = authn
        self.authz = authz
        self.tls = tls
        self.host = host
        self._requested_port = port
        if pod_security and podsecurity.admit not in self.store.admission:
            self.store.admission.append(podsecurity.admit)
        self.store.admission.extend(admission)
        minor = ".".join(str(kubernetes_version).lstrip("v").split(".")[:2])
        self.minor_version = minor
        commit = hashlib.sha1(f"eks-{minor}".encode()).hexdigest()
        self.git_version = git_version or f"v{minor}.0-eks-{commit[:7]}"
        self.git_commit = commit
        self.openapi = OpenAPI(store.resources, minor, self.git_version)
        self._openapi_v2_pb: tuple[bytes, bytes] | None = None  # (the JSON document, its protobuf form)
        self._authz_takes_store = _takes_store(authz)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._nodes: dict[Any, Any] = {}

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> "ApiServer":
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self._requested_port), self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"k8s-api-{self.cluster_name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd = self._httpd
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        with httpd.connections_lock:
            connections = list(httpd.connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> "ApiServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the API server is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    endpoint = url

    # -- request handling ----------------------------------------------------------------------

    def handle(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        request = Request(handler, handler.command, unquote(split.path) or "/",
                          parse_qs(split.query, keep_blank_values=True))
        try:
            request.body = self._read_body(request)
            request.user = self._authenticate(request)
            self._route(request)
        except ApiError as error:
            self._send_error(request, error)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            handler.close_connection = True
        except Exception as exc:  # noqa: BLE001 - a server answers 500, it does not die
            LOG.exception("internal error answering %s %s", handler.command, handler.path)
            self._send_error(request, ApiError(500, "InternalError", f"Internal error occurred: {exc}"))

    def _authenticate(self, request: Request) -> Any:
        header = request.header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            user = self.authn(token.strip())
            if user is None:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            return user
        if header:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        return ANONYMOUS

    def _authorize(self, request: Request, attributes: dict[str, Any]) -> None:
        if not attributes.get("resource") and request.path in PUBLIC_PATHS:
            return
        if self._authz_takes_store:
            allowed, reason = self.authz(request.user, attributes, self.store)
        else:
            allowed, reason = self.authz(request.user, attributes)
        if allowed:
            return
        LOG.info("forbidden: %s %s: %s", _user_name(request.user), attributes, reason)
        user = _user_name(request.user)
        if not attributes.get("resource"):
            raise ApiError(403, "Forbidden", f'forbidden: User "{user}" cannot {attributes["verb"]} path '
                                             f'"{request.path}"', {})
        resource = attributes["resource"]
        group = attributes.get("api_group", "")
        qualified = f"{resource}.{group}" if group else resource
        name = attributes.get("name", "")
        subject = f'{qualified} "{name}"' if name else qualified
        full_resource = f"{resource}/{attributes['subresource']}" if attributes.get("subresource") else resource
        scope = (f'in the namespace "{attributes["namespace"]}"' if attributes.get("namespace")
                 else "at the cluster scope")
        message = (f'{subject} is forbidden: User "{user}" cannot {attributes["verb"]} resource "{full_resource}" '
                   f'in API group "{group}" {scope}')
        details: dict[str, Any] = {}
        if name:
            details["name"] = name
        if group:
            details["group"] = group
        details["kind"] = resource
        raise ApiError(403, "Forbidden", message, details)

    # -- responses ------------------------------------------------------------------------------

    def _write(self, request: Request, status: int, body: bytes, content_type: str,
               headers: dict[str, str] | None = None) -> None:
        handler = request.handler
        handler.send_response(status)
        handler.send_header("Audit-Id", request.audit_id)
        handler.send_header("Cache-Control", "no-cache, private")
        handler.send_header("Content-Type", content_type)
        handler.send_header("X-Kubernetes-Pf-Flowschema-Uid", "7f7e4b1c-0000-4000-8000-000000000001")
        handler.send_header("X-Kubernetes-Pf-Prioritylevel-Uid", "7f7e4b1c-0000-4000-8000-000000000002")
        for warning in request.warnings:
            handler.send_header("Warning", '299 - "' + warning.replace("\\", "\\\\").replace('"', '\\"') + '"')
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if request.method != "HEAD":
            handler.wfile.write(body)

    def _send_json(self, request: Request, status: int, obj: Any, content_type: str = JSON,
                   headers: dict[str, str] | None = None, representation: Representation | None = None) -> None:
        if representation is not None and representation.kind == "yaml":
            body = yaml.safe_dump(obj, sort_keys=False).encode()
            self._write(request, status, body, YAML, headers)
            return
        body = json.dumps(obj, separators=(",", ":")).encode() if not isinstance(obj, bytes) else obj
        if request.flag("pretty"):
            body = json.dumps(json.loads(body), indent=2).encode()
        self._write(request, status, body + (b"\n" if not body.endswith(b"\n") else b""), content_type, headers)

    def _send_error(self, request: Request, error: ApiError) -> None:
        try:
            self._send_json(request, error.status, error.to_status())
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            request.handler.close_connection = True

    def _send_text(self, request: Request, status: int, text: str) -> None:
        self._write(request, status, text.encode(), "text/plain; charset=utf-8",
                    {"X-Content-Type-Options": "nosniff"})

    # -- routing ----------------------------------------------------------------------------------

    def _route(self, request: Request) -> None:
        path = request.path.rstrip("/") or "/"
        parts = [p for p in path.split("/") if p]
        method = request.method
        if not parts:
            self._authorize(request, {"verb": method.lower(), "path": path})
            return self._send_json(request, 200, {"paths": sorted(self._root_paths())})
        head = parts[0]
        if head == "api" and len(parts) >= 3:
            return self._resource(request, "", parts[1], parts[2:])
        if head == "apis" and len(parts) >= 4:
            if self.store.resources.in_group_version(parts[1], parts[2]) or not self._remote_versions(parts[1]):
                return self._resource(request, parts[1], parts[2], parts[3:])
            return self._aggregated_resource(request, parts[1], parts[2], parts[3:])
        return self._non_resource(request, path, parts)

    def _root_paths(self) -> list[str]:
        paths = ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v2", "/openapi/v3", "/readyz",
                 "/version"]
        for group, versions in self.store.resources.groups() + self._remote_groups():
            if group:
                paths.append(f"/apis/{group}")
                paths += [f"/apis/{group}/{version}" for version in versions]
        return paths

    def _non_resource(self, request: Request, path: str, parts: list[str]) -> None:
        verb = {"GET": "get", "HEAD": "head", "POST": "post", "PUT": "put", "PATCH": "patch",
                "DELETE": "delete", "OPTIONS": "options"}.get(request.method, request.method.lower())
        self._authorize(request, {"verb": verb, "path": path, "resource": "", "api_group": "", "namespace": "",
                                  "name": "", "subresource": "", "api_version": ""})
        if request.method not in ("GET", "HEAD"):
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                                                    "resource", {})
        head = parts[0]
        if path == "/version":
            return self._send_json(request, 200, self.version_info())
        if head in ("healthz", "livez", "readyz"):
            if request.param("verbose") is not None:
                checks = ["ping", "log", "etcd", "poststarthook/start-apiextensions-controllers",
                          "poststarthook/crd-informer-synced"]
                text = "".join(f"[+]{check} ok\n" for check in checks) + f"{head} check passed\n"
                return self._send_text(request, 200, text)
            return self._send_text(request, 200, "ok")
        if head == "openapi":
            return self._openapi(request, parts)
        if head == "api":
            return self._discovery_core(request, parts)
        if head == "apis":
            return self._discovery_apis(request, parts)
        raise ApiError(404, "NotFound", "the server could not find the requested resource", {})

    def version_info(self) -> dict[str, str]:
        major, minor = self.minor_version.split(".")
        return {
            "major": major,
            "minor": minor,
            "emulationMajor": major,
            "emulationMinor": minor,
            "minCompatibilityMajor": major,
            "minCompatibilityMinor": str(max(0, int(minor) - 1)),
            "gitVersion": self.git_version,
            "gitCommit": self.git_commit,
            "gitTreeState": "clean",
            "buildDate": "2025-12-10T03:25:10Z",
            "goVersion": "go1.25.5",
            "compiler": "gc",
            "platform": "linux/amd64",
        }

    # -- discovery ---------------------------------------------------------------------------------

    def _aggregated(self, request: Request) -> str | None:
        for media, params in _media_types(request.header("Accept")):
            if media == JSON and params.get("as") == "APIGroupDiscoveryList" and params.get(
                    "g") == "apidiscovery.k8s.io" and params.get("v") in ("v2", "v2beta1"):
                return params["v"]
        return None

    def _discovery_core(self, request: Request, parts: list[str]) -> None:
        if len(parts) == 1:
            version = self._aggregated(request)
            if version:
                body = {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{version}",
                        "metadata": {}, "items": [self._group_discovery("", ["v1"])]}
                return self._send_json(request, 200, body, AGGREGATED.format(version=version),
                                       {"Vary": "Accept"})
            return self._send_json(request, 200, {
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self.host}:443"}],
            }, headers={"Vary": "Accept"})
        if len(parts) == 2 and parts[1] == "v1":
            return self._send_json(request, 200, self._resource_list("", "v1"))
        raise ApiError(404, "NotFound", "the server could not find the requested resource", {})

    def _discovery_apis(self, request: Request, parts: list[str]) -> None:
        groups = [(g, v) for g, v in self.store.resources.groups() if g]
        remote = self._remote_groups()
        if len(parts) == 1:
            version = self._aggregated(request)
            if version:
                items = [self._group_discovery(g, v) for g, v in groups]
                items += [self._remote_group_discovery(g, v) for g, v in remote]
                body = {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{version}",
                        "metadata": {}, "items": items}
                return self._send_json(request, 200, body, AGGREGATED.format(version=version),
                                       {"Vary": "Accept"})
            return self._send_json(request, 200, {"kind": "APIGroupList", "apiVersion": "v1",
                                                  "groups": [self._api_group(g, v) for g, v in groups + remote]},
                                   headers={"Vary": "Accept"})
        found = dict(groups)
        group = parts[1]
        if group not in found and group in dict(remote):
            versions = dict(remote)[group]
            if len(parts) == 2:
                return self._send_json(request, 200, {"kind": "APIGroup", "apiVersion": "v1",
                                                      **self._api_group(group, versions)})
            if parts[2] in versions:
                backend = self._backend(group, parts[2])
                if backend is None:
                    return self._service_unavailable(request)
                return self._send_json(request, 200, backend.resource_list())
        if group not in found:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        if len(parts) == 2:
            return self._send_json(request, 200, {"kind": "APIGroup", "apiVersion": "v1",
                                                  **self._api_group(group, found[group])})
        if parts[2] in found[group]:
            return self._send_json(request, 200, self._resource_list(group, parts[2]))
        raise ApiError(404, "NotFound", "the server could not find the requested resource", {})

    # -- aggregation -------------------------------------------------------------------------------

    def _remote_groups(self) -> list[tuple[str, list[str]]]:
        """The groups (and versions, preferred first) of the APIServices naming a Service (see :mod:`.aggregator`)."""
        result: dict[str, list[str]] = {}
        for apiservice in aggregator.remote_apiservices(self.store):
            versions = result.setdefault(apiservice["spec"]["group"], [])
            if apiservice["spec"].get("version") not in versions:
                versions.append(apiservice["spec"].get("version"))
        return list(result.items())

    def _remote_versions(self, group: str) -> list[str]:
        return dict(self._remote_groups()).get(group) or []

    def _backend(self, group: str, version: str) -> Any:
        """The emulated server behind an Available APIService (None: unavailable)."""
        if aggregator.resource_error(self.store, group, version) is not None:
            return None
        return aggregator.BACKENDS[(group, version)](self.store)

    def _remote_group_discovery(self, group: str, versions: list[str]) -> dict:
        items = []
        for version in versions:
            backend = self._backend(group, version)
            if backend is None:
                items.append({"version": version, "freshness": "Stale"})
            else:
                items.append({"version": version, "resources": backend.discovery_resources(),
                              "freshness": "Current"})
        return {"metadata": {"name": group, "creationTimestamp": None}, "versions": items}

    def _service_unavailable(self, request: Request) -> None:
        """What the aggregator's proxy answers while the APIService is not Available (``http.Error``)."""
        self._write(request, 503, b"service unavailable\n", "text/plain; charset=utf-8",
                    {"X-Content-Type-Options": "nosniff"})

    def _aggregated_resource(self, request: Request, group: str, version: str, rest: list[str]) -> None:
        """A request proxied to an APIService's server: authorized here, then answered by the emulated backend."""
        if version not in self._remote_versions(group):
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        namespace = ""
        if len(rest) >= 2 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        plural = rest[0] if rest else ""
        name = rest[1] if len(rest) > 1 else ""
        watch = request.flag("watch")
        method_verb = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
                       "DELETE": "delete"}.get(request.method, request.method.lower())
        verb = method_verb if name or method_verb != "get" else ("watch" if watch else "list")
        if method_verb == "delete" and not name:
            verb = "deletecollection"
        self._authorize(request, {"verb": verb, "api_group": group, "api_version": version, "resource": plural,
                                  "subresource": rest[2] if len(rest) > 2 else "", "namespace": namespace,
                                  "name": name, "path": request.path})
        backend = self._backend(group, version)
        if backend is None:
            return self._service_unavailable(request)
        namespaced = backend.namespaced(plural)
        if namespaced is None or len(rest) > 2 or (namespace and not namespaced):
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        if verb == "watch":
            raise ApiError(405, "MethodNotAllowed", f'watch is not supported on resources of kind "{plural}.{group}"',
                           {"group": group, "kind": plural})
        if verb not in ("get", "list"):
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
                           {})
        representation = self._represent(request)
        body = backend.read(plural, namespace, name, request.param("labelSelector"), request.param("fieldSelector"),
                            time.time())
        if representation.kind == "table":
            table = backend.table(body, request.param("includeObject") or "Metadata")
            if representation.table_version == "v1beta1":
                table["apiVersion"] = "meta.k8s.io/v1beta1"
            return self._send_json(request, 200, table)
        if representation.kind == "partial":
            items = body["items"] if "items" in body else None
            meta_kind = f"meta.k8s.io/{representation.table_version}"
            if items is None:
                return self._send_json(request, 200, {"kind": "PartialObjectMetadata", "apiVersion": meta_kind,
                                                      "metadata": body["metadata"]})
            return self._send_json(request, 200, {
                "kind": "PartialObjectMetadataList", "apiVersion": meta_kind, "metadata": {},
                "items": [{"kind": "PartialObjectMetadata", "apiVersion": meta_kind, "metadata": i["metadata"]}
                          for i in items]})
        if "items" in body:
            for item in body["items"]:
                item.pop("kind", None)
                item.pop("apiVersion", None)
        self._send_json(request, 200, body, representation=representation)

    @staticmethod
    def _api_group(group: str, versions: list[str]) -> dict:
        listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": listed, "preferredVersion": listed[0]}

    def _subresource_entries(self, rt: ResourceType) -> list[tuple[str, str, str, str, list[str]]]:
        """(subresource, group, version, kind, verbs) of a type's subresources."""
        entries = []
        for sub in rt.subresources:
            if sub == "status":
                entries.append(("status", "", "", rt.kind, ["get", "patch", "update"]))
            elif sub == "scale":
                entries.append(("scale", "autoscaling", "v1", "Scale", ["get", "patch", "update"]))
            elif sub == "binding":
                entries.append(("binding", "", "", "Binding", ["create"]))
            elif sub == "eviction":
                entries.append(("eviction", "policy", "v1", "Eviction", ["create"]))
            elif sub == "log":
                entries.append(("log", "", "", "Pod", ["get"]))
            elif sub == "finalize":
                entries.append(("finalize", "", "", rt.kind, ["update"]))
        return entries

    def _resource_list(self, group: str, version: str) -> dict:
        resources = []
        for rt in sorted(self.store.resources.in_group_version(group, version), key=lambda r: r.plural):
            entry: dict[str, Any] = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
                                     "kind": rt.kind, "verbs": list(rt.verbs)}
            if rt.short_names:
                entry["shortNames"] = list(rt.short_names)
            if rt.categories:
                entry["categories"] = list(rt.categories)
            if rt.kind not in VIRTUAL_KINDS:
                entry["storageVersionHash"] = rt.storage_version_hash()
            resources.append(entry)
            for sub, sub_group, sub_version, kind, verbs in self._subresource_entries(rt):
                sub_entry: dict[str, Any] = {"name": f"{rt.plural}/{sub}", "singularName": "",
                                             "namespaced": rt.namespaced}
                if sub_group:
                    sub_entry["group"] = sub_group
                    sub_entry["version"] = sub_version
                sub_entry["kind"] = kind
                sub_entry["verbs"] = verbs
                resources.append(sub_entry)
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group
                else version, "resources": resources}

    def _group_discovery(self, group: str, versions: list[str]) -> dict:
        items = []
        for version in versions:
            resources = []
            for rt in sorted(self.store.resources.in_group_version(group, version), key=lambda r: r.plural):
                entry: dict[str, Any] = {
                    "resource": rt.plural,
                    "responseKind": {"group": "", "version": "", "kind": rt.kind},
                    "scope": "Namespaced" if rt.namespaced else "Cluster",
                    "singularResource": rt.singular,
                    "verbs": list(rt.verbs),
                }
                if rt.short_names:
                    entry["shortNames"] = list(rt.short_names)
                if rt.categories:
                    entry["categories"] = list(rt.categories)
                subs = []
                for sub, sub_group, sub_version, kind, verbs in self._subresource_entries(rt):
                    subs.append({"subresource": sub,
                                 "responseKind": {"group": sub_group, "version": sub_version, "kind": kind},
                                 "verbs": verbs})
                if subs:
                    entry["subresources"] = subs
                resources.append(entry)
            items.append({"version": version, "resources": resources, "freshness": "Current"})
        metadata: dict[str, Any] = {"creationTimestamp": None}
        if group:
            metadata = {"name": group, "creationTimestamp": None}
        return {"metadata": metadata, "versions": items}

    # -- OpenAPI -----------------------------------------------------------------------------------

    def _openapi(self, request: Request, parts: list[str]) -> None:
        accept = _media_types(request.header("Accept"))
        if len(parts) == 2 and parts[1] == "v2":
            first = next((m for m, _ in accept if m in (JSON, "*/*", "application/*", *openapi_pb.MEDIA_TYPES)), None)
            if first in openapi_pb.MEDIA_TYPES:  # what client-go asks for (kubectl's and helm's validation)
                return self._write(request, 200, self._openapi_v2_protobuf(), openapi_pb.MEDIA_TYPE)
        wants_json = not accept or any(m in (JSON, "*/*", "application/*") for m, _ in accept)
        if not wants_json:
            raise ApiError(406, "NotAcceptable", "only the following media types are accepted: application/json"
                           + (f", {openapi_pb.MEDIA_TYPE}" if parts[1:2] == ["v2"] else ""), {})
        if len(parts) == 2 and parts[1] == "v2":
            return self._send_json(request, 200, self.openapi.v2_document(), JSON)
        if len(parts) >= 2 and parts[1] == "v3":
            if len(parts) == 2:
                return self._send_json(request, 200, self.openapi.v3_root())
            rest = parts[2:]
            document = None
            if rest[0] == "api" and len(rest) == 2:
                document = self.openapi.v3_document("", rest[1])
            elif rest[0] == "apis" and len(rest) == 3:
                document = self.openapi.v3_document(rest[1], rest[2])
            if document is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
            body, digest = document
            headers = {"Etag": f'"{digest}"'}
            if request.param("hash") == digest:
                headers["Cache-Control"] = "public, immutable"
                headers["Expires"] = (_dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(days=365)).strftime(
                    "%a, %d %b %Y %H:%M:%S GMT")
            return self._send_json(request, 200, body, JSON, headers)
        raise ApiError(404, "NotFound", "the server could not find the requested resource", {})

    def _openapi_v2_protobuf(self) -> bytes:
        """The OpenAPI v2 document as gnostic protobuf, made again when the JSON one changes."""
        document = self.openapi.v2_document()
        cached = self._openapi_v2_pb
        if cached is None or cached[0] is not document:
            cached = (document, openapi_pb.encode_document(json.loads(document)))
            self._openapi_v2_pb = cached
        return cached[1]

    # -- resources ---------------------------------------------------------------------------------

    def _parse_route(self, request: Request, group: str, version: str, rest: list[str]) -> Route:
        resources = self.store.resources
        watch_path = False
        if rest and rest[0] == "watch":
            watch_path = True
            rest = rest[1:]
        namespace = ""
        ns_rt = resources.get("", "v1", "namespaces")
        if len(rest) >= 2 and rest[0] == "namespaces" and group == "" and version == "v1" and (
            len(rest) == 2 or rest[2] in ("status", "finalize")
        ):
            rt, name, sub = ns_rt, rest[1], (rest[2] if len(rest) > 2 else "")
            if len(rest) > 3:
                raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        elif len(rest) >= 3 and rest[0] == "namespaces":
            namespace = rest[1]
            rt = resources.get(group, version, rest[2])
            if rt is None or not rt.namespaced or len(rest) > 5:
                raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
            name = rest[3] if len(rest) > 3 else ""
            sub = rest[4] if len(rest) > 4 else ""
        else:
            rt = resources.get(group, version, rest[0]) if rest else None
            if rt is None or len(rest) > 3:
                raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
            name = rest[1] if len(rest) > 1 else ""
            sub = rest[2] if len(rest) > 2 else ""
        if sub and sub not in rt.subresources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        all_namespaces = rt.namespaced and not namespace
        if all_namespaces and name:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        method = request.method
        watch = watch_path or request.flag("watch")
        if method in ("GET", "HEAD"):
            if watch:
                verb = "watch"
            elif name:
                verb = "get"
            else:
                verb = "list"
        elif method == "POST":
            verb = "create"
        elif method == "PUT":
            verb = "update"
        elif method == "PATCH":
            verb = "patch"
        elif method == "DELETE":
            verb = "delete" if name else "deletecollection"
        else:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                                                    "resource", {})
        return Route(rt, namespace, name, sub, verb, all_namespaces)

    def _resource(self, request: Request, group: str, version: str, rest: list[str]) -> None:
        route = self._parse_route(request, group, version, rest)
        rt = route.rt
        auth_namespace = route.namespace
        if rt.group == "" and rt.kind == "Namespace" and route.name:
            auth_namespace = route.name
        self._authorize(request, {"verb": route.verb, "api_group": rt.group, "api_version": rt.version,
                                  "resource": rt.plural, "subresource": route.subresource,
                                  "namespace": auth_namespace, "name": route.name, "path": request.path})
        allowed = self._allowed(route)
        if not allowed:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                                                    "resource", {})
        if rt.kind in VIRTUAL_KINDS or route.subresource in ("binding", "eviction", "log"):
            return self._virtual(request, route)
        handler = {
            "get": self._get, "list": self._list, "watch": self._watch, "create": self._create,
            "update": self._update, "patch": self._patch, "delete": self._delete,
            "deletecollection": self._delete_collection,
        }[route.verb]
        handler(request, route)

    def _allowed(self, route: Route) -> bool:
        rt = route.rt
        if route.subresource in ("status", "scale"):
            return route.verb in ("get", "update", "patch")
        if route.subresource in ("binding", "eviction"):
            return route.verb == "create"
        if route.subresource == "log":
            return route.verb == "get"
        if route.subresource == "finalize":
            return route.verb == "update"
        if route.verb == "create" and route.name:
            return False
        if route.all_namespaces and route.verb not in ("list", "watch"):
            return False
        return route.verb in rt.verbs

    # -- reads ----------------------------------------------------------------------------------

    def _represent(self, request: Request) -> Representation:
        representation = _negotiate(request.header("Accept"))
        if representation is None:
            raise ApiError(406, "NotAcceptable", "only the following media types are accepted: application/json, "
                                                 "application/yaml", {})
        return representation

    def _answer_object(self, request: Request, route: Route, obj: dict, status: int = 200) -> None:
        representation = self._represent(request)
        if representation.kind == "table":
            body = tables.table(route.rt, [obj], include_object=request.param("includeObject") or "Metadata",
                                resource_version=(obj.get("metadata") or {}).get("resourceVersion", ""))
            if representation.table_version == "v1beta1":
                body["apiVersion"] = "meta.k8s.io/v1beta1"
            return self._send_json(request, status, body)
        if representation.kind == "partial":
            return self._send_json(request, status, {"kind": "PartialObjectMetadata",
                                                     "apiVersion": f"meta.k8s.io/{representation.table_version}",
                                                     "metadata": obj.get("metadata") or {}})
        self._send_json(request, status, obj, representation=representation)

    def _get(self, request: Request, route: Route) -> None:
        obj = self.store.get(route.rt, route.namespace, route.name)
        if route.subresource == "scale":
            return self._send_json(request, 200, self._scale_of(route.rt, obj))
        self._answer_object(request, route, obj)

    def _list(self, request: Request, route: Route) -> None:
        rt = route.rt
        representation = self._represent(request)
        items, rv = self.store.list(rt, route.namespace or None, request.param("labelSelector"),
                                    request.param("fieldSelector"))
        start = request.param("continue")
        if start:
            try:
                token = json.loads(base64.urlsafe_b64decode(start + "=" * (-len(start) % 4)))
                after = (token["start"][0], token["start"][1])
            except (ValueError, KeyError, TypeError, IndexError):
                raise bad_request("continue key is not valid: illegal base64 data at input byte 0") from None
            items = [i for i in items if ((i["metadata"].get("namespace") or ""), i["metadata"]["name"]) > after]
        continue_token = ""
        remaining = None
        limit = request.param("limit")
        if limit:
            try:
                count = int(limit)
            except ValueError:
                raise bad_request(f'invalid value for limit: "{limit}"') from None
            if 0 < count < len(items):
                last = items[count - 1]["metadata"]
                remaining = len(items) - count
                continue_token = base64.urlsafe_b64encode(json.dumps(
                    {"v": "meta.k8s.io/v1", "rv": int(rv), "start": [last.get("namespace") or "", last["name"]]}
                ).encode()).decode().rstrip("=")
                items = items[:count]
        if representation.kind == "table":
            body = tables.table(rt, items, include_object=request.param("includeObject") or "Metadata",
                                resource_version=rv, continue_token=continue_token, remaining=remaining)
            if representation.table_version == "v1beta1":
                body["apiVersion"] = "meta.k8s.io/v1beta1"
            return self._send_json(request, 200, body)
        metadata: dict[str, Any] = {"resourceVersion": rv}
        if continue_token:
            metadata["continue"] = continue_token
            metadata["remainingItemCount"] = remaining
        if representation.kind == "partial":
            return self._send_json(request, 200, {
                "kind": "PartialObjectMetadataList", "apiVersion": f"meta.k8s.io/{representation.table_version}",
                "metadata": metadata,
                "items": [{"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{representation.table_version}",
                           "metadata": i.get("metadata") or {}} for i in items],
            })
        if not rt.custom:
            for item in items:
                item.pop("apiVersion", None)
                item.pop("kind", None)
        body = {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": metadata, "items": items}
        self._send_json(request, 200, body, representation=representation)

    def _watch(self, request: Request, route: Route) -> None:
        rt = route.rt
        representation = self._represent(request)
        field_selector = request.param("fieldSelector") or ""
        if route.name:
            field_selector = ",".join(filter(None, [field_selector, f"metadata.name={route.name}"]))
        timeout_param = request.param("timeoutSeconds")
        try:
            timeout = float(timeout_param) if timeout_param else DEFAULT_WATCH_TIMEOUT
        except ValueError:
            raise bad_request(f'invalid value for timeoutSeconds: "{timeout_param}"') from None
        bookmarks = request.flag("allowWatchBookmarks")
        send_initial = request.param("sendInitialEvents")
        initial = send_initial is not None and send_initial.lower() in ("true", "1")
        resource_version = request.param("resourceVersion")
        handler = request.handler
        try:
            watch = self.store.watch(rt, route.namespace or None, resource_version, request.param("labelSelector"),
                                     field_selector, timeout=timeout, send_initial=initial)
            expired = None
        except ApiError as error:
            if error.status != 410:
                raise
            watch = None
            expired = error
        if representation.kind == "table":
            content_type = "application/json;as=Table;v=v1;g=meta.k8s.io"
        else:
            content_type = JSON
        handler.send_response(200)
        handler.send_header("Audit-Id", request.audit_id)
        handler.send_header("Cache-Control", "no-cache, private")
        handler.send_header("Content-Type", content_type)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        include_object = request.param("includeObject") or "Metadata"

        def send(event_type: str, obj: dict) -> None:
            if representation.kind == "table" and event_type not in ("ERROR", "BOOKMARK"):
                obj = tables.table(rt, [obj], include_object=include_object,
                                   resource_version=obj["metadata"].get("resourceVersion", ""))
            elif representation.kind == "partial" and event_type != "ERROR":
                obj = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                       "metadata": obj.get("metadata") or {}}
            data = json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"
            handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            handler.wfile.flush()

        def bookmark(annotations: dict | None = None) -> None:
            meta: dict[str, Any] = {"resourceVersion": watch.resource_version if watch else "0"}
            if annotations:
                meta["annotations"] = annotations
            send("BOOKMARK", {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta})

        try:
            if expired is not None:
                send("ERROR", expired.to_status())
            else:
                import time

                last_bookmark = time.monotonic()
                initial_pending = initial and bookmarks
                initial_count = len(watch._initial) if initial_pending else 0
                sent_initial = 0
                if initial_pending and initial_count == 0:
                    bookmark({"k8s.io/initial-events-end": "true"})
                    initial_pending = False
                try:
                    for event_type, obj in watch.events(idle=0.5):
                        if self._stopping.is_set():
                            break
                        if event_type is None:
                            if _peer_closed(handler.request):
                                break
                            if bookmarks and time.monotonic() - last_bookmark >= BOOKMARK_INTERVAL:
                                bookmark()
                                last_bookmark = time.monotonic()
                            continue
                        if not rt.custom and representation.kind == "json":
                            obj["apiVersion"] = rt.api_version
                            obj["kind"] = rt.kind
                        send(event_type, obj)
                        if initial_pending:
                            sent_initial += 1
                            if sent_initial >= initial_count:
                                bookmark({"k8s.io/initial-events-end": "true"})
                                initial_pending = False
                except ApiError as error:
                    send("ERROR", error.to_status())
                finally:
                    watch.stop()
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            handler.close_connection = True

    # -- writes ---------------------------------------------------------------------------------

    def _read_body(self, request: Request) -> bytes:
        """The request's body (read once, before anything is answered, so keep-alive stays in step)."""
        if request.body is not None:
            return request.body
        handler = request.handler
        if (handler.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            chunks = []
            while True:
                size_line = handler.rfile.readline()
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(handler.rfile.read(size))
                handler.rfile.readline()
            return b"".join(chunks)
        try:
            length = int(handler.headers.get("Content-Length") or 0)
        except ValueError:
            handler.close_connection = True
            raise bad_request("invalid Content-Length") from None
        if length > MAX_BODY:
            handler.close_connection = True
            raise ApiError(413, "RequestEntityTooLarge", "the server has received a request that is too large", {})
        return handler.rfile.read(length) if length > 0 else b""

    def _decode(self, request: Request, rt: ResourceType, body: bytes, allow_yaml: bool = True) -> Any:
        content_type = _content_type(request.header("Content-Type"))
        if protobuf.is_protobuf(content_type):
            from .schema import Schemas

            return protobuf.decode(body, Schemas.for_version(self.minor_version))
        if content_type and content_type not in (JSON, YAML, "application/x-yaml", "text/yaml", "*/*") and \
                not content_type.startswith("application/apply-patch") and content_type not in PATCH_TYPES:
            raise ApiError(415, "UnsupportedMediaType",
                           f'the body of the request was in an unknown format - accepted media types include: '
                           f"application/json, application/yaml", {})
        text = body.decode("utf-8", errors="replace")
        if not text.strip():
            raise bad_request("the body of the request was empty" if rt is None else
                              f"the object provided is unrecognized (must be of type {rt.kind}): couldn't get "
                              "version/kind; json parse error: unexpected end of JSON input")
        try:
            if content_type in (YAML, "application/x-yaml", "text/yaml") or (
                allow_yaml and content_type.startswith("application/apply-patch")
            ):
                return yaml.safe_load(text)
            return json.loads(text)
        except (ValueError, yaml.YAMLError) as exc:
            kind = rt.kind if rt is not None else "object"
            raise bad_request(f"the object provided is unrecognized (must be of type {kind}): couldn't get "
                              f"version/kind; json parse error: {str(exc).splitlines()[0]}") from None

    def _options(self, request: Request, kind: str = "CreateOptions") -> tuple[bool, str, str]:
        """(dry_run, field_manager, field_validation) of a write."""
        dry = request.query.get("dryRun") or []
        if any(value != "All" for value in dry):
            bad = ", ".join(f'"{v}"' for v in dry)
            raise ApiError(422, "Invalid", f'{kind}.meta.k8s.io "" is invalid: dryRun: Unsupported value: '
                                           f'[]string{{{bad}}}: supported values: "All"',
                           {"group": "meta.k8s.io", "kind": kind, "causes": [
                               {"reason": "FieldValueNotSupported", "message": "Unsupported value", "field": "dryRun"}]})
        manager = request.param("fieldManager")
        if manager is None:
            agent = request.header("User-Agent") or ""
            manager = agent.split("/")[0][:128]
        elif len(manager) > 128:
            raise ApiError(422, "Invalid", f'{kind}.meta.k8s.io "" is invalid: fieldManager: Too long: may not be '
                                           "more than 128 bytes", {"group": "meta.k8s.io", "kind": kind})
        validation = request.param("fieldValidation") or "Warn"
        if validation not in ("Ignore", "Warn", "Strict"):
            raise bad_request(f'fieldValidation must be one of "Ignore", "Warn", or "Strict", got "{validation}"')
        return bool(dry), manager, validation

    def node_for(self, rt: ResourceType) -> Any:
        """The schema node of a type (SchemaNode.UNKNOWN without schema)."""
        key = (rt.group, rt.version, rt.kind, id(rt.crd_schema) if rt.custom else 0)
        node = self._nodes.get(key)
        if node is None:
            from .schema import Schemas, SchemaNode

            if rt.custom:
                node = SchemaNode.from_openapi_v3(rt.crd_schema) if rt.crd_schema else SchemaNode.UNKNOWN
            else:
                node = Schemas.for_version(self.minor_version).node_for(rt.api_version, rt.kind)
            self._nodes[key] = node
        return node

    def _check_fields(self, request: Request, rt: ResourceType, obj: dict, directive: str) -> dict:
        """Drop fields the schema does not know (400 with Strict, warnings with Warn) and check scalar types."""
        obj = clone(obj)
        node = self.node_for(rt)
        unknown: list[str] = []
        type_errors: list[tuple[str, Any, str, str]] = []
        _walk_fields(node, obj, "", unknown, type_errors, rt.kind)
        for path, value, expected, go_type in type_errors:
            if rt.custom:
                name = (obj.get("metadata") or {}).get("name", "")
                raise invalid(rt, name, [("FieldValueTypeInvalid", path,
                                          f"Invalid value: {_go_repr(value)}: {path} in body must be of type "
                                          f"{expected}: {_go_repr(value)}")])
            raise bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: json: cannot '
                              f"unmarshal {json_kind(value)} into Go struct field {go_type} of type {expected}")
        if unknown:
            if directive == "Strict":
                listed = ", ".join(f'unknown field "{path}"' for path in unknown)
                prefix = "" if rt.custom else f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                raise bad_request(f"{prefix}strict decoding error: {listed}")
            if directive == "Warn":
                request.warnings.extend(f'unknown field "{path}"' for path in unknown)
        return obj

    def _check_identity(self, request: Request, route: Route, obj: Any, require_name: bool) -> dict:
        rt = route.rt
        if not isinstance(obj, dict):
            raise bad_request(f"the object provided is unrecognized (must be of type {rt.kind}): couldn't get "
                              f"version/kind; json parse error: json: cannot unmarshal {json_kind(obj)} into Go "
                              "value of type struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind "
                              "string \"json:\\\"kind,omitempty\\\"\" }")
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if api_version and api_version != rt.api_version:
            raise bad_request(f"the API version in the data ({api_version}) does not match the expected API version "
                              f"({rt.api_version})")
        if kind and kind != rt.kind:
            raise bad_request(f"the object provided is unrecognized (must be of type {rt.kind}): {kind} in version "
                              f'"{rt.version}" cannot be handled as a {rt.kind}')
        if not kind and route.verb != "patch" and rt.custom:  # built-in kinds default from the URL
            raise bad_request(f"Object 'Kind' is missing in '{json.dumps(obj, separators=(',', ':'))[:400]}'")
        obj = dict(obj)
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        meta = obj.get("metadata")
        if meta is None:
            meta = {}
        if not isinstance(meta, dict):
            raise bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: json: cannot '
                              f"unmarshal {json_kind(meta)} into Go struct field {rt.kind}.metadata of type "
                              "v1.ObjectMeta")
        meta = dict(meta)
        obj["metadata"] = meta
        if rt.namespaced:
            body_namespace = meta.get("namespace")
            if body_namespace and route.namespace and body_namespace != route.namespace:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the "
                                  "request")
            if route.namespace:
                meta["namespace"] = route.namespace
        else:
            meta.pop("namespace", None)
        if require_name and route.name:
            body_name = meta.get("name")
            if body_name and body_name != route.name:
                raise bad_request(f"the name of the object ({body_name}) does not match the name on the URL "
                                  f"({route.name})")
            meta["name"] = route.name
        return obj

    def _finalizer(self, manager: str, rt: ResourceType, subresource: str = "",
                   operation: str = "Update") -> Callable[[dict | None, dict], dict]:
        node = self.node_for(rt)

        def finalize(old: dict | None, new: dict) -> dict:
            return ssa.track_update(old, new, manager, node, now_rfc3339(), operation=operation,
                                    subresource=subresource, reset_fields=_reset_fields(rt, subresource))

        return finalize

    def _create(self, request: Request, route: Route) -> None:
        rt = route.rt
        dry_run, manager, validation = self._options(request, "CreateOptions")
        obj = self._check_identity(request, route, self._decode(request, rt, self._read_body(request)), False)
        obj = self._check_fields(request, rt, obj, validation)
        created = self.store.create(rt, obj, dry_run, user=request.user, finalize=self._finalizer(manager, rt))
        self._answer_object(request, route, created, 201)

    def _update(self, request: Request, route: Route) -> None:
        rt = route.rt
        dry_run, manager, validation = self._options(request, "UpdateOptions")
        if route.subresource == "scale":
            body = self._decode(request, rt, self._read_body(request))
            return self._write_scale(request, route, lambda scale: body, dry_run, manager)
        obj = self._check_identity(request, route, self._decode(request, rt, self._read_body(request)), True)
        obj = self._check_fields(request, rt, obj, validation)
        subresource = route.subresource if route.subresource == "status" else ""
        if route.subresource == "finalize":
            current = self.store.get(rt, None, route.name)
            current.setdefault("spec", {})["finalizers"] = list((obj.get("spec") or {}).get("finalizers") or [])
            obj = current
        updated = self.store.update(rt, obj, dry_run, subresource=subresource, user=request.user,
                                    finalize=self._finalizer(manager, rt, subresource))
        self._answer_object(request, route, updated, 200)

    def _patch(self, request: Request, route: Route) -> None:
        rt = route.rt
        content_type = _content_type(request.header("Content-Type"))
        patch_type = PATCH_TYPES.get(content_type)
        accepted = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
        if not rt.custom:
            accepted = ("application/json-patch+json, application/merge-patch+json, "
                        "application/strategic-merge-patch+json, application/apply-patch+yaml")
        if patch_type is None or (patch_type == "strategic" and rt.custom):
            raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                                                        f"accepted media types include: {accepted}", {})
        dry_run, manager, validation = self._options(request, "PatchOptions")
        force = request.param("force")
        if patch_type == "apply":
            if not request.param("fieldManager"):
                raise ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                                               "is required for apply patch",
                               {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
                                   {"reason": "FieldValueRequired", "message": "Required value: is required for "
                                                                               "apply patch",
                                    "field": "fieldManager"}]})
        elif force is not None:
            raise ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be '
                                           "specified for non-apply patch",
                           {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
                               {"reason": "FieldValueForbidden", "message": "Forbidden: may not be specified for "
                                                                            "non-apply patch", "field": "force"}]})
        body = self._decode(request, rt, self._read_body(request), allow_yaml=patch_type == "apply")
        if route.subresource == "scale":
            def patched_scale(scale: dict) -> dict:
                return self._apply_patch(patch_type, rt, scale, body, scale_node=True)

            return self._write_scale(request, route, patched_scale, dry_run, manager)
        forced = (force or "").lower() in ("true", "1")
        subresource = route.subresource if route.subresource == "status" else ""
        for attempt in range(10):
            live = self.store.try_get(rt, route.namespace, route.name)
            if patch_type == "apply":
                config = self._check_identity(request, route, body, True)
                config = self._check_fields(request, rt, config, validation)
                try:
                    merged = ssa.apply(live, config, manager, forced, self.node_for(rt), now_rfc3339(),
                                       subresource=subresource, reset_fields=_reset_fields(rt))
                except ssa.ApplyConflict as conflict:
                    status = conflict.status_object()
                    details = {"name": route.name, **({"group": rt.group} if rt.group else {}), "kind": rt.plural,
                               **status.get("details", {})}
                    raise ApiError(409, "Conflict", status["message"], details) from None
                except ssa.ApplyError as error:
                    raise ApiError(error.status, error.reason or "BadRequest", error.status_message,
                                   {} if error.status != 422 else None) from None
                if live is None:
                    if route.subresource:
                        raise not_found(rt, route.name)
                    created = self.store.create(rt, merged, dry_run, user=request.user)
                    return self._answer_object(request, route, created, 201)
                finalize = None
            else:
                if live is None:
                    raise not_found(rt, route.name)
                merged = self._apply_patch(patch_type, rt, live, body)
                merged = self._check_fields(request, rt, merged, validation)
                finalize = self._finalizer(manager, rt, subresource)
            meta = merged.setdefault("metadata", {})
            meta["name"] = route.name
            if rt.namespaced:
                meta["namespace"] = route.namespace
            live_rv = (live.get("metadata") or {}).get("resourceVersion")
            user_rv = meta.get("resourceVersion")
            precondition = user_rv not in (None, "", live_rv)
            if not precondition:
                meta["resourceVersion"] = live_rv
            try:
                updated = self.store.update(rt, merged, dry_run, subresource=subresource, user=request.user,
                                            finalize=finalize)
            except ApiError as error:
                if error.status == 409 and error.reason == "Conflict" and not precondition and attempt < 9:
                    continue
                raise
            return self._answer_object(request, route, updated, 200)

    def _apply_patch(self, patch_type: str, rt: ResourceType, live: dict, body: Any, scale_node: bool = False) -> dict:
        if scale_node:
            from .schema import Schemas

            node = Schemas.for_version(self.minor_version).node_for("autoscaling/v1", "Scale")
        else:
            node = self.node_for(rt)
        try:
            if patch_type == "json":
                if not isinstance(body, list):
                    raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
                return patch.json_patch(live, body)
            if not isinstance(body, dict):
                raise bad_request(f"json: cannot unmarshal {json_kind(body)} into Go value of type "
                                  "map[string]interface {}")
            if patch_type == "merge":
                return patch.merge_patch(live, body)
            if patch_type == "strategic":
                return patch.strategic_merge_patch(live, body, node)
            if patch_type == "apply":
                return ssa.apply(live, body, "scale", True, node, now_rfc3339())
        except patch.PatchError as error:
            status = getattr(error, "status", 422)
            reason = getattr(error, "reason", "") or ("BadRequest" if status == 400 else "Invalid")
            message = getattr(error, "status_message", None) or str(error)
            raise ApiError(status, reason, message, {} if status != 422 else None) from None
        raise bad_request(f"unknown patch type {patch_type}")

    # -- scale ----------------------------------------------------------------------------------

    def _scale_paths(self, rt: ResourceType) -> tuple[str, str, str]:
        if rt.custom and rt.scale:
            return (rt.scale.get("specReplicasPath", ".spec.replicas"),
                    rt.scale.get("statusReplicasPath", ".status.replicas"), rt.scale.get("labelSelectorPath", ""))
        return ".spec.replicas", ".status.replicas", ""

    def _scale_of(self, rt: ResourceType, obj: dict) -> dict:
        spec_path, status_path, selector_path = self._scale_paths(rt)
        meta = obj.get("metadata") or {}
        spec_values = tables.jsonpath(obj, spec_path)
        status_values = tables.jsonpath(obj, status_path)
        status: dict[str, Any] = {"replicas": int(status_values[0]) if status_values and isinstance(
            status_values[0], (int, float)) else 0}
        if rt.custom:
            selector_values = tables.jsonpath(obj, selector_path) if selector_path else []
            if selector_values:
                status["selector"] = str(selector_values[0])
        else:
            from .selectors import selector_string

            selector = (obj.get("spec") or {}).get("selector")
            if selector:
                status["selector"] = selector_string(selector)
        scale_meta = {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                      if k in meta}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": scale_meta,
                "spec": {"replicas": int(spec_values[0]) if spec_values else 0}, "status": status}

    def _write_scale(self, request: Request, route: Route, change: Callable[[dict], Any], dry_run: bool,
                     manager: str) -> None:
        rt = route.rt
        for attempt in range(10):
            obj = self.store.get(rt, route.namespace, route.name)
            scale = self._scale_of(rt, obj)
            new_scale = change(clone(scale))
            if not isinstance(new_scale, dict):
                raise bad_request("the object provided is unrecognized (must be of type Scale)")
            replicas = (new_scale.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or isinstance(replicas, bool):
                raise ApiError(422, "Invalid", f'Scale.autoscaling "{route.name}" is invalid: spec.replicas: '
                                               f"Invalid value: {replicas}: must be greater than or equal to 0",
                               {"name": route.name, "group": "autoscaling", "kind": "Scale"})
            if replicas < 0:
                raise ApiError(422, "Invalid", f'Scale.autoscaling "{route.name}" is invalid: spec.replicas: '
                                               f"Invalid value: {replicas}: must be greater than or equal to 0",
                               {"name": route.name, "group": "autoscaling", "kind": "Scale"})
            user_rv = (new_scale.get("metadata") or {}).get("resourceVersion")
            precondition = user_rv not in (None, "", scale["metadata"].get("resourceVersion"))
            spec_path = self._scale_paths(rt)[0]
            _set_path(obj, spec_path, replicas)
            if precondition:
                obj["metadata"]["resourceVersion"] = user_rv
            try:
                updated = self.store.update(rt, obj, dry_run, user=request.user,
                                            finalize=self._finalizer(manager, rt, "scale"))
            except ApiError as error:
                if error.status == 409 and not precondition and attempt < 9:
                    continue
                raise
            return self._send_json(request, 200, self._scale_of(rt, updated))

    # -- deletes --------------------------------------------------------------------------------

    def _delete_options(self, request: Request) -> dict:
        body = self._read_body(request)
        options: dict[str, Any] = {}
        if body and protobuf.is_protobuf(_content_type(request.header("Content-Type"))):
            from .schema import Schemas

            options = protobuf.decode(body, Schemas.for_version(self.minor_version), "DeleteOptions")
        elif body.strip():
            try:
                options = json.loads(body)
            except ValueError as exc:
                raise bad_request(f"json: {exc}") from None
            if not isinstance(options, dict):
                raise bad_request("json: cannot unmarshal into Go value of type v1.DeleteOptions")
        if request.param("propagationPolicy"):
            options["propagationPolicy"] = request.param("propagationPolicy")
        if request.param("gracePeriodSeconds"):
            options["gracePeriodSeconds"] = int(request.param("gracePeriodSeconds") or 0)
        if request.query.get("dryRun"):
            options["dryRun"] = request.query["dryRun"]
        orphan = request.param("orphanDependents") if request.param("orphanDependents") is not None else \
            options.get("orphanDependents")
        if orphan is not None and "propagationPolicy" not in options:
            options["propagationPolicy"] = "Orphan" if str(orphan).lower() in ("true", "1") else "Background"
        dry = options.get("dryRun") or []
        if any(value != "All" for value in dry):
            raise ApiError(422, "Invalid", 'DeleteOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: '
                                           f"{dry}: supported values: \"All\"", {"group": "meta.k8s.io",
                                                                                 "kind": "DeleteOptions"})
        return options

    def _delete(self, request: Request, route: Route) -> None:
        rt = route.rt
        options = self._delete_options(request)
        obj, gone = self.store.delete(rt, route.namespace, route.name, options.get("propagationPolicy"),
                                      options.get("preconditions") or {}, bool(options.get("dryRun")),
                                      grace_period=options.get("gracePeriodSeconds"), user=request.user)
        if not gone:
            return self._send_json(request, 202 if not options.get("dryRun") else 200, obj)
        if (rt.group, rt.kind) in (("", "Pod"), ("", "Service"), ("", "Namespace")) or rt.custom:
            return self._send_json(request, 200, obj)
        self._send_json(request, 200, status_success(rt, route.name, (obj.get("metadata") or {}).get("uid", "")))

    def _delete_collection(self, request: Request, route: Route) -> None:
        rt = route.rt
        options = self._delete_options(request)
        deleted = self.store.delete_collection(rt, route.namespace or None, request.param("labelSelector"),
                                               request.param("fieldSelector"), options.get("propagationPolicy"),
                                               bool(options.get("dryRun")), user=request.user)
        if not rt.custom:
            for item in deleted:
                item.pop("apiVersion", None)
                item.pop("kind", None)
        self._send_json(request, 200, {"kind": rt.list_kind, "apiVersion": rt.api_version,
                                       "metadata": {"resourceVersion": self.store.resource_version},
                                       "items": deleted})

    # -- reviews, bindings, evictions, logs -------------------------------------------------------

    def _virtual(self, request: Request, route: Route) -> None:
        rt = route.rt
        if route.subresource == "log":
            self.store.get(rt, route.namespace, route.name)
            return self._send_text(request, 200, "")
        body = self._decode(request, rt, self._read_body(request))
        if not isinstance(body, dict):
            raise bad_request("the object provided is unrecognized")
        dry_run = bool(request.query.get("dryRun"))
        pods = self.store.resources.get("", "v1", "pods")
        if route.subresource == "eviction":
            evict(self.store, route.namespace, route.name, (body.get("deleteOptions") or {}).get("preconditions"),
                  dry_run, user=request.user)
            return self._send_json(request, 201, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                                  "status": "Success", "code": 201})
        if route.subresource == "binding" or rt.kind == "Binding":
            name = route.name or (body.get("metadata") or {}).get("name", "")
            target = (body.get("target") or {}).get("name")
            if not target:
                raise invalid(rt, name, [("FieldValueRequired", "target.name", "Required value")])
            pod = self.store.get(pods, route.namespace, name)
            if (pod.get("spec") or {}).get("nodeName"):
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on pods/binding "{name}": pod {name} '
                                                f"is already assigned to node \"{pod['spec']['nodeName']}\"",
                               {"name": name, "kind": "pods/binding"})
            pod["spec"]["nodeName"] = target
            self.store.update(pods, pod, dry_run, user=request.user)
            return self._send_json(request, 201, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                                  "status": "Success", "code": 201})
        result = dict(body)
        result["apiVersion"] = rt.api_version
        result["kind"] = rt.kind
        result.setdefault("metadata", {})
        if rt.kind == "SelfSubjectReview":
            result["status"] = {"userInfo": _user_info(request.user)}
        elif rt.kind == "SelfSubjectAccessReview":
            spec = body.get("spec") or {}
            resource_attributes = spec.get("resourceAttributes")
            if resource_attributes:
                attributes = {"verb": resource_attributes.get("verb", ""),
                              "api_group": resource_attributes.get("group", ""),
                              "api_version": resource_attributes.get("version", ""),
                              "resource": resource_attributes.get("resource", ""),
                              "subresource": resource_attributes.get("subresource", ""),
                              "namespace": resource_attributes.get("namespace", ""),
                              "name": resource_attributes.get("name", ""), "path": ""}
            else:
                non_resource = spec.get("nonResourceAttributes") or {}
                attributes = {"verb": non_resource.get("verb", ""), "path": non_resource.get("path", ""),
                              "resource": "", "api_group": "", "namespace": "", "name": "", "subresource": ""}
            if self._authz_takes_store:
                allowed, reason = self.authz(request.user, attributes, self.store)
            else:
                allowed, reason = self.authz(request.user, attributes)
            status: dict[str, Any] = {"allowed": bool(allowed)}
            if reason:
                status["reason"] = reason
            result["status"] = status
        elif rt.kind == "TokenReview":
            token = (body.get("spec") or {}).get("token", "")
            user = self.authn(token) if token else None
            result["status"] = ({"authenticated": True, "user": _user_info(user), "audiences": ["https://kubernetes"
                                                                                               ".default.svc"]}
                                if user is not None else {"user": {}, "error": "token not recognized"})
        elif rt.kind == "SelfSubjectRulesReview":
            result["status"] = {"resourceRules": [], "nonResourceRules": [], "incomplete": True,
                                "evaluationError": "rules review is not supported by the emulator"}
        else:
            result["status"] = {"allowed": False, "reason": "subject access reviews of other users are not "
                                                            "supported by the emulator"}
        self._send_json(request, 201, result)


# -- helpers ------------------------------------------------------------------------------------------


def _takes_store(authz: Callable[..., Any]) -> bool:
    try:
        parameters = [p for p in inspect.signature(authz).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    except (TypeError, ValueError):
        return False
    if any(p.kind == p.VAR_POSITIONAL for p in parameters):
        return True
    return len(parameters) >= 3


def _peer_closed(sock: socket.socket) -> bool:
    """True when the client closed its end of a watch connection."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    if not readable:
        return False
    previous = sock.gettimeout()
    try:
        sock.settimeout(0.01)
        data = sock.recv(1)
        return data == b""
    except (ssl.SSLWantReadError, socket.timeout, BlockingIOError):
        return False
    except OSError:
        return True
    finally:
        try:
            sock.settimeout(previous)
        except OSError:
            pass


def _go_repr(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


_GO_TYPES = {"integer": "int32", "number": "float64", "boolean": "bool", "string": "string"}


def _walk_fields(node: Any, value: Any, path: str, unknown: list[str], type_errors: list, struct: str) -> None:
    """Collect (and drop) unknown fields and wrong scalar types under ``node``."""
    if node is None or value is None:
        return
    kind = node.kind
    if kind in ("deduced", "atomic"):
        return
    if kind == "scalar":
        expected = node.type
        ok = True
        if expected == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif expected == "number":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif expected == "boolean":
            ok = isinstance(value, bool)
        elif expected == "string":
            ok = isinstance(value, str)
        if not ok:
            go_type = _GO_TYPES.get(expected, expected)
            if expected == "integer" and node.format == "int64":
                go_type = "int64"
            type_errors.append((path, value, go_type if expected != "boolean" else "bool", f"{struct}.{path}"))
        return
    if kind == "map":
        if not isinstance(value, dict):
            type_errors.append((path, value, "object", f"{struct}.{path}"))
            return
        if node.preserve_unknown_fields and not node.properties:
            return
        name = getattr(node.target, "name", None)
        child_struct = name.rsplit(".", 1)[-1] if name else struct
        for key in list(value):
            child = node.property(key)
            child_path = f"{path}.{key}" if path else key
            if child is None:
                if node.preserve_unknown_fields:
                    continue
                unknown.append(child_path)
                del value[key]
                continue
            _walk_fields(child, value[key], child_path, unknown, type_errors, child_struct)
        return
    if kind == "list":
        if not isinstance(value, list):
            type_errors.append((path, value, "array", f"{struct}.{path}"))
            return
        items = node.items
        for index, item in enumerate(value):
            _walk_fields(items, item, f"{path}[{index}]", unknown, type_errors, struct)


def _reset_fields(rt: ResourceType, subresource: str = "") -> Any:
    """What a write through ``subresource`` may not change (None: ssa's default, status vs the rest)."""
    if subresource == "scale":
        return (("status",),)
    if not rt.has_status:
        return ()
    return None


def _set_path(obj: dict, path: str, value: Any) -> None:
    keys = [k for k in path.strip().lstrip(".").split(".") if k]
    current = obj
    for key in keys[:-1]:
        current = current.setdefault(key, {})
    if keys:
        current[keys[-1]] = value


def serve(cluster_name: str, kubernetes_version: str, authenticate: Callable[..., Any],
          authorize: Callable[..., Any], ssl_context: ssl.SSLContext, cluster: Any = None,
          store: Store | None = None, **kwargs: Any) -> ApiServer:
    """A started :class:`ApiServer` over ``store`` (a new one by default): the ``clusters`` factory shape."""
    del cluster
    server = ApiServer(cluster_name, kubernetes_version, store or Store(), authenticate, authorize, ssl_context,
                       **kwargs)
    return server.start()
