"""The store: metadata, versions, defaulting, validation, deletion, garbage collection, watches."""

from __future__ import annotations

import pytest

from emulator.k8s.errors import ApiError
from emulator.k8s.selectors import FieldSelector, LabelSelector
from emulator.k8s.store import AdmissionRequest, Store


@pytest.fixture
def store() -> Store:
    return Store(namespace_delay=None)


def rt(store: Store, group: str, version: str, plural: str):
    return store.resources.get(group, version, plural)


def deployment(name: str = "web", namespace: str = "default", **spec: object) -> dict:
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}},
        },
    }
    body["spec"].update(spec)
    return body


def owned(name: str, owner: dict, kind: str = "ConfigMap", **ref: object) -> dict:
    reference = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
                 "uid": owner["metadata"]["uid"], **ref}
    return {"metadata": {"name": name, "namespace": "default", "ownerReferences": [reference]}, "data": {}}


# -- bootstrap and metadata ------------------------------------------------------------------------


def test_a_new_store_has_the_default_namespaces_service_accounts_and_kubernetes_service(store):
    namespaces, _ = store.list(rt(store, "", "v1", "namespaces"))
    assert [n["metadata"]["name"] for n in namespaces] == ["default", "kube-node-lease", "kube-public", "kube-system"]
    assert all(n["status"]["phase"] == "Active" for n in namespaces)
    assert namespaces[0]["metadata"]["labels"] == {"kubernetes.io/metadata.name": "default"}
    accounts, _ = store.list(rt(store, "", "v1", "serviceaccounts"))
    assert sorted(a["metadata"]["namespace"] for a in accounts if a["metadata"]["name"] == "default") == [
        "default", "kube-node-lease", "kube-public", "kube-system"]
    service = store.get(rt(store, "", "v1", "services"), "default", "kubernetes")
    assert service["spec"]["clusterIP"] == "172.20.0.1"


def test_create_assigns_uid_timestamp_generation_and_increasing_resource_versions(store):
    deployments = rt(store, "apps", "v1", "deployments")
    before = int(store.resource_version)
    first = store.create(deployments, deployment("a"))
    second = store.create(deployments, deployment("b"))
    assert first["metadata"]["uid"] != second["metadata"]["uid"]
    assert first["metadata"]["generation"] == 1
    assert first["metadata"]["creationTimestamp"].endswith("Z")
    assert int(first["metadata"]["resourceVersion"]) == before + 1
    assert int(second["metadata"]["resourceVersion"]) == before + 2
    assert first["status"] == {}
    configmap = store.create(rt(store, "", "v1", "configmaps"), {"metadata": {"name": "c", "namespace": "default"}})
    assert "generation" not in configmap["metadata"]


def test_generate_name_and_the_name_rules(store):
    configmaps = rt(store, "", "v1", "configmaps")
    made = store.create(configmaps, {"metadata": {"generateName": "cfg-", "namespace": "default"}})
    assert made["metadata"]["name"].startswith("cfg-") and len(made["metadata"]["name"]) == 9
    with pytest.raises(ApiError) as missing:
        store.create(configmaps, {"metadata": {"namespace": "default"}})
    assert missing.value.status == 422
    assert missing.value.message == ('ConfigMap "" is invalid: metadata.name: Required value: name or generateName '
                                     "is required")
    with pytest.raises(ApiError) as bad:
        store.create(rt(store, "apps", "v1", "deployments"), deployment("Web"))
    assert bad.value.message.startswith('Deployment.apps "Web" is invalid: metadata.name: Invalid value: "Web": a '
                                        "lowercase RFC 1123 subdomain")
    assert bad.value.details["causes"][0]["field"] == "metadata.name"


def test_not_found_already_exists_and_conflict_are_worded_like_kubernetes(store):
    deployments = rt(store, "apps", "v1", "deployments")
    with pytest.raises(ApiError) as missing:
        store.get(deployments, "default", "web")
    assert (missing.value.status, missing.value.message) == (404, 'deployments.apps "web" not found')
    assert missing.value.details == {"name": "web", "group": "apps", "kind": "deployments"}
    created = store.create(deployments, deployment())
    with pytest.raises(ApiError) as exists:
        store.create(deployments, deployment())
    assert (exists.value.status, exists.value.reason) == (409, "AlreadyExists")
    assert exists.value.message == 'deployments.apps "web" already exists'
    store.update(deployments, dict(created, spec=dict(created["spec"], replicas=2)))
    with pytest.raises(ApiError) as stale:
        store.update(deployments, dict(created, spec=dict(created["spec"], replicas=3)))
    assert (stale.value.status, stale.value.reason) == (409, "Conflict")
    assert stale.value.message == ('Operation cannot be fulfilled on deployments.apps "web": the object has been '
                                   "modified; please apply your changes to the latest version and try again")


def test_creating_in_a_missing_namespace_is_404(store):
    with pytest.raises(ApiError) as error:
        store.create(rt(store, "", "v1", "configmaps"), {"metadata": {"name": "c", "namespace": "nope"}})
    assert (error.value.status, error.value.message) == (404, 'namespaces "nope" not found')


# -- updates ---------------------------------------------------------------------------------------


def test_generation_moves_with_the_spec_only_and_noop_updates_keep_the_resource_version(store):
    deployments = rt(store, "apps", "v1", "deployments")
    created = store.create(deployments, deployment())
    labelled = store.update(deployments, {**created, "metadata": {**created["metadata"], "labels": {"x": "y"}}})
    assert labelled["metadata"]["generation"] == 1
    assert int(labelled["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    scaled = store.update(deployments, {**labelled, "spec": {**labelled["spec"], "replicas": 4}})
    assert scaled["metadata"]["generation"] == 2
    same = store.update(deployments, scaled)
    assert same["metadata"]["resourceVersion"] == scaled["metadata"]["resourceVersion"]
    assert store.resource_version == scaled["metadata"]["resourceVersion"]


def test_status_is_written_through_the_status_subresource_only(store):
    deployments = rt(store, "apps", "v1", "deployments")
    created = store.create(deployments, deployment())
    ignored = store.update(deployments, {**created, "status": {"replicas": 5}})
    assert ignored["status"] == {}
    updated = store.update(deployments, {**created, "status": {"replicas": 5}, "spec": {"replicas": 9}},
                           subresource="status")
    assert updated["status"] == {"replicas": 5}
    assert updated["spec"]["replicas"] == 1
    assert updated["metadata"]["generation"] == 1


def test_defaults_kubectl_diff_would_otherwise_show(store):
    made = store.create(rt(store, "apps", "v1", "deployments"), deployment())
    spec = made["spec"]
    assert spec["replicas"] == 1 and spec["revisionHistoryLimit"] == 10 and spec["progressDeadlineSeconds"] == 600
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%",
                                                                           "maxSurge": "25%"}}
    pod_spec = spec["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Always" and pod_spec["dnsPolicy"] == "ClusterFirst"
    assert pod_spec["terminationGracePeriodSeconds"] == 30 and pod_spec["schedulerName"] == "default-scheduler"
    container = pod_spec["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["terminationMessagePath"] == "/dev/termination-log"
    secret = store.create(rt(store, "", "v1", "secrets"), {"metadata": {"name": "s", "namespace": "default"},
                                                           "stringData": {"k": "v"}})
    assert secret["type"] == "Opaque" and secret["data"] == {"k": "dg=="} and "stringData" not in secret


def test_services_get_cluster_ips_from_the_service_cidr_and_keep_them(store):
    services = rt(store, "", "v1", "services")
    service = store.create(services, {"metadata": {"name": "s", "namespace": "default"},
                                      "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}})
    ip = service["spec"]["clusterIP"]
    assert ip.startswith("172.20.") and service["spec"]["clusterIPs"] == [ip]
    assert service["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    replaced = {**service, "spec": {"selector": {"app": "y"}, "ports": [{"port": 80}]}}
    assert store.update(services, replaced)["spec"]["clusterIP"] == ip
    with pytest.raises(ApiError) as taken:
        store.create(services, {"metadata": {"name": "t", "namespace": "default"},
                                "spec": {"clusterIP": ip, "ports": [{"port": 80}]}})
    assert taken.value.status == 422 and "provided IP is already allocated" in taken.value.message
    headless = store.create(services, {"metadata": {"name": "h", "namespace": "default"},
                                       "spec": {"clusterIP": "None", "ports": [{"port": 80}]}})
    assert headless["spec"]["clusterIPs"] == ["None"]


def test_validation_rejects_a_deployment_whose_selector_does_not_match(store):
    body = deployment()
    body["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    with pytest.raises(ApiError) as error:
        store.create(rt(store, "apps", "v1", "deployments"), body)
    assert error.value.status == 422
    assert "spec.template.metadata.labels: Invalid value" in error.value.message
    assert "`selector` does not match template `labels`" in error.value.message


# -- selectors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web", {"app": "api"}, False),
        ("app!=web", {}, True),
        ("tier in (a, b)", {"tier": "b"}, True),
        ("tier notin (a,b)", {"tier": "a"}, False),
        ("tier", {"tier": ""}, True),
        ("!tier", {"tier": "x"}, False),
        ("app=web,!canary", {"app": "web"}, True),
    ],
)
def test_label_selectors(selector, labels, expected):
    assert LabelSelector.parse(selector).matches(labels) is expected


def test_bad_selectors_are_400():
    with pytest.raises(ApiError) as error:
        LabelSelector.parse("app in a")
    assert error.value.status == 400
    with pytest.raises(ApiError) as unsupported:
        FieldSelector.parse("spec.foo=x", lambda path: path.startswith("metadata."))
    assert unsupported.value.message == "field label not supported: spec.foo"


def test_list_with_label_and_field_selectors(store):
    pods = rt(store, "", "v1", "pods")
    for name, node, labels in (("a", "n1", {"app": "x"}), ("b", "n2", {"app": "x"}), ("c", "", {"app": "y"})):
        spec = {"containers": [{"name": "c", "image": "busybox"}]}
        if node:
            spec["nodeName"] = node
        store.create(pods, {"metadata": {"name": name, "namespace": "default", "labels": labels}, "spec": spec})
    names = lambda items: [i["metadata"]["name"] for i in items]  # noqa: E731
    assert names(store.list(pods, "default", "app=x")[0]) == ["a", "b"]
    assert names(store.list(pods, None, None, "spec.nodeName=n2")[0]) == ["b"]
    assert names(store.list(pods, None, "app", "spec.nodeName!=n1,metadata.namespace=default")[0]) == ["b", "c"]
    assert names(store.list(pods, None, None, "status.phase=Pending")[0]) == ["a", "b", "c"]
    with pytest.raises(ApiError):
        store.list(pods, None, None, "spec.image=x")


# -- deletion ----------------------------------------------------------------------------------------


def test_finalizers_hold_an_object_until_they_are_removed(store):
    configmaps = rt(store, "", "v1", "configmaps")
    store.create(configmaps, {"metadata": {"name": "c", "namespace": "default", "finalizers": ["example.com/x"]}})
    obj, gone = store.delete(configmaps, "default", "c")
    assert not gone and obj["metadata"]["deletionTimestamp"]
    held = store.get(configmaps, "default", "c")
    held["metadata"]["finalizers"] = []
    store.update(configmaps, held)
    assert store.try_get(configmaps, "default", "c") is None


def test_background_garbage_collection_deletes_dependents(store):
    deployments = rt(store, "apps", "v1", "deployments")
    configmaps = rt(store, "", "v1", "configmaps")
    owner = store.create(deployments, deployment())
    store.create(configmaps, owned("dep", owner))
    other = store.create(configmaps, {"metadata": {"name": "other", "namespace": "default"}})
    both = owned("both", owner)
    both["metadata"]["ownerReferences"].append({"apiVersion": "v1", "kind": "ConfigMap", "name": "other",
                                                "uid": other["metadata"]["uid"]})
    store.create(configmaps, both)
    store.delete(deployments, "default", "web")
    assert store.try_get(configmaps, "default", "dep") is None
    survivor = store.get(configmaps, "default", "both")
    assert [r["name"] for r in survivor["metadata"]["ownerReferences"]] == ["other"]


def test_the_garbage_collector_takes_dependents_whose_owners_are_already_gone(store):
    # a controller can create a dependent from a view taken just before its owner was deleted: background
    # propagation has run by then, and the garbage collector finds the dependent later
    deployments = rt(store, "apps", "v1", "deployments")
    configmaps = rt(store, "", "v1", "configmaps")
    gone_owner = store.create(deployments, deployment("gone"))
    live_owner = store.create(configmaps, {"metadata": {"name": "live", "namespace": "default"}})
    store.delete(deployments, "default", "gone")
    store.create(configmaps, owned("late", gone_owner))
    both = owned("both", gone_owner)
    both["metadata"]["ownerReferences"].append({"apiVersion": "v1", "kind": "ConfigMap", "name": "live",
                                                "uid": live_owner["metadata"]["uid"]})
    store.create(configmaps, both)
    store.create(configmaps, owned("kept", live_owner))
    assert store.get(configmaps, "default", "late")  # the API server accepts a dangling reference

    assert store.collect_dangling() == 2
    assert store.try_get(configmaps, "default", "late") is None
    assert [r["name"] for r in store.get(configmaps, "default", "both")["metadata"]["ownerReferences"]] == ["live"]
    assert [r["name"] for r in store.get(configmaps, "default", "kept")["metadata"]["ownerReferences"]] == ["live"]
    assert store.collect_dangling() == 0


def test_orphan_propagation_keeps_dependents_without_the_owner_reference(store):
    deployments = rt(store, "apps", "v1", "deployments")
    configmaps = rt(store, "", "v1", "configmaps")
    owner = store.create(deployments, deployment())
    store.create(configmaps, owned("dep", owner))
    _, gone = store.delete(deployments, "default", "web", propagation="Orphan")
    assert gone
    assert "ownerReferences" not in store.get(configmaps, "default", "dep")["metadata"]


def test_foreground_deletion_waits_for_blocking_dependents(store):
    deployments = rt(store, "apps", "v1", "deployments")
    configmaps = rt(store, "", "v1", "configmaps")
    owner = store.create(deployments, deployment())
    blocker = owned("blocker", owner, blockOwnerDeletion=True)
    blocker["metadata"]["finalizers"] = ["example.com/hold"]
    store.create(configmaps, blocker)
    obj, gone = store.delete(deployments, "default", "web", propagation="Foreground")
    assert not gone and "foregroundDeletion" in obj["metadata"]["finalizers"]
    held = store.get(configmaps, "default", "blocker")
    assert held["metadata"]["deletionTimestamp"]
    held["metadata"]["finalizers"] = []
    store.update(configmaps, held)
    assert store.try_get(configmaps, "default", "blocker") is None
    assert store.try_get(deployments, "default", "web") is None


def test_a_terminating_namespace_keeps_its_contents_for_the_namespace_controller_lag():
    import threading

    store = Store(namespace_delay=0.05)
    namespaces = rt(store, "", "v1", "namespaces")
    configmaps = rt(store, "", "v1", "configmaps")
    store.create(namespaces, {"metadata": {"name": "team"}})
    store.create(configmaps, {"metadata": {"name": "c", "namespace": "team"}})
    gone = threading.Event()
    store.subscribe(lambda kind, rtype, obj, old: gone.set() if kind == "DELETED" and rtype.kind == "Namespace"
                    else None)
    obj, removed = store.delete(namespaces, None, "team")
    assert not removed and obj["status"]["phase"] == "Terminating"
    assert store.try_get(configmaps, "team", "c") is not None
    assert gone.wait(30)
    assert store.try_get(configmaps, "team", "c") is None and store.try_get(namespaces, None, "team") is None


def test_namespace_deletion_terminates_then_removes_contents_and_namespace(store):
    namespaces = rt(store, "", "v1", "namespaces")
    configmaps = rt(store, "", "v1", "configmaps")
    store.create(namespaces, {"metadata": {"name": "team"}})
    store.create(configmaps, {"metadata": {"name": "held", "namespace": "team", "finalizers": ["example.com/x"]}})
    store.create(configmaps, {"metadata": {"name": "free", "namespace": "team"}})
    obj, gone = store.delete(namespaces, None, "team")
    assert not gone and obj["status"]["phase"] == "Terminating"
    assert store.try_get(configmaps, "team", "free") is None
    with pytest.raises(ApiError) as refused:
        store.create(configmaps, {"metadata": {"name": "new", "namespace": "team"}})
    assert refused.value.status == 403
    assert "unable to create new content in namespace team because it is being terminated" in refused.value.message
    held = store.get(configmaps, "team", "held")
    held["metadata"]["finalizers"] = []
    store.update(configmaps, held)
    assert store.try_get(namespaces, None, "team") is None


def test_delete_collection_and_dry_run(store):
    configmaps = rt(store, "", "v1", "configmaps")
    for name in ("a", "b", "c"):
        store.create(configmaps, {"metadata": {"name": name, "namespace": "default", "labels": {"g": "1" if name != "c"
                                                                                             else "2"}}})
    store.delete(configmaps, "default", "a", dry_run=True)
    assert store.try_get(configmaps, "default", "a") is not None
    deleted = store.delete_collection(configmaps, "default", "g=1")
    assert sorted(d["metadata"]["name"] for d in deleted) == ["a", "b"]
    assert [c["metadata"]["name"] for c in store.list(configmaps, "default")[0] if c["metadata"]["name"] in "abc"] \
        == ["c"]
    rv = store.resource_version
    dry = store.create(configmaps, {"metadata": {"name": "d", "namespace": "default"}}, dry_run=True)
    assert dry["metadata"]["uid"] and store.try_get(configmaps, "default", "d") is None
    assert store.resource_version == rv


# -- watches and subscribers -------------------------------------------------------------------------


def test_watch_from_a_resource_version_sees_changes_and_selector_transitions(store):
    configmaps = rt(store, "", "v1", "configmaps")
    first = store.create(configmaps, {"metadata": {"name": "a", "namespace": "default", "labels": {"w": "1"}}})
    watch = store.watch(configmaps, "default", first["metadata"]["resourceVersion"], label_selector="w=1")
    moved = dict(first, metadata=dict(first["metadata"], labels={"w": "2"}))
    store.update(configmaps, moved)
    store.create(configmaps, {"metadata": {"name": "b", "namespace": "default", "labels": {"w": "1"}}})
    store.delete(configmaps, "default", "b")
    events = []
    for kind, obj in watch.events(idle=0.01):
        if kind is None:
            break
        events.append((kind, obj["metadata"]["name"]))
    watch.stop()
    assert events == [("DELETED", "a"), ("ADDED", "b"), ("DELETED", "b")]


def test_watch_without_resource_version_starts_with_the_current_objects(store):
    namespaces = rt(store, "", "v1", "namespaces")
    watch = store.watch(namespaces, timeout=5)
    events = []
    for kind, obj in watch.events(idle=0.01):
        if kind is None:
            break
        events.append((kind, obj["metadata"]["name"]))
    assert events == [("ADDED", n) for n in ("default", "kube-node-lease", "kube-public", "kube-system")]


def test_watch_outside_the_retained_window_is_410_gone():
    store = Store(history=5, namespace_delay=None)
    configmaps = rt(store, "", "v1", "configmaps")
    for index in range(10):
        store.create(configmaps, {"metadata": {"name": f"c{index}", "namespace": "default"}})
    with pytest.raises(ApiError) as gone:
        store.watch(configmaps, None, "1")
    assert (gone.value.status, gone.value.reason) == (410, "Expired")
    assert gone.value.message.startswith("too old resource version: 1 (")


def test_subscribers_see_every_committed_change_in_order(store):
    seen = []
    unsubscribe = store.subscribe(lambda kind, rtype, obj, old: seen.append((kind, rtype.kind,
                                                                             obj["metadata"]["name"])))
    configmaps = rt(store, "", "v1", "configmaps")
    made = store.create(configmaps, {"metadata": {"name": "a", "namespace": "default"}})
    store.update(configmaps, {**made, "data": {"k": "v"}})
    store.delete(configmaps, "default", "a")
    unsubscribe()
    store.create(configmaps, {"metadata": {"name": "b", "namespace": "default"}})
    assert seen == [("ADDED", "ConfigMap", "a"), ("MODIFIED", "ConfigMap", "a"), ("DELETED", "ConfigMap", "a")]


def test_admission_hooks_may_mutate_or_refuse(store):
    def hook(request: AdmissionRequest) -> None:
        if request.rt.kind != "ConfigMap" or request.obj is None:
            return
        if request.name == "refused":
            raise ApiError(403, "Forbidden", 'configmaps "refused" is forbidden: no')
        request.obj.setdefault("metadata", {}).setdefault("annotations", {})["admitted"] = request.operation

    store.admission.append(hook)
    configmaps = rt(store, "", "v1", "configmaps")
    made = store.create(configmaps, {"metadata": {"name": "ok", "namespace": "default"}})
    assert made["metadata"]["annotations"] == {"admitted": "CREATE"}
    with pytest.raises(ApiError):
        store.create(configmaps, {"metadata": {"name": "refused", "namespace": "default"}})


# -- CRDs ----------------------------------------------------------------------------------------------


def widget_crd(**version: object) -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [{"name": "v1", "served": True, "storage": True,
                          "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                              "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}},
                          **version}],
        },
    }


def test_a_crd_is_established_serves_its_type_and_takes_its_resources_when_deleted(store):
    crds = rt(store, "apiextensions.k8s.io", "v1", "customresourcedefinitions")
    crd = store.create(crds, widget_crd(subresources={"status": {}}))
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert crd["status"]["acceptedNames"]["listKind"] == "WidgetList"
    assert crd["status"]["storedVersions"] == ["v1"]
    widgets = store.resources.get("example.com", "v1", "widgets")
    assert widgets is not None and widgets.custom and widgets.has_status
    made = store.create(widgets, {"apiVersion": "example.com/v1", "kind": "Widget",
                                  "metadata": {"name": "w", "namespace": "default"}, "spec": {"size": 1}})
    assert made["metadata"]["generation"] == 1
    store.delete(crds, None, "widgets.example.com")
    assert store.resources.get("example.com", "v1", "widgets") is None
    assert store.list_objects("example.com", "widgets", None) == []
