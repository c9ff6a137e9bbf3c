"""The External Secrets Operator emulation (emulator/k8s/controllers/external_secrets.py, iam.py): over a bare store
and a hand-made cloud, then end to end through the emulator (boto3, kubectl)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
import yaml

from emulator.k8s.clusters import REGISTRY
from emulator.k8s.controllers import ClusterInfo, Controllers, InstanceType, NodeGroup, StaticCloud, Subnet
from emulator.k8s.controllers.external_secrets import (
    data_hash, get_property, object_hash, parse_duration, resource_version, secret_map,
)
from emulator.k8s.controllers.iam import IamRole, decide, trusts_web_identity
from emulator.k8s.controllers.runtime import KINDS, kind_name
from emulator.k8s.store import Store
from tests.unit.emulator.k8s.controller_support import BIN, deployment, start_cluster
from tests.unit.emulator.shape_check import wait_until

ACCOUNT = "123456789012"
ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER[len('https://'):]}"
API = "external-secrets.io/v1"
SUBNETS = (Subnet("subnet-a", "10.0.0.0/20", "us-east-1a", "use1-az1"),)


def crd(kind: str, plural: str, scope: str, short: str) -> dict[str, Any]:
    """A minimal copy of ESO's CRD (names, scope, v1 with the status subresource; schemaless spec and status)."""
    free = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.external-secrets.io",
                         "labels": {"external-secrets.io/component": "controller"}},
            "spec": {"group": "external-secrets.io", "scope": scope,
                     "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower(),
                               "shortNames": [short], "categories": ["external-secrets"]},
                     "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "properties": {"spec": free, "status": free}}}}]}}


CRDS = (crd("SecretStore", "secretstores", "Namespaced", "ss"),
        crd("ClusterSecretStore", "clustersecretstores", "Cluster", "css"),
        crd("ExternalSecret", "externalsecrets", "Namespaced", "es"))


def trust(namespace: str, name: str, issuer: str = ISSUER, provider: str = PROVIDER) -> dict[str, Any]:
    """An IRSA trust policy, as roles/eks (and eksctl) write it."""
    host = issuer[len("https://"):]
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{host}:sub": f"system:serviceaccount:{namespace}:{name}",
                                       f"{host}:aud": "sts.amazonaws.com"}}}]}


def read_policy(*resources: str, deny: tuple[str, ...] = ()) -> dict[str, Any]:
    statements = [{"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                   "Resource": list(resources)}]
    if deny:
        statements.append({"Effect": "Deny", "Action": "secretsmanager:*", "Resource": list(deny)})
    return {"Version": "2012-10-17", "Statement": statements}


def operator(namespace: str = "external-secrets", service_account: str = "external-secrets",
             args: tuple[str, ...] = ()) -> dict[str, Any]:
    """The chart's controller Deployment, as far as the emulation reads it."""
    manifest = deployment("external-secrets", replicas=1, namespace=namespace, serviceAccountName=service_account)
    manifest["metadata"]["labels"] = {"app.kubernetes.io/name": "external-secrets",
                                      "app.kubernetes.io/instance": "external-secrets"}
    manifest["spec"]["template"]["spec"]["containers"][0].update(
        image="oci.external-secrets.io/external-secrets/external-secrets:v2.9.0",
        args=["--concurrent=1", "--metrics-addr=:8080", "--loglevel=info", *args])
    return manifest


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def service_account(name: str, namespace: str, role: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if role:
        meta["annotations"] = {"eks.amazonaws.com/role-arn": role}
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}


def secret_store(name: str, namespace: str, service_account: str | None = "app-secrets",
                 region: str = "us-east-1", kind: str = "SecretStore") -> dict[str, Any]:
    aws: dict[str, Any] = {"service": "SecretsManager", "region": region}
    if service_account:
        aws["auth"] = {"jwt": {"serviceAccountRef": {"name": service_account}}}
    meta = {"name": name, "namespace": namespace} if kind == "SecretStore" else {"name": name}
    return {"apiVersion": API, "kind": kind, "metadata": meta, "spec": {"provider": {"aws": aws}}}


def external_secret(name: str, namespace: str, store: str = "aws", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"refreshInterval": "1h", "secretStoreRef": {"name": store, "kind": "SecretStore"}}
    body.update(spec)
    return {"apiVersion": API, "kind": "ExternalSecret", "metadata": {"name": name, "namespace": namespace},
            "spec": body}


def condition(obj: dict[str, Any] | None) -> tuple[str, str, str] | None:
    for entry in ((obj or {}).get("status") or {}).get("conditions") or []:
        if entry.get("type") == "Ready":
            return entry["status"], entry.get("reason", ""), entry.get("message", "")
    return None


def decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


class Kube:
    """A store with controllers over a StaticCloud, with a clock that tests move forward."""

    def __init__(self, cloud: StaticCloud) -> None:
        self.offset = 0.0
        self.store = Store(namespace_delay=0.1)
        self.cloud = cloud
        self.controllers = Controllers(self.store, cloud, poll=0.05, clock=lambda: time.time() + self.offset,
                                       name="eso").start()

    def rt(self, kind: str) -> Any:
        group, version, plural = KINDS[kind]
        return self.store.resources.get(group, version, plural)

    def apply(self, *manifests: dict[str, Any]) -> None:
        for manifest in manifests:
            kind = kind_name(manifest)
            rt = self.rt(kind) if kind else self.store.resources.for_kind(manifest["apiVersion"], manifest["kind"])
            self.store.create(rt, manifest)

    def get(self, kind: str, name: str, namespace: str | None = "apps") -> dict[str, Any] | None:
        return self.store.try_get(self.rt(kind), namespace, name)

    def update(self, kind: str, obj: dict[str, Any]) -> None:
        self.store.update(self.rt(kind), obj)

    def delete(self, kind: str, name: str, namespace: str | None = "apps") -> None:
        self.store.delete(self.rt(kind), namespace, name)

    def events(self, obj: dict[str, Any], reason: str | None = None) -> list[dict[str, Any]]:
        namespace = obj["metadata"].get("namespace") or "default"
        return [e for e in self.store.list(self.rt("events"), namespace)[0]
                if e["involvedObject"].get("uid") == obj["metadata"]["uid"] and reason in (None, e["reason"])]

    def wait(self, probe: Any, timeout: float = 30.0) -> Any:
        return wait_until(probe, timeout=timeout)

    def advance(self, seconds: float) -> None:
        self.offset += seconds
        self.controllers.mark_dirty()


@pytest.fixture
def kube():
    cloud = StaticCloud(ClusterInfo("demo", "us-east-1", ACCOUNT, "1.35", "vpc-1", SUBNETS, nodegroups=(
        NodeGroup("general", "ACTIVE", 1, (InstanceType("m5.large", 2, 8192, 29),), subnets=SUBNETS),)))
    cluster = Kube(cloud)
    cluster.wait(lambda: cluster.store.list(cluster.rt("nodes"))[0])
    cluster.apply(*CRDS, namespace("apps"), namespace("external-secrets"),
                  service_account("external-secrets", "external-secrets"))
    cloud.add_oidc_provider()
    yield cluster
    cluster.controllers.stop()


def with_operator(kube: Kube, **kwargs: Any) -> None:
    kube.apply(operator(**kwargs))
    kube.wait(lambda: (kube.get("deployments", "external-secrets", "external-secrets").get("status") or {}).get(
        "readyReplicas"))


def synced(kube: Kube, name: str, namespace: str = "apps") -> dict[str, Any]:
    return kube.wait(lambda: (condition(kube.get("externalsecrets", name, namespace)) or ("",))[0] == "True"
                     and kube.get("externalsecrets", name, namespace))


# -- pure functions --------------------------------------------------------------------------------------------

def test_hashes_and_durations_are_esos():
    # runtime/esutils/utils_test.go TestObjectHash: the data-hash of a Secret's data
    assert data_hash({"foo": b"value1", "bar": b"value2"}) == "1bed8bcbcb4547ffe19a19cd47d9078e84aa6598266d86b99f992d64"
    assert object_hash("hello there") == "f78681ec611ebaeea0689bff6c7812a83ff98a7faba986d9af76c999"
    assert data_hash({}) == object_hash("map[]")
    meta = {"generation": 3, "labels": {"b": "2", "a": "1"}}
    assert resource_version(meta) == "3-" + object_hash("{annotations:map[] labels:map[a:1 b:2]}")
    assert [parse_duration(d) for d in ("1h0m0s", "15s", "1h30m", "500ms", "0", "0s", "1.5h")] == [
        3600, 15, 5400, 0.5, 0, 0, 5400]
    with pytest.raises(ValueError, match='time: invalid duration "1d"'):
        parse_duration("1d")


def test_properties_and_maps_as_gjson_and_encoding_json_read_them():
    payload = '{"user": "app", "port": 5432, "ratio": 0.5, "tls": {"ca": "x", "on": true}, "a.b": "dotted", ' \
              '"list": ["p", "q"], "none": null}'
    assert get_property(payload, "user") == "app"
    assert get_property(payload, "port") == "5432" and get_property(payload, "ratio") == "0.5"
    assert get_property(payload, "tls") == '{"ca": "x", "on": true}'
    assert get_property(payload, "tls.on") == "true" and get_property(payload, "list.1") == "q"
    assert get_property(payload, "a.b") == "dotted" and get_property(payload, "none") == ""
    assert get_property(payload, "missing") is None and get_property("plain text", "user") is None
    assert secret_map(payload.encode(), "k") == {"user": b"app", "port": b"5432", "ratio": b"0.5",
                                                 "tls": b'{"ca": "x", "on": true}', "a.b": b"dotted",
                                                 "list": b'["p", "q"]', "none": b""}
    with pytest.raises(Exception, match="unable to unmarshal secret k: json: cannot unmarshal string into Go value"):
        secret_map(b'"text"', "k")
    with pytest.raises(Exception, match="unable to unmarshal secret k: invalid character 'h' looking for beginning"):
        secret_map(b"hello", "k")


def test_iam_evaluation_and_irsa_trust():
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-AbCdEf"
    policy = read_policy("arn:aws:secretsmanager:us-east-1:123456789012:secret:app/*")
    assert decide([policy], "secretsmanager:GetSecretValue", arn) == "Allow"
    assert decide([policy], "SecretsManager:getsecretvalue", arn) == "Allow"  # actions are case-insensitive
    assert decide([policy], "secretsmanager:GetSecretValue", arn.replace("app/", "other/")) == ""
    assert decide([policy, read_policy(deny=(arn,))], "secretsmanager:GetSecretValue", arn) == "Deny"
    assert decide([{"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}],
                  "secretsmanager:GetSecretValue", arn) == "Allow"
    subject = "system:serviceaccount:apps:app-secrets"
    assert trusts_web_identity(trust("apps", "app-secrets"), PROVIDER, ISSUER, subject)
    assert not trusts_web_identity(trust("apps", "other"), PROVIDER, ISSUER, subject)
    assert not trusts_web_identity(trust("apps", "app-secrets", provider=PROVIDER + "X"), PROVIDER, ISSUER, subject)
    like = trust("apps", "app-secrets")
    like["Statement"][0]["Condition"] = {"StringLike": {f"{ISSUER[8:]}:sub": "system:serviceaccount:apps:*"}}
    assert trusts_web_identity(like, PROVIDER, ISSUER, subject)
    role = IamRole("arn:aws:iam::123456789012:role/r", "r", policies=(policy,))
    assert decide(role.policies, "secretsmanager:GetSecretValue", arn) == "Allow"


# -- the controller over a StaticCloud ---------------------------------------------------------------------------

def setup_app(kube: Kube, *policies: Any) -> str:
    """The IRSA role app-secrets for apps/app-secrets, its ServiceAccount and the SecretStore aws."""
    role = kube.cloud.add_role("app-secrets", trust("apps", "app-secrets"), *(
        policies or (read_policy("arn:aws:secretsmanager:us-east-1:123456789012:secret:app/*"),)))
    kube.apply(service_account("app-secrets", "apps", role), secret_store("aws", "apps"))
    return role


def test_nothing_happens_without_the_operator_then_the_secret_is_synced(kube):
    kube.cloud.put_secret("app/db", json.dumps({"username": "app", "password": "s3cret", "port": 5432}))
    setup_app(kube)
    kube.apply(external_secret("db", "apps", target={"name": "db-credentials"}, data=[
        {"secretKey": "password", "remoteRef": {"key": "app/db", "property": "password"}},
        {"secretKey": "dsn", "remoteRef": {"key": "app/db"}}]))
    assert kube.controllers.sync(10.0)
    assert kube.get("secretstores", "aws").get("status") is None
    assert kube.get("externalsecrets", "db").get("status") is None and kube.get("secrets", "db-credentials") is None

    with_operator(kube)
    store = kube.wait(lambda: condition(kube.get("secretstores", "aws")) and kube.get("secretstores", "aws"))
    assert condition(store) == ("True", "Valid", "store validated") and store["status"]["capabilities"] == "ReadWrite"
    assert [e["type"] for e in kube.events(store, "Valid")] == ["Normal"]
    es = synced(kube, "db")
    assert condition(es) == ("True", "SecretSynced", "secret synced")
    status = es["status"]
    assert status["binding"] == {"name": "db-credentials"} and status["refreshTime"].endswith("Z")
    assert status["syncedResourceVersion"] == resource_version(es["metadata"])
    assert es["metadata"]["finalizers"] == ["externalsecrets.external-secrets.io/externalsecret-cleanup"]
    secret = kube.get("secrets", "db-credentials")
    assert secret["type"] == "Opaque"
    assert decoded(secret) == {"password": "s3cret",
                               "dsn": json.dumps({"username": "app", "password": "s3cret", "port": 5432})}
    meta = secret["metadata"]
    assert meta["labels"] == {"reconcile.external-secrets.io/managed": "true",
                              "reconcile.external-secrets.io/created-by": object_hash("apps/db")}
    assert meta["annotations"] == {"reconcile.external-secrets.io/data-hash": data_hash(
        {k: v.encode() for k, v in decoded(secret).items()})}
    (owner,) = meta["ownerReferences"]
    assert (owner["apiVersion"], owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        API, "ExternalSecret", "db", es["metadata"]["uid"], True)
    assert [e["message"] for e in kube.events(es)] == ["secret created"]
    assert kube.events(es)[0]["source"]["component"] == "external-secrets"


def test_data_from_extract_converts_keys_and_decodes(kube):
    kube.cloud.put_secret("app/config", json.dumps({"LOG_LEVEL": "debug", "feature flags": "a,b", "retries": 3,
                                                    "cert": base64.b64encode(b"PEM").decode()}))
    kube.cloud.put_secret("app/cert", json.dumps({"cert": base64.b64encode(b"PEM").decode()}))
    setup_app(kube)
    with_operator(kube)
    kube.apply(external_secret("config", "apps", dataFrom=[{"extract": {"key": "app/config"}}],
                               data=[{"secretKey": "retries", "remoteRef": {"key": "app/config",
                                                                            "property": "LOG_LEVEL"}}]),
               external_secret("cert", "apps", dataFrom=[{"extract": {"key": "app/cert",
                                                                      "decodingStrategy": "Base64"}}]))
    synced(kube, "config")
    # dataFrom first, then data (which wins); a key's invalid characters become "_" (conversionStrategy Default)
    assert decoded(kube.get("secrets", "config")) == {"LOG_LEVEL": "debug", "feature_flags": "a,b", "retries": "debug",
                                                      "cert": base64.b64encode(b"PEM").decode()}
    synced(kube, "cert")
    assert decoded(kube.get("secrets", "cert")) == {"cert": "PEM"}


def test_access_denied_when_the_policy_does_not_cover_the_secret(kube):
    kube.cloud.put_secret("billing/api-key", "k-123")
    setup_app(kube)
    with_operator(kube)
    kube.apply(external_secret("billing", "apps", data=[{"secretKey": "key", "remoteRef": {"key": "billing/api-key"}}]))
    es = kube.wait(lambda: condition(kube.get("externalsecrets", "billing")) and kube.get("externalsecrets", "billing"))
    assert condition(es) == ("False", "SecretSyncedError", "could not get secret data from provider")
    (event,) = kube.wait(lambda: kube.events(es, "UpdateFailed"))
    assert event["type"] == "Warning"
    message = event["message"]
    assert message.startswith("error processing spec.data[0] (key: billing/api-key), err: operation error Secrets "
                              "Manager: GetSecretValue, https response error StatusCode: 400, RequestID: ")
    assert message.endswith(
        "api error AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/app-secrets/"
        "external-secrets-provider-aws is not authorized to perform: secretsmanager:GetSecretValue on resource: "
        "billing/api-key because no identity-based policy allows the secretsmanager:GetSecretValue action")
    assert kube.get("secrets", "billing") is None
    # an explicit Deny wins over the Allow
    kube.cloud.add_role("app-secrets", trust("apps", "app-secrets"), read_policy("*", deny=("*billing*",)))
    kube.advance(1200)  # past the backoff (at most 1000 s)
    kube.wait(lambda: "with an explicit deny in an identity-based policy" in kube.events(es, "UpdateFailed")[-1][
        "message"] if len(kube.events(es, "UpdateFailed")) > 1 else False)
    # allowed: synced at the next retry
    kube.cloud.add_role("app-secrets", trust("apps", "app-secrets"), read_policy("*"))
    kube.advance(1200)
    assert decoded(kube.wait(lambda: kube.get("secrets", "billing"))) == {"key": "k-123"}


def test_missing_remote_key_and_property(kube):
    kube.cloud.put_secret("app/db", json.dumps({"password": "x"}))
    setup_app(kube)
    with_operator(kube)
    kube.apply(external_secret("gone", "apps", data=[{"secretKey": "k", "remoteRef": {"key": "app/nothing"}}]),
               external_secret("prop", "apps", data=[{"secretKey": "k", "remoteRef": {"key": "app/db",
                                                                                      "property": "user"}}]))
    for name, message in (("gone", "error processing spec.data[0] (key: app/nothing), err: Secret does not exist"),
                          ("prop", "error processing spec.data[0] (key: app/db), err: key user does not exist in "
                                   "secret app/db")):
        es = kube.wait(lambda n=name: condition(kube.get("externalsecrets", n)) and kube.get("externalsecrets", n))
        assert condition(es)[:2] == ("False", "SecretSyncedError")
        assert kube.wait(lambda e=es: kube.events(e, "UpdateFailed"))[0]["message"] == message


def test_store_not_ready_without_the_role_annotation(kube):
    kube.cloud.put_secret("app/db", "pw")
    role = kube.cloud.add_role("app-secrets", trust("apps", "app-secrets"), read_policy("*"))
    kube.apply(service_account("app-secrets", "apps"), secret_store("aws", "apps"),
               external_secret("db", "apps", data=[{"secretKey": "pw", "remoteRef": {"key": "app/db"}}]))
    with_operator(kube)
    store = kube.wait(lambda: condition(kube.get("secretstores", "aws")) and kube.get("secretstores", "aws"))
    assert condition(store) == ("False", "InvalidProviderConfig", "unable to create client")
    assert kube.wait(lambda: kube.events(store, "InvalidProviderConfig"))[0]["message"] == (
        "unable to create session: an IAM role must be associated with service account app-secrets (namespace: apps)")
    es = kube.wait(lambda: condition(kube.get("externalsecrets", "db")) and kube.get("externalsecrets", "db"))
    assert condition(es)[:2] == ("False", "SecretSyncedError")
    assert kube.wait(lambda: kube.events(es, "UpdateFailed"))[0]["message"] == (
        'error processing spec.data[0] (key: app/db), err: SecretStore "aws" is not ready')

    # annotated with a role whose trust names another service account: STS refuses
    account = kube.get("serviceaccounts", "app-secrets")
    account["metadata"]["annotations"] = {"eks.amazonaws.com/role-arn": role}
    kube.update("serviceaccounts", account)
    kube.cloud.add_role("app-secrets", trust("apps", "someone-else"), read_policy("*"))
    kube.advance(1200)  # past the store's backoff (at most 1000 s)
    kube.wait(lambda: condition(kube.get("secretstores", "aws"))[2] == "unable to validate store")
    message = kube.events(kube.get("secretstores", "aws"), "InvalidProviderConfig")[-1]["message"]
    assert message.startswith("failed to refresh cached credentials, failed to retrieve credentials, operation error "
                              "STS: AssumeRoleWithWebIdentity, https response error StatusCode: 403")
    assert message.endswith("api error AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity")

    kube.cloud.add_role("app-secrets", trust("apps", "app-secrets"), read_policy("*"))
    kube.advance(1200)
    kube.wait(lambda: condition(kube.get("secretstores", "aws")) == ("True", "Valid", "store validated"))
    kube.advance(1200)
    synced(kube, "db")
    assert decoded(kube.get("secrets", "db")) == {"pw": "pw"}


def test_operators_own_irsa_role_without_auth_and_a_cluster_store(kube):
    kube.cloud.put_secret("shared/token", "t-1")
    role = kube.cloud.add_role("eso", trust("external-secrets", "external-secrets"), read_policy("*"))
    kube.apply(secret_store("aws", None, service_account=None, kind="ClusterSecretStore"),
               external_secret("token", "apps", store="aws", secretStoreRef={"name": "aws",
                                                                            "kind": "ClusterSecretStore"},
                               data=[{"secretKey": "token", "remoteRef": {"key": "shared/token"}}]))
    with_operator(kube)
    store = kube.wait(lambda: condition(kube.get("clustersecretstores", "aws", None))
                      and kube.get("clustersecretstores", "aws", None))
    assert condition(store) == ("False", "InvalidProviderConfig", "unable to validate store")
    assert "no EC2 IMDS role found" in kube.wait(lambda: kube.events(store, "InvalidProviderConfig"))[0]["message"]
    account = kube.get("serviceaccounts", "external-secrets", "external-secrets")
    account["metadata"]["annotations"] = {"eks.amazonaws.com/role-arn": role}
    kube.update("serviceaccounts", account)
    kube.advance(1200)
    kube.wait(lambda: condition(kube.get("clustersecretstores", "aws", None)) == ("True", "Valid", "store validated"))
    kube.advance(1200)
    synced(kube, "token")
    assert decoded(kube.get("secrets", "token")) == {"token": "t-1"}


def test_rotation_is_picked_up_at_the_next_refresh(kube):
    kube.cloud.put_secret("app/db", json.dumps({"password": "first"}))
    setup_app(kube)
    with_operator(kube)
    kube.apply(external_secret("db", "apps", refreshInterval="15m", data=[
        {"secretKey": "password", "remoteRef": {"key": "app/db", "property": "password"}}]))
    first = synced(kube, "db")
    assert decoded(kube.get("secrets", "db")) == {"password": "first"}
    kube.cloud.put_secret("app/db", json.dumps({"password": "second"}))  # a rotation: a new AWSCURRENT
    kube.advance(60)
    assert kube.controllers.sync(10.0)
    assert decoded(kube.get("secrets", "db")) == {"password": "first"}  # not before the refresh interval
    kube.advance(15 * 60)
    kube.wait(lambda: decoded(kube.get("secrets", "db")) == {"password": "second"})
    es = kube.wait(lambda: kube.events(kube.get("externalsecrets", "db"), "Updated")
                   and kube.get("externalsecrets", "db"))
    assert es["status"]["refreshTime"] > first["status"]["refreshTime"]
    assert kube.events(es, "Updated")[0]["message"] == "secret updated"
    # the previous version on request, and a forced sync through an annotation (a metadata change)
    es["metadata"]["annotations"] = {"force-sync": "1"}
    es["spec"]["data"].append({"secretKey": "old", "remoteRef": {"key": "app/db", "property": "password",
                                                                 "version": "AWSPREVIOUS"}})
    kube.update("externalsecrets", es)
    kube.wait(lambda: decoded(kube.get("secrets", "db")) == {"password": "second", "old": "first"})
    assert kube.get("secrets", "db")["metadata"]["annotations"]["force-sync"] == "1"  # copied from the ExternalSecret


def test_a_refresh_interval_of_zero_reads_once(kube):
    kube.cloud.put_secret("app/once", "v1")
    setup_app(kube)
    with_operator(kube)
    kube.apply(external_secret("once", "apps", refreshInterval="0",
                               data=[{"secretKey": "v", "remoteRef": {"key": "app/once"}}]))
    synced(kube, "once")
    kube.cloud.put_secret("app/once", "v2")
    kube.advance(7 * 24 * 3600)
    assert kube.controllers.sync(10.0)
    assert decoded(kube.get("secrets", "once")) == {"v": "v1"}


def test_deleting_the_external_secret_deletes_its_secret(kube):
    kube.cloud.put_secret("app/db", "pw")
    setup_app(kube)
    with_operator(kube)
    kube.apply(external_secret("db", "apps", data=[{"secretKey": "pw", "remoteRef": {"key": "app/db"}}]),
               external_secret("kept", "apps", target={"creationPolicy": "Orphan"},
                               data=[{"secretKey": "pw", "remoteRef": {"key": "app/db"}}]))
    synced(kube, "db")
    synced(kube, "kept")
    assert "ownerReferences" not in kube.get("secrets", "kept")["metadata"]
    # a Secret deleted by hand comes back
    kube.delete("secrets", "db")
    kube.wait(lambda: kube.get("secrets", "db"))
    kube.delete("externalsecrets", "db")
    kube.delete("externalsecrets", "kept")
    kube.wait(lambda: kube.get("externalsecrets", "db") is None and kube.get("externalsecrets", "kept") is None)
    kube.wait(lambda: kube.get("secrets", "db") is None)  # garbage collected (owner reference)
    assert decoded(kube.get("secrets", "kept")) == {"pw": "pw"}


def test_target_policies_and_template_metadata(kube):
    kube.cloud.put_secret("app/db", json.dumps({"password": "pw"}))
    kube.cloud.put_secret("app/temp", "t")
    setup_app(kube)
    with_operator(kube)
    password = [{"secretKey": "password", "remoteRef": {"key": "app/db", "property": "password"}}]
    kube.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "existing", "namespace": "apps"},
                "data": {"other": base64.b64encode(b"kept").decode()}},
               external_secret("merge", "apps", target={"name": "existing", "creationPolicy": "Merge"}, data=password),
               external_secret("absent", "apps", target={"name": "nowhere", "creationPolicy": "Merge"},
                               data=password),
               external_secret("typed", "apps", target={"template": {"type": "kubernetes.io/basic-auth", "metadata": {
                   "labels": {"app": "db"}, "annotations": {"team": "data"}}}}, data=password),
               external_secret("temp", "apps", target={"deletionPolicy": "Delete"},
                               data=[{"secretKey": "t", "remoteRef": {"key": "app/temp"}}]))
    synced(kube, "merge")
    merged = kube.get("secrets", "existing")
    assert decoded(merged) == {"other": "kept", "password": "pw"} and "ownerReferences" not in merged["metadata"]
    assert merged["metadata"]["labels"] == {"reconcile.external-secrets.io/managed": "true"}
    assert condition(synced(kube, "absent")) == ("True", "SecretMissing",
                                                 "secret will not be created due to CreationPolicy=Merge")
    synced(kube, "typed")
    typed = kube.get("secrets", "typed")
    assert typed["type"] == "kubernetes.io/basic-auth" and typed["metadata"]["annotations"]["team"] == "data"
    assert typed["metadata"]["labels"]["app"] == "db"
    synced(kube, "temp")
    # DeletionPolicy Delete: the remote secret gone, the Secret goes (an event says the key is missing)
    kube.cloud.secrets.pop(("us-east-1", "app/temp"))
    es = kube.get("externalsecrets", "temp")
    es["metadata"]["annotations"] = {"force-sync": "2"}
    kube.update("externalsecrets", es)
    kube.wait(lambda: condition(kube.get("externalsecrets", "temp"))[1] == "SecretDeleted")
    assert kube.get("secrets", "temp") is None
    assert kube.events(es, "MissingProviderSecret")[0]["message"] == (
        "secret does not exist at provider using spec.dataFrom[0] (key=app/temp)")


def test_cluster_store_conditions_and_what_is_not_emulated(kube):
    kube.cloud.put_secret("app/db", "pw")
    role = kube.cloud.add_role("shared", trust("apps", "reader"), read_policy("*"))
    store = secret_store("shared", None, service_account="reader", kind="ClusterSecretStore")
    store["spec"]["conditions"] = [{"namespaces": ["web"]}]  # referent auth: the reader of each namespace
    static = secret_store("static", "apps", service_account=None)
    static["spec"]["provider"]["aws"]["auth"] = {"secretRef": {"accessKeyIDSecretRef": {"name": "k", "key": "id"}}}
    kube.apply(store, static, service_account("reader", "apps", role),
               external_secret("db", "apps", secretStoreRef={"name": "shared", "kind": "ClusterSecretStore"},
                               data=[{"secretKey": "pw", "remoteRef": {"key": "app/db"}}]))
    with_operator(kube)
    shared = kube.wait(lambda: condition(kube.get("clustersecretstores", "shared", None))
                       and kube.get("clustersecretstores", "shared", None))
    assert condition(shared) == ("True", "Valid", "store validated")
    es = kube.wait(lambda: condition(kube.get("externalsecrets", "db")) and kube.get("externalsecrets", "db"))
    assert kube.wait(lambda: kube.events(es, "UpdateFailed"))[0]["message"] == (
        'error processing spec.data[0] (key: app/db), err: using cluster store "shared" is not allowed from namespace '
        '"apps": denied by spec.condition')
    shared["spec"]["conditions"] = [{"namespaceRegexes": ["^app"]}]
    kube.update("clustersecretstores", shared)
    kube.advance(1200)
    synced(kube, "db")
    assert decoded(kube.get("secrets", "db")) == {"pw": "pw"}
    static = kube.wait(lambda: condition(kube.get("secretstores", "static")) and kube.get("secretstores", "static"))
    assert condition(static) == ("False", "InvalidProviderConfig", "unable to create client")
    assert "does not emulate auth.secretRef" in kube.events(static, "InvalidProviderConfig")[0]["message"]


# -- end to end: boto3 and kubectl against the emulator ---------------------------------------------------------

@pytest.fixture
def cluster(emulator, monkeypatch, tmp_path):
    monkeypatch.setattr(REGISTRY, "factory", None)  # the real apiserver, whatever an earlier test set
    served = start_cluster(emulator.url, tmp_path)
    yield served
    REGISTRY.stop_all()


@pytest.mark.skipif(not (BIN / "kubectl").exists(), reason="kubectl: make k8s-clients")
def test_external_secret_through_the_emulator(cluster):
    iam, sm = cluster.aws("iam"), cluster.aws("secretsmanager")
    issuer = cluster.aws("eks").describe_cluster(name="demo")["cluster"]["identity"]["oidc"]["issuer"]
    provider = iam.create_open_id_connect_provider(Url=issuer, ClientIDList=["sts.amazonaws.com"],
                                                   ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"])
    created = sm.create_secret(Name="demo/app/db", SecretString=json.dumps({"username": "app", "password": "pw-1"}))
    role = iam.create_role(RoleName="demo-app-secrets", AssumeRolePolicyDocument=json.dumps(trust(
        "apps", "app-secrets", issuer=issuer, provider=provider["OpenIDConnectProviderArn"])))["Role"]["Arn"]
    policy = iam.create_policy(PolicyName="demo-app-secrets", PolicyDocument=json.dumps(
        read_policy(created["ARN"].rsplit("-", 1)[0] + "-??????")))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="demo-app-secrets", PolicyArn=policy)
    cluster.nodegroup("general", desired=1)

    def kubectl(*args: str, stdin: str | None = None) -> str:
        done = cluster.kubectl(*args, stdin=stdin)
        assert done.returncode == 0, done.stderr
        return done.stdout

    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(CRDS))
    kubectl("wait", "--for=condition=Established", "crd/externalsecrets.external-secrets.io", "--timeout=60s")
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all([
        namespace("external-secrets"), service_account("external-secrets", "external-secrets"), operator(),
        namespace("apps"), service_account("app-secrets", "apps", role), secret_store("aws", "apps"),
        external_secret("db", "apps", refreshInterval="1s", target={"name": "db-credentials"}, data=[
            {"secretKey": "password", "remoteRef": {"key": "demo/app/db", "property": "password"}}],
            dataFrom=[{"extract": {"key": "demo/app/db"}}])]))
    kubectl("wait", "--for=condition=Ready", "externalsecret/db", "-n", "apps", "--timeout=60s")
    assert "store validated" in kubectl("get", "secretstore", "aws", "-n", "apps", "-o", "json")
    secret = json.loads(kubectl("get", "secret", "db-credentials", "-n", "apps", "-o", "json"))
    assert decoded(secret) == {"username": "app", "password": "pw-1"}
    assert secret["metadata"]["ownerReferences"][0]["kind"] == "ExternalSecret"

    sm.put_secret_value(SecretId="demo/app/db", SecretString=json.dumps({"username": "app", "password": "pw-2"}))
    cluster.wait(lambda: decoded(json.loads(kubectl("get", "secret", "db-credentials", "-n", "apps", "-o", "json")))[
        "password"] == "pw-2", "the rotated password in the Secret")

    # a key the role's policy does not cover: AccessDeniedException, the ExternalSecret not Ready
    sm.create_secret(Name="demo/other", SecretString="x")
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(external_secret(
        "other", "apps", data=[{"secretKey": "x", "remoteRef": {"key": "demo/other"}}])))
    es = cluster.wait(lambda: (condition(json.loads(kubectl("get", "es", "other", "-n", "apps", "-o", "json")))
                               or ("",))[0] == "False", "the ExternalSecret failing")
    assert es
    events = kubectl("get", "events", "-n", "apps", "--field-selector", "reason=UpdateFailed", "-o", "json")
    assert "AccessDeniedException" in events and "assumed-role/demo-app-secrets/external-secrets-provider-aws" in events

    kubectl("delete", "externalsecret", "db", "-n", "apps", "--wait=true", "--timeout=60s")
    cluster.wait(lambda: cluster.store.try_get(cluster.rt("secrets"), "apps", "db-credentials") is None,
                 "the Secret garbage collected")
