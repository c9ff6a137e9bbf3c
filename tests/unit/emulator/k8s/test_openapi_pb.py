"""OpenAPI v2 as gnostic protobuf: the wire format, what the server answers, kubectl's validation of a List."""

from __future__ import annotations

import http.client
import os
import ssl
import subprocess
from typing import Any

from emulator.k8s import openapi_pb

from .conftest import ADMIN_TOKEN, KUBECTL, Cluster, requires_kubectl


def fields(message: bytes) -> dict[int, list[Any]]:
    """A protobuf message's fields (number -> values: int for varints, bytes for the rest)."""
    result: dict[int, list[Any]] = {}
    i = 0

    def varint() -> int:
        nonlocal i
        value = shift = 0
        while True:
            byte = message[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while i < len(message):
        key = varint()
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value: Any = varint()
        elif wire_type == 1:
            value, i = message[i:i + 8], i + 8
        elif wire_type == 2:
            length = varint()
            value, i = message[i:i + length], i + length
        else:
            raise AssertionError(f"wire type {wire_type}")
        result.setdefault(number, []).append(value)
    return result


def named(entries: list[bytes]) -> dict[str, bytes]:
    """``Named*`` messages (name = 1, value = 2) as a dict."""
    return {fields(e)[1][0].decode(): fields(e).get(2, [b""])[0] for e in entries}


def test_schema_fields_use_gnostics_numbers():
    schema = fields(openapi_pb.encode_schema({
        "description": "a thing", "type": "object", "required": ["spec"],
        "properties": {"spec": {"$ref": "#/definitions/Spec"}, "n": {"type": "integer", "minimum": -1}},
        "additionalProperties": False, "x-kubernetes-group-version-kind": [{"group": "", "kind": "T", "version": "v1"}],
        "nullable": True,
    }))
    assert schema[4] == [b"a thing"]
    assert fields(schema[22][0]) == {1: [b"object"]}  # TypeItem.value
    assert schema[19] == [b"spec"]
    properties = named(fields(schema[25][0])[1])  # Properties.additional_properties: NamedSchema
    assert fields(properties["spec"]) == {1: [b"#/definitions/Spec"]}
    assert fields(properties["n"])[9] == [b"\x00\x00\x00\x00\x00\x00\xf0\xbf"]  # minimum = -1.0, a double
    assert fields(schema[21][0]) == {2: [0]}  # additionalProperties: false is written (a set oneof)
    (extension,) = schema[31]
    name, value = fields(extension)[1][0], fields(fields(extension)[2][0])[2][0]
    assert (name, value) == (b"x-kubernetes-group-version-kind", b'[{"group":"","kind":"T","version":"v1"}]')
    assert set(schema) == {4, 19, 21, 22, 25, 31}  # "nullable" has no place in Swagger 2.0


def test_document_keeps_swagger_info_and_definitions():
    document = fields(openapi_pb.encode_document({
        "swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.35.0"}, "paths": {"/api": {}},
        "definitions": {"A": {"type": "string"}, "B": {"items": {"type": "string"}, "type": "array"}}}))
    assert document[1] == [b"2.0"]
    assert fields(document[2][0]) == {1: [b"Kubernetes"], 2: [b"v1.35.0"]}
    definitions = named(fields(document[9][0])[1])
    assert list(definitions) == ["A", "B"]
    assert fields(fields(fields(definitions["B"])[23][0])[1][0]) == {22: [fields(definitions["A"])[22][0]]}
    assert 8 not in document  # no paths


def get(cluster: Cluster, path: str, accept: str) -> tuple[int, dict[str, str], bytes]:
    context = ssl.create_default_context(cafile=str(cluster.ca_path))
    connection = http.client.HTTPSConnection("127.0.0.1", cluster.server.port, context=context, timeout=30)
    connection.request("GET", path, headers={"Accept": accept, "Authorization": f"Bearer {ADMIN_TOKEN}"})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def test_server_answers_protobuf_to_client_gos_accept(cluster):
    status, headers, body = get(cluster, "/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
    assert status == 200
    assert headers["content-type"] == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    document = fields(body)
    assert document[1] == [b"2.0"]
    definitions = named(fields(document[9][0])[1])
    deployment = fields(definitions["io.k8s.api.apps.v1.Deployment"])
    extensions = named(deployment[31])
    assert fields(extensions["x-kubernetes-group-version-kind"])[2] == [
        b'[{"group":"apps","kind":"Deployment","version":"v1"}]']
    assert get(cluster, "/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")[2] == body
    status, headers, _ = get(cluster, "/openapi/v2", "application/json")
    assert status == 200 and headers["content-type"] == "application/json"
    assert get(cluster, "/openapi/v2", "application/vnd.kubernetes.protobuf")[0] == 406


LIST = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: listed
    namespace: {namespace}
  {data}: {{a: b}}
"""


@requires_kubectl
def test_kubectl_validates_a_list_with_the_protobuf_document(cluster, namespace, tmp_path):
    """A ``kind: List`` is validated client-side, from /openapi/v2 in protobuf (it used to fail with a 406)."""
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig()), "KUBECACHEDIR": str(tmp_path / "cache"),
           "HOME": str(tmp_path)}

    def create(data_key: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(KUBECTL), "create", "-f", "-"], env=env, capture_output=True, text=True,
                              timeout=60, input=LIST.format(namespace=namespace, data=data_key), check=False)

    refused = create("dataa")
    assert refused.returncode == 1
    assert 'unknown field "dataa"' in refused.stderr, refused.stderr
    created = create("data")
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "configmap/listed created"
    assert created.stderr == ""
