"""kubernetes.core, access entries and the API's errors, against a cluster built by site.yml (issue 12).

* ``playbooks/kubernetes_core.yml`` (next to this file) drives the cluster with
  ``kubernetes.core.k8s`` (apply, present/absent, wait), ``k8s_info`` and
  ``helm`` through the kubeconfig of ``aws eks update-kubeconfig``;
* an IAM user with a view access entry reads but may not write (403, a
  Kubernetes ``Status``); a principal without an access entry gets 401; no
  client output and no log line carries an EKS token;
* the API's 404/409/422/400 answers are ``Status`` objects, and unknown kinds
  are a 404 that discovery-driven clients (kubectl, the Python dynamic client)
  report as such.
"""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.client import EmulatorClient
from tests.integration.conftest import parse_report
from tests.support.kubernetes import (
    CLUSTER, HELM, SMOKE_CHART, Kube, assert_no_token, has_token, iam_user_with_access, status_of,
)

pytestmark = pytest.mark.integration
# Reads the platform the other sharing modules read (tests/support/shared_platform.py).
SHARES_PLATFORM = True

PLAYBOOK = Path(__file__).resolve().parent / "playbooks" / "kubernetes_core.yml"
ACCOUNT_USER = "arn:aws:iam::123456789012:user/{}"


@pytest.fixture(scope="module")
def kube(built_platform, emulator_server, tmp_path_factory) -> Kube:
    kube, run = Kube.connect(emulator_server.url, tmp_path_factory.mktemp("kube"))
    assert run.returncode == 0, run.describe()
    return kube


@pytest.fixture(scope="module")
def cluster(kube, boto):
    return boto("eks").describe_cluster(name=CLUSTER)["cluster"]


@contextlib.contextmanager
def client_environment(kube: Kube):
    """The process environment the kubeconfig's exec plugin (``aws eks get-token``) needs, while a client loads."""
    env = kube.environment()
    with pytest.MonkeyPatch.context() as patch:
        for name in ("PATH", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
                     "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            patch.setenv(name, env[name])
        yield


@pytest.fixture(scope="module")
def api_client(kube):
    """The ``kubernetes`` Python client configured from the kubeconfig, as kubernetes.core loads it."""
    from kubernetes import config

    with client_environment(kube):
        client = config.new_client_from_config(config_file=str(kube.kubeconfig))
    yield client
    client.close()


def api_exception(call, *args, **kwargs):
    from kubernetes.client.rest import ApiException

    with pytest.raises(ApiException) as excinfo:
        call(*args, **kwargs)
    return excinfo.value.status, json.loads(excinfo.value.body)


# -- kubernetes.core -------------------------------------------------------------------------------------------------


def run_kubernetes_core(kube: Kube, namespace: str):
    ansible_playbook = str(Path(sys.executable).with_name("ansible-playbook"))
    extra = {"test_kubeconfig": str(kube.kubeconfig), "test_helm_binary": str(HELM), "test_chart": str(SMOKE_CHART),
             "test_namespace": namespace}
    proc = subprocess.run([ansible_playbook, str(PLAYBOOK), "-i", "localhost,", "-e", json.dumps(extra)],
                          cwd=kube.workdir, env=kube.environment(), capture_output=True, text=True, timeout=600,
                          check=False)
    assert_no_token(proc.stdout, proc.stderr, where="ansible-playbook")
    report = parse_report(proc.stdout)
    results = {}
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            result = task.get("hosts", {}).get("localhost")
            if result is not None:
                results[task["task"]["name"]] = result
    return proc, report, results


def test_kubernetes_core_k8s_k8s_info_and_helm(kube):
    namespace = "core"
    # the kubeconfig with a token minted once: the exec plugin would start the AWS CLI for every module and helm call
    proc, report, results = run_kubernetes_core(kube.with_token(), namespace)
    failed = {name: r.get("msg") for name, r in results.items() if r.get("failed")}
    assert proc.returncode == 0, failed or proc.stdout[-3000:] + proc.stderr[-3000:]
    assert report["stats"]["localhost"] == {"changed": 8, "failures": 0, "ignored": 0, "ok": 15, "rescued": 0,
                                            "skipped": 0, "unreachable": 0}
    changed = {name: r["changed"] for name, r in results.items()}
    assert changed == {
        "Apply a namespace and a ConfigMap": True,
        "Apply a Deployment and wait until it is Available": True,
        "Apply the same ConfigMap again (nothing to change)": False,
        "Change the ConfigMap": True,
        "Read the Deployment": False,
        "List the Deployment's pods by label": False,
        "Install the test chart with helm and wait for it": True,
        "Install the test chart again (nothing to change)": False,
        "Upgrade the release with other values": True,
        "Read the chart's custom resource": False,
        "Uninstall the release": True,
        "Delete the Deployment and wait until it is gone": True,
        "Delete it again (already gone)": False,
        "Read the deleted Deployment": False,
        "Delete the namespace and wait until it is gone": True,
    }

    applied = results["Apply a namespace and a ConfigMap"]["result"]["results"]
    assert [(r["result"]["kind"], r["result"]["metadata"]["name"]) for r in applied] == [
        ("Namespace", namespace), ("ConfigMap", "greeter")]
    deployment = results["Apply a Deployment and wait until it is Available"]
    assert deployment["result"]["status"]["readyReplicas"] == 2
    assert {c["type"]: c["status"] for c in deployment["result"]["status"]["conditions"]}["Available"] == "True"
    assert results["Change the ConfigMap"]["result"]["data"] == {"greeting": "bonjour"}
    assert "diff" not in results["Apply the same ConfigMap again (nothing to change)"] or not results[
        "Apply the same ConfigMap again (nothing to change)"]["diff"]

    [read] = results["Read the Deployment"]["resources"]
    assert (read["metadata"]["name"], read["spec"]["replicas"], read["status"]["availableReplicas"]) == (
        "greeter", 2, 2)
    pods = results["List the Deployment's pods by label"]["resources"]
    assert len(pods) == 2
    assert all(p["status"]["phase"] == "Running" and p["metadata"]["labels"]["app"] == "greeter" for p in pods)

    installed = results["Install the test chart with helm and wait for it"]["status"]
    assert (installed["name"], installed["namespace"], installed["status"], installed["revision"]) == (
        "smoke", namespace, "deployed", "1")
    upgraded = results["Upgrade the release with other values"]["status"]
    assert (upgraded["status"], upgraded["revision"]) == ("deployed", "2")
    [widget] = results["Read the chart's custom resource"]["resources"]
    assert widget["spec"] == {"size": "large", "owner": "smoke"}
    assert results["Read the deleted Deployment"]["resources"] == []

    # what the playbook left: nothing (the namespace went with its last task)
    run = kube.kubectl("get", "namespace", namespace)
    assert run.returncode == 1 and run.stderr == f'Error from server (NotFound): namespaces "{namespace}" not found\n'
    run = kube.helm("list", "-n", namespace, "-o", "json")
    assert run.returncode == 0 and run.json() == [], run.describe()


# -- access entries --------------------------------------------------------------------------------------------------


@pytest.mark.mutates_platform
def test_a_view_access_entry_reads_but_may_not_write(kube, boto, cluster, emulator_server, caplog):
    caplog.set_level(logging.DEBUG)
    arn, key = iam_user_with_access(boto("iam"), boto("eks"), "viewer", policy="AmazonEKSViewPolicy")
    viewer = kube.as_user(key["access_key_id"], key["secret_access_key"])

    whoami = viewer.ok("auth", "whoami", "-o", "json").json()
    assert whoami["status"]["userInfo"]["username"] == arn == ACCOUNT_USER.format("viewer")
    run = viewer.ok("get", "configmaps", "-n", "kube-system", "-o", "name")
    assert "configmap/coredns" in run.lines
    run = viewer.ok("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "name")
    assert len(run.lines) == 2
    # like Kubernetes' view ClusterRole, the view policy leaves out nodes (cluster-scoped) and secrets
    run = viewer.kubectl("get", "nodes")
    assert run.returncode == 1
    assert run.stderr == (f'Error from server (Forbidden): nodes is forbidden: User "{arn}" cannot list resource '
                          '"nodes" in API group "" at the cluster scope\n')

    run = viewer.kubectl("create", "configmap", "viewer-was-here", "-n", "default", "--from-literal=a=b")
    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr == (f'error: failed to create configmap: configmaps is forbidden: User "{arn}" cannot create '
                          'resource "configmaps" in API group "" in the namespace "default"\n')
    run = viewer.kubectl("auth", "can-i", "create", "configmaps", "-n", "default")
    assert run.returncode == 1 and run.stdout.startswith("no"), run.describe()
    run = viewer.kubectl("auth", "can-i", "list", "pods", "--all-namespaces")
    assert run.returncode == 0 and run.stdout == "yes\n", run.describe()
    run = viewer.kubectl("get", "secrets", "-n", "kube-system")
    assert run.returncode == 1
    assert run.stderr == (f'Error from server (Forbidden): secrets is forbidden: User "{arn}" cannot list resource '
                          '"secrets" in API group "" in the namespace "kube-system"\n')

    # the same refusal on the wire: a Status with reason Forbidden
    token = viewer.token()
    status, body = kube.raw(cluster, "POST", "/api/v1/namespaces/default/configmaps",
                            json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                        "metadata": {"name": "viewer-was-here"}}).encode(), token=token)
    assert status == 403
    reason, message, code = status_of(body)
    assert (reason, code) == ("Forbidden", 403)
    assert message == (f'configmaps is forbidden: User "{arn}" cannot create resource "configmaps" in API group "" '
                       'in the namespace "default"')
    assert body["details"] == {"kind": "configmaps"}
    status, body = kube.raw(cluster, "GET", "/api/v1/namespaces/kube-system/configmaps/coredns", token=token)
    assert status == 200 and body["metadata"]["name"] == "coredns"
    run = kube.kubectl("get", "configmap", "viewer-was-here", "-n", "default")
    assert run.returncode == 1 and "NotFound" in run.stderr

    assert not has_token(caplog.text)  # the emulator's log of these requests (401s included)
    assert not has_token(json.dumps(EmulatorClient(emulator_server.url).requests()))


@pytest.mark.mutates_platform
def test_a_principal_without_access_entry_is_unauthorized(kube, boto, cluster, emulator_server, caplog):
    caplog.set_level(logging.DEBUG)
    arn, key = iam_user_with_access(boto("iam"), boto("eks"), "stranger", access_entry=False)
    stranger = kube.as_user(key["access_key_id"], key["secret_access_key"])
    for args in (("get", "namespaces"), ("get", "configmaps", "-n", "kube-system"), ("auth", "whoami")):
        run = stranger.kubectl(*args)
        assert (run.returncode, run.stdout) == (1, ""), run.describe()
        assert run.stderr == "error: You must be logged in to the server (Unauthorized)\n", run.describe()

    status, body = kube.raw(cluster, "GET", "/api/v1/namespaces", token=stranger.token())
    assert status == 401
    assert status_of(body) == ("Unauthorized", "Unauthorized", 401)
    # a token that is not an EKS token, and a well-formed one whose signature is wrong
    status, body = kube.raw(cluster, "GET", "/api/v1/namespaces", token="not-a-token")
    assert status == 401 and status_of(body)[0] == "Unauthorized"
    token = kube.token()
    assert has_token(token)  # what the checks below look for
    status, body = kube.raw(cluster, "GET", "/api/v1/namespaces", token=token[:-4] + ("AAAA" if token[-4:] != "AAAA"
                                                                                      else "BBBB"))
    assert status == 401 and status_of(body)[0] == "Unauthorized"
    # the deployer (the access entry site.yml made for it) is still let in
    assert kube.ok("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}").stdout == (
        "arn:aws:sts::123456789012:user/moto")
    assert arn not in boto("eks").list_access_entries(clusterName=CLUSTER)["accessEntries"]

    assert not has_token(caplog.text)  # the emulator's log of these requests (401s included)
    assert not has_token(json.dumps(EmulatorClient(emulator_server.url).requests()))


# -- errors ----------------------------------------------------------------------------------------------------------


def test_errors_are_kubernetes_status_objects(kube, api_client):
    from kubernetes import client as k8s

    core, apps = k8s.CoreV1Api(api_client), k8s.AppsV1Api(api_client)
    namespace = "errors"
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})

    status, body = api_exception(core.read_namespaced_config_map, "missing", namespace)
    assert status == 404
    assert status_of(body) == ("NotFound", 'configmaps "missing" not found', 404)
    assert body["details"] == {"name": "missing", "kind": "configmaps"}
    run = kube.kubectl("get", "configmap", "missing", "-n", namespace)
    assert (run.returncode, run.stdout, run.stderr) == (
        1, "", 'Error from server (NotFound): configmaps "missing" not found\n')

    created = core.create_namespaced_config_map(namespace, {"apiVersion": "v1", "kind": "ConfigMap",
                                                            "metadata": {"name": "settings"}, "data": {"a": "1"}})
    status, body = api_exception(core.create_namespaced_config_map, namespace, {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}})
    assert status == 409
    assert status_of(body) == ("AlreadyExists", 'configmaps "settings" already exists', 409)
    assert body["details"] == {"name": "settings", "kind": "configmaps"}

    core.patch_namespaced_config_map("settings", namespace, {"data": {"a": "2"}})  # moves the resourceVersion on
    stale = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "3"},
             "metadata": {"name": "settings", "resourceVersion": created.metadata.resource_version}}
    status, body = api_exception(core.replace_namespaced_config_map, "settings", namespace, stale)
    assert status == 409
    assert status_of(body) == ("Conflict", 'Operation cannot be fulfilled on configmaps "settings": the object has '
                                           'been modified; please apply your changes to the latest version and try '
                                           'again', 409)
    assert core.read_namespaced_config_map("settings", namespace).data == {"a": "2"}

    status, body = api_exception(core.create_namespaced_config_map, namespace, {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Not_A_Name"}})
    assert status == 422
    reason, message, code = status_of(body)
    assert (reason, code) == ("Invalid", 422)
    assert message.startswith('ConfigMap "Not_A_Name" is invalid: metadata.name: Invalid value: "Not_A_Name": '
                              "a lowercase RFC 1123 subdomain must consist of")
    assert body["details"]["name"] == "Not_A_Name" and body["details"]["kind"] == "ConfigMap"
    assert [(c["reason"], c["field"]) for c in body["details"]["causes"]] == [("FieldValueInvalid", "metadata.name")]

    labels = {"app": "a"}
    status, body = api_exception(apps.create_namespaced_deployment, namespace, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "mismatch"},
        "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": {"app": "b"}}, "spec": {
            "containers": [{"name": "c", "image": "nginx"}]}}}})
    assert status == 422
    reason, message, _code = status_of(body)
    assert reason == "Invalid" and message.startswith('Deployment.apps "mismatch" is invalid: ')
    assert body["details"]["group"] == "apps" and body["details"]["kind"] == "Deployment"
    assert ("FieldValueInvalid", "spec.template.metadata.labels") in [
        (c["reason"], c["field"]) for c in body["details"]["causes"]]
    run = kube.kubectl("create", "configmap", "Not_A_Name", "-n", namespace)
    assert run.returncode == 1 and run.stderr.startswith(
        'error: failed to create configmap: ConfigMap "Not_A_Name" is invalid: metadata.name: Invalid value: '
        '"Not_A_Name": a lowercase RFC 1123 subdomain'), run.describe()

    core.delete_namespace(namespace)


def test_unknown_kinds_are_not_found_by_discovery_driven_clients(kube, cluster, api_client, tmp_path):
    from kubernetes import dynamic
    from kubernetes.dynamic.exceptions import ResourceNotFoundError

    unknown = 'error: the server doesn\'t have a resource type "foos"\n'
    run = kube.kubectl("get", "foos")
    assert (run.returncode, run.stdout, run.stderr) == (1, "", unknown)
    run = kube.kubectl("get", "foos.example.com", "-n", "default")
    assert (run.returncode, run.stdout, run.stderr) == (1, "", unknown)
    run = kube.kubectl("explain", "foos")
    assert run.returncode == 1 and 'the server doesn\'t have a resource type "foos"' in run.stderr, run.describe()

    client = dynamic.DynamicClient(api_client, cache_file=str(tmp_path / "discovery.json"))
    with pytest.raises(ResourceNotFoundError, match="No matches found"):
        client.resources.get(api_version="v1", kind="Foo")
    with pytest.raises(ResourceNotFoundError, match="No matches found"):
        client.resources.get(api_version="example.com/v1", kind="Foo")
    # the same client finds what exists, built-in and the test chart's kind alike
    nodes = client.resources.get(api_version="v1", kind="Node").get()
    assert len(nodes.items) > 0
    assert client.resources.get(api_version="apps/v1", kind="Deployment").namespaced is True

    for path in ("/api/v1/foos", "/api/v1/namespaces/default/foos", "/apis/example.com/v1/foos"):
        status, body = kube.raw(cluster, "GET", path)
        assert status == 404, path
        assert status_of(body) == ("NotFound", "the server could not find the requested resource", 404)


def test_a_malformed_body_is_a_bad_request_naming_the_problem(kube, cluster):
    token = kube.token()
    path = "/api/v1/namespaces/default/configmaps"
    status, body = kube.raw(cluster, "POST", path, b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {',
                            token=token)
    assert status == 400
    reason, message, code = status_of(body)
    assert (reason, code) == ("BadRequest", 400)
    assert "json parse error" in message and "ConfigMap" in message, message

    status, body = kube.raw(cluster, "POST", path, json.dumps({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "typed"}, "data": {"count": 1}}).encode(),
        token=token)
    assert status == 400
    reason, message, _code = status_of(body)
    assert reason == "BadRequest"
    assert message == ('ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number '
                       'into Go struct field ConfigMap.data.count of type string')

    status, body = kube.raw(cluster, "POST", path, json.dumps({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "patched"}}).encode(), token=token)
    assert status == 201, body
    status, body = kube.raw(cluster, "PATCH", f"{path}/patched", b'{"data": ',
                            content_type="application/merge-patch+json", token=token)
    assert status == 400
    reason, message, _code = status_of(body)
    assert reason == "BadRequest" and "json parse error" in message, message
    # nothing was created or changed by the refused requests
    status, body = kube.raw(cluster, "GET", f"{path}/typed", token=token)
    assert status == 404 and status_of(body)[0] == "NotFound"
    status, body = kube.raw(cluster, "DELETE", f"{path}/patched", token=token)
    assert status == 200 and "data" not in body.get("details", body), body
