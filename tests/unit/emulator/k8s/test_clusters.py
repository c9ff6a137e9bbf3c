"""The registry of the clusters' Kubernetes APIs and its EKS integration (emulator/k8s/clusters.py)."""

from __future__ import annotations

import base64
import json
import logging
import socket
import ssl
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError

from emulator.k8s import auth, clusters
from emulator.k8s.clusters import REGISTRY
from emulator.server import EmulatorServer
from tests.unit.emulator.k8s.eks_support import ACCOUNT, create_cluster, mint_token
from tests.unit.emulator.shape_check import client, error_code, strict, wait_until


class FakeApiServer:
    """Test double of ``apiserver.ApiServer``: HTTPS on a free 127.0.0.1 port, one endpoint.

    ``GET /whoami`` authenticates the bearer token with the ``authenticate``
    it was given (401 without a user) and answers the username and whether
    it may list pods in ``default``.
    """

    def __init__(self, cluster_name, kubernetes_version, authenticate, authorize, ssl_context, cluster,
                 port=0, store=None):
        self.cluster_name = cluster_name
        self.store = store if store is not None else {"objects": []}
        self.kubernetes_version = kubernetes_version
        self.cluster = cluster
        self.stopped = False
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                header = self.headers.get("Authorization", "")
                user = authenticate(header[len("Bearer "):]) if header.startswith("Bearer ") else None
                if user is None:
                    status, body = 401, {"kind": "Status", "code": 401, "reason": "Unauthorized"}
                else:
                    allowed, reason = authorize(user, {"verb": "list", "resource": "pods", "namespace": "default"})
                    status, body = 200, {"username": user.username, "allowed": allowed, "reason": reason,
                                         "cluster": server.cluster_name, "version": server.kubernetes_version}
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.socket = ssl_context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def port(self):
        return self.httpd.server_address[1]

    def stop(self):
        self.stopped = True
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake_apis(emulator, monkeypatch):
    """The registry builds :class:`FakeApiServer` test doubles; the list of those built."""
    built = []

    def factory(**kwargs):
        server = FakeApiServer(**kwargs)
        built.append(server)
        return server

    monkeypatch.setattr(REGISTRY, "factory", factory)
    yield built
    REGISTRY.stop_all()


@pytest.fixture
def eks(emulator):
    return strict(client(emulator.url, "eks"))


def whoami(endpoint, ca_data, token):
    """GET endpoint/whoami verifying the server with ``certificateAuthority.data``: (status, body)."""
    context = ssl.create_default_context(cadata=base64.b64decode(ca_data).decode())
    request = urllib.request.Request(endpoint + "/whoami", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, context=context, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def port_closed(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def test_api_starts_when_the_cluster_becomes_active(emulator, emulator_client, eks, fake_apis):
    emulator_client.configure(profile={"eks_cluster_create": 120})
    created = create_cluster(emulator.url)
    assert created["status"] == "CREATING"
    creating = eks.describe_cluster(name="demo")["cluster"]
    assert "endpoint" not in creating and "certificateAuthority" not in creating
    assert REGISTRY.apis() == []
    emulator_client.settle()
    # Started when the create settles, before anybody asks for the endpoint.
    api = wait_until(lambda: REGISTRY.get(auth.ClusterRef(ACCOUNT, "us-east-1", "demo")))
    assert len(fake_apis) == 1 and fake_apis[0].cluster_name == "demo" and fake_apis[0].kubernetes_version == "1.35"
    assert fake_apis[0].cluster == auth.ClusterRef(ACCOUNT, "us-east-1", "demo")

    cluster = eks.describe_cluster(name="demo")["cluster"]  # strict: still botocore's shape
    assert cluster["status"] == "ACTIVE"
    assert cluster["endpoint"] == f"https://127.0.0.1:{fake_apis[0].port}" == api.endpoint
    assert cluster["certificateAuthority"]["data"] == api.tls.ca_data
    assert eks.list_clusters()["clusters"] == ["demo"]
    assert len(fake_apis) == 1  # reading the endpoint again does not start another API

    # The CA of DescribeCluster verifies the served certificate, and the API authenticates EKS tokens.
    status, body = whoami(cluster["endpoint"], cluster["certificateAuthority"]["data"], mint_token(emulator.url, "demo"))
    assert status == 200 and body["username"] == f"arn:aws:sts::{ACCOUNT}:user/moto" and body["allowed"]
    assert whoami(cluster["endpoint"], cluster["certificateAuthority"]["data"], "k8s-aws-v1.bad")[0] == 401


def test_deletion_stops_the_api_and_frees_its_port(emulator, emulator_client, eks, fake_apis):
    emulator_client.configure(profile={"eks_cluster_delete": 120})  # settled below, once DELETING was seen
    network = create_cluster(emulator.url)["network"]
    cluster = eks.describe_cluster(name="demo")["cluster"]
    port = fake_apis[0].port
    eks.delete_cluster(name="demo")
    deleting = eks.describe_cluster(name="demo")["cluster"]
    assert deleting["status"] == "DELETING" and deleting["endpoint"] == cluster["endpoint"]
    assert whoami(cluster["endpoint"], cluster["certificateAuthority"]["data"],
                  mint_token(emulator.url, "demo"))[0] == 200  # still served while DELETING
    # Stopped when the delete settles, without anybody calling DescribeCluster.
    emulator_client.settle()
    wait_until(lambda: fake_apis[0].stopped)
    assert REGISTRY.apis() == [] and port_closed(port)
    with pytest.raises(ClientError) as excinfo:
        eks.describe_cluster(name="demo")
    assert error_code(excinfo) == "ResourceNotFoundException"

    # A new cluster of the same name gets a new API and a new CA.
    emulator_client.configure(profile="instant")
    create_cluster(emulator.url, network=network)
    again = eks.describe_cluster(name="demo")["cluster"]
    assert len(fake_apis) == 2 and again["certificateAuthority"]["data"] != cluster["certificateAuthority"]["data"]


def test_each_cluster_has_its_own_api_and_reset_stops_them(emulator, emulator_client, eks, fake_apis):
    first = create_cluster(emulator.url, name="one")
    create_cluster(emulator.url, name="two", network=first["network"])
    one, two = (eks.describe_cluster(name=name)["cluster"] for name in ("one", "two"))
    assert one["endpoint"] != two["endpoint"]
    assert one["certificateAuthority"]["data"] != two["certificateAuthority"]["data"]
    token = mint_token(emulator.url, "one")
    assert whoami(one["endpoint"], one["certificateAuthority"]["data"], token)[0] == 200
    # A token for cluster one is no good at cluster two; cluster two's server does not pass one's CA.
    assert whoami(two["endpoint"], two["certificateAuthority"]["data"], token)[0] == 401
    with pytest.raises(urllib.error.URLError):
        whoami(two["endpoint"], one["certificateAuthority"]["data"], token)

    ports = [server.port for server in fake_apis]
    emulator_client.reset()
    assert REGISTRY.apis() == [] and all(server.stopped for server in fake_apis)
    assert all(port_closed(port) for port in ports)


def test_listeners_follow_the_apis(emulator, emulator_client, eks, fake_apis):
    events = []
    unsubscribe = REGISTRY.subscribe(lambda event, api: events.append((event, api.ref.name, api.port, api.store)))
    try:
        create_cluster(emulator.url, version="1.34")
        eks.describe_cluster(name="demo")
        eks.update_cluster_version(name="demo", version="1.35")
        wait_until(lambda: len(fake_apis) == 2)
        emulator_client.reset()
    finally:
        unsubscribe()
    port, store = fake_apis[0].port, fake_apis[0].store
    assert events == [("started", "demo", port, store), ("stopping", "demo", port, store),
                      ("started", "demo", port, store), ("stopping", "demo", port, store)]


def test_no_endpoint_for_a_cluster_deleted_before_it_was_active(emulator, emulator_client, eks, fake_apis):
    emulator_client.configure(profile={"eks_cluster_create": 120, "eks_cluster_delete": 120})
    create_cluster(emulator.url)
    eks.delete_cluster(name="demo")
    deleting = eks.describe_cluster(name="demo")["cluster"]
    assert deleting["status"] == "DELETING"
    assert "endpoint" not in deleting and "certificateAuthority" not in deleting and fake_apis == []


def test_version_update_restarts_the_api_on_its_port(emulator, eks, fake_apis):
    create_cluster(emulator.url, version="1.34")
    before = eks.describe_cluster(name="demo")["cluster"]
    assert fake_apis[0].kubernetes_version == "1.34"
    eks.update_cluster_version(name="demo", version="1.35")  # instant profile: done at once
    wait_until(lambda: len(fake_apis) == 2)  # restarted when the update settles
    after = eks.describe_cluster(name="demo")["cluster"]
    assert after["version"] == "1.35" and fake_apis[1].kubernetes_version == "1.35" and fake_apis[0].stopped
    assert after["endpoint"] == before["endpoint"]  # same port, same CA, same objects
    assert after["certificateAuthority"] == before["certificateAuthority"]
    assert fake_apis[1].store is fake_apis[0].store
    status, body = whoami(after["endpoint"], after["certificateAuthority"]["data"], mint_token(emulator.url, "demo"))
    assert status == 200 and body["version"] == "1.35"


def test_a_failing_factory_falls_back_to_the_stored_endpoint(emulator, eks, monkeypatch, caplog):
    calls = []

    def broken(**kwargs):
        calls.append(kwargs["cluster_name"])
        raise OSError("no port for you")

    monkeypatch.setattr(REGISTRY, "factory", broken)
    create_cluster(emulator.url)
    first = eks.describe_cluster(name="demo")["cluster"]
    second = eks.describe_cluster(name="demo")["cluster"]
    assert first["endpoint"] == second["endpoint"] and first["endpoint"].endswith(".eks.amazonaws.com")
    assert base64.b64decode(first["certificateAuthority"]["data"]).startswith(b"-----BEGIN CERTIFICATE-----")
    assert calls == ["demo"]  # not retried at every read
    assert "the Kubernetes API could not start" in caplog.text


def test_apis_run_only_while_an_emulator_server_runs(emulator, fake_apis):
    create_cluster(emulator.url)
    from moto.eks.models import eks_backends

    cluster = eks_backends[ACCOUNT]["us-east-1"].clusters["demo"]
    registry = clusters.Registry(factory=lambda **kwargs: FakeApiServer(**kwargs))
    assert registry.api_for(cluster) is None  # moto alone never opens ports
    registry.acquire()
    registry.acquire()
    api = registry.api_for(cluster)
    assert api is not None and registry.api_for(cluster) is api
    registry.release()
    assert registry.apis() == [api]
    registry.release()
    assert registry.apis() == [] and api.server.stopped and port_closed(api.port)

    # A second in-process EmulatorServer stopping does not stop the APIs the first one serves.
    assert REGISTRY.api_for(cluster) is not None
    with EmulatorServer():
        pass
    assert [api.ref.name for api in REGISTRY.apis()] == ["demo"] and not fake_apis[-1].stopped


def test_no_factory_keeps_the_stored_values(emulator, eks, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(REGISTRY, "factory", None)
    monkeypatch.setattr(clusters, "default_factory", lambda: None)
    create_cluster(emulator.url)
    cluster = eks.describe_cluster(name="demo")["cluster"]
    assert cluster["endpoint"].startswith("https://") and cluster["endpoint"].endswith(".eks.amazonaws.com")
    assert REGISTRY.apis() == []
