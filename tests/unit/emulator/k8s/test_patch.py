"""emulator.k8s.patch: JSON patch, JSON merge patch and strategic merge patch."""

from __future__ import annotations

import copy

import pytest

from emulator.k8s.patch import (
    GENERIC_422,
    PatchError,
    copy_json,
    go_format,
    json_equal,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)
from emulator.k8s.schema import Schemas, SchemaNode


@pytest.fixture(scope="module")
def schemas():
    return Schemas.for_version("1.35")


@pytest.fixture(scope="module")
def pod(schemas):
    return schemas.node_for("v1", "Pod")


@pytest.fixture(scope="module")
def deployment(schemas):
    return schemas.node_for("apps/v1", "Deployment")


def pure(fn, obj, patch, *args):
    """Apply, checking that neither input was modified."""
    before_obj, before_patch = copy.deepcopy(obj), copy.deepcopy(patch)
    result = fn(obj, patch, *args)
    assert obj == before_obj
    assert patch == before_patch
    return result


# == helpers ============================================================================
def test_json_equal_keeps_booleans_apart_from_numbers():
    assert json_equal({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]})
    assert not json_equal(True, 1)
    assert not json_equal(0, False)
    assert not json_equal({"a": 1}, {"a": 1, "b": 2})
    assert not json_equal([1, 2], [2, 1])
    assert not json_equal("1", 1)


def test_copy_json_is_deep():
    original = {"a": [{"b": 1}]}
    copied = copy_json(original)
    copied["a"][0]["b"] = 2
    assert original == {"a": [{"b": 1}]}


def test_go_format_prints_like_go():
    assert go_format({"name": "x", "image": 80, "on": True, "n": None}) == "map[image:80 n:<nil> name:x on:true]"
    assert go_format([1, 2.5, 3.0, "a"]) == "[1 2.5 3 a]"


# == JSON patch =========================================================================
def test_json_patch_all_operations():
    obj = {"metadata": {"labels": {"app": "web"}}, "spec": {"ports": [80, 443]}}
    ops = [
        {"op": "test", "path": "/metadata/labels/app", "value": "web"},
        {"op": "add", "path": "/metadata/labels/tier", "value": "front"},
        {"op": "replace", "path": "/spec/ports/0", "value": 8080},
        {"op": "add", "path": "/spec/ports/-", "value": 9090},
        {"op": "add", "path": "/spec/ports/1", "value": 1},
        {"op": "copy", "from": "/metadata/labels", "path": "/spec/selector"},
        {"op": "move", "from": "/metadata/labels/tier", "path": "/metadata/annotations"},
        {"op": "remove", "path": "/spec/ports/2"},
    ]
    result = pure(json_patch, obj, ops)
    assert result == {
        "metadata": {"labels": {"app": "web"}, "annotations": "front"},
        "spec": {"ports": [8080, 1, 9090], "selector": {"app": "web", "tier": "front"}},
    }


def test_json_patch_escaped_tokens():
    obj = {"metadata": {"annotations": {"example.com/a~b": "1"}}}
    result = json_patch(obj, [{"op": "replace", "path": "/metadata/annotations/example.com~1a~0b", "value": "2"},
                              {"op": "add", "path": "/metadata/annotations/x~1y", "value": "3"}])
    assert result == {"metadata": {"annotations": {"example.com/a~b": "2", "x/y": "3"}}}


def test_json_patch_failed_test_is_422_with_the_library_message():
    with pytest.raises(PatchError) as err:
        json_patch({"spec": {"replicas": 3}}, [{"op": "test", "path": "/spec/replicas", "value": 2},
                                                {"op": "replace", "path": "/spec/replicas", "value": 5}])
    assert err.value.status == 422
    assert err.value.reason == "Invalid"
    assert str(err.value) == "testing value /spec/replicas failed: test failed"
    assert err.value.status_message == GENERIC_422


def test_json_patch_test_semantics():
    obj = {"a": {"b": None, "n": 1, "f": 1.5, "t": True, "l": [1, {"x": 2}]}}
    ok = [{"op": "test", "path": "/a/missing", "value": None},  # a missing key tests equal to null
          {"op": "test", "path": "/a/b", "value": None},
          {"op": "test", "path": "/a/n", "value": 1},
          {"op": "test", "path": "/a/f", "value": 1.5},
          {"op": "test", "path": "/a/l", "value": [1, {"x": 2}]},
          {"op": "test", "path": "", "value": obj}]
    assert json_patch(obj, ok) == obj
    # numbers compare as JSON text, as the library does: 1.0 is not the stored 1
    for op in ({"op": "test", "path": "/a/t", "value": 1}, {"op": "test", "path": "/a/n"},
               {"op": "test", "path": "/a/n", "value": 1.0}, {"op": "test", "path": "/a/n", "value": True},
               {"op": "test", "path": "/a/l", "value": [{"x": 2}, 1]}):
        with pytest.raises(PatchError, match=r"^testing value /a/\w failed: test failed$"):
            json_patch(obj, [op])


@pytest.mark.parametrize(("op", "message"), [
    ({"op": "add", "path": "/spec/x/y", "value": 1},
     'add operation does not apply: doc is missing path: "/spec/x/y": missing value'),
    ({"op": "add", "path": "", "value": 1}, 'add operation does not apply: doc is missing path: "": missing value'),
    ({"op": "remove", "path": "/spec/nope"},
     "error in remove for path: '/spec/nope': Unable to remove nonexistent key: nope: missing value"),
    ({"op": "remove", "path": "/spec/list/5"},
     "error in remove for path: '/spec/list/5': Unable to access invalid index: 5: invalid index referenced"),
    ({"op": "add", "path": "/spec/list/3", "value": 1},
     "error in add for path: '/spec/list/3': Unable to access invalid index: 3: invalid index referenced"),
    ({"op": "add", "path": "/spec/list/x", "value": 1},
     "error in add for path: '/spec/list/x': value was not a proper array index: 'x': "
     "strconv.Atoi: parsing \"x\": invalid syntax"),
    ({"op": "replace", "path": "/spec/list/2", "value": 1},
     "replace operation does not apply: doc is missing key: /spec/list/2: missing value"),
    ({"op": "move", "from": "/spec/nope", "path": "/spec/x"},
     "error in move for path: 'nope': Unable to remove nonexistent key: nope: missing value"),
    ({"op": "copy", "from": "/nope/x", "path": "/spec/x"},
     "copy operation does not apply: doc is missing from path: /nope/x: missing value"),
    ({"op": "test", "path": "/nope/x", "value": 1},
     "test operation does not apply: is missing path: /nope/x: missing value"),
    ({"op": "frob", "path": "/spec"}, "Unexpected kind: frob"),
    ({"path": "/spec"}, "Unexpected kind: unknown"),
    ({"op": "add", "value": 1}, "add operation failed to decode path: missing value"),
])
def test_json_patch_bad_paths_are_422(op, message):
    obj = {"spec": {"list": [1, 2]}}
    with pytest.raises(PatchError) as err:
        json_patch(obj, [op])
    assert err.value.status == 422
    assert str(err.value) == message
    assert obj == {"spec": {"list": [1, 2]}}


def test_json_patch_library_quirks():
    obj = {"spec": {"list": [1, 2, 3]}}
    # replace of a missing object key adds it; copy of a missing key copies null
    assert json_patch(obj, [{"op": "replace", "path": "/spec/new", "value": 1}])["spec"]["new"] == 1
    assert json_patch(obj, [{"op": "copy", "from": "/spec/nope", "path": "/spec/c"}])["spec"]["c"] is None
    # negative indexes count from the end; add without value adds null
    assert json_patch(obj, [{"op": "remove", "path": "/spec/list/-1"}])["spec"]["list"] == [1, 2]
    assert json_patch(obj, [{"op": "replace", "path": "/spec/list/-3", "value": 0}])["spec"]["list"] == [0, 2, 3]
    assert json_patch(obj, [{"op": "add", "path": "/spec/list/-1", "value": 9}])["spec"]["list"] == [1, 2, 3, 9]
    assert json_patch(obj, [{"op": "add", "path": "/spec/z"}])["spec"]["z"] is None
    # replace of the whole document
    assert json_patch(obj, [{"op": "replace", "path": "", "value": {"a": 1}}]) == {"a": 1}
    with pytest.raises(PatchError, match="replace operation value must be object or array"):
        json_patch(obj, [{"op": "replace", "path": "", "value": 1}])


def test_json_patch_values_are_copied():
    value = {"k": [1]}
    result = json_patch({}, [{"op": "add", "path": "/a", "value": value}, {"op": "add", "path": "/a/k/-", "value": 2}])
    assert result == {"a": {"k": [1, 2]}}
    assert value == {"k": [1]}


@pytest.mark.parametrize(("ops", "message"), [
    ({"op": "add"}, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
    (None, "json: cannot unmarshal null into Go value of type jsonpatch.Patch"),
    (["add"], "json: cannot unmarshal string into Go value of type jsonpatch.Operation"),
])
def test_json_patch_malformed_is_400(ops, message):
    with pytest.raises(PatchError) as err:
        json_patch({}, ops)
    assert (err.value.status, err.value.reason, str(err.value)) == (400, "BadRequest", message)


def test_json_patch_operation_limit():
    with pytest.raises(PatchError) as err:
        json_patch({}, [{"op": "test", "path": "/a", "value": None}] * 10001)
    assert err.value.status == 413
    assert str(err.value) == "The allowed maximum operations in a JSON patch is 10000, got 10001"


def test_json_patch_atomic_on_failure():
    obj = {"a": 1}
    with pytest.raises(PatchError):
        json_patch(obj, [{"op": "replace", "path": "/a", "value": 2}, {"op": "remove", "path": "/b"}])
    assert obj == {"a": 1}


# == JSON merge patch (RFC 7386 appendix A) ==================================================
@pytest.mark.parametrize(("target", "patch", "result"), [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
])
def test_merge_patch_rfc7386_examples(target, patch, result):
    assert pure(merge_patch, target, patch) == result


def test_merge_patch_kubernetes_object():
    obj = {"metadata": {"labels": {"app": "web", "tier": "front"}}, "spec": {"replicas": 1, "ports": [{"port": 80}]}}
    patch = {"metadata": {"labels": {"tier": None, "env": "prod"}}, "spec": {"ports": [{"port": 443}]}}
    assert pure(merge_patch, obj, patch) == {
        "metadata": {"labels": {"app": "web", "env": "prod"}},
        "spec": {"replicas": 1, "ports": [{"port": 443}]},
    }


@pytest.mark.parametrize("patch", [None, "bar", 1, True])
def test_merge_patch_non_object_is_400(patch):
    with pytest.raises(PatchError) as err:
        merge_patch({"a": 1}, patch)
    assert (err.value.status, str(err.value)) == (400, "Invalid JSON Patch")


# == strategic merge patch ==========================================================================
def test_smp_containers_merge_by_name_docs_example(pod):
    obj = {"spec": {"containers": [{"name": "nginx", "image": "nginx-1.0"}]}}
    patch = {"spec": {"containers": [{"name": "log-tailer", "image": "log-tailer-1.0"}]}}
    result = pure(strategic_merge_patch, obj, patch, pod)
    # patch items come before the live items the patch doesn't mention (no $setElementOrder)
    assert result == {"spec": {"containers": [{"name": "log-tailer", "image": "log-tailer-1.0"},
                                              {"name": "nginx", "image": "nginx-1.0"}]}}


def test_smp_merges_an_existing_item_field_by_field(pod):
    obj = {"spec": {"containers": [{"name": "a", "image": "a:1", "ports": [{"containerPort": 80}]},
                                   {"name": "b", "image": "b:1", "args": ["x", "y"]}]}}
    patch = {"spec": {"containers": [{"name": "b", "image": "b:2", "args": ["z"]}]}}
    result = pure(strategic_merge_patch, obj, patch, pod)
    assert result == {"spec": {"containers": [
        {"name": "a", "image": "a:1", "ports": [{"containerPort": 80}]},
        {"name": "b", "image": "b:2", "args": ["z"]},  # args: no strategy, replaced
    ]}}


def test_smp_setelementorder_kubectl_apply_style(pod):
    obj = {"spec": {"containers": [{"name": "a", "image": "a"}, {"name": "b", "image": "b"}]}}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "c"}, {"name": "b"}],
                      "containers": [{"name": "c", "image": "c"}]}}
    result = pure(strategic_merge_patch, obj, patch, pod)
    assert [c["name"] for c in result["spec"]["containers"]] == ["a", "c", "b"]
    assert result["spec"]["containers"][1] == {"name": "c", "image": "c"}


def test_smp_setelementorder_docs_examples(pod):
    containers = [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}, {"name": "c", "image": "3"}]
    obj = {"metadata": {"finalizers": ["a", "b", "c"]}, "spec": {"containers": containers}}
    patch = {"metadata": {"$setElementOrder/finalizers": ["b", "c", "a"]},
             "spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "c"}, {"name": "a"}]}}
    result = pure(strategic_merge_patch, obj, patch, pod)
    assert result["metadata"]["finalizers"] == ["b", "c", "a"]
    assert result["spec"]["containers"] == [{"name": "b", "image": "2"}, {"name": "c", "image": "3"},
                                            {"name": "a", "image": "1"}]


def test_smp_patch_delete_list_item_docs_example(pod):
    obj = {"spec": {"containers": [{"name": "nginx", "image": "nginx-0.9"}, {"name": "log-tailer", "image": "lt"},
                                   {"name": "log-tailer", "image": "dup"}]}}
    patch = {"spec": {"containers": [{"name": "nginx", "image": "nginx-1.0"},
                                     {"$patch": "delete", "name": "log-tailer"}]}}
    result = pure(strategic_merge_patch, obj, patch, pod)
    # every item matching the merge key goes
    assert result == {"spec": {"containers": [{"name": "nginx", "image": "nginx-1.0"}]}}


def test_smp_delete_with_setelementorder_keeps_other_fields(pod):
    obj = {"spec": {"containers": [{"name": "one", "image": "1"}, {"name": "two", "image": "2", "tty": True}]}}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "two"}],
                      "containers": [{"name": "one", "$patch": "delete"}]}}
    assert pure(strategic_merge_patch, obj, patch, pod) == {
        "spec": {"containers": [{"name": "two", "image": "2", "tty": True}]}}


def test_smp_patch_replace_list_docs_example(pod):
    obj = {"spec": {"containers": [{"name": "a", "image": "a"}, {"name": "nginx", "image": "old", "tty": True}]}}
    patch = {"spec": {"containers": [{"name": "nginx", "image": "nginx-1.0"}, {"$patch": "replace"}]}}
    assert pure(strategic_merge_patch, obj, patch, pod) == {
        "spec": {"containers": [{"name": "nginx", "image": "nginx-1.0"}]}}
    # replacing with nothing empties the list
    assert strategic_merge_patch(obj, {"spec": {"containers": [{"$patch": "replace"}]}}, pod) == {
        "spec": {"containers": []}}


def test_smp_patch_replace_and_delete_on_maps(pod, deployment):
    obj = {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"nodeSelector": {"disk": "ssd"}}}
    patch = {"metadata": {"labels": {"$patch": "replace", "c": "3"}}}
    assert pure(strategic_merge_patch, obj, patch, pod) == {
        "metadata": {"labels": {"c": "3"}}, "spec": {"nodeSelector": {"disk": "ssd"}}}
    # $patch: delete on a map leaves it empty (the library returns an empty map)
    dep = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    assert strategic_merge_patch(dep, {"spec": {"strategy": {"rollingUpdate": {"$patch": "delete"}}}}, deployment) == {
        "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {}}}}
    # on a key the object doesn't have, the directive map is dropped
    assert strategic_merge_patch({"spec": {}}, {"spec": {"strategy": {"$patch": "delete"}}}, deployment) == {"spec": {}}
    # the whole object
    assert strategic_merge_patch(obj, {"$patch": "replace", "kind": "Pod"}, pod) == {"kind": "Pod"}
    assert strategic_merge_patch(obj, {"$patch": "delete"}, pod) == {}


def test_smp_null_deletes_a_key(deployment):
    obj = {"spec": {"replicas": 3, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    patch = {"spec": {"strategy": {"rollingUpdate": None}, "replicas": None, "paused": None}}
    assert pure(strategic_merge_patch, obj, patch, deployment) == {"spec": {"strategy": {"type": "RollingUpdate"}}}


def test_smp_new_values_drop_their_nulls_and_directives(pod):
    obj = {"spec": {"containers": [{"name": "a", "image": "a"}]}}
    patch = {"metadata": {"labels": {"x": "1", "y": None}},
             "spec": {"containers": [{"name": "b", "image": "b", "command": None,
                                      "env": [{"name": "E", "value": None}]}]}}
    result = pure(strategic_merge_patch, obj, patch, pod)
    assert result["metadata"] == {"labels": {"x": "1"}}
    assert result["spec"]["containers"][0] == {"name": "b", "image": "b", "env": [{"name": "E"}]}


def test_smp_retain_keys_docs_example(deployment):
    obj = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}}}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert pure(strategic_merge_patch, obj, patch, deployment) == {"spec": {"strategy": {"type": "Recreate"}}}
    # keys the directive lists are kept and merged
    kept = strategic_merge_patch(obj, {"spec": {"strategy": {"$retainKeys": ["type", "rollingUpdate"],
                                                             "rollingUpdate": {"maxUnavailable": 1}}}}, deployment)
    assert kept == {"spec": {"strategy": {"type": "RollingUpdate",
                                          "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}}}}


def test_smp_retain_keys_in_list_items(pod):
    obj = {"spec": {"volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}]}}
    patch = {"spec": {"volumes": [{"name": "data", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/d"}}]}}
    result = pure(strategic_merge_patch, obj, patch, pod)
    assert result["spec"]["volumes"] == [{"name": "data", "hostPath": {"path": "/d"}},
                                         {"name": "cfg", "configMap": {"name": "c"}}]


def test_smp_retain_keys_errors_are_400(deployment):
    obj = {"spec": {"strategy": {"type": "RollingUpdate"}}}
    with pytest.raises(PatchError) as err:
        strategic_merge_patch(obj, {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}, deployment)
    assert (err.value.status, str(err.value)) == (400, "invalid patch format of retainKeys")
    with pytest.raises(PatchError) as err:
        strategic_merge_patch(obj, {"spec": {"strategy": {"$retainKeys": "type"}}}, deployment)
    assert (err.value.status, str(err.value)) == (400, "invalid patch format of retainKeys")


def test_smp_delete_from_primitive_list_docs_example(pod):
    obj = {"metadata": {"finalizers": ["a", "b", "c", "b"]}}
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "c"]}}
    assert pure(strategic_merge_patch, obj, patch, pod) == {"metadata": {"finalizers": ["a"]}}
    # on a list the object doesn't have, nothing happens
    assert strategic_merge_patch({"metadata": {}}, patch, pod) == {"metadata": {}}


def test_smp_primitive_set_union_keeps_order(pod):
    obj = {"metadata": {"finalizers": ["a", "b"]}}
    assert pure(strategic_merge_patch, obj, {"metadata": {"finalizers": ["c", "a"]}}, pod) == {
        "metadata": {"finalizers": ["c", "a", "b"]}}
    ordered = {"metadata": {"$setElementOrder/finalizers": ["a", "b", "c"], "finalizers": ["c"]}}
    assert strategic_merge_patch(obj, ordered, pod) == {"metadata": {"finalizers": ["a", "b", "c"]}}


def test_smp_lists_without_strategy_are_replaced(pod):
    obj = {"spec": {"tolerations": [{"key": "a", "operator": "Exists"}],
                    "containers": [{"name": "c", "command": ["sh", "-c"]}]}}
    patch = {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}],
                      "containers": [{"name": "c", "command": ["bash"]}]}}
    assert pure(strategic_merge_patch, obj, patch, pod) == {
        "spec": {"tolerations": [{"key": "b", "operator": "Exists"}],
                 "containers": [{"name": "c", "command": ["bash"]}]}}


def test_smp_replace_strategy_replaces_a_map(schemas):
    pdb = schemas.node_for("policy/v1", "PodDisruptionBudget")
    obj = {"spec": {"selector": {"matchLabels": {"app": "a"},
                                 "matchExpressions": [{"key": "k", "operator": "Exists"}]}}}
    patch = {"spec": {"selector": {"matchLabels": {"app": "b"}}}}
    assert pure(strategic_merge_patch, obj, patch, pdb) == {"spec": {"selector": {"matchLabels": {"app": "b"}}}}


def test_smp_owner_references_merge_by_uid(pod):
    obj = {"metadata": {"ownerReferences": [{"uid": "1", "kind": "ReplicaSet", "name": "rs"}]}}
    patch = {"metadata": {"ownerReferences": [{"uid": "1", "controller": True},
                                              {"uid": "2", "kind": "Job", "name": "j"}]}}
    result = pure(strategic_merge_patch, obj, patch, pod)
    assert result["metadata"]["ownerReferences"] == [
        {"uid": "1", "kind": "ReplicaSet", "name": "rs", "controller": True},
        {"uid": "2", "kind": "Job", "name": "j"},
    ]


def test_smp_ports_merge_on_container_port(pod):
    obj = {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "name": "http"},
                                                           {"containerPort": 443}]}]}}
    patch = {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}
    result = pure(strategic_merge_patch, obj, patch, pod)
    assert result["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "name": "http", "protocol": "TCP"},
                                                        {"containerPort": 443}]


def test_smp_without_schema_is_merge_like():
    obj = {"spec": {"size": 1, "tags": ["a"], "config": {"x": 1, "y": 2}}}
    patch = {"spec": {"tags": ["b"], "config": {"y": None, "z": 3}, "extra": {"k": None, "v": 1}}}
    expected = {"spec": {"size": 1, "tags": ["b"], "config": {"x": 1, "z": 3}, "extra": {"v": 1}}}
    assert pure(strategic_merge_patch, obj, patch, SchemaNode.UNKNOWN) == expected
    assert strategic_merge_patch(obj, patch, None) == expected
    # the directives still work
    assert strategic_merge_patch(obj, {"spec": {"config": {"$patch": "replace", "n": 1}}}, None)["spec"]["config"] == {
        "n": 1}


def test_smp_type_change_takes_the_patch_value(pod):
    obj = {"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"name": "c"}]}}
    assert strategic_merge_patch(obj, {"metadata": {"labels": "x"}}, pod)["metadata"] == {"labels": "x"}


def test_smp_missing_merge_key_is_422(pod):
    obj = {"spec": {"containers": [{"name": "c", "image": "c"}]}}
    with pytest.raises(PatchError) as err:
        strategic_merge_patch(obj, {"spec": {"containers": [{"image": "x"}]}}, pod)
    assert err.value.status == 422
    assert str(err.value) == "map: map[image:x] does not contain declared merge key: name"
    with pytest.raises(PatchError, match="does not contain declared merge key: name"):
        strategic_merge_patch(obj, {"spec": {"containers": [{"$patch": "delete", "image": "x"}]}}, pod)


def test_smp_directive_errors(pod):
    obj = {"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"name": "c"}]}}
    with pytest.raises(PatchError) as err:
        strategic_merge_patch(obj, {"spec": {"containers": [{"$patch": "merge", "name": "c"}]}}, pod)
    assert (err.value.status, str(err.value)) == (422, "merging lists cannot yet be specified in the patch")
    with pytest.raises(PatchError) as err:
        strategic_merge_patch(obj, {"metadata": {"labels": {"$patch": "merge"}}}, pod)
    assert str(err.value) == "unknown patch type: merge in map: map[$patch:merge]"
    with pytest.raises(PatchError) as err:
        strategic_merge_patch(obj, {"spec": {"containers": [{"$patch": "frob", "name": "c"}]}}, pod)
    assert str(err.value) == "unknown patch type: frob in map: map[$patch:frob name:c]"


def test_smp_directive_format_errors_are_400(pod):
    obj = {"metadata": {"finalizers": ["a"]}}
    for patch, message in (
        ({"metadata": {"$setElementOrderX/finalizers": ["a"]}}, "invalid patch format of setElementOrder list"),
        ({"metadata": {"$deleteFromPrimitiveList": ["a"]}}, "invalid patch format of primitive list"),
    ):
        with pytest.raises(PatchError) as err:
            strategic_merge_patch(obj, patch, pod)
        assert (err.value.status, str(err.value)) == (400, message)
    with pytest.raises(PatchError) as err:
        strategic_merge_patch(obj, ["not", "a", "map"], pod)
    assert (err.value.status, str(err.value)) == (400, "invalid JSON document")


def test_smp_setelementorder_mismatch_is_422(pod):
    obj = {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "a"}], "containers": [{"name": "b", "image": "x"}]}}
    with pytest.raises(PatchError) as err:
        strategic_merge_patch(obj, patch, pod)
    assert err.value.status == 422
    assert str(err.value).startswith("The order in patch list:\n[map[image:x name:b]]\n doesn't match "
                                     "$setElementOrder list:\n[map[name:a]]")


def test_smp_lists_of_lists_and_mixed_types_are_422(pod):
    obj = {"metadata": {"finalizers": ["a"]}}
    with pytest.raises(PatchError) as err:
        strategic_merge_patch({"metadata": {"finalizers": [["a"]]}}, {"metadata": {"finalizers": [["b"]]}}, pod)
    assert (err.value.status, str(err.value)) == (422, "lists of lists are not supported")
    with pytest.raises(PatchError) as err:
        strategic_merge_patch(obj, {"metadata": {"finalizers": [["b"]]}}, pod)
    assert str(err.value) == "list element types are not identical: [[a] [[b]]]"
    with pytest.raises(PatchError, match="list element types are not identical"):
        strategic_merge_patch(obj, {"metadata": {"finalizers": [1]}}, pod)


def test_smp_many_items_keep_their_order(pod):
    names = [f"c{i:02d}" for i in range(45)]
    obj = {"spec": {"containers": [{"name": n} for n in names]}}
    order = list(reversed(names))
    patch = {"spec": {"$setElementOrder/containers": [{"name": n} for n in order],
                      "containers": [{"name": n, "image": n} for n in order[::3]]}}
    result = strategic_merge_patch(obj, patch, pod)
    assert [c["name"] for c in result["spec"]["containers"]] == order
    assert result["spec"]["containers"][3] == {"name": order[3], "image": order[3]}
    assert result["spec"]["containers"][1] == {"name": order[1]}


def test_smp_add_and_delete_with_setelementorder_orders_like_the_library(pod):
    # the library deletes and appends in place in the live list's backing array and then orders by it:
    # kubectl apply sends exactly this when a container is added and another removed
    obj = {"spec": {"containers": [{"name": "c1"}, {"name": "c2", "tty": True}, {"name": "c4", "image": "x"}]}}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "c2"}, {"name": "c3"}],
                      "containers": [{"name": "c3"}, {"name": "c1", "$patch": "delete"}]}}
    result = pure(strategic_merge_patch, obj, patch, pod)
    assert result["spec"]["containers"] == [{"name": "c2", "tty": True}, {"name": "c4", "image": "x"}, {"name": "c3"}]


def test_smp_delete_item_keeps_live_only_items_in_place(pod):
    obj = {"spec": {"containers": [{"name": "c1"}, {"name": "c4"}]}}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "c2"}, {"name": "c3"}],
                      "containers": [{"name": "c2"}, {"name": "c3"}, {"name": "c1", "$patch": "delete"}]}}
    assert [c["name"] for c in strategic_merge_patch(obj, patch, pod)["spec"]["containers"]] == ["c4", "c2", "c3"]
