"""emulator.k8s.schema: Kubernetes' OpenAPI definitions as typed nodes."""

from __future__ import annotations

import logging

import pytest

from emulator.k8s.schema import OBJECT_META, Schemas, SchemaError, SchemaNode


@pytest.fixture(scope="module")
def schemas():
    return Schemas.for_version("1.35")


@pytest.fixture(scope="module")
def deployment(schemas):
    return schemas.node(schemas.definition_for("apps/v1", "Deployment"))


def test_for_version_is_cached_and_normalises_the_version(schemas):
    assert Schemas.for_version("1.35") is schemas
    assert Schemas.for_version("v1.35.4") is schemas
    assert schemas.version == "1.35"
    assert schemas.path.name == "_definitions.json"
    assert schemas.path.parent.name == "v1.35.0-local"


def test_unknown_version_falls_back_to_the_nearest_with_a_warning(caplog):
    available = Schemas.available_versions()
    assert "1.35" in available
    newest = available[-1]
    with caplog.at_level(logging.WARNING, logger="emulator.k8s.schema"):
        far = Schemas.for_version("1.99")
    assert far.version == newest
    assert far.requested == "1.99"
    assert "no schemas for Kubernetes 1.99 in kubernetes_validate" in caplog.text
    assert f"using {newest}" in caplog.text
    assert Schemas.for_version("1.1").version == available[0]


def test_malformed_version_is_a_clear_error():
    with pytest.raises(SchemaError, match="not a Kubernetes version: 'latest'"):
        Schemas.for_version("latest")


def test_definition_for_uses_the_group_version_kind(schemas):
    assert schemas.definition_for("apps/v1", "Deployment") == "io.k8s.api.apps.v1.Deployment"
    assert schemas.definition_for("v1", "ConfigMap") == "io.k8s.api.core.v1.ConfigMap"
    assert schemas.definition_for("rbac.authorization.k8s.io/v1", "ClusterRole") == (
        "io.k8s.api.rbac.v1.ClusterRole")
    assert schemas.definition_for("apps/v1", "NoSuchKind") is None
    assert schemas.definition_for("v1", "DeleteOptions") == "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"
    assert schemas.node_for("example.com/v1", "Widget") is SchemaNode.UNKNOWN
    kinds = {(g, v, k) for g, v, k, _ in schemas.kinds()}
    assert ("apps", "v1", "StatefulSet") in kinds


def test_definitions_are_the_raw_defs(schemas):
    defs = schemas.definitions()
    assert defs["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert defs["io.k8s.api.apps.v1.Deployment"]["properties"]["spec"]["$ref"] == (
        "#/$defs/io.k8s.api.apps.v1.DeploymentSpec")


def test_node_is_shared_and_refs_resolve_lazily(schemas, deployment):
    assert schemas.node("io.k8s.api.apps.v1.Deployment") is deployment
    assert schemas.node("#/$defs/io.k8s.api.apps.v1.Deployment") is deployment
    assert deployment.kind == "map"
    assert deployment.type == "object"
    assert list(deployment.properties) == ["apiVersion", "kind", "metadata", "spec", "status"]
    assert deployment.field("spec") is schemas.node("io.k8s.api.apps.v1.DeploymentSpec")
    assert deployment.gvk == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    with pytest.raises(SchemaError, match="no definition 'io.k8s.Nope'"):
        schemas.node("io.k8s.Nope")


def test_containers_are_a_map_list_keyed_by_name(deployment):
    containers = deployment.walk(["spec", "template", "spec", "containers"])
    assert containers.kind == "list"
    assert containers.list_type == "map"
    assert containers.list_map_keys == ("name",)
    assert containers.patch_strategy == "merge"
    assert containers.patch_merge_key == "name"
    assert containers.items.target.name == "io.k8s.api.core.v1.Container"
    ports = containers.items.field("ports")
    assert ports.list_map_keys == ("containerPort", "protocol")
    assert ports.patch_merge_key == "containerPort"
    assert ports.key_default("protocol") == "TCP"
    assert ports.key_default("containerPort") is None
    assert containers.items.field("args").list_type == "atomic"
    assert containers.items.field("args").items.kind == "scalar"


def test_object_meta_special_fields(deployment):
    meta = deployment.field("metadata")
    assert meta.target.name == OBJECT_META
    labels = meta.field("labels")
    assert (labels.kind, labels.map_type) == ("map", "granular")
    assert labels.additional_properties.type == "string"
    assert labels.property("app.kubernetes.io/name").kind == "scalar"
    assert meta.field("annotations").map_type == "granular"
    assert meta.field("finalizers").list_type == "set"
    assert meta.field("finalizers").patch_strategy == "merge"
    assert meta.field("ownerReferences").list_type == "map"
    assert meta.field("ownerReferences").list_map_keys == ("uid",)
    assert meta.field("ownerReferences").patch_merge_key == "uid"
    assert meta.field("managedFields").list_type == "atomic"
    assert meta.field("creationTimestamp").kind == "scalar"
    assert meta.field("creationTimestamp").format == "date-time"
    assert meta.property("nope") is None  # a closed struct
    assert meta.child("nope") is SchemaNode.UNKNOWN


def test_int_or_string_quantity_time_and_raw_extension_are_atomic(schemas, deployment):
    max_surge = deployment.walk(["spec", "strategy", "rollingUpdate", "maxSurge"])
    assert max_surge.kind == "scalar"
    assert max_surge.type == ""
    assert max_surge.int_or_string
    limits = schemas.node("io.k8s.api.core.v1.ResourceRequirements").field("limits")
    assert (limits.kind, limits.map_type) == ("map", "granular")
    assert limits.additional_properties.kind == "scalar"
    assert schemas.node("io.k8s.apimachinery.pkg.api.resource.Quantity").kind == "scalar"
    raw = schemas.node("io.k8s.api.apps.v1.ControllerRevision").field("data")
    assert raw.kind == "atomic"
    assert raw.map_type == "atomic"
    assert raw.list_type == "atomic"


def test_map_type_atomic_and_site_override(schemas, deployment):
    assert deployment.walk(["spec", "selector"]).map_type == "atomic"
    assert schemas.node("io.k8s.api.core.v1.ObjectReference").map_type == "atomic"
    claim_ref = schemas.node("io.k8s.api.core.v1.PersistentVolumeSpec").field("claimRef")
    assert claim_ref.map_type == "granular"  # x-kubernetes-map-type next to the $ref wins
    assert claim_ref.target.name == "io.k8s.api.core.v1.ObjectReference"


def test_patch_strategies(schemas, deployment):
    strategy = deployment.walk(["spec", "strategy"])
    assert strategy.patch_strategy == "retainKeys"
    assert strategy.patch_strategies == ["retainKeys"]
    volumes = schemas.node_for("v1", "Pod").walk(["spec", "volumes"])
    assert volumes.patch_strategies == ["merge", "retainKeys"]
    assert volumes.list_type == "map"
    pdb_selector = schemas.node("io.k8s.api.policy.v1.PodDisruptionBudgetSpec").field("selector")
    assert pdb_selector.patch_strategy == "replace"


def test_fields_v1_is_a_deduced_map(schemas):
    fields = schemas.node("io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry").field("fieldsV1")
    assert fields.kind == "map"
    assert fields.additional_properties is SchemaNode.UNKNOWN


def test_list_type_derived_from_patch_strategy_without_list_type():
    merge_keyed = SchemaNode({"type": "array", "items": {"type": "object"}, "x-kubernetes-patch-strategy": "merge",
                              "x-kubernetes-patch-merge-key": "id"})
    assert (merge_keyed.list_type, merge_keyed.list_map_keys) == ("map", ("id",))
    merge_set = SchemaNode({"type": "array", "items": {"type": "string"}, "x-kubernetes-patch-strategy": "merge"})
    assert (merge_set.list_type, merge_set.list_map_keys) == ("set", ())
    plain = SchemaNode({"type": ["array", "null"], "items": {"type": "string"}})
    assert (plain.list_type, plain.list_map_keys) == ("atomic", ())


def test_unknown_is_deduced():
    unknown = SchemaNode.UNKNOWN
    assert unknown.kind == "deduced"
    assert unknown.is_unknown
    assert unknown.property("anything") is SchemaNode.UNKNOWN
    assert unknown.map_type == "granular"
    assert unknown.list_type == "atomic"
    assert unknown.patch_strategy == ""
    assert SchemaNode({}).kind == "deduced"


CRD_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "replicas": {"type": "integer"},
                "port": {"x-kubernetes-int-or-string": True,
                         "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "items": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name", "zone"],
                    "items": {"type": "object", "properties": {"name": {"type": "string"},
                                                              "zone": {"type": "string", "default": "a"}}},
                },
                "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                             "additionalProperties": {"type": "string"}},
                "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                           "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}},
                "raw": {"x-kubernetes-preserve-unknown-fields": True},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                             "x-kubernetes-preserve-unknown-fields": True},
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
}


def test_from_openapi_v3_crd_schema():
    root = SchemaNode.from_openapi_v3(CRD_SCHEMA)
    assert root.kind == "map"
    assert set(root.properties) == {"spec", "status", "apiVersion", "kind", "metadata"}
    assert root.field("metadata").target.name == OBJECT_META
    assert root.walk(["metadata", "ownerReferences"]).list_map_keys == ("uid",)
    spec = root.field("spec")
    assert spec.property("unknown") is None
    assert spec.field("replicas").type == "integer"
    port = spec.field("port")
    assert (port.kind, port.int_or_string) == ("scalar", True)
    items = spec.field("items")
    assert (items.list_type, items.list_map_keys) == ("map", ("name", "zone"))
    assert items.key_default("zone") == "a"
    assert spec.field("tags").list_type == "set"
    assert spec.field("selector").map_type == "atomic"
    config = spec.field("config")
    assert config.preserve_unknown_fields
    assert config.property("extra") is SchemaNode.UNKNOWN
    # preserve-unknown-fields is inherited by nested objects
    assert config.field("known").property("b") is SchemaNode.UNKNOWN
    assert spec.field("raw").kind == "deduced"
    template = spec.field("template")
    assert template.embedded_resource
    assert template.field("metadata").target.name == OBJECT_META
    assert template.field("kind").type == "string"
    assert template.property("spec") is SchemaNode.UNKNOWN


def test_from_openapi_v3_without_schema_is_unknown():
    assert SchemaNode.from_openapi_v3(None) is SchemaNode.UNKNOWN
    assert SchemaNode.from_openapi_v3({}) is SchemaNode.UNKNOWN
