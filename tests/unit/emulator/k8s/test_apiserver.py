"""The API server over real HTTPS: the Python ``kubernetes`` client (dynamic and typed) and raw requests."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.dynamic.exceptions import ApiException, ConflictError, NotFoundError

from .conftest import ADMIN_TOKEN, VIEWER_TOKEN, Cluster

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
AGGREGATED = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")


def raw(cluster: Cluster, method: str, path: str, body: Any = None, headers: dict | None = None,
        token: str | None = ADMIN_TOKEN) -> tuple[int, dict, Any]:
    """(status, headers, parsed JSON or text) of one HTTPS request."""
    context = ssl.create_default_context(cafile=str(cluster.ca_path))
    connection = http.client.HTTPSConnection("127.0.0.1", cluster.server.port, context=context, timeout=30)
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent.setdefault("Content-Type", "application/json")
    connection.request(method, path, body=data, headers=sent)
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        parsed = text
    return response.status, {k.lower(): v for k, v in response.getheaders()}, parsed


def deployment(name: str, namespace: str, replicas: int = 1) -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}},
    }


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.example.com"},
    "spec": {
        "group": "example.com", "scope": "Namespaced",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "shortNames": ["gd"]},
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                     "statusReplicasPath": ".status.replicas"}},
            "additionalPrinterColumns": [{"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                                         {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"}],
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "properties": {"color": {"type": "string"},
                                                          "replicas": {"type": "integer"}}},
                "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}},
        }],
    },
}


# -- non-resource endpoints ---------------------------------------------------------------------------


def test_version_and_health_endpoints(cluster):
    status, headers, version = raw(cluster, "GET", "/version", token=None)
    assert status == 200 and version["major"] == "1" and version["minor"] == "35"
    assert version["gitVersion"].startswith("v1.35.") and "-eks-" in version["gitVersion"]
    assert version["platform"] == "linux/amd64"
    assert "server" not in headers and headers["content-type"] == "application/json"
    for path in ("/healthz", "/livez", "/readyz"):
        assert raw(cluster, "GET", path, token=None)[:3:2] == (200, "ok")


def test_authentication_and_authorization_errors_are_statuses(cluster):
    status, _, body = raw(cluster, "GET", "/api/v1/namespaces", token="wrong")
    assert status == 401 and body["kind"] == "Status" and body["reason"] == "Unauthorized"
    status, _, body = raw(cluster, "GET", "/api/v1/namespaces/default/pods", token=None)
    assert status == 403
    assert body["message"] == ('pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group '
                               '"" in the namespace "default"')
    status, _, body = raw(cluster, "DELETE", "/apis/apps/v1/namespaces/default/deployments/x", token=VIEWER_TOKEN)
    assert status == 403 and body["details"] == {"name": "x", "group": "apps", "kind": "deployments"}
    assert body["message"].startswith('deployments.apps "x" is forbidden: User "viewer" cannot delete resource')
    assert raw(cluster, "GET", "/api/v1/namespaces", token=VIEWER_TOKEN)[0] == 200


def test_unknown_paths_and_methods(cluster):
    status, _, body = raw(cluster, "GET", "/apis/apps/v1/gizmos")
    assert status == 404 and body["message"] == "the server could not find the requested resource"
    assert raw(cluster, "GET", "/apis/nope.example.com/v1")[0] == 404
    status, _, body = raw(cluster, "POST", "/api/v1/namespaces/default/configmaps/x", {"kind": "ConfigMap"})
    assert status == 405 and body["reason"] == "MethodNotAllowed"


# -- discovery ----------------------------------------------------------------------------------------


def test_legacy_discovery(cluster):
    status, _, core = raw(cluster, "GET", "/api")
    assert status == 200 and core["kind"] == "APIVersions" and core["versions"] == ["v1"]
    _, _, groups = raw(cluster, "GET", "/apis")
    names = [g["name"] for g in groups["groups"]]
    assert names[:3] == ["apiregistration.k8s.io", "apps", "events.k8s.io"] and "rbac.authorization.k8s.io" in names
    autoscaling = next(g for g in groups["groups"] if g["name"] == "autoscaling")
    assert autoscaling["preferredVersion"]["version"] == "v2"
    _, _, apps = raw(cluster, "GET", "/apis/apps/v1")
    resources = {r["name"]: r for r in apps["resources"]}
    deployments = resources["deployments"]
    assert deployments["shortNames"] == ["deploy"] and deployments["categories"] == ["all"]
    assert deployments["singularName"] == "deployment" and "deletecollection" in deployments["verbs"]
    assert resources["deployments/scale"]["kind"] == "Scale" and resources["deployments/scale"]["group"] == \
        "autoscaling"
    _, _, v1 = raw(cluster, "GET", "/api/v1")
    assert {"namespaces", "pods", "pods/status", "services", "secrets"} <= {r["name"] for r in v1["resources"]}


def test_aggregated_discovery(cluster):
    status, headers, body = raw(cluster, "GET", "/apis", headers={"Accept": AGGREGATED})
    assert status == 200
    assert headers["content-type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    apps = next(item for item in body["items"] if item["metadata"]["name"] == "apps")
    deployments = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    assert deployments["scope"] == "Namespaced" and deployments["responseKind"]["kind"] == "Deployment"
    assert {s["subresource"] for s in deployments["subresources"]} == {"scale", "status"}
    _, _, core = raw(cluster, "GET", "/api", headers={"Accept": AGGREGATED})
    assert core["kind"] == "APIGroupDiscoveryList" and core["items"][0]["versions"][0]["version"] == "v1"


# -- OpenAPI ------------------------------------------------------------------------------------------


def test_openapi_v3_documents_say_the_server_validates_fields(cluster):
    status, _, root = raw(cluster, "GET", "/openapi/v3")
    assert status == 200 and "apis/apps/v1" in root["paths"] and "api/v1" in root["paths"]
    url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/apps/v1?hash=")
    status, headers, document = raw(cluster, "GET", url)
    assert status == 200 and headers["etag"].strip('"') == url.split("hash=")[1]
    patch = document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "apps", "kind": "Deployment", "version": "v1"}
    assert {"dryRun", "fieldManager", "fieldValidation", "force"} <= {p["name"] for p in patch["parameters"]}
    schema = document["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
    assert schema["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    containers = document["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name" and containers["type"] == "array"


def test_openapi_v2_is_json_and_refuses_other_media_types(cluster):
    status, _, document = raw(cluster, "GET", "/openapi/v2", headers={"Accept": "application/json"})
    assert status == 200 and document["swagger"] == "2.0"
    assert "io.k8s.api.core.v1.Pod" in document["definitions"]
    # (the protobuf client-go asks for: test_openapi_pb.py)
    status, _, body = raw(cluster, "GET", "/openapi/v2", headers={"Accept": "application/vnd.kubernetes.protobuf"})
    assert status == 406 and body["reason"] == "NotAcceptable"


# -- CRUD with the Python client ------------------------------------------------------------------------


def test_dynamic_client_create_get_list_patch_delete(cluster, namespace):
    dynamic = cluster.dynamic()
    deployments = dynamic.resources.get(api_version="apps/v1", kind="Deployment")
    created = deployments.create(body=deployment("web", namespace), namespace=namespace)
    assert created.metadata.generation == 1 and created.spec.strategy.type == "RollingUpdate"
    assert [entry.manager for entry in created.metadata.managedFields] == ["OpenAPI-Generator"]
    listed = deployments.get(namespace=namespace, label_selector="app=web")
    assert [item.metadata.name for item in listed.items] == ["web"]
    merged = deployments.patch(name="web", namespace=namespace, body={"spec": {"replicas": 3}},
                               content_type="application/merge-patch+json")
    assert merged.spec.replicas == 3 and merged.metadata.generation == 2
    strategic = deployments.patch(name="web", namespace=namespace, body={"spec": {"template": {"spec": {
        "containers": [{"name": "sidecar", "image": "busybox"}]}}}},
        content_type="application/strategic-merge-patch+json")
    assert [c.name for c in strategic.spec.template.spec.containers] == ["sidecar", "app"]
    json_patched = deployments.patch(name="web", namespace=namespace, body=[
        {"op": "replace", "path": "/spec/replicas", "value": 1}], content_type="application/json-patch+json")
    assert json_patched.spec.replicas == 1
    with pytest.raises(ConflictError):
        stale = created.to_dict()
        deployments.replace(body=stale, namespace=namespace)
    deleted = deployments.delete(name="web", namespace=namespace)
    assert deleted.status == "Success"
    with pytest.raises(NotFoundError) as missing:
        deployments.get(name="web", namespace=namespace)
    assert json.loads(missing.value.body)["message"] == 'deployments.apps "web" not found'


def test_server_side_apply_owns_fields_and_reports_conflicts(cluster, namespace):
    dynamic = cluster.dynamic()
    configmaps = dynamic.resources.get(api_version="v1", kind="ConfigMap")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": namespace},
            "data": {"a": "1"}}
    applied = configmaps.server_side_apply(body=body, namespace=namespace, field_manager="first")
    assert applied.data.a == "1"
    assert [(e.manager, e.operation) for e in applied.metadata.managedFields] == [("first", "Apply")]
    with pytest.raises(ConflictError) as conflict:
        configmaps.server_side_apply(body={**body, "data": {"a": "2"}}, namespace=namespace,
                                     field_manager="second")
    status = json.loads(conflict.value.body)
    assert status["message"] == 'Apply failed with 1 conflict: conflict with "first": .data.a'
    assert status["details"]["causes"][0]["field"] == ".data.a"
    forced = configmaps.server_side_apply(body={**body, "data": {"a": "2"}}, namespace=namespace,
                                          field_manager="second", force_conflicts=True)
    assert forced.data.a == "2"
    status, _, missing_manager = raw(cluster, "PATCH", f"/api/v1/namespaces/{namespace}/configmaps/cfg", body,
                                     headers={"Content-Type": "application/apply-patch+yaml"})
    assert status == 422 and "fieldManager: Required value" in missing_manager["message"]


def test_dry_run_and_field_validation(cluster, namespace):
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}, "data": {"a": "b"}, "spec": {}}
    status, _, strict = raw(cluster, "POST", base + "?fieldValidation=Strict", body)
    assert status == 400
    assert strict["message"] == ('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
                                 'unknown field "spec"')
    status, headers, warned = raw(cluster, "POST", base + "?dryRun=All", body)
    assert status == 201 and headers["warning"] == '299 - "unknown field \\"spec\\""' and "spec" not in warned
    assert raw(cluster, "GET", base + "/dry")[0] == 404
    status, _, wrong_type = raw(cluster, "POST", base, {"apiVersion": "v1", "kind": "ConfigMap",
                                                        "metadata": {"name": "t"}, "immutable": "yes"})
    assert status == 400 and "cannot unmarshal string into Go struct field" in wrong_type["message"]


def test_identity_checks_of_bodies(cluster, namespace):
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    status, _, body = raw(cluster, "POST", base, {"apiVersion": "apps/v1", "kind": "ConfigMap",
                                                  "metadata": {"name": "x"}})
    assert status == 400 and body["message"] == ("the API version in the data (apps/v1) does not match the expected "
                                                 "API version (v1)")
    status, _, body = raw(cluster, "POST", base, b"{not json", headers={"Content-Type": "application/json"})
    assert status == 400 and "json parse error" in body["message"]
    status, _, body = raw(cluster, "POST", base, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
    assert status == 422 and body["details"]["causes"][0]["field"] == "metadata.name"
    status, _, body = raw(cluster, "POST", base, {"apiVersion": "v1", "kind": "ConfigMap",
                                                  "metadata": {"name": "x", "namespace": "other"}})
    assert status == 400 and "does not match the namespace" in body["message"]
    status, _, body = raw(cluster, "PATCH", base + "/x", {"a": 1},
                          headers={"Content-Type": "application/x-unknown"})
    assert status == 415 and body["reason"] == "UnsupportedMediaType"


def test_tables_and_partial_object_metadata(cluster, namespace):
    core = client.CoreV1Api(cluster.api_client())
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "t1"}, "data": {"a": "1", "b": "2"}})
    status, _, table = raw(cluster, "GET", f"/api/v1/namespaces/{namespace}/configmaps", headers={"Accept": TABLE})
    assert status == 200 and table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    row = next(r for r in table["rows"] if r["cells"][0] == "t1")
    assert row["cells"][1] == 2 and row["object"]["kind"] == "PartialObjectMetadata"
    _, _, pods = raw(cluster, "GET", "/api/v1/pods", headers={"Accept": TABLE})
    assert [c["name"] for c in pods["columnDefinitions"]] == ["Name", "Ready", "Status", "Restarts", "Age", "IP",
                                                              "Node", "Nominated Node", "Readiness Gates"]
    assert [c["priority"] for c in pods["columnDefinitions"]][5:] == [1, 1, 1, 1]
    _, _, partial = raw(cluster, "GET", f"/api/v1/namespaces/{namespace}/configmaps/t1",
                        headers={"Accept": "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"})
    assert partial["kind"] == "PartialObjectMetadata" and "data" not in partial


def test_list_pagination_with_limit_and_continue(cluster, namespace):
    core = client.CoreV1Api(cluster.api_client())
    for index in range(5):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": f"page-{index}"}})
    names: list[str] = []
    token = None
    while True:
        page = core.list_namespaced_config_map(namespace, limit=2, _continue=token)
        names += [item.metadata.name for item in page.items]
        token = page.metadata._continue
        if not token:
            break
        assert page.metadata.remaining_item_count is not None
    assert [n for n in names if n.startswith("page-")] == [f"page-{i}" for i in range(5)]


def test_watch_streams_events_from_a_resource_version(cluster, namespace):
    core = client.CoreV1Api(cluster.api_client())
    listed = core.list_namespaced_config_map(namespace)
    seen: list[tuple[str, str]] = []
    done = threading.Event()

    def consume() -> None:
        stream = watch.Watch()
        for event in stream.stream(core.list_namespaced_config_map, namespace,
                                   resource_version=listed.metadata.resource_version, timeout_seconds=20):
            seen.append((event["type"], event["object"].metadata.name))
            if event["type"] == "DELETED":
                stream.stop()
        done.set()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "watched"}})
    core.patch_namespaced_config_map("watched", namespace, {"data": {"k": "v"}})
    core.delete_namespaced_config_map("watched", namespace)
    assert done.wait(30)
    assert seen == [("ADDED", "watched"), ("MODIFIED", "watched"), ("DELETED", "watched")]


def test_a_watch_from_a_compacted_resource_version_gets_an_expired_error_event(tmp_path):
    from emulator.k8s.store import Store

    from .conftest import start_cluster

    small = start_cluster(tmp_path, Store(history=5, namespace_delay=None))
    try:
        core = client.CoreV1Api(small.api_client())
        for index in range(10):
            core.create_namespaced_config_map("default", {"metadata": {"name": f"c{index}"}})
        status, headers, text = raw(small, "GET", "/api/v1/configmaps?watch=true&resourceVersion=2")
        assert status == 200 and headers["transfer-encoding"] == "chunked"
        event = json.loads(text.splitlines()[0]) if isinstance(text, str) else text
        assert event["type"] == "ERROR"
        assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"
        assert event["object"]["message"].startswith("too old resource version: 2 (")
        with pytest.raises(client.exceptions.ApiException) as gone:
            for _ in watch.Watch().stream(core.list_namespaced_config_map, "default", resource_version="2",
                                          timeout_seconds=5):
                pass
        assert gone.value.status == 410
    finally:
        small.server.stop()


def test_scale_and_status_subresources(cluster, namespace):
    apps = client.AppsV1Api(cluster.api_client())
    apps.create_namespaced_deployment(namespace, deployment("scaled", namespace, replicas=2))
    scale = apps.read_namespaced_deployment_scale("scaled", namespace)
    assert scale.spec.replicas == 2 and scale.status.selector == "app=scaled"
    apps.patch_namespaced_deployment_scale("scaled", namespace, {"spec": {"replicas": 5}})
    assert apps.read_namespaced_deployment("scaled", namespace).spec.replicas == 5
    status = apps.patch_namespaced_deployment_status("scaled", namespace, {"status": {"replicas": 5,
                                                                                       "readyReplicas": 5}})
    assert status.status.ready_replicas == 5 and status.metadata.generation == 2


def test_custom_resources_from_a_crd(cluster, namespace):
    dynamic = cluster.dynamic()
    crds = dynamic.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    crd = crds.create(body=CRD)
    assert {c.type: c.status for c in crd.status.conditions} == {"NamesAccepted": "True", "Established": "True"}
    dynamic = cluster.dynamic()  # discovery again: the new group
    gadgets = dynamic.resources.get(api_version="example.com/v1", kind="Gadget")
    made = gadgets.create(body={"apiVersion": "example.com/v1", "kind": "Gadget",
                                "metadata": {"name": "g1", "namespace": namespace},
                                "spec": {"color": "red", "replicas": 1}, "status": {"replicas": 9}},
                          namespace=namespace)
    assert made.spec.color == "red" and "status" not in made.to_dict()
    status, _, body = raw(cluster, "PATCH", f"/apis/example.com/v1/namespaces/{namespace}/gadgets/g1",
                          {"spec": {"color": "blue"}},
                          headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert status == 415 and "application/merge-patch+json" in body["message"]
    _, _, table = raw(cluster, "GET", f"/apis/example.com/v1/namespaces/{namespace}/gadgets",
                      headers={"Accept": TABLE})
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Color", "Replicas"]
    assert table["rows"][0]["cells"] == ["g1", "red", 1]
    status, _, scale = raw(cluster, "GET", f"/apis/example.com/v1/namespaces/{namespace}/gadgets/g1/scale")
    assert status == 200 and scale["spec"]["replicas"] == 1
    _, _, document = raw(cluster, "GET", "/openapi/v3/apis/example.com/v1")
    assert "com.example.v1.Gadget" in document["components"]["schemas"]
    crds.delete(name="gadgets.example.com")
    assert raw(cluster, "GET", f"/apis/example.com/v1/namespaces/{namespace}/gadgets")[0] == 404


def test_delete_propagation_options(cluster, namespace):
    core = client.CoreV1Api(cluster.api_client())
    owner = core.create_namespaced_config_map(namespace, {"metadata": {"name": "owner"}})
    reference = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "dependent",
                                                               "ownerReferences": [reference]}})
    core.delete_namespaced_config_map("owner", namespace, propagation_policy="Orphan")
    kept = core.read_namespaced_config_map("dependent", namespace)
    assert kept.metadata.owner_references is None
    with pytest.raises(client.exceptions.ApiException) as precondition:
        core.delete_namespaced_config_map("dependent", namespace,
                                          body=client.V1DeleteOptions(preconditions={"uid": "other"}))
    assert precondition.value.status == 409


def test_protobuf_request_bodies_are_decoded(cluster, namespace):
    from emulator.k8s.protobuf import MAGIC

    def field(number: int, payload: bytes) -> bytes:
        return bytes([number << 3 | 2, len(payload)]) + payload

    meta = field(1, b"proto-cm")
    data_entry = field(1, b"k") + field(2, b"v")
    configmap = field(1, meta) + field(2, data_entry)
    envelope = MAGIC + field(1, field(1, b"v1") + field(2, b"ConfigMap")) + field(2, configmap)
    status, _, body = raw(cluster, "POST", f"/api/v1/namespaces/{namespace}/configmaps", envelope,
                          headers={"Content-Type": "application/vnd.kubernetes.protobuf",
                                   "Accept": "application/vnd.kubernetes.protobuf,application/json"})
    assert status == 201 and body["metadata"]["name"] == "proto-cm" and body["data"] == {"k": "v"}


def test_self_subject_review_and_access_review(cluster):
    status, _, review = raw(cluster, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert status == 201 and review["status"]["userInfo"]["username"] == "admin"
    status, _, access = raw(cluster, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                            {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                             "spec": {"resourceAttributes": {"verb": "create", "resource": "pods"}}})
    assert status == 201 and access["status"]["allowed"] is True


def test_errors_from_the_typed_client_carry_kubernetes_wording(cluster, namespace):
    core = client.CoreV1Api(cluster.api_client())
    core.create_namespaced_secret(namespace, {"metadata": {"name": "s"}, "stringData": {"a": "b"}})
    with pytest.raises(client.exceptions.ApiException) as exists:
        core.create_namespaced_secret(namespace, {"metadata": {"name": "s"}})
    body = json.loads(exists.value.body)
    assert exists.value.status == 409 and body["message"] == 'secrets "s" already exists'
    assert body["reason"] == "AlreadyExists" and body["details"] == {"name": "s", "kind": "secrets"}


def test_api_exception_type_is_reexported() -> None:
    assert issubclass(ConflictError, ApiException)


def test_pod_security_admission_enforces_the_namespace_level(cluster):
    core = client.CoreV1Api(cluster.api_client())
    core.create_namespace({"metadata": {"name": "locked", "labels": {
        "pod-security.kubernetes.io/enforce": "restricted"}}})
    pod = {"metadata": {"name": "plain"}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}
    with pytest.raises(client.exceptions.ApiException) as refused:
        core.create_namespaced_pod("locked", pod)
    status = json.loads(refused.value.body)
    assert refused.value.status == 403 and status["reason"] == "Forbidden"
    assert status["message"] == (
        'pods "plain" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
        '(container "app" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities '
        '(container "app" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or '
        'container "app" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "app" must '
        'set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")')
    hardened = {"metadata": {"name": "hardened"}, "spec": {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "app", "image": "nginx", "securityContext": {
            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]}}
    assert core.create_namespaced_pod("locked", hardened).metadata.name == "hardened"
    core.create_namespace({"metadata": {"name": "base", "labels": {"pod-security.kubernetes.io/enforce":
                                                                  "baseline"}}})
    privileged = {"metadata": {"name": "priv"}, "spec": {"hostNetwork": True, "containers": [
        {"name": "app", "image": "nginx", "securityContext": {"privileged": True}}]}}
    with pytest.raises(client.exceptions.ApiException) as baseline:
        core.create_namespaced_pod("base", privileged)
    assert json.loads(baseline.value.body)["message"] == (
        'pods "priv" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true), '
        'privileged (container "app" must not set securityContext.privileged=true)')
    assert core.create_namespaced_pod("base", pod).metadata.name == "plain"


def test_watch_list_sends_initial_events_then_a_bookmark(cluster, namespace):
    core = client.CoreV1Api(cluster.api_client())
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "initial"}})
    status, _, text = raw(cluster, "GET", f"/api/v1/namespaces/{namespace}/configmaps?watch=1&sendInitialEvents=true"
                                          "&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan"
                                          "&timeoutSeconds=1")
    events = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert status == 200
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events] == [("ADDED", "initial"),
                                                                                 ("BOOKMARK", None)]
    bookmark = events[1]["object"]
    assert bookmark["kind"] == "ConfigMap" and bookmark["metadata"]["annotations"] == {
        "k8s.io/initial-events-end": "true"}
    assert int(bookmark["metadata"]["resourceVersion"]) >= int(events[0]["object"]["metadata"]["resourceVersion"])
    assert events[0]["object"]["kind"] == "ConfigMap" and events[0]["object"]["apiVersion"] == "v1"


def test_connections_send_without_nagle_delay_as_kube_apiserver_does(cluster):
    """Go turns Nagle off on every TCP connection; a response written as headers then body must not wait
    for the client's delayed ACK (~40 ms a request with Nagle on)."""
    import socket

    context = ssl.create_default_context(cafile=str(cluster.ca_path))
    connection = http.client.HTTPSConnection("127.0.0.1", cluster.server.port, context=context, timeout=30)
    try:
        connection.request("GET", "/version", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        connection.getresponse().read()
        httpd = cluster.server._httpd  # pylint: disable=protected-access
        with httpd.connections_lock:
            accepted = list(httpd.connections)
        assert accepted
        assert all(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for sock in accepted)
    finally:
        connection.close()
