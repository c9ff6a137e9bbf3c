"""Helpers of the controller tests: an EKS cluster of the emulator with its API, store access, kubectl."""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from emulator.k8s import eks_bridge
from emulator.k8s.auth import ClusterRef
from emulator.k8s.controllers.runtime import KINDS, kind_name
from tests.unit.emulator.k8s.eks_support import ACCOUNT, CLUSTER_ROLE, mint_token
from tests.unit.emulator.shape_check import client, make_roles, wait_until

BIN = Path(__file__).resolve().parents[4] / ".venv" / "bin"
NODE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/eks-node"
TIMEOUT = 60.0


def make_vpc(ec2: Any) -> dict[str, Any]:
    """A VPC with a private /20 and a public /24 subnet in each of two AZs, tagged for load balancers."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    private, public = [], []
    for index, zone in enumerate(("us-east-1a", "us-east-1b")):
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{index * 16}.0/20", AvailabilityZone=zone)
        private.append(subnet["Subnet"]["SubnetId"])
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{48 + index}.0/24", AvailabilityZone=zone)
        public.append(subnet["Subnet"]["SubnetId"])
    ec2.create_tags(Resources=private, Tags=[{"Key": "kubernetes.io/role/internal-elb", "Value": "1"}])
    ec2.create_tags(Resources=public, Tags=[{"Key": "kubernetes.io/role/elb", "Value": "1"}])
    return {"vpc": vpc, "private": private, "public": public, "subnets": private + public}


@dataclass
class Cluster:
    """An ACTIVE EKS cluster of the emulator, its API's store and controllers."""

    url: str
    name: str
    network: dict[str, Any]
    workdir: Path
    _kubeconfig: Path | None = field(default=None, repr=False)

    @property
    def ref(self) -> ClusterRef:
        return ClusterRef(ACCOUNT, "us-east-1", self.name)

    @property
    def controllers(self) -> Any:
        return eks_bridge.controllers_for(self.ref)

    @property
    def store(self) -> Any:
        return self.controllers.store

    def aws(self, service: str) -> Any:
        return client(self.url, service)

    # -- EKS ------------------------------------------------------------------------------------------

    def nodegroup(self, name: str, desired: int = 2, wait: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("instanceTypes", ["m5.large"])
        kwargs.setdefault("subnets", self.network["private"])
        self.aws("eks").create_nodegroup(clusterName=self.name, nodegroupName=name, nodeRole=NODE_ROLE,
                                         scalingConfig={"minSize": 0, "maxSize": 10, "desiredSize": desired},
                                         **kwargs)
        if wait:
            self.wait(lambda: len(self.nodes(name)) == desired, f"{desired} nodes of {name}")

    def addon(self, name: str) -> dict[str, Any]:
        return self.aws("eks").describe_addon(clusterName=self.name, addonName=name)["addon"]

    # -- Kubernetes -----------------------------------------------------------------------------------

    def rt(self, kind: str) -> Any:
        group, version, plural = KINDS[kind]
        return self.store.resources.get(group, version, plural)

    def apply(self, *manifests: dict[str, Any]) -> list[dict[str, Any]]:
        created = []
        for manifest in manifests:
            kind = kind_name(manifest)
            if kind is None:
                rt = self.store.resources.for_kind(manifest["apiVersion"], manifest["kind"])
            else:
                rt = self.rt(kind)
            created.append(self.store.create(rt, manifest))
        return created

    def get(self, kind: str, name: str, namespace: str | None = "default") -> dict[str, Any] | None:
        return self.store.try_get(self.rt(kind), namespace, name)

    def list(self, kind: str, namespace: str | None = None, labels: str | None = None) -> list[dict[str, Any]]:
        return self.store.list(self.rt(kind), namespace, labels)[0]

    def delete(self, kind: str, name: str, namespace: str | None = "default") -> None:
        self.store.delete(self.rt(kind), namespace, name)

    def nodes(self, group: str | None = None) -> list[dict[str, Any]]:
        selector = f"eks.amazonaws.com/nodegroup={group}" if group else None
        return self.list("nodes", None, selector)

    def pods(self, namespace: str = "default", labels: str | None = None) -> list[dict[str, Any]]:
        return self.list("pods", namespace, labels)

    def events(self, obj: dict[str, Any], reason: str | None = None) -> list[dict[str, Any]]:
        uid = obj["metadata"]["uid"]
        namespace = obj["metadata"].get("namespace") or "default"
        return [e for e in self.list("events", namespace)
                if e["involvedObject"].get("uid") == uid and (reason is None or e["reason"] == reason)]

    def wait(self, probe: Callable[[], Any], what: str = "condition", timeout: float = TIMEOUT) -> Any:
        try:
            return wait_until(probe, timeout=timeout)
        except AssertionError:
            raise AssertionError(f"timed out waiting for {what}") from None

    def settle(self) -> None:
        """Let the controllers finish what they have to do now."""
        assert self.controllers.sync(10.0), "the controllers did not settle"

    # -- kubectl ----------------------------------------------------------------------------------------

    def kubeconfig(self) -> Path:
        if self._kubeconfig is None:
            cluster = self.aws("eks").describe_cluster(name=self.name)["cluster"]
            ca = self.workdir / "ca.pem"
            ca.write_bytes(base64.b64decode(cluster["certificateAuthority"]["data"]))
            path = self.workdir / "kubeconfig"
            path.write_text(yaml.safe_dump({
                "apiVersion": "v1", "kind": "Config",
                "clusters": [{"name": self.name, "cluster": {"server": cluster["endpoint"],
                                                             "certificate-authority": str(ca)}}],
                "users": [{"name": "admin", "user": {"token": mint_token(self.url, self.name, expires_in=900)}}],
                "contexts": [{"name": self.name, "context": {"cluster": self.name, "user": "admin"}}],
                "current-context": self.name,
            }))
            self._kubeconfig = path
        return self._kubeconfig

    def kubectl(self, *args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "kubectl"), "--kubeconfig", str(self.kubeconfig()), *args], input=stdin,
                              capture_output=True, text=True, timeout=timeout)


def start_cluster(url: str, workdir: Path, name: str = "demo", version: str = "1.35") -> Cluster:
    make_roles(client(url, "iam"), "eks-cluster", "eks-node")
    network = make_vpc(client(url, "ec2"))
    eks = client(url, "eks")
    eks.create_cluster(name=name, roleArn=CLUSTER_ROLE, version=version,
                       resourcesVpcConfig={"subnetIds": network["private"]})
    cluster = Cluster(url, name, network, workdir)
    wait_until(lambda: eks.describe_cluster(name=name)["cluster"]["status"] == "ACTIVE")
    eks.describe_cluster(name=name)  # starts the API (and the controllers) now
    wait_until(lambda: cluster.controllers is not None)
    return cluster


def deployment(name: str, replicas: int = 2, namespace: str = "default", **pod_spec: Any) -> dict[str, Any]:
    spec = {"containers": [{"name": name, "image": "nginx:1.27"}]}
    spec.update(pod_spec)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def ready(obj: dict[str, Any] | None) -> bool:
    if obj is None:
        return False
    status = obj.get("status") or {}
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
