"""emulator.k8s.ssa: server-side apply and metadata.managedFields."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import pytest

from emulator.k8s.schema import Schemas, SchemaNode
from emulator.k8s.ssa import (
    LAST_APPLIED,
    ApplyConflict,
    ApplyError,
    FieldSet,
    PathElement,
    apply,
    compare,
    decode_managed_fields,
    encode_managed_fields,
    field_set,
    go_json,
    managed_fields_of,
    merge,
    path_string,
    track_update,
)

T0 = "2024-01-01T00:00:00Z"
T1 = "2024-01-01T00:01:00Z"
T2 = "2024-01-01T00:02:00Z"
T3 = "2024-01-01T00:03:00Z"


@pytest.fixture(scope="module")
def schemas():
    return Schemas.for_version("1.35")


@pytest.fixture(scope="module")
def deployment(schemas):
    return schemas.node_for("apps/v1", "Deployment")


@pytest.fixture(scope="module")
def configmap(schemas):
    return schemas.node_for("v1", "ConfigMap")


def nginx(replicas=3, image="nginx:1.14.2", **spec):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx-deployment", "namespace": "default", "labels": {"app": "nginx"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": image, "ports": [{"containerPort": 80}]}]},
            },
            **spec,
        },
    }


def entries(obj):
    return {(e["manager"], e["operation"]): e for e in obj["metadata"].get("managedFields", [])}


def fields(obj, manager, operation="Apply"):
    return entries(obj)[(manager, operation)]["fieldsV1"]


def updated(obj, change):
    new = copy.deepcopy(obj)
    change(new)
    return new


# == fieldsV1 encoding ==========================================================================
def test_apply_deployment_fields_v1_as_the_api_server_emits(deployment):
    obj = apply(None, nginx(), "kubectl", False, deployment, T0)
    assert obj["metadata"]["managedFields"] == [{
        "manager": "kubectl",
        "operation": "Apply",
        "apiVersion": "apps/v1",
        "time": T0,
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {'k:{"name":"nginx"}': {
                        ".": {},
                        "f:image": {},
                        "f:name": {},
                        "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}},
                    }}},
                },
            },
        },
    }]
    # the exact bytes too (Go's encoder keeps this key order)
    text = json.dumps(obj["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:template"]["f:spec"],
                      separators=(",", ":"))
    assert text == ('{"f:containers":{"k:{\\"name\\":\\"nginx\\"}":{".":{},"f:image":{},"f:name":{},'
                    '"f:ports":{"k:{\\"containerPort\\":80,\\"protocol\\":\\"TCP\\"}":'
                    '{".":{},"f:containerPort":{}}}}}}')
    assert obj["spec"]["replicas"] == 3
    assert obj["metadata"]["name"] == "nginx-deployment"


def test_apply_configmap_docs_example(configmap):
    config = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "test-cm", "namespace": "default", "labels": {"test-label": "test"}},
              "data": {"key": "some value"}}
    obj = apply(None, config, "kubectl", False, configmap, datetime(2010, 10, 10, tzinfo=timezone.utc))
    assert obj["metadata"]["managedFields"] == [{
        "manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "time": "2010-10-10T00:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {"f:key": {}}, "f:metadata": {"f:labels": {"f:test-label": {}}}},
    }]
    assert list(obj["metadata"]["managedFields"][0]["fieldsV1"]) == ["f:data", "f:metadata"]
    assert obj["data"] == {"key": "some value"}


def test_fields_v1_round_trip_with_every_element_kind():
    encoded = {
        "f:metadata": {"f:finalizers": {".": {}, 'v:"example.com/a"': {}, "v:3": {}}},
        "f:spec": {"f:ports": {'k:{"port":443,"protocol":"TCP"}': {".": {}, "f:port": {}}, "i:2": {}},
                   "f:x": {"f:y": {}}},
    }
    parsed = FieldSet.from_fields_v1(encoded)
    paths = sorted(path_string(p) for p in parsed.paths())
    assert paths == ['.metadata.finalizers', '.metadata.finalizers[="example.com/a"]', ".metadata.finalizers[=3]",
                     ".spec.ports[2]", '.spec.ports[port=443,protocol="TCP"]',
                     '.spec.ports[port=443,protocol="TCP"].port', ".spec.x.y"]
    assert parsed.to_fields_v1() == {
        "f:metadata": {"f:finalizers": {".": {}, "v:3": {}, 'v:"example.com/a"': {}}},
        "f:spec": {"f:ports": {'k:{"port":443,"protocol":"TCP"}': {".": {}, "f:port": {}}, "i:2": {}},
                   "f:x": {"f:y": {}}},
    }
    # numbers sort before strings (value.Compare), keys inside k: are sorted by name
    assert list(parsed.to_fields_v1()["f:metadata"]["f:finalizers"]) == [".", "v:3", 'v:"example.com/a"']
    assert PathElement.key([("protocol", "TCP"), ("containerPort", 80)]).serialize() == (
        'k:{"containerPort":80,"protocol":"TCP"}')
    # unknown element types are skipped, like the API server does
    assert FieldSet.from_fields_v1({"x:foo": {}, "f:a": {}}).to_fields_v1() == {"f:a": {}}
    with pytest.raises(ValueError, match="missing colon"):
        FieldSet.from_fields_v1({"fa": {}})


def test_key_values_use_go_json():
    pe = PathElement.key([("name", "a<b>&c"), ("n", 1.0)])
    assert pe.serialize() == 'k:{"n":1,"name":"a\\u003cb\\u003e\\u0026c"}'
    assert str(pe) == '[n=1,name="a<b>&c"]'
    assert go_json({"b": 1.5e-7, "a": [True, None, 1e21, 0.000015]}) == '{"a":[true,null,1e+21,0.000015],"b":1.5e-7}'


def test_set_operations():
    f = PathElement.field
    a = FieldSet.of([f("spec"), f("replicas")], [f("spec"), f("paused")], [f("metadata")])
    b = FieldSet.of([f("spec"), f("replicas")], [f("status")])
    assert a.intersection(b) == FieldSet.of([f("spec"), f("replicas")])
    assert a.difference(b) == FieldSet.of([f("spec"), f("paused")], [f("metadata")])
    assert a.union(b).has([f("status")])
    # a member of the other set takes the children away only in a recursive difference
    assert a.difference(FieldSet.of([f("spec")])) == a
    assert a.recursive_difference(FieldSet.of([f("spec")])) == FieldSet.of([f("metadata")])
    assert FieldSet().empty() and not FieldSet()


# == apply: merge semantics ======================================================================
def test_apply_merges_by_list_and_map_types(deployment):
    live = apply(None, nginx(), "a", False, deployment, T0)
    config = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx-deployment", "labels": {"tier": "web"}},
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox", "args": ["sleep"]}]}}},
    }
    obj = apply(live, config, "b", False, deployment, T1)
    # granular maps merge
    assert obj["metadata"]["labels"] == {"app": "nginx", "tier": "web"}
    assert obj["spec"]["selector"] == {"matchLabels": {"app": "nginx"}}
    containers = obj["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["nginx", "sidecar"]
    assert containers[0]["image"] == "nginx:1.14.2"
    assert containers[1] == {"name": "sidecar", "image": "busybox", "args": ["sleep"]}


def test_apply_atomic_map_change_conflicts_and_force_replaces(deployment):
    live = apply(None, nginx(), "a", False, deployment, T0)
    config = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx-deployment"},
              "spec": {"selector": {"matchLabels": {"other": "x"}}}}
    with pytest.raises(ApplyConflict) as err:
        apply(live, config, "b", False, deployment, T1)
    assert err.value.conflicts == [("a", ".spec.selector")]
    assert err.value.message() == 'Apply failed with 1 conflict: conflict with "a": .spec.selector'
    obj = apply(live, config, "b", True, deployment, T1)
    assert obj["spec"]["selector"] == {"matchLabels": {"other": "x"}}
    assert "f:selector" not in fields(obj, "a")["f:spec"]
    assert fields(obj, "b")["f:spec"] == {"f:selector": {}}


def test_apply_sets_are_unions(schemas):
    pod = schemas.node_for("v1", "Pod")
    base = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "finalizers": ["a.io/x"]}}
    live = apply(None, base, "one", False, pod, T0)
    other = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "finalizers": ["b.io/y"]}}
    obj = apply(live, other, "two", False, pod, T1)
    assert obj["metadata"]["finalizers"] == ["a.io/x", "b.io/y"]
    assert fields(obj, "two") == {"f:metadata": {"f:finalizers": {'v:"b.io/y"': {}}}}
    # "one" stops applying its finalizer: only that item goes
    obj = apply(obj, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}, "one", False, pod, T2)
    assert obj["metadata"]["finalizers"] == ["b.io/y"]
    assert ("one", "Apply") not in entries(obj)


def test_apply_atomic_lists_are_replaced(deployment):
    config = nginx()
    config["spec"]["template"]["spec"]["containers"][0]["args"] = ["a", "b"]
    live = apply(None, config, "kubectl", False, deployment, T0)
    config["spec"]["template"]["spec"]["containers"][0]["args"] = ["c"]
    obj = apply(live, config, "kubectl", False, deployment, T1)
    assert obj["spec"]["template"]["spec"]["containers"][0]["args"] == ["c"]
    container = fields(obj, "kubectl")["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"nginx"}']
    assert container["f:args"] == {}


def test_merge_list_order_follows_structured_merge_diff(deployment):
    containers = deployment.walk(["spec", "template", "spec", "containers"])
    live = [{"name": n} for n in ("a", "b", "c", "d")]
    config = [{"name": n, "image": n} for n in ("d", "e", "b")]
    out = merge(live, config, containers)
    # shared items (d, b) in the config's order, live-only items (a, c) kept before the shared item that
    # followed them, new items (e) where the config has them; traced by hand through typed/merge.go
    assert [c["name"] for c in out] == ["a", "c", "d", "e", "b"]
    assert out[2] == {"name": "d", "image": "d"}
    assert out[4] == {"name": "b", "image": "b"}


def test_ports_are_keyed_with_the_default_protocol(schemas):
    svc = schemas.node_for("v1", "Service")
    config = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
              "spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 53, "protocol": "UDP"}]}}
    obj = apply(None, config, "kubectl", False, svc, T0)
    assert fields(obj, "kubectl")["f:spec"]["f:ports"] == {
        'k:{"port":53,"protocol":"UDP"}': {".": {}, "f:port": {}, "f:protocol": {}},
        'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}, "f:targetPort": {}},
    }


# == apply: ownership =================================================================================
def test_conflict_with_client_side_apply_on_replicas(deployment):
    created = nginx()
    created["metadata"]["uid"] = "u-1"
    live = track_update(None, created, "kubectl-client-side-apply", deployment, T0)
    assert entries(live)[("kubectl-client-side-apply", "Update")]["fieldsV1"]["f:spec"]["f:replicas"] == {}
    with pytest.raises(ApplyConflict) as err:
        apply(live, nginx(replicas=5), "my-applier", False, deployment, T1)
    conflict = err.value
    assert conflict.status == 409
    assert conflict.reason == "Conflict"
    assert conflict.conflicts == [("kubectl-client-side-apply", ".spec.replicas")]
    assert conflict.message() == ('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" '
                                  "using apps/v1: .spec.replicas")
    assert str(conflict) == conflict.message()
    assert conflict.status_object() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": conflict.message(), "reason": "Conflict",
        "details": {"causes": [{"type": "FieldManagerConflict",
                                "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
                                "field": ".spec.replicas"}]},
        "code": 409,
    }
    # the same value is no conflict: the field becomes shared
    shared = apply(live, nginx(replicas=3), "my-applier", False, deployment, T1)
    assert "f:replicas" in fields(shared, "my-applier")["f:spec"]
    assert "f:replicas" in fields(shared, "kubectl-client-side-apply", "Update")["f:spec"]


def test_force_moves_ownership(deployment):
    live = track_update(None, nginx(), "kubectl-client-side-apply", deployment, T0)
    obj = apply(live, nginx(replicas=5), "my-applier", True, deployment, T1)
    assert obj["spec"]["replicas"] == 5
    assert "f:replicas" in fields(obj, "my-applier")["f:spec"]
    assert "f:replicas" not in fields(obj, "kubectl-client-side-apply", "Update")["f:spec"]


def test_multiple_conflicts_message(deployment):
    live = apply(None, nginx(), "a", False, deployment, T0)
    live = apply(live, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx-deployment"},
                        "spec": {"paused": True}}, "b", False, deployment, T1)
    config = nginx(replicas=1, image="nginx:2", paused=False)
    with pytest.raises(ApplyConflict) as err:
        apply(live, config, "c", False, deployment, T2)
    assert err.value.conflicts == [
        ("a", ".spec.replicas"),
        ("a", '.spec.template.spec.containers[name="nginx"].image'),
        ("b", ".spec.paused"),
    ]
    assert err.value.message() == (
        'Apply failed with 3 conflicts: conflicts with "a":\n- .spec.replicas\n'
        '- .spec.template.spec.containers[name="nginx"].image\nconflicts with "b":\n- .spec.paused')


def test_kubectl_takes_over_client_side_apply_fields(deployment):
    created = nginx()
    created["metadata"]["annotations"] = {LAST_APPLIED: go_json(nginx()) + "\n"}
    created["metadata"]["uid"] = "u-1"
    live = track_update(None, created, "kubectl-client-side-apply", deployment, T0)
    # `kubectl apply --server-side` (manager "kubectl") may change what its last client-side apply set
    obj = apply(live, nginx(replicas=5), "kubectl", False, deployment, T1)
    assert obj["spec"]["replicas"] == 5
    assert "f:replicas" in fields(obj, "kubectl")["f:spec"]
    assert "f:replicas" not in fields(obj, "kubectl-client-side-apply", "Update")["f:spec"]
    # and the annotation follows the applied configuration
    assert obj["metadata"]["annotations"][LAST_APPLIED] == go_json(nginx(replicas=5)) + "\n"
    assert json.loads(obj["metadata"]["annotations"][LAST_APPLIED])["spec"]["replicas"] == 5
    # unless the live value no longer is the last applied one
    drifted = updated(live, lambda o: o["metadata"]["annotations"].update({LAST_APPLIED: go_json(nginx(replicas=2))}))
    with pytest.raises(ApplyConflict, match=r'"kubectl-client-side-apply" using apps/v1: \.spec\.replicas'):
        apply(drifted, nginx(replicas=5), "kubectl", False, deployment, T1)


def test_field_the_applier_stops_setting_is_removed(deployment):
    config = nginx()
    config["metadata"]["labels"]["tier"] = "web"
    config["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox"})
    live = apply(None, config, "kubectl", False, deployment, T0)
    assert live["metadata"]["labels"] == {"app": "nginx", "tier": "web"}
    obj = apply(live, nginx(), "kubectl", False, deployment, T1)
    assert obj["metadata"]["labels"] == {"app": "nginx"}
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["nginx"]
    assert "f:tier" not in fields(obj, "kubectl")["f:metadata"]["f:labels"]
    # dropping replicas from the config removes it (nobody else owns it)
    no_replicas = nginx()
    del no_replicas["spec"]["replicas"]
    obj = apply(obj, no_replicas, "kubectl", False, deployment, T2)
    assert "replicas" not in obj["spec"]


def test_shared_field_stays_when_one_applier_stops(deployment):
    live = apply(None, nginx(), "first", False, deployment, T0)
    live = apply(live, nginx(), "second", False, deployment, T1)  # same values: shared ownership
    no_replicas = nginx()
    del no_replicas["spec"]["replicas"]
    obj = apply(live, no_replicas, "first", False, deployment, T2)
    assert obj["spec"]["replicas"] == 3
    assert "f:replicas" not in fields(obj, "first")["f:spec"]
    assert "f:replicas" in fields(obj, "second")["f:spec"]
    # once the last owner lets go, it's removed
    obj = apply(obj, no_replicas, "second", False, deployment, T3)
    assert "replicas" not in obj["spec"]


def test_field_taken_by_an_update_stays_when_the_applier_drops_it(deployment):
    live = apply(None, nginx(), "kubectl", False, deployment, T0)
    scaled = track_update(live, updated(live, lambda o: o["spec"].update(replicas=7)), "hpa", deployment, T1)
    assert "f:replicas" not in fields(scaled, "kubectl")["f:spec"]
    assert fields(scaled, "hpa", "Update") == {"f:spec": {"f:replicas": {}}}
    no_replicas = nginx()
    del no_replicas["spec"]["replicas"]
    obj = apply(scaled, no_replicas, "kubectl", False, deployment, T2)
    assert obj["spec"]["replicas"] == 7


def test_noop_apply_keeps_object_and_time(deployment):
    live = apply(None, nginx(), "kubectl", False, deployment, T0)
    again = apply(live, nginx(), "kubectl", False, deployment, T1)
    assert again == live
    assert entries(again)[("kubectl", "Apply")]["time"] == T0


def test_status_is_not_applied_on_the_main_resource(deployment):
    config = nginx()
    config["status"] = {"replicas": 9}
    live = apply(None, config, "kubectl", False, deployment, T0)
    assert "status" not in live
    assert "f:status" not in fields(live, "kubectl")
    live = updated(live, lambda o: o.update(status={"replicas": 1}))
    obj = apply(live, config, "kubectl", False, deployment, T1)
    assert obj["status"] == {"replicas": 1}
    # the status subresource applies only status
    status_config = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx-deployment"},
                     "spec": {"replicas": 100}, "status": {"replicas": 3, "readyReplicas": 3}}
    obj = apply(obj, status_config, "controller", False, deployment, T2, subresource="status")
    assert obj["status"] == {"replicas": 3, "readyReplicas": 3}
    assert obj["spec"]["replicas"] == 3
    entry = [e for e in obj["metadata"]["managedFields"] if e["manager"] == "controller"][0]
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:status": {"f:readyReplicas": {}, "f:replicas": {}}}


def test_custom_resource_without_status_subresource_applies_status():
    crd = SchemaNode.from_openapi_v3({"type": "object", "properties": {
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "status": {"type": "object", "properties": {"phase": {"type": "string"}}}}})
    config = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
              "spec": {"size": 1, "nested": {"a": [1, 2], "b": "x"}}, "status": {"phase": "Ready"}}
    obj = apply(None, config, "tool", False, crd, T0, reset_fields=())
    assert obj["status"] == {"phase": "Ready"}
    # unknown fields are deduced: maps granular (their undeclared keys are members), lists atomic
    assert fields(obj, "tool") == {
        "f:spec": {"f:nested": {".": {}, "f:a": {}, "f:b": {}}, "f:size": {}},
        "f:status": {"f:phase": {}},
    }


def test_apply_creates_without_tracking_server_fields(deployment):
    config = nginx()
    config["metadata"].update(uid="x", resourceVersion="1", generation=1, creationTimestamp="2020-01-01T00:00:00Z")
    obj = apply(None, config, "kubectl", False, deployment, T0)
    assert fields(obj, "kubectl")["f:metadata"] == {"f:labels": {"f:app": {}}}


def test_before_first_apply_owns_an_untracked_object(deployment):
    live = nginx()
    live["metadata"]["uid"] = "u-1"
    obj = apply(live, nginx(image="nginx:2"), "kubectl", True, deployment, T1)
    managers = entries(obj)
    assert set(managers) == {("kubectl", "Apply"), ("before-first-apply", "Update")}
    container = fields(obj, "before-first-apply", "Update")["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert "f:image" not in container['k:{"name":"nginx"}']
    assert "f:replicas" in fields(obj, "before-first-apply", "Update")["f:spec"]
    with pytest.raises(ApplyConflict, match='conflict with "before-first-apply" using apps/v1'):
        apply(live, nginx(image="nginx:2"), "kubectl", False, deployment, T1)


# == apply: errors ===============================================================================
def test_config_not_in_the_schema_is_rejected_like_the_api_server(deployment):
    bad = nginx()
    bad["spec"]["replica"] = 3
    with pytest.raises(ApplyError) as err:
        apply(None, bad, "kubectl", False, deployment, T0)
    assert (err.value.status, err.value.reason) == (500, "")
    assert str(err.value) == ("failed to create typed patch object (default/nginx-deployment; apps/v1, "
                              "Kind=Deployment): .spec.replica: field not declared in schema")
    wrong_type = nginx(replicas="three")
    with pytest.raises(ApplyError, match=r"\.spec\.replicas: expected numeric \(int or float\), got string"):
        apply(None, wrong_type, "kubectl", False, deployment, T0)
    duplicated = nginx()
    duplicated["spec"]["template"]["spec"]["containers"].append({"name": "nginx", "image": "x"})
    with pytest.raises(ApplyError) as err:
        apply(None, duplicated, "kubectl", False, deployment, T0)
    assert str(err.value).endswith('.spec.template.spec.containers: duplicate entries for key [name="nginx"]')
    unnamed = nginx()
    unnamed["spec"]["template"]["spec"]["containers"][0].pop("name")
    with pytest.raises(ApplyError, match=r'element 0: associative list with keys has an element that omits all '
                                         r'key fields \["name"\]'):
        apply(None, unnamed, "kubectl", False, deployment, T0)


def test_managed_fields_in_the_config_is_400(deployment):
    config = nginx()
    config["metadata"]["managedFields"] = []
    with pytest.raises(ApplyError) as err:
        apply(None, config, "kubectl", False, deployment, T0)
    assert (err.value.status, err.value.reason, str(err.value)) == (400, "BadRequest",
                                                                     "metadata.managedFields must be nil")


# == track_update ============================================================================
def test_create_records_the_fields_with_go_zero_values(deployment):
    created = nginx()
    created["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}}
    obj = track_update(None, created, "kubectl-create", deployment, T0)
    assert obj["metadata"]["managedFields"] == [{
        "manager": "kubectl-create", "operation": "Update", "apiVersion": "apps/v1", "time": T0,
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}}, "f:type": {}},
                "f:template": {
                    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                    "f:spec": {"f:containers": {'k:{"name":"nginx"}': {
                        ".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {".": {},
                                    'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}},
                    }}},
                },
            },
        },
    }]
    assert created["metadata"].get("managedFields") is None  # inputs untouched


def test_update_moves_changed_fields_and_drops_empty_entries(configmap):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "uid": "u"}, "data": {"a": "1"}}
    live = track_update(None, cm, "creator", configmap, T0)
    assert fields(live, "creator", "Update") == {"f:data": {".": {}, "f:a": {}}}
    edited = track_update(live, updated(live, lambda o: o["data"].update(a="2", b="3")), "editor", configmap, T1)
    assert fields(edited, "creator", "Update") == {"f:data": {}}  # the map itself, a member without children
    assert fields(edited, "editor", "Update") == {"f:data": {"f:a": {}, "f:b": {}}}
    # removing the data map removes it from every manager; the creator's entry is then empty and goes
    emptied = track_update(edited, updated(edited, lambda o: o.pop("data")), "cleaner", configmap, T2)
    assert emptied["metadata"].get("managedFields") is None
    assert "data" not in emptied


def test_update_by_the_same_manager_merges_and_restamps(configmap):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    live = track_update(None, cm, "tool", configmap, T0)
    live = track_update(live, updated(live, lambda o: o["data"].update(b="2")), "tool", configmap, T1)
    assert len(live["metadata"]["managedFields"]) == 1
    assert entries(live)[("tool", "Update")]["time"] == T1
    assert fields(live, "tool", "Update") == {"f:data": {".": {}, "f:a": {}, "f:b": {}}}
    # a write that changes nothing keeps the time
    same = track_update(live, copy.deepcopy(live), "tool", configmap, T2)
    assert entries(same)[("tool", "Update")]["time"] == T1


def test_update_entries_are_per_subresource_and_status_is_separate(deployment):
    live = track_update(None, nginx(), "kubectl-create", deployment, T0)
    with_status = updated(live, lambda o: o.update(status={"replicas": 3}))
    obj = track_update(live, with_status, "kube-controller-manager", deployment, T1, subresource="status")
    entry = [e for e in obj["metadata"]["managedFields"] if e["manager"] == "kube-controller-manager"][0]
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:status": {".": {}, "f:replicas": {}}}
    # a main-resource write doesn't record status
    other = track_update(obj, updated(obj, lambda o: o["status"].update(replicas=4)), "someone", deployment, T2)
    assert ("someone", "Update") not in entries(other)


def test_untracked_existing_object_stays_untracked(configmap):
    live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "uid": "u"}, "data": {"a": "1"}}
    obj = track_update(live, updated(live, lambda o: o["data"].update(a="2")), "editor", configmap, T1)
    assert "managedFields" not in obj["metadata"]
    assert obj["data"] == {"a": "2"}


def test_managed_fields_sent_by_the_client(configmap):
    live = track_update(None, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "uid": "u"},
                               "data": {"a": "1"}}, "creator", configmap, T0)
    # an explicit empty list resets them: the object is then untracked (until an apply)
    reset = updated(live, lambda o: (o["metadata"].update(managedFields=[]), o["data"].update(b="2")))
    obj = track_update(live, reset, "editor", configmap, T1)
    assert "managedFields" not in obj["metadata"]
    assert obj["data"] == {"a": "1", "b": "2"}
    # [{}] resets too
    obj = track_update(live, updated(live, lambda o: o["metadata"].update(managedFields=[{}])), "e", configmap, T1)
    assert "managedFields" not in obj["metadata"]
    # managed fields set by the client replace the stored ones
    handed = updated(live, lambda o: o["metadata"].update(managedFields=[{
        "manager": "new-owner", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {"f:a": {}}}}]))
    obj = track_update(live, handed, "kubectl-client-side-apply", configmap, T1)
    assert [e["manager"] for e in obj["metadata"]["managedFields"]] == ["new-owner"]
    # on a subresource they are ignored
    obj = track_update(live, handed, "x", configmap, T1, subresource="status")
    assert [e["manager"] for e in obj["metadata"]["managedFields"]] == ["creator"]


def test_update_managers_are_capped_at_ten(configmap):
    obj = track_update(None, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}},
                       "m00", configmap, "2024-01-01T00:00:00Z")
    for i in range(1, 12):
        obj = track_update(obj, updated(obj, lambda o, i=i: o["data"].update({f"k{i}": "v"})), f"m{i:02d}",
                           configmap, f"2024-01-01T00:{i:02d}:00Z")
    managers = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(managers) == 10
    assert managers[0] == "ancient-changes"
    assert managers[1:] == [f"m{i:02d}" for i in range(3, 12)]
    # m00 (which created the empty data map), m01 and m02 are merged
    assert fields(obj, "ancient-changes", "Update") == {"f:data": {".": {}, "f:k1": {}, "f:k2": {}}}
    assert entries(obj)[("ancient-changes", "Update")]["time"] == "2024-01-01T00:02:00Z"


def test_entries_sorted_like_the_api_server(configmap):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    obj = track_update(None, cm, "zeta", configmap, T0)
    obj = apply(obj, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"b": "2"}},
                "alpha", False, configmap, T2)
    obj = track_update(obj, updated(obj, lambda o: o["data"].update(c="3")), "beta", configmap, T1)
    assert [(e["operation"], e["manager"]) for e in obj["metadata"]["managedFields"]] == [
        ("Apply", "alpha"), ("Update", "zeta"), ("Update", "beta")]
    assert list(obj["metadata"]["managedFields"][0]) == ["manager", "operation", "apiVersion", "time", "fieldsType",
                                                         "fieldsV1"]


def test_decode_errors_match_the_api_server():
    with pytest.raises(ValueError, match="operation must be `Apply` or `Update`"):
        decode_managed_fields([{"manager": "x", "operation": "Patch", "apiVersion": "v1", "fieldsType": "FieldsV1"}])
    with pytest.raises(ValueError, match='invalid fieldsType "FieldsV2" in managed fields entry 0'):
        decode_managed_fields([{"manager": "x", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV2"}])
    decoded = decode_managed_fields([{"manager": "x", "operation": "Update", "apiVersion": "v1",
                                      "fieldsType": "FieldsV1", "fieldsV1": {"f:a": {}}, "time": T0}])
    assert encode_managed_fields(decoded) == [{"manager": "x", "operation": "Update", "apiVersion": "v1", "time": T0,
                                               "fieldsType": "FieldsV1", "fieldsV1": {"f:a": {}}}]


# == building blocks ================================================================================
def test_field_set_and_compare_follow_structured_merge_diff(deployment):
    value = nginx()
    value["metadata"]["annotations"] = {}
    fs = field_set(value, deployment)
    paths = {path_string(p) for p in fs.paths()}
    assert ".metadata.annotations" in paths  # an empty map is a member
    assert ".spec.template" not in paths  # a struct with children is not
    assert '.spec.template.spec.containers[name="nginx"]' in paths  # a list item always is
    cmp = compare(nginx(), nginx(replicas=4, image="x"), deployment)
    assert {path_string(p) for p in cmp.modified.paths()} == {
        ".spec.replicas", '.spec.template.spec.containers[name="nginx"].image'}
    assert cmp.added.empty() and cmp.removed.empty()


def test_managed_fields_of(deployment):
    obj = apply(None, nginx(), "kubectl", False, deployment, T0)
    owned = managed_fields_of(obj, "kubectl")
    assert owned.has([PathElement.field("spec"), PathElement.field("replicas")])
    assert managed_fields_of(obj, "nobody").empty()


def test_apply_and_track_update_are_pure(deployment):
    live = apply(None, nginx(), "kubectl", False, deployment, T0)
    snapshot = copy.deepcopy(live)
    config = nginx(replicas=2)
    config_snapshot = copy.deepcopy(config)
    apply(live, config, "kubectl", False, deployment, T1)
    track_update(live, config, "x", deployment, T1)
    assert live == snapshot
    assert config == config_snapshot


def test_dropped_list_item_goes_even_with_fields_owned_by_others(deployment):
    config = nginx()
    config["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox"})
    live = apply(None, config, "kubectl", False, deployment, T0)
    patched = updated(live, lambda o: o["spec"]["template"]["spec"]["containers"][1].update(image="busybox:2"))
    live = track_update(live, patched, "injector", deployment, T1)
    assert fields(live, "injector", "Update")["f:spec"]["f:template"]["f:spec"]["f:containers"] == {
        'k:{"name":"sidecar"}': {"f:image": {}}}
    obj = apply(live, nginx(), "kubectl", False, deployment, T2)
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["nginx"]
    assert ("injector", "Update") not in entries(obj)


def test_label_added_by_an_update_survives_the_applier(deployment):
    config = nginx()
    config["metadata"]["labels"]["tier"] = "web"
    live = apply(None, config, "kubectl", False, deployment, T0)
    live = track_update(live, updated(live, lambda o: o["metadata"]["labels"].update(owner="ops")), "ops",
                        deployment, T1)
    obj = apply(live, nginx(), "kubectl", False, deployment, T2)
    assert obj["metadata"]["labels"] == {"app": "nginx", "owner": "ops"}
    # applying nothing but the name takes away everything kubectl alone owned (the whole spec); what pruning
    # empties becomes absent, not null
    obj = apply(obj, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx-deployment"}},
                "kubectl", False, deployment, T3)
    assert obj["metadata"]["labels"] == {"owner": "ops"}
    assert "spec" not in obj
    assert obj["metadata"]["namespace"] == "default"
    assert [e["manager"] for e in obj["metadata"]["managedFields"]] == ["ops"]


def test_apply_without_schema_and_argument_errors():
    obj = apply(None, {"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"}, "spec": {"l": [1], "m": {"k": 1}}},
                "tool", False, None, T0)
    assert fields(obj, "tool") == {"f:spec": {".": {}, "f:l": {}, "f:m": {".": {}, "f:k": {}}}}
    with pytest.raises(ApplyError) as err:
        apply(None, {"kind": "X"}, "", False, None, T0)
    assert err.value.status == 422
    assert "fieldManager: Required value" in str(err.value)
    with pytest.raises(ApplyError) as err:
        apply(None, ["not", "an", "object"], "tool", False, None, T0)
    assert err.value.status == 400


def test_unknown_null_becomes_a_map_field_by_field():
    crd = SchemaNode.from_openapi_v3({"type": "object", "properties": {
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}})
    old = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"extra": None}}
    old = track_update(None, old, "creator", crd, T0)
    new = updated(old, lambda o: o["spec"].update(extra={"a": 1}))
    obj = track_update(old, new, "editor", crd, T1)
    # null is a wildcard for an unknown field: the map's entry is added, the field itself not replaced
    assert fields(obj, "editor", "Update") == {"f:spec": {"f:extra": {"f:a": {}}}}
    assert fields(obj, "creator", "Update") == {"f:spec": {".": {}, "f:extra": {}}}
