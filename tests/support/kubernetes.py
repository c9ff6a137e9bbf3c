"""The real Kubernetes clients (kubectl, helm, aws, kubernetes.core) against an emulated EKS cluster.

Used by ``tests/integration/test_kubernetes_*.py``, each on a cluster that
``site.yml`` built (``built_platform``). :meth:`Kube.connect` writes a
kubeconfig with ``aws eks update-kubeconfig``, as a user would; kubectl and
helm then get their credentials from it (the ``aws eks get-token`` exec
plugin) with the environment the playbooks run with (``AWS_ENDPOINT_URL`` and
the emulator's credentials, see ``tests/integration/conftest.py``).

:meth:`Kube.with_token` makes a second kubeconfig for the same context with a
bearer token minted once by ``aws eks get-token`` (as a CI job would pass
``--token``): the tests that run many commands use it, because starting the
AWS CLI for every kubectl call is most of that call's time here; the exec
plugin path stays covered by the kubeconfig, nodes, helm and access tests.

Every command's exit code and output are kept in a :class:`Run`, and every
run is checked for EKS tokens: ``k8s-aws-v1.<base64url>`` must never show in what a
client prints (a token only travels in the ``Authorization`` header).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
KUBECTL = BIN / "kubectl"
HELM = BIN / "helm"
AWS = BIN / "aws"
CLUSTER = "llm-analytics-hub-prod-eks"
ACCOUNT = "123456789012"
REGION = "us-east-1"
CLUSTER_ARN = f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{CLUSTER}"
TOKEN_PREFIX = "k8s-aws-v1."
# a token: the prefix and base64url of a presigned URL (a message naming the bare prefix is not one)
TOKEN = re.compile(r"k8s-aws-v1\.[A-Za-z0-9_-]{16,}")
CHARTS = ROOT / "tests" / "support" / "charts"
SMOKE_CHART = CHARTS / "llmhub-smoke"
ACCESS_POLICY = "arn:aws:eks::aws:cluster-access-policy/"


@dataclass
class Run:
    """One client command: what ran, its exit code and what it printed."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    def json(self) -> Any:
        return json.loads(self.stdout)

    def describe(self) -> str:
        return (f"{' '.join(self.args)} -> {self.returncode}\n"
                f"stdout:\n{self.stdout[-3000:]}\nstderr:\n{self.stderr[-3000:]}")


@dataclass
class Kube:
    """Clients bound to one cluster's kubeconfig, each run in ``workdir`` as its own HOME."""

    emulator_url: str
    workdir: Path
    kubeconfig: Path
    credentials: dict[str, str] = field(default_factory=dict)
    exec_kubeconfig: Path | None = None  # set on a token kubeconfig (see with_token): the one it is made from
    minted_at: float = 0.0

    @classmethod
    def connect(cls, emulator_url: str, workdir: Path) -> tuple[Kube, Run]:
        """``aws eks update-kubeconfig --name <cluster> --kubeconfig <workdir>/kubeconfig``: (clients, that run)."""
        kube = cls(emulator_url, workdir, workdir / "kubeconfig")
        run = kube.aws("eks", "update-kubeconfig", "--name", CLUSTER, "--kubeconfig", str(kube.kubeconfig))
        return kube, run

    def as_user(self, access_key_id: str, secret_access_key: str) -> Kube:
        """The same kubeconfig, whose ``aws eks get-token`` signs with another IAM principal's access key."""
        return Kube(self.emulator_url, self.workdir, self.kubeconfig,
                    {"AWS_ACCESS_KEY_ID": access_key_id, "AWS_SECRET_ACCESS_KEY": secret_access_key})

    def with_token(self) -> Kube:
        """The same cluster and context with a bearer token instead of the exec plugin.

        As a CI job that runs ``aws eks get-token`` once and hands the token to
        kubectl: every client call then skips starting the AWS CLI (most of a
        kubectl call's time here). The token is minted again after 10 minutes
        (EKS tokens last 15). The file lives in the test's temporary directory.
        """
        kube = Kube(self.emulator_url, self.workdir, self.workdir / "kubeconfig-token", dict(self.credentials),
                    exec_kubeconfig=self.kubeconfig)
        kube.refresh_token()
        return kube

    def refresh_token(self, max_age: float = 600) -> None:
        if self.exec_kubeconfig is None or time.monotonic() - self.minted_at < max_age and self.minted_at:
            return
        config = yaml.safe_load(self.exec_kubeconfig.read_text(encoding="utf-8"))
        token = Kube(self.emulator_url, self.workdir, self.exec_kubeconfig, self.credentials).token()
        for user in config["users"]:
            user["user"] = {"token": token}
        self.kubeconfig.touch(mode=0o600)
        self.kubeconfig.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.minted_at = time.monotonic()

    # -- environment -----------------------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        from tests.integration.conftest import playbook_environment

        env = playbook_environment(self.emulator_url)
        env.pop("AWS_PROFILE", None)
        env.pop("AWS_SESSION_TOKEN", None)
        home = self.workdir
        env.update({
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",  # the kubeconfig's exec plugin runs `aws`
            "HOME": str(home),
            "KUBECONFIG": str(self.kubeconfig),
            "KUBECACHEDIR": str(home / "kube-cache"),
            "HELM_CACHE_HOME": str(home / "helm" / "cache"),
            "HELM_CONFIG_HOME": str(home / "helm" / "config"),
            "HELM_DATA_HOME": str(home / "helm" / "data"),
            "AWS_CONFIG_FILE": str(home / "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
            **self.credentials,
        })
        return env

    # -- running the clients -------------------------------------------------------------------------------

    def run(self, *args: str, stdin: str | None = None, timeout: float = 180, env: dict[str, str] | None = None
            ) -> Run:
        self.refresh_token()
        proc = subprocess.run([str(a) for a in args], input=stdin, capture_output=True, text=True, cwd=self.workdir,
                              env={**self.environment(), **(env or {})}, timeout=timeout, check=False)
        run = Run([str(a) for a in args], proc.returncode, proc.stdout, proc.stderr)
        assert_no_token(run.stdout, run.stderr, where=" ".join(run.args[:3]))
        return run

    def kubectl(self, *args: str, stdin: str | None = None, timeout: float = 180) -> Run:
        return self.run(KUBECTL, *args, stdin=stdin, timeout=timeout)

    def helm(self, *args: str, timeout: float = 240) -> Run:
        return self.run(HELM, *args, timeout=timeout)

    def aws(self, *args: str) -> Run:
        return self.run(AWS, *args)

    def ok(self, *args: str, stdin: str | None = None, timeout: float = 180) -> Run:
        """``kubectl <args>`` that must exit 0 with nothing on stderr."""
        run = self.kubectl(*args, stdin=stdin, timeout=timeout)
        assert run.returncode == 0, run.describe()
        assert run.stderr == "", run.describe()
        return run

    def get_json(self, *args: str) -> Any:
        return self.ok("get", *args, "-o", "json").json()

    def apply_yaml(self, documents: list[dict[str, Any]] | str, *flags: str) -> Run:
        text = documents if isinstance(documents, str) else yaml.safe_dump_all(documents, sort_keys=False)
        return self.ok("apply", *flags, "-f", "-", stdin=text)

    # -- the API without a client library --------------------------------------------------------------------------

    def token(self) -> str:
        """A fresh EKS token from ``aws eks get-token`` (kept in memory only; never printed)."""
        proc = subprocess.run([str(AWS), "eks", "get-token", "--cluster-name", CLUSTER, "--output", "json"],
                              capture_output=True, text=True, env=self.environment(), timeout=60, check=False)
        assert proc.returncode == 0, "aws eks get-token failed"  # its stdout holds a token: not in the message
        token = json.loads(proc.stdout)["status"]["token"]
        assert token.startswith(TOKEN_PREFIX)
        return token

    def raw(self, cluster: dict[str, Any], method: str, path: str, body: bytes | None = None,
            content_type: str = "application/json", token: str | None = None) -> tuple[int, dict[str, Any]]:
        """One HTTPS request to the API (verified with the cluster's CA): (status, JSON body)."""
        context = ssl.create_default_context(cadata=base64.b64decode(cluster["certificateAuthority"]["data"]).decode())
        host, port = cluster["endpoint"].removeprefix("https://").rsplit(":", 1)
        connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=30)
        try:
            connection.request(method, path, body=body, headers={
                "Authorization": f"Bearer {token or self.token()}", "Content-Type": content_type,
                "Accept": "application/json"})
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        return response.status, json.loads(data) if data else {}


def has_token(text: str) -> bool:
    return TOKEN.search(text or "") is not None


def assert_no_token(*texts: str, where: str = "") -> None:
    for text in texts:
        assert not has_token(text), f"an EKS token was printed ({where})"


def wait_for(predicate: Callable[[], Any], timeout: float = 120, interval: float = 0.5, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy (no timing is asserted: the timeout is generous)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"not met within {timeout} s: {what or predicate} (last: {last!r})")


def status_of(body: dict[str, Any]) -> tuple[str, str, int]:
    """A Kubernetes ``Status`` (kind, apiVersion, status Failure): (reason, message, code)."""
    assert body.get("kind") == "Status" and body.get("apiVersion") == "v1", body
    assert body.get("status") == "Failure", body
    assert body.get("metadata") == {}, body
    return body["reason"], body["message"], body["code"]


def nodes_by_group(nodes: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for node in nodes:
        groups.setdefault(node["metadata"]["labels"].get("eks.amazonaws.com/nodegroup", ""), []).append(node)
    return groups


EKS_TAINT_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}


def kubernetes_taints(eks_taints: list[dict[str, str]] | None) -> list[dict[str, str]]:
    """An EKS node group's taints as they show on its nodes."""
    return [{"key": t["key"], **({"value": t["value"]} if t.get("value") else {}),
             "effect": EKS_TAINT_EFFECTS[t["effect"]]} for t in eks_taints or []]


def iam_user_with_access(iam: Any, eks: Any, name: str, policy: str | None = None,
                         scope: dict[str, Any] | None = None, access_entry: bool = True) -> tuple[str, dict[str, str]]:
    """An IAM user with an access key, optionally an access entry and an access policy: (ARN, credentials)."""
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    if access_entry:
        eks.create_access_entry(clusterName=CLUSTER, principalArn=arn, type="STANDARD")
    if policy:
        eks.associate_access_policy(clusterName=CLUSTER, principalArn=arn, policyArn=ACCESS_POLICY + policy,
                                    accessScope=scope or {"type": "cluster"})
    return arn, {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}
