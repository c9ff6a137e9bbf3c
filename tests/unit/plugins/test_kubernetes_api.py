"""module_utils/kubeconfig.py's KubernetesApi without a server: requests, lists that follow ``continue``, deletes
with a propagation policy, errors as KubernetesApiError, a token per request that never shows in an error."""

from __future__ import annotations

import io
import json
import sys
import urllib.error
import urllib.parse
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.llmhub.eks.plugins.module_utils import kubeconfig as kc  # noqa: E402

ENDPOINT = "https://api.example.test:6443"
TOKEN = "k8s-aws-v1.aHR0cHM6Ly9zdHMuYW1hem9uYXdzLmNvbS8_QWN0aW9uPUdldENhbGxlcklkZW50aXR5"


class Response(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FakeOpener:
    """Answers requests from ``answers``: a list of (status, body) or a callable(request) -> (status, body)."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = []

    def open(self, request, timeout=None):
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        status, body = answer
        data = json.dumps(body).encode() if body is not None else b""
        if status >= 400:
            raise urllib.error.HTTPError(request.full_url, status, {404: "Not Found", 410: "Gone", 403: "Forbidden",
                                                                    409: "Conflict"}.get(status, "Error"), {},
                                         io.BytesIO(data))
        return Response(data)


def api(answers):
    tokens = iter(f"{TOKEN}{n}" for n in range(100))
    opener = FakeOpener(answers)
    return kc.KubernetesApi(ENDPOINT, "unused", lambda: next(tokens), opener=opener), opener


def query_of(request):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(request.full_url).query))


def test_get_sends_a_fresh_token_per_request_in_the_header_only():
    client, opener = api([(200, {"gitVersion": "v1.35.2-eks-1"}), (200, {"items": []})])
    assert client.server_version() == "v1.35.2-eks-1"
    assert client.get("/api/v1/namespaces", {"labelSelector": "a=b"}) == {"items": []}
    first, second = opener.requests
    assert first.get_method() == "GET" and first.full_url == ENDPOINT + "/version"
    assert first.get_header("Authorization") == f"Bearer {TOKEN}0"
    assert second.get_header("Authorization") == f"Bearer {TOKEN}1"
    assert query_of(second) == {"labelSelector": "a=b"}
    assert second.data is None


def test_request_sends_json_and_reads_an_empty_answer():
    client, opener = api([(200, None)])
    assert client.request("PATCH", "/api/v1/namespaces/a", body={"metadata": {"labels": {"x": "y"}}}) == {}
    [request] = opener.requests
    assert request.get_method() == "PATCH"
    assert request.get_header("Content-type") == "application/json"
    assert json.loads(request.data) == {"metadata": {"labels": {"x": "y"}}}


def test_list_follows_continue_tokens_keeping_the_query():
    client, opener = api([(200, {"items": [{"n": 1}, {"n": 2}], "metadata": {"continue": "t1"}}),
                          (200, {"items": [{"n": 3}], "metadata": {"continue": ""}})])
    assert client.list("/api/v1/pods", {"fieldSelector": "spec.nodeName=x"}) == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert [query_of(r) for r in opener.requests] == [
        {"fieldSelector": "spec.nodeName=x", "limit": "500"},
        {"fieldSelector": "spec.nodeName=x", "limit": "500", "continue": "t1"}]


def test_list_starts_over_when_the_continue_token_expired():
    expired = {"kind": "Status", "message": "The provided continue parameter is too old"}
    client, opener = api([(200, {"items": [{"n": 1}], "metadata": {"continue": "t1"}}), (410, expired),
                          (200, {"items": [{"n": 1}, {"n": 2}]})])
    assert client.list("/api/v1/pods") == [{"n": 1}, {"n": 2}]
    assert [query_of(r).get("continue") for r in opener.requests] == [None, "t1", None]


def test_list_gives_up_after_expired_tokens_each_time():
    page = (200, {"items": [], "metadata": {"continue": "t"}})
    client, _opener = api([page, (410, {}), page, (410, {}), page, (410, {})])
    with pytest.raises(kc.KubernetesApiError) as raised:
        client.list("/api/v1/pods")
    assert raised.value.status == 410


def test_nodes_is_a_list():
    client, _opener = api([(200, {"items": [{"metadata": {"name": "a"}}], "metadata": {"continue": "c"}}),
                           (200, {"items": [{"metadata": {"name": "b"}}]})])
    assert [n["metadata"]["name"] for n in client.nodes()] == ["a", "b"]


def test_delete_sends_the_propagation_policy_and_treats_404_as_gone():
    client, opener = api([(200, {"kind": "Deployment", "metadata": {"name": "web"}}),
                          (404, {"kind": "Status", "message": 'deployments.apps "web" not found'}), (200, {})])
    assert client.delete("/apis/apps/v1/namespaces/a/deployments/web", "Background")["kind"] == "Deployment"
    assert client.delete("/apis/apps/v1/namespaces/a/deployments/web", "Background") is None
    client.delete("/api/v1/namespaces/a/services/web")
    first, _second, third = opener.requests
    assert first.get_method() == "DELETE"
    assert json.loads(first.data) == {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
    assert json.loads(third.data) == {"kind": "DeleteOptions", "apiVersion": "v1"}


def test_errors_name_the_method_path_status_and_message_never_the_token():
    client, _opener = api([(403, {"kind": "Status", "message": 'pods is forbidden: User "x" cannot list'}),
                           (409, {}), urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))])
    with pytest.raises(kc.KubernetesApiError) as raised:
        client.list("/api/v1/pods")
    assert str(raised.value) == 'GET /api/v1/pods: 403 Forbidden: pods is forbidden: User "x" cannot list'
    assert (raised.value.status, raised.value.reason) == (403, 'pods is forbidden: User "x" cannot list')
    with pytest.raises(kc.KubernetesApiError) as raised:
        client.delete("/api/v1/namespaces/a/pods/p", "Background")
    assert str(raised.value) == "DELETE /api/v1/namespaces/a/pods/p: 409 Conflict"
    with pytest.raises(kc.KubernetesApiError) as raised:
        client.get("/version")
    assert raised.value.status is None
    assert str(raised.value).startswith(f"cannot reach {ENDPOINT}: ")
    assert "k8s-aws-v1." not in str(raised.value)
