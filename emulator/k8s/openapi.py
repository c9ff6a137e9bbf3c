"""OpenAPI v2 (``/openapi/v2``) and v3 (``/openapi/v3``, one document per group/version) documents.

Built from the Kubernetes version's definitions (``schema.Schemas``, JSON
Schema style: nullable types, ``#/$defs/`` references) converted to OpenAPI
style, plus a definition per custom resource kind made from its CRD's
``openAPIV3Schema``. Every resource gets its paths, and each PATCH operation
names its group/version/kind (``x-kubernetes-group-version-kind``) and the
``dryRun``, ``fieldManager``, ``fieldValidation`` and ``force`` parameters:
that is how kubectl decides the server validates fields itself
(``QueryParamVerifierV3``) and how it finds a kind's patch strategies.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any, Iterable

from .resources import ResourceType, Resources

__all__ = ["OpenAPI", "crd_definition_name"]

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
OBJECT_META = META + "ObjectMeta"
LIST_META = META + "ListMeta"
STATUS = META + "Status"
DELETE_OPTIONS = META + "DeleteOptions"
PATCH = META + "Patch"
WATCH_EVENT = META + "WatchEvent"
SCALE = "io.k8s.api.autoscaling.v1.Scale"
COMMON = (STATUS, DELETE_OPTIONS, PATCH, WATCH_EVENT, OBJECT_META, LIST_META, META + "APIResourceList")

_SCALAR_DEFS = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"type": "string", "format": "int-or-string"},
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {"type": "string"},
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": {"type": "string", "format": "date-time"},
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": {"type": "string", "format": "date-time"},
}

QUERY_PARAMS = {
    "dryRun": ("When present, indicates that modifications should not be persisted. An invalid or unrecognized "
               "dryRun directive will result in an error response and no further processing of the request. "
               "Valid values are: - All: all dry run stages will be processed", "string"),
    "fieldManager": ("fieldManager is a name associated with the actor or entity that is making these changes. "
                     "The value must be less than or 128 characters long, and only contain printable characters, "
                     "as defined by https://golang.org/pkg/unicode/#IsPrint.", "string"),
    "fieldValidation": ("fieldValidation instructs the server on how to handle objects in the request "
                        "(POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This "
                        "will ignore any unknown fields that are silently dropped from the object, and will ignore "
                        "all but the last duplicate field that the decoder encounters. - Warn: This will send a "
                        "warning via the standard warning response header for each unknown field that is dropped "
                        "from the object, and for each duplicate field that is encountered. - Strict: This will "
                        "fail the request with a BadRequest error if any unknown fields would be dropped from the "
                        "object, or if any duplicate fields are present.", "string"),
    "force": ("Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned "
              "by other people. Force flag must be unset for non-apply patch requests.", "boolean"),
    "pretty": ("If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates "
               "a browser or command-line HTTP tool (curl and wget).", "string"),
    "gracePeriodSeconds": ("The duration in seconds before the object should be deleted.", "integer"),
    "propagationPolicy": ("Whether and how garbage collection will be performed. Acceptable values are: "
                          "'Orphan', 'Background', 'Foreground'.", "string"),
    "labelSelector": ("A selector to restrict the list of returned objects by their labels. Defaults to "
                      "everything.", "string"),
    "fieldSelector": ("A selector to restrict the list of returned objects by their fields. Defaults to "
                      "everything.", "string"),
    "limit": ("limit is a maximum number of responses to return for a list call.", "integer"),
    "continue": ("The continue option should be set when retrieving more results from the server.", "string"),
    "resourceVersion": ("resourceVersion sets a constraint on what resource versions a request may be served "
                        "from.", "string"),
    "timeoutSeconds": ("Timeout for the list/watch call.", "integer"),
    "watch": ("Watch for changes to the described resources and return them as a stream of add, update, and "
              "remove notifications.", "boolean"),
    "allowWatchBookmarks": ("allowWatchBookmarks requests watch events with type \"BOOKMARK\".", "boolean"),
    "sendInitialEvents": ("`sendInitialEvents=true` may be set together with `watch=true`.", "boolean"),
}


def crd_definition_name(group: str, version: str, kind: str) -> str:
    """``com.example.v1.Widget`` for group example.com (what kube-apiserver names a CR's definition)."""
    reversed_group = ".".join(reversed(group.split("."))) if group else ""
    return f"{reversed_group}.{version}.{kind}" if reversed_group else f"{version}.{kind}"


def _convert(node: Any, prefix: str, v3: bool, top: bool = False) -> Any:
    """A JSON Schema (``$defs`` style) node as OpenAPI (v2 or v3 style)."""
    if isinstance(node, list):
        return [_convert(item, prefix, v3) for item in node]
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = prefix + ref.rsplit("/", 1)[-1]
        siblings = {k: _convert(v, prefix, v3) for k, v in node.items() if k != "$ref"}
        if v3 and siblings:
            return {"allOf": [{"$ref": target}], **siblings}
        return {"$ref": target, **siblings}
    for key, value in node.items():
        if key in ("$schema", "$id", "$defs"):
            continue
        if key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            if types:
                result["type"] = types[0]
            continue
        if key == "properties" and isinstance(value, dict):
            props = {}
            for name, prop in value.items():
                converted = _convert(prop, prefix, v3)
                if top and name in ("apiVersion", "kind") and isinstance(converted, dict):
                    converted.pop("enum", None)
                props[name] = converted
            result["properties"] = props
            continue
        if key in ("oneOf", "anyOf") and isinstance(value, list) and all(
            isinstance(v, dict) and set(v) <= {"type"} for v in value
        ):
            # IntOrString-like unions: OpenAPI's int-or-string
            result.setdefault("type", "string")
            result.setdefault("format", "int-or-string")
            continue
        if key == "additionalProperties" and isinstance(value, bool) and not v3 and value is True:
            result[key] = {}
            continue
        result[key] = _convert(value, prefix, v3)
    return result


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref.rsplit("/", 1)[-1])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


class OpenAPI:
    """The documents of one cluster (cached until its resource types change)."""

    def __init__(self, resources: Resources, kubernetes_version: str, git_version: str) -> None:
        self._resources = resources
        self._kubernetes_version = kubernetes_version
        self._git_version = git_version
        self._lock = threading.Lock()
        self._cache: dict[Any, Any] = {}
        self._cache_generation = -1
        self._defs: dict[str, dict] | None = None

    # -- definitions --------------------------------------------------------------------------

    def _raw_defs(self) -> dict[str, dict]:
        if self._defs is None:
            from .schema import Schemas

            self._defs = Schemas.for_version(self._kubernetes_version).definitions()
        return self._defs

    def _schemas(self) -> Any:
        from .schema import Schemas

        return Schemas.for_version(self._kubernetes_version)

    def definition_name(self, rt: ResourceType, kind: str | None = None) -> str | None:
        kind = kind or rt.kind
        if rt.custom:
            return crd_definition_name(rt.group, rt.version, kind)
        return self._schemas().definition_for(rt.api_version, kind)

    def _custom_definitions(self, rt: ResourceType) -> dict[str, dict]:
        """The raw ($defs style) definitions of a custom resource kind and its list."""
        name = crd_definition_name(rt.group, rt.version, rt.kind)
        schema = json.loads(json.dumps(rt.crd_schema or {"type": "object"}))
        schema.setdefault("type", "object")
        props = schema.setdefault("properties", {})
        props["apiVersion"] = {"type": "string", "description": "APIVersion defines the versioned schema of this "
                                                               "representation of an object."}
        props["kind"] = {"type": "string", "description": "Kind is a string value representing the REST resource "
                                                         "this object represents."}
        props["metadata"] = {"$ref": "#/$defs/" + OBJECT_META, "description": "Standard object's metadata."}
        schema["x-kubernetes-group-version-kind"] = [{"group": rt.group, "kind": rt.kind, "version": rt.version}]
        list_schema = {
            "description": f"{rt.kind}List is a list of {rt.kind}",
            "type": "object",
            "required": ["items"],
            "properties": {
                "apiVersion": {"type": "string"},
                "items": {"type": "array", "items": {"$ref": "#/$defs/" + name}},
                "kind": {"type": "string"},
                "metadata": {"$ref": "#/$defs/" + LIST_META},
            },
            "x-kubernetes-group-version-kind": [{"group": rt.group, "kind": rt.list_kind, "version": rt.version}],
        }
        return {name: schema, name + "List": list_schema}

    def _definitions(self, roots: Iterable[str], extra: dict[str, dict], prefix: str, v3: bool) -> dict[str, Any]:
        raw = self._raw_defs()
        wanted = list(roots)
        seen: set[str] = set()
        result: dict[str, Any] = {}
        while wanted:
            name = wanted.pop()
            if name in seen:
                continue
            seen.add(name)
            definition = extra.get(name) or raw.get(name)
            if definition is None:
                continue
            if name in _SCALAR_DEFS:
                converted = {"description": definition.get("description", ""), **_SCALAR_DEFS[name]}
            else:
                converted = _convert(definition, prefix, v3, top=True)
            result[name] = converted
            found: set[str] = set()
            _refs(definition, found)
            wanted.extend(sorted(found - seen))
        return dict(sorted(result.items()))

    # -- paths --------------------------------------------------------------------------------

    def _param(self, name: str, v3: bool, location: str = "query", required: bool = False) -> dict:
        description, kind = QUERY_PARAMS.get(name, ("", "string"))
        param: dict[str, Any] = {"name": name, "in": location, "description": description}
        if required:
            param["required"] = True
        if v3:
            param["schema"] = {"type": kind, "uniqueItems": True}
        else:
            param["type"] = kind
            param["uniqueItems"] = True
        return param

    def _operation(self, rt: ResourceType, action: str, verb_id: str, ref: str, description: str, v3: bool,
                   params: list[str], body: str | None, body_types: list[str] | None, responses: dict[str, str],
                   kind: str | None = None) -> dict:
        group_tag = (rt.group.split(".")[0] if rt.group else "core") + "_" + rt.version
        op: dict[str, Any] = {
            "tags": [group_tag.replace("-", "")],
            "description": description,
            "operationId": verb_id,
            "parameters": [self._param(p, v3) for p in params],
        }
        body_schema = {"$ref": body} if body else None
        if v3:
            if body_schema is not None:
                op["requestBody"] = {"content": {t: {"schema": body_schema} for t in body_types or ["*/*"]},
                                     "required": True}
            op["responses"] = {
                code: ({"description": text, "content": {t: {"schema": {"$ref": ref}}
                                                         for t in ("application/json", "application/yaml")}}
                       if code != "401" else {"description": text})
                for code, text in responses.items()
            }
        else:
            if body_schema is not None:
                op["parameters"].insert(0, {"name": "body", "in": "body", "required": True, "schema": body_schema})
                op["consumes"] = body_types or ["*/*"]
            op["produces"] = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]
            op["schemes"] = ["https"]
            op["responses"] = {code: ({"description": text, "schema": {"$ref": ref}} if code != "401" else
                                      {"description": text}) for code, text in responses.items()}
        op["x-kubernetes-action"] = action
        op["x-kubernetes-group-version-kind"] = {"group": rt.group, "kind": kind or rt.kind, "version": rt.version}
        return op

    def _paths(self, rt: ResourceType, prefix: str, v3: bool) -> dict[str, dict]:
        name = self.definition_name(rt)
        if name is None:
            return {}
        obj_ref = prefix + name
        list_name = self.definition_name(rt, rt.list_kind) or name
        list_ref = prefix + list_name
        status_ref = prefix + STATUS
        base = f"/api/{rt.version}" if not rt.group else f"/apis/{rt.group}/{rt.version}"
        collection = f"{base}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{base}/{rt.plural}"
        item = collection + "/{name}"
        gv_id = "".join(part.capitalize() for part in (rt.group.split(".")[0] if rt.group else "core",
                                                       rt.version))
        scope = "Namespaced" if rt.namespaced else ""
        patch_types = ["application/json-patch+json", "application/merge-patch+json"]
        if not rt.custom:
            patch_types.append("application/strategic-merge-patch+json")
        patch_types.append("application/apply-patch+yaml")
        write_types = ["*/*"]
        list_params = ["allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit",
                       "resourceVersion", "sendInitialEvents", "timeoutSeconds", "watch"]
        path_params = [self._param("name", v3, "path", True)] if False else []
        namespace_param = [self._param_path("namespace", v3)] if rt.namespaced else []
        paths: dict[str, dict] = {}
        verbs = set(rt.verbs)
        coll: dict[str, Any] = {}
        if "list" in verbs:
            coll["get"] = self._operation(rt, "list", f"list{gv_id}{scope}{rt.kind}", list_ref,
                                          f"list or watch objects of kind {rt.kind}", v3, list_params, None, None,
                                          {"200": "OK", "401": "Unauthorized"})
        if "create" in verbs:
            coll["post"] = self._operation(rt, "post", f"create{gv_id}{scope}{rt.kind}", obj_ref,
                                           f"create a {rt.kind}", v3, ["dryRun", "fieldManager", "fieldValidation"],
                                           obj_ref, write_types,
                                           {"200": "OK", "201": "Created", "202": "Accepted", "401": "Unauthorized"})
        if "deletecollection" in verbs:
            coll["delete"] = self._operation(rt, "deletecollection", f"deleteCollection{gv_id}{scope}{rt.kind}",
                                             status_ref, f"delete collection of {rt.kind}", v3,
                                             ["continue", "dryRun", "fieldSelector", "gracePeriodSeconds",
                                              "labelSelector", "limit", "propagationPolicy", "resourceVersion",
                                              "timeoutSeconds"], prefix + DELETE_OPTIONS, write_types,
                                             {"200": "OK", "401": "Unauthorized"})
        if coll:
            coll["parameters"] = namespace_param + [self._param("pretty", v3)]
            paths[collection] = coll
        one: dict[str, Any] = {}
        if "get" in verbs:
            one["get"] = self._operation(rt, "get", f"read{gv_id}{scope}{rt.kind}", obj_ref,
                                         f"read the specified {rt.kind}", v3, [], None, None,
                                         {"200": "OK", "401": "Unauthorized"})
        if "update" in verbs:
            one["put"] = self._operation(rt, "put", f"replace{gv_id}{scope}{rt.kind}", obj_ref,
                                         f"replace the specified {rt.kind}", v3,
                                         ["dryRun", "fieldManager", "fieldValidation"], obj_ref, write_types,
                                         {"200": "OK", "201": "Created", "401": "Unauthorized"})
        if "delete" in verbs:
            one["delete"] = self._operation(rt, "delete", f"delete{gv_id}{scope}{rt.kind}", status_ref,
                                            f"delete a {rt.kind}", v3,
                                            ["dryRun", "gracePeriodSeconds", "propagationPolicy"],
                                            prefix + DELETE_OPTIONS, write_types,
                                            {"200": "OK", "202": "Accepted", "401": "Unauthorized"})
        if "patch" in verbs:
            one["patch"] = self._operation(rt, "patch", f"patch{gv_id}{scope}{rt.kind}", obj_ref,
                                           f"partially update the specified {rt.kind}", v3,
                                           ["dryRun", "fieldManager", "fieldValidation", "force"], prefix + PATCH,
                                           patch_types, {"200": "OK", "201": "Created", "401": "Unauthorized"})
        if one:
            one["parameters"] = [self._param_path("name", v3)] + namespace_param + [self._param("pretty", v3)]
            paths[item] = one
        del path_params
        for sub in rt.subresources:
            if sub not in ("status", "scale"):
                continue
            ref = obj_ref if sub == "status" else prefix + SCALE
            sub_kind = rt.kind if sub == "status" else "Scale"
            sub_rt = rt if sub == "status" else ResourceType("autoscaling", "v1", "Scale", "scale")
            suffix = "Status" if sub == "status" else "Scale"
            ops: dict[str, Any] = {
                "get": self._operation(sub_rt, "get", f"read{gv_id}{scope}{rt.kind}{suffix}", ref,
                                       f"read {sub} of the specified {rt.kind}", v3, [], None, None,
                                       {"200": "OK", "401": "Unauthorized"}, kind=sub_kind),
                "put": self._operation(sub_rt, "put", f"replace{gv_id}{scope}{rt.kind}{suffix}", ref,
                                       f"replace {sub} of the specified {rt.kind}", v3,
                                       ["dryRun", "fieldManager", "fieldValidation"], ref, write_types,
                                       {"200": "OK", "201": "Created", "401": "Unauthorized"}, kind=sub_kind),
                "patch": self._operation(sub_rt, "patch", f"patch{gv_id}{scope}{rt.kind}{suffix}", ref,
                                         f"partially update {sub} of the specified {rt.kind}", v3,
                                         ["dryRun", "fieldManager", "fieldValidation", "force"], prefix + PATCH,
                                         patch_types, {"200": "OK", "201": "Created", "401": "Unauthorized"},
                                         kind=sub_kind),
            }
            if sub == "scale":
                for op in ops.values():
                    op["x-kubernetes-group-version-kind"] = {"group": "autoscaling", "kind": "Scale",
                                                             "version": "v1"}
            ops["parameters"] = [self._param_path("name", v3)] + namespace_param + [self._param("pretty", v3)]
            paths[f"{item}/{sub}"] = ops
        if rt.namespaced and "list" in verbs:
            paths[f"{base}/{rt.plural}"] = {
                "get": self._operation(rt, "list", f"list{gv_id}{rt.kind}ForAllNamespaces", list_ref,
                                       f"list or watch objects of kind {rt.kind}", v3, [], None, None,
                                       {"200": "OK", "401": "Unauthorized"}),
                "parameters": [self._param(p, v3) for p in list_params + ["pretty"]],
            }
        return paths

    def _param_path(self, name: str, v3: bool) -> dict:
        description = "name of the " + ("Namespace" if name == "namespace" else "resource")
        param: dict[str, Any] = {"name": name, "in": "path", "description": description, "required": True}
        if v3:
            param["schema"] = {"type": "string", "uniqueItems": True}
        else:
            param["type"] = "string"
            param["uniqueItems"] = True
        return param

    def _roots_and_extra(self, types: list[ResourceType]) -> tuple[list[str], dict[str, dict]]:
        roots = list(COMMON)
        extra: dict[str, dict] = {}
        for rt in types:
            if rt.custom:
                extra.update(self._custom_definitions(rt))
            for kind in (rt.kind, rt.list_kind):
                name = self.definition_name(rt, kind)
                if name:
                    roots.append(name)
            if rt.has_scale:
                roots.append(SCALE)
        return roots, extra

    # -- documents ----------------------------------------------------------------------------

    def _cached(self, key: Any, build: Any) -> Any:
        with self._lock:
            if self._cache_generation != self._resources.generation:
                self._cache.clear()
                self._cache_generation = self._resources.generation
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]

    def v3_document(self, group: str, version: str) -> tuple[bytes, str] | None:
        """``(json bytes, hash)`` of ``/openapi/v3/api[s]/<group>/<version>``, None for an unknown one."""
        def build() -> tuple[bytes, str] | None:
            types = [rt for rt in self._resources.in_group_version(group, version)]
            if not types:
                return None
            prefix = "#/components/schemas/"
            paths: dict[str, Any] = {}
            for rt in types:
                paths.update(self._paths(rt, prefix, True))
            roots, extra = self._roots_and_extra(types)
            document = {
                "openapi": "3.0.0",
                "info": {"title": "Kubernetes", "version": self._git_version.split("-")[0]},
                "paths": dict(sorted(paths.items())),
                "components": {
                    "schemas": self._definitions(roots, extra, prefix, True),
                    "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer Token "
                                                        "authentication", "name": "authorization", "in": "header"}},
                },
            }
            body = json.dumps(document, separators=(",", ":")).encode()
            return body, hashlib.sha512(body).hexdigest().upper()

        return self._cached(("v3", group, version), build)

    def v3_root(self) -> dict:
        """``/openapi/v3``: the server-relative URL of every group/version's document."""
        paths = {}
        for group, versions in self._resources.groups():
            for version in versions:
                document = self.v3_document(group, version)
                if document is None:
                    continue
                key = f"api/{version}" if not group else f"apis/{group}/{version}"
                paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={document[1]}"}
        return {"paths": paths}

    def v2_document(self) -> bytes:
        def build() -> bytes:
            prefix = "#/definitions/"
            paths: dict[str, Any] = {}
            types = list(self._resources.all())
            for rt in types:
                paths.update(self._paths(rt, prefix, False))
            roots, extra = self._roots_and_extra(types)
            document = {
                "swagger": "2.0",
                "info": {"title": "Kubernetes", "version": self._git_version.split("-")[0]},
                "paths": dict(sorted(paths.items())),
                "definitions": self._definitions(roots, extra, prefix, False),
                "securityDefinitions": {"BearerToken": {"description": "Bearer Token authentication",
                                                        "type": "apiKey", "name": "authorization",
                                                        "in": "header"}},
                "security": [{"BearerToken": []}],
            }
            return json.dumps(document, separators=(",", ":")).encode()

        return self._cached(("v2",), build)
