"""The OpenAPI definitions of a Kubernetes version, as typed schema nodes.

``Schemas.for_version("1.35")`` loads ``kubernetes_validate``'s
``kubernetes-json-schema/v1.35.0-local/_definitions.json`` (a JSON Schema
whose ``$defs`` are Kubernetes' OpenAPI definitions, nullable types written
``["string", "null"]``) once per version. ``node(name)`` wraps a definition
in a :class:`SchemaNode` that resolves ``$ref`` lazily; ``SchemaNode.
from_openapi_v3`` does the same for a CustomResourceDefinition's
``openAPIV3Schema``.

A node answers what strategic merge patch and server-side apply need, with
the rules of the API server (``k8s.io/kube-openapi/pkg/schemaconv``):

* ``kind``: ``"map"`` (a struct with declared fields and/or a map with an
  element type), ``"list"``, ``"scalar"``, ``"deduced"`` (no schema: a map
  value is a granular map of deduced values, a list is atomic, anything else
  a scalar; Kubernetes' ``__untyped_deduced_``) or ``"atomic"`` (any JSON,
  one value; ``RawExtension``).
* lists: ``list_type`` ``atomic``, ``set`` or ``map`` (``list_map_keys``);
  without ``x-kubernetes-list-type``, a ``merge`` patch strategy makes the
  list associative on its patch merge key (a set without one), anything
  else atomic.
* maps: ``map_type`` ``granular`` (the default) or ``atomic``; an
  ``x-kubernetes-map-type`` next to a ``$ref`` overrides the definition's.
* ``IntOrString``, ``Quantity``, ``Time``/``MicroTime`` (``date-time``) and
  ``int-or-string`` are scalars of any type; ``metadata`` is ``ObjectMeta``
  (``labels``/``annotations`` granular maps, ``ownerReferences`` a map list
  keyed by ``uid``, ``finalizers`` a set, ``managedFields`` atomic).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

LOG = logging.getLogger(__name__)

DEFAULT_VERSION = "1.35"

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"

_SCALAR_TYPES = ("string", "integer", "number", "boolean")
_DIR = re.compile(r"^v(\d+)\.(\d+)\.(\d+)-local$")


class SchemaError(Exception):
    """A schema that can't be loaded or doesn't hold what was asked."""


def _first_type(raw: dict[str, Any]) -> str:
    t = raw.get("type")
    if isinstance(t, list):
        for item in t:
            if item != "null":
                return str(item)
        return ""
    return t if isinstance(t, str) else ""


def _scalar_union(raw: dict[str, Any]) -> bool:
    """``oneOf``/``anyOf`` of scalar types only (IntOrString, Quantity, int-or-string in CRDs)."""
    for key in ("oneOf", "anyOf"):
        alternatives = raw.get(key)
        if isinstance(alternatives, list) and alternatives:
            types = [_first_type(a) for a in alternatives if isinstance(a, dict)]
            if types and all(t in _SCALAR_TYPES for t in types) and len(types) == len(alternatives):
                return True
    return False


class SchemaNode:
    """One schema position: a definition, a property, an array's items.

    Site attributes (patch strategy and merge key, list type, an
    ``x-kubernetes-map-type`` next to a ``$ref``) belong to the position;
    the shape (type, properties, items) comes from the ``$ref`` target when
    there is one. Children are built on first use and cached.
    """

    UNKNOWN: SchemaNode  # set below: no schema (deduced)
    ATOMIC: SchemaNode  # set below: any JSON, always one value (RawExtension)

    def __init__(
        self,
        raw: dict[str, Any] | None,
        resolve: Callable[[str], SchemaNode] | None = None,
        *,
        name: str | None = None,
        preserve: bool = False,
        crd: bool = False,
        special: str | None = None,
    ) -> None:
        self._raw: dict[str, Any] = raw or {}
        self._resolve = resolve
        self.name = name
        self._inherited_preserve = preserve
        self._crd = crd
        self._special = special  # "deduced" | "atomic" | "untyped" | None
        self._target: SchemaNode | None = None
        self._target_done = False
        self._props: dict[str, SchemaNode] | None = None
        self._items: SchemaNode | None = None
        self._items_done = False
        self._additional: SchemaNode | None = None
        self._additional_done = False
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

    # -- construction helpers ------------------------------------------------
    def _child(self, raw: Any, preserve: bool) -> SchemaNode:
        if not isinstance(raw, dict):
            return SchemaNode.UNKNOWN
        ref = raw.get("$ref")
        if not ref and isinstance(raw.get("allOf"), list) and len(raw["allOf"]) == 1:
            inner = raw["allOf"][0]
            if isinstance(inner, dict) and inner.get("$ref"):
                ref = inner["$ref"]
                raw = {**{k: v for k, v in raw.items() if k != "allOf"}, "$ref": ref}
        if ref and self._resolve is not None and not any(k.startswith("x-kubernetes-") for k in raw):
            return self._resolve(ref)  # a bare reference: share the definition's node
        return SchemaNode(raw, self._resolve, preserve=preserve, crd=self._crd)

    @property
    def target(self) -> SchemaNode:
        """The node giving this position its shape (the ``$ref`` target, else itself)."""
        if not self._target_done:
            ref = self._raw.get("$ref")
            target = self
            if ref and self._resolve is not None:
                try:
                    target = self._resolve(ref).target
                except SchemaError:
                    target = SchemaNode.UNKNOWN
            self._target = target
            self._target_done = True
        return self._target  # type: ignore[return-value]

    # -- shape ------------------------------------------------------------------
    @property
    def raw(self) -> dict[str, Any]:
        return self._raw

    @property
    def type(self) -> str:
        """``object``, ``array``, ``string``, ``integer``, ``number``, ``boolean`` or ``""`` (untyped)."""
        try:
            return self._cache["type"]
        except KeyError:
            value = self._cache["type"] = self._compute_type()
            return value

    def _compute_type(self) -> str:
        t = self.target
        if t is not self:
            return t.type
        if self._special in ("deduced", "atomic", "untyped"):
            return ""
        if self._raw.get("x-kubernetes-int-or-string") or _scalar_union(self._raw):
            return ""
        typ = _first_type(self._raw)
        if not typ and ("properties" in self._raw or "additionalProperties" in self._raw):
            return "object"
        if not typ and "items" in self._raw:
            return "array"
        return typ

    @property
    def format(self) -> str:
        return str(self.target._raw.get("format") or "")

    @property
    def kind(self) -> str:
        """``map``, ``list``, ``scalar``, ``deduced`` or ``atomic`` (see the module's doc)."""
        try:
            return self._cache["kind"]
        except KeyError:
            value = self._cache["kind"] = self._compute_kind()
            return value

    def _compute_kind(self) -> str:
        t = self.target
        if t is not self:
            return t.kind
        if self._special in ("deduced", "atomic"):
            return self._special
        if self._special == "untyped":
            return "scalar"
        typ = self.type
        if typ == "object":
            return "map"
        if typ == "array":
            return "list"
        if typ in _SCALAR_TYPES:
            return "scalar"
        # untyped: IntOrString-like unions are scalars; anything else (no schema) is deduced
        if self._raw.get("x-kubernetes-int-or-string") or _scalar_union(self._raw):
            return "scalar"
        return "deduced"

    @property
    def is_unknown(self) -> bool:
        return self.kind == "deduced"

    @property
    def int_or_string(self) -> bool:
        t = self.target
        if t.name == QUANTITY:
            return False
        return bool(t._raw.get("x-kubernetes-int-or-string") or t.name == INT_OR_STRING
                    or t.format == "int-or-string" or _scalar_union(t._raw))

    @property
    def embedded_resource(self) -> bool:
        return bool(self._raw.get("x-kubernetes-embedded-resource") or self.target._raw.get(
            "x-kubernetes-embedded-resource"))

    @property
    def preserve_unknown_fields(self) -> bool:
        t = self.target
        return bool(self._inherited_preserve or self._raw.get("x-kubernetes-preserve-unknown-fields")
                    or t._inherited_preserve or t._raw.get("x-kubernetes-preserve-unknown-fields"))

    @property
    def default(self) -> Any:
        return self._raw.get("default", self.target._raw.get("default"))

    @property
    def gvk(self) -> list[dict[str, str]]:
        return list(self.target._raw.get("x-kubernetes-group-version-kind") or [])

    # -- maps ---------------------------------------------------------------------
    @property
    def properties(self) -> dict[str, SchemaNode]:
        """Declared fields (empty for non-objects)."""
        t = self.target
        if t is not self:
            return t.properties
        if self._props is None:
            with self._lock:
                if self._props is None:
                    props: dict[str, SchemaNode] = {}
                    if self.kind == "map":
                        preserve = self.preserve_unknown_fields
                        for key, raw in (self._raw.get("properties") or {}).items():
                            props[key] = self._child(raw, preserve)
                        if self._crd and self.embedded_resource:
                            _add_resource_fields(props, self._resolve)
                    self._props = props
        return self._props

    @property
    def additional_properties(self) -> SchemaNode | None:
        """The element type of a map: its ``additionalProperties`` schema, deduced, or None (closed struct)."""
        t = self.target
        if t is not self:
            return t.additional_properties
        if self.kind == "deduced":
            return SchemaNode.UNKNOWN
        if self.kind != "map":
            return None
        if not self._additional_done:
            add = self._raw.get("additionalProperties")
            node: SchemaNode | None
            if isinstance(add, dict):
                node = self._child(add, self.preserve_unknown_fields)
            elif add is True:
                node = SchemaNode.UNKNOWN
            elif add is False:
                node = None
            elif self.preserve_unknown_fields or not self._raw.get("properties"):
                node = SchemaNode.UNKNOWN
            else:
                node = None
            self._additional = node
            self._additional_done = True
        return self._additional

    def field(self, name: str) -> SchemaNode | None:
        """The declared field ``name`` (None when not declared)."""
        return self.properties.get(name)

    def child(self, name: str) -> SchemaNode:
        """Like :meth:`property`, UNKNOWN instead of None (lenient walks)."""
        node = self.property(name)
        return SchemaNode.UNKNOWN if node is None else node

    @property
    def map_type(self) -> str | None:
        """``atomic`` or ``granular`` for maps (the site's override first); None otherwise."""
        try:
            return self._cache["map_type"]
        except KeyError:
            value = self._cache["map_type"] = self._compute_map_type()
            return value

    def _compute_map_type(self) -> str | None:
        kind = self.kind
        if kind == "atomic":
            return "atomic"
        if kind == "deduced":
            return "granular"
        if kind != "map":
            return None
        site = self._raw.get("x-kubernetes-map-type")
        if site in ("atomic", "granular"):
            return site
        declared = self.target._raw.get("x-kubernetes-map-type")
        return "atomic" if declared == "atomic" else "granular"

    # -- lists ------------------------------------------------------------------
    @property
    def items(self) -> SchemaNode | None:
        t = self.target
        if t is not self:
            return t.items
        if self.kind == "deduced":
            return SchemaNode.ATOMIC
        if self.kind == "atomic":
            return SchemaNode.ATOMIC
        if self.kind != "list":
            return None
        if not self._items_done:
            raw = self._raw.get("items")
            self._items = self._child(raw, self.preserve_unknown_fields) if isinstance(raw, dict) else SchemaNode.ATOMIC
            self._items_done = True
        return self._items

    def _ext(self, key: str) -> Any:
        if key in self._raw:
            return self._raw[key]
        return self.target._raw.get(key)

    @property
    def patch_strategy(self) -> str:
        """``x-kubernetes-patch-strategy`` (``merge``, ``retainKeys``, ``merge,retainKeys``, ``replace``) or ``""``."""
        return str(self._ext("x-kubernetes-patch-strategy") or "")

    @property
    def patch_strategies(self) -> list[str]:
        return [s for s in self.patch_strategy.split(",") if s]

    @property
    def patch_merge_key(self) -> str:
        return str(self._ext("x-kubernetes-patch-merge-key") or "")

    @property
    def list_type(self) -> str | None:
        """``atomic``, ``set`` or ``map`` for lists (as the API server derives it); None otherwise."""
        try:
            return self._cache["list_type"]
        except KeyError:
            value = self._cache["list_type"] = self._compute_list_type()
            return value

    def _compute_list_type(self) -> str | None:
        kind = self.kind
        if kind in ("deduced", "atomic"):
            return "atomic"
        if kind != "list":
            return None
        declared = self._ext("x-kubernetes-list-type")
        if declared in ("atomic", "set", "map"):
            return declared
        strategies = self.patch_strategies
        if "merge" in strategies:
            return "map" if self.patch_merge_key else "set"
        return "atomic"

    @property
    def list_map_keys(self) -> tuple[str, ...]:
        try:
            return self._cache["list_map_keys"]
        except KeyError:
            value = self._cache["list_map_keys"] = self._compute_list_map_keys()
            return value

    def _compute_list_map_keys(self) -> tuple[str, ...]:
        if self.list_type != "map":
            return ()
        declared = self._ext("x-kubernetes-list-type")
        if declared == "map":
            keys = self._ext("x-kubernetes-list-map-keys") or []
            return tuple(str(k) for k in keys if isinstance(k, str))
        return (self.patch_merge_key,) if self.patch_merge_key else ()

    def key_default(self, key: str) -> Any:
        """The schema default of an associative list's key field (``protocol: TCP`` of ports), or None."""
        items = self.items
        if items is None or items.kind != "map":
            return None
        f = items.field(key)
        if f is None:
            return None
        return f.default if f.default is not None else _KEY_DEFAULTS.get((items.target.name, key))

    # -- misc -----------------------------------------------------------------------
    def walk(self, path: Iterator[str] | list[str] | tuple[str, ...]) -> SchemaNode:
        """The node at ``path`` (field names; ``"[]"`` for list items), UNKNOWN past the schema."""
        node: SchemaNode = self
        for part in path:
            if part == "[]":
                node = node.items or SchemaNode.UNKNOWN
            else:
                node = node.child(part)
        return node

    def __repr__(self) -> str:
        label = self.name or self.target.name or self._special or self.type or "untyped"
        return f"<SchemaNode {label} kind={self.kind}>"

    # -- CRDs ---------------------------------------------------------------------------
    @classmethod
    def from_openapi_v3(
        cls,
        schema: dict[str, Any] | None,
        *,
        preserve_unknown_fields: bool = False,
        object_meta: SchemaNode | None = None,
    ) -> SchemaNode:
        """The node of a CRD version's ``openAPIV3Schema`` (a structural schema).

        ``apiVersion``, ``kind`` and ``metadata`` (``ObjectMeta`` of
        ``object_meta``, by default that of the default version) are added
        at the root and on ``x-kubernetes-embedded-resource`` objects, as the
        API server does. ``preserve_unknown_fields`` is the CRD's legacy
        ``spec.preserveUnknownFields``.
        """
        if not schema:
            return cls.UNKNOWN
        meta = object_meta if object_meta is not None else Schemas.for_version(DEFAULT_VERSION).node(OBJECT_META)

        def resolve(ref: str) -> SchemaNode:
            if ref.rsplit("/", 1)[-1] == OBJECT_META:
                return meta
            raise SchemaError(f"$ref {ref!r} is not allowed in a CustomResourceDefinition schema")

        raw = dict(schema)
        props = dict(raw.get("properties") or {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props["metadata"] = {"$ref": "#/$defs/" + OBJECT_META}
        raw["properties"] = props
        if not _first_type(raw):
            raw["type"] = "object"
        return cls(raw, resolve, name=None, preserve=preserve_unknown_fields, crd=True)

    # defined last: the name shadows the ``property`` builtin in the class body
    def property(self, name: str) -> SchemaNode | None:
        """The schema of key ``name``: a declared field, else the map's element type; None when not allowed."""
        kind = self.kind
        if kind == "deduced":
            return SchemaNode.UNKNOWN
        if kind == "atomic":
            return SchemaNode.ATOMIC
        if kind != "map":
            return None
        found = self.properties.get(name)
        if found is not None:
            return found
        return self.additional_properties


def _add_resource_fields(props: dict[str, SchemaNode], resolve: Callable[[str], SchemaNode] | None) -> None:
    """apiVersion, kind and metadata (ObjectMeta) of an embedded resource, as the API server adds them."""
    props.setdefault("apiVersion", SchemaNode({"type": "string"}))
    props.setdefault("kind", SchemaNode({"type": "string"}))
    if "metadata" not in props or props["metadata"].kind != "map" or not props["metadata"].properties:
        ref = "#/$defs/" + OBJECT_META
        props["metadata"] = resolve(ref) if resolve is not None else Schemas.for_version(DEFAULT_VERSION).node(ref)


SchemaNode.UNKNOWN = SchemaNode({}, special="deduced")
SchemaNode.ATOMIC = SchemaNode({}, special="atomic")

# Defaults of associative-list key fields that the API server's schema carries
# but the JSON Schema export dropped (structured-merge-diff uses them to key
# items that omit the field, e.g. ports without a protocol).
_KEY_DEFAULTS: dict[tuple[str | None, str], Any] = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.EndpointPort", "protocol"): "TCP",
    ("io.k8s.api.discovery.v1.EndpointPort", "protocol"): "TCP",
}


class Schemas:
    """The definitions of one Kubernetes version (shared, read-only; cached per version)."""

    _cache: dict[str, Schemas] = {}
    _cache_lock = threading.Lock()

    def __init__(self, version: str, path: Path, requested: str | None = None) -> None:
        self.version = version
        self.requested = requested or version
        self.path = path
        with path.open(encoding="utf-8") as handle:
            document = json.load(handle)
        defs = document.get("$defs") or document.get("definitions")
        if not isinstance(defs, dict):
            raise SchemaError(f"{path} has no $defs")
        self._defs: dict[str, dict[str, Any]] = defs
        self._nodes: dict[str, SchemaNode] = {}
        self._lock = threading.Lock()
        self._gvk: dict[tuple[str, str, str], str] = {}
        for name, definition in defs.items():
            for gvk in definition.get("x-kubernetes-group-version-kind") or ():
                key = (gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))
                self._gvk.setdefault(key, name)

    # -- loading ------------------------------------------------------------------
    @staticmethod
    def schema_root() -> Path:
        import kubernetes_validate  # pylint: disable=import-outside-toplevel

        return Path(kubernetes_validate.__file__).resolve().parent / "kubernetes-json-schema"

    @classmethod
    def available_versions(cls) -> list[str]:
        """The ``major.minor`` versions kubernetes_validate ships (oldest first)."""
        root = cls.schema_root()
        found = []
        if root.is_dir():
            for entry in root.iterdir():
                m = _DIR.match(entry.name)
                if m and (entry / "_definitions.json").is_file():
                    found.append((int(m.group(1)), int(m.group(2))))
        return [f"{a}.{b}" for a, b in sorted(set(found))]

    @staticmethod
    def _minor(version: str) -> tuple[int, int]:
        m = re.match(r"^v?(\d+)\.(\d+)", str(version).strip())
        if not m:
            raise SchemaError(f"not a Kubernetes version: {version!r} (expected like '1.35')")
        return int(m.group(1)), int(m.group(2))

    @classmethod
    def for_version(cls, version: str = DEFAULT_VERSION) -> Schemas:
        """The definitions of Kubernetes ``version`` (``"1.35"``, ``"v1.35.2"``).

        A version kubernetes_validate doesn't ship falls back to the nearest
        one it does (the older on a tie), logged as a warning; with no
        schemas at all, SchemaError says so.
        """
        major, minor = cls._minor(version)
        key = f"{major}.{minor}"
        cached = cls._cache.get(key)
        if cached is not None:
            return cached
        with cls._cache_lock:
            cached = cls._cache.get(key)
            if cached is not None:
                return cached
            root = cls.schema_root()
            path = root / f"v{major}.{minor}.0-local" / "_definitions.json"
            actual = key
            if not path.is_file():
                available = cls.available_versions()
                if not available:
                    raise SchemaError(
                        f"no Kubernetes schemas under {root}: is kubernetes_validate installed with its schemas?")
                wanted = major * 1000 + minor

                def distance(v: str) -> tuple[int, tuple[int, int]]:
                    a, b = cls._minor(v)
                    return abs(a * 1000 + b - wanted), (a, b)

                nearest = min(available, key=distance)
                LOG.warning("no schemas for Kubernetes %s in kubernetes_validate (%s); using %s",
                            key, ", ".join(available), nearest)
                actual = nearest
                n_major, n_minor = cls._minor(nearest)
                path = root / f"v{n_major}.{n_minor}.0-local" / "_definitions.json"
            schemas = cls._cache.get(actual)
            if schemas is None:
                schemas = cls(actual, path, requested=key)
                cls._cache[actual] = schemas
            cls._cache[key] = schemas
            return schemas

    # -- lookups --------------------------------------------------------------------
    def definitions(self) -> dict[str, dict[str, Any]]:
        """The raw ``$defs`` (shared: don't modify). References read ``#/$defs/<name>``."""
        return self._defs

    def definition_for(self, api_version: str, kind: str) -> str | None:
        """The definition name of ``apiVersion``/``kind`` (``"apps/v1"``, ``"Deployment"``), or None."""
        group, _, version = api_version.rpartition("/")
        return self._gvk.get((group, version, kind))

    def node(self, def_name: str) -> SchemaNode:
        """The node of definition ``def_name`` (a name or a ``#/$defs/`` reference)."""
        name = def_name.rsplit("/", 1)[-1]
        found = self._nodes.get(name)
        if found is not None:
            return found
        with self._lock:
            found = self._nodes.get(name)
            if found is not None:
                return found
            raw = self._defs.get(name)
            if raw is None:
                raise SchemaError(f"no definition {name!r} in the Kubernetes {self.version} schemas")
            special = None
            if name == QUANTITY:
                special = "untyped"
            elif name == RAW_EXTENSION:
                special = "atomic"
            node = SchemaNode(raw, self.node, name=name, special=special)
            self._nodes[name] = node
            return node

    def node_for(self, api_version: str, kind: str) -> SchemaNode:
        """The node of a kind, SchemaNode.UNKNOWN when the version has none."""
        name = self.definition_for(api_version, kind)
        return self.node(name) if name else SchemaNode.UNKNOWN

    def kinds(self) -> Iterator[tuple[str, str, str, str]]:
        """(group, version, kind, definition name) of every kind."""
        for (group, version, kind), name in self._gvk.items():
            yield group, version, kind, name

    def __repr__(self) -> str:
        return f"<Schemas {self.version}>"
