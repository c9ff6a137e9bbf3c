"""Helpers of the Kubernetes-API tests: EKS tokens as ``aws eks get-token`` makes them, RBAC object readers."""

from __future__ import annotations

import base64
from typing import Any

import botocore.session

from tests.unit.emulator.shape_check import client, make_network, make_roles

K8S_AWS_ID = "x-k8s-aws-id"
ACCOUNT = "123456789012"
CLUSTER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/eks-cluster"
POLICY = "arn:aws:eks::aws:cluster-access-policy/"


def mint_token(endpoint_url: str | None, cluster_name: str, region: str = "us-east-1",
               expires_in: int = 60, **credentials: Any) -> str:
    """A ``k8s-aws-v1.`` token made the way awscli's ``eks get-token`` makes it.

    An STS client gets the ``x-k8s-aws-id`` parameter moved into the request
    context (``provide-client-params``) and then into a header before signing
    (``before-sign``), and ``get_caller_identity`` is presigned for GET.
    ``credentials``: ``aws_access_key_id``/``aws_secret_access_key``/``aws_session_token``
    (default: the environment's, i.e. the emulator's ``testing`` credentials).
    """
    session = botocore.session.get_session()
    sts = session.create_client("sts", region_name=region, endpoint_url=endpoint_url, **credentials)

    def retrieve(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if K8S_AWS_ID in params:
            context[K8S_AWS_ID] = params.pop(K8S_AWS_ID)

    def inject(request: Any, **_: Any) -> None:
        if K8S_AWS_ID in request.context:
            request.headers[K8S_AWS_ID] = request.context[K8S_AWS_ID]

    sts.meta.events.register("provide-client-params.sts.GetCallerIdentity", retrieve)
    sts.meta.events.register("before-sign.sts.GetCallerIdentity", inject)
    url = sts.generate_presigned_url("get_caller_identity", Params={K8S_AWS_ID: cluster_name},
                                     ExpiresIn=expires_in, HttpMethod="GET")
    return "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def token_url(token: str) -> str:
    body = token[len("k8s-aws-v1."):]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()


def url_token(url: str) -> str:
    return "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


class ObjectList:
    """A test double of the store's read interface: ``list_objects`` over a list of manifests."""

    def __init__(self, *objects: dict[str, Any]) -> None:
        self.objects = list(objects)

    def add(self, *objects: dict[str, Any]) -> ObjectList:
        self.objects += objects
        return self

    def list_objects(self, group: str, resource: str, namespace: str | None) -> list[dict[str, Any]]:
        plural = {"ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings", "Role": "roles",
                  "RoleBinding": "rolebindings", "ConfigMap": "configmaps"}
        found = []
        for obj in self.objects:
            obj_group = obj["apiVersion"].rpartition("/")[0]
            if (obj_group, plural.get(obj["kind"])) != (group, resource):
                continue
            if namespace is not None and obj["metadata"].get("namespace") != namespace:
                continue
            found.append(obj)
        return found


def role_binding(name: str, namespace: str, role_kind: str, role: str, *subjects: tuple[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [{"kind": kind, "name": subject} for kind, subject in subjects],
    }


def create_cluster(emulator_url: str, name: str = "demo", mode: str = "API_AND_CONFIG_MAP",
                   network: dict[str, Any] | None = None, version: str | None = None, **access: Any) -> dict[str, Any]:
    """An EKS cluster (and, the first time, the network and cluster role it needs)."""
    if network is None:
        make_roles(client(emulator_url, "iam"), "eks-cluster")
        network = make_network(client(emulator_url, "ec2"))
    eks = client(emulator_url, "eks")
    extra = {"version": version} if version else {}
    cluster = eks.create_cluster(name=name, roleArn=CLUSTER_ROLE, resourcesVpcConfig={"subnetIds": network["subnets"]},
                                 accessConfig={"authenticationMode": mode, **access}, **extra)["cluster"]
    cluster["network"] = network
    return cluster
