"""EKS bearer tokens, access entries, access policies and RBAC (emulator/k8s/auth.py)."""

from __future__ import annotations

import datetime
import json
import logging
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from emulator.k8s import auth
from emulator.k8s.auth import Attributes, ClusterRef
from tests.unit.emulator.k8s.eks_support import (
    ACCOUNT, POLICY, ObjectList, create_cluster, mint_token, role_binding, token_url, url_token,
)
from tests.unit.emulator.shape_check import client

DEMO = ClusterRef(ACCOUNT, "us-east-1", "demo")
MOTO_USER = f"arn:aws:sts::{ACCOUNT}:user/moto"
AWS = Path(__file__).resolve().parents[4] / ".venv" / "bin" / "aws"


def pods(verb, namespace="default", **kwargs):
    return Attributes(verb=verb, resource="pods", namespace=namespace, **kwargs)


@pytest.fixture
def iam(emulator):
    return client(emulator.url, "iam")


@pytest.fixture
def eks(emulator):
    return client(emulator.url, "eks")


@pytest.fixture
def demo(emulator):
    """An ACTIVE cluster ``demo`` in API_AND_CONFIG_MAP mode, created with the default credentials."""
    return create_cluster(emulator.url)


def iam_user(iam, name):
    """An IAM user with an access key: (ARN, credentials for botocore)."""
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def assumed_role(emulator, iam, name, session="alice@example.com"):
    """A role and credentials of a session of it: (role ARN, credentials)."""
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}]})
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    creds = client(emulator.url, "sts").assume_role(RoleArn=arn, RoleSessionName=session)["Credentials"]
    return arn, {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
                 "aws_session_token": creds["SessionToken"]}


def test_default_credentials_are_admin_through_the_creators_access_entry(emulator, demo):
    token = mint_token(emulator.url, "demo")
    user = auth.authenticate(token, DEMO)
    assert user is not None
    assert user.username == MOTO_USER and user.principal_arn == MOTO_USER
    assert user.groups == ("system:authenticated",)
    assert user.access_policies == (auth.AccessPolicy("AmazonEKSClusterAdminPolicy", "cluster", ()),)
    assert user.uid == f"aws-iam-authenticator:{ACCOUNT}:AKIAIOSFODNN7EXAMPLE"
    assert user.extra["accessKeyId"] == ("testing",) and user.extra["canonicalArn"] == (MOTO_USER,)
    assert user.to_dict()["username"] == MOTO_USER
    for attributes in (pods("create"), pods("delete", name="x"), Attributes("list", resource="nodes"),
                       Attributes("create", "rbac.authorization.k8s.io", "clusterroles"),
                       Attributes("get", path="/metrics")):
        allowed, reason = auth.authorize(user, attributes)
        assert allowed and "AmazonEKSClusterAdminPolicy" in reason, attributes
    # A token for the real STS endpoint (no AWS_ENDPOINT_URL) signed with the same credentials works too.
    assert auth.authenticate(mint_token(None, "demo"), DEMO).username == MOTO_USER
    # The moto cluster object can be given instead of a reference.
    from moto.eks.models import eks_backends
    assert auth.authenticate(token, eks_backends[ACCOUNT]["us-east-1"].clusters["demo"]) == user


def test_iam_user_with_a_view_entry_can_read_but_not_write(emulator, demo, iam, eks):
    arn, creds = iam_user(iam, "viewer")
    eks.create_access_entry(clusterName="demo", principalArn=arn)
    eks.associate_access_policy(clusterName="demo", principalArn=arn, policyArn=POLICY + "AmazonEKSViewPolicy",
                                accessScope={"type": "cluster"})
    user = auth.authenticate(mint_token(emulator.url, "demo", **creds), DEMO)
    assert user.username == arn and user.principal_arn == arn
    assert user.extra["principalId"] == (iam.get_user(UserName="viewer")["User"]["UserId"],)  # as STS reports it
    assert auth.authorize(user, pods("get", name="web"))[0]
    assert auth.authorize(user, pods("list", namespace="kube-system"))[0]
    assert auth.authorize(user, {"verb": "watch", "apiGroup": "apps", "resource": "deployments",
                                 "namespace": "default"})[0]
    allowed, reason = auth.authorize(user, pods("create"))
    assert not allowed
    assert reason == (f'no EKS access policy (associated: AmazonEKSViewPolicy (cluster scope)) or RBAC binding '
                      f'allows user "{arn}" to create resource "pods" in API group "" in the namespace "default"')
    assert not auth.authorize(user, Attributes("get", resource="secrets", namespace="default", name="s"))[0]
    assert not auth.authorize(user, Attributes("list", resource="nodes"))[0]
    # Every authenticated user may discover the API.
    for path in ("/version", "/api", "/apis/apps/v1", "/openapi/v3/api/v1", "/healthz"):
        assert auth.authorize(user, Attributes("get", path=path))[0], path
    assert not auth.authorize(user, Attributes("get", path="/metrics"))[0]
    assert auth.authorize(user, Attributes("create", "authorization.k8s.io", "selfsubjectaccessreviews"))[0]

    # Policies and entries are read at each request: a disassociated policy or a deleted entry stops working.
    eks.disassociate_access_policy(clusterName="demo", principalArn=arn, policyArn=POLICY + "AmazonEKSViewPolicy")
    user = auth.authenticate(mint_token(emulator.url, "demo", **creds), DEMO)
    assert user.access_policies == () and not auth.authorize(user, pods("get", name="web"))[0]
    eks.delete_access_entry(clusterName="demo", principalArn=arn)
    assert auth.authenticate(mint_token(emulator.url, "demo", **creds), DEMO) is None

    # An inactive or deleted access key no longer signs anything.
    eks.create_access_entry(clusterName="demo", principalArn=arn)
    token = mint_token(emulator.url, "demo", **creds)
    assert auth.authenticate(token, DEMO) is not None
    iam.update_access_key(UserName="viewer", AccessKeyId=creds["aws_access_key_id"], Status="Inactive")
    assert auth.authenticate(token, DEMO) is None
    iam.delete_access_key(UserName="viewer", AccessKeyId=creds["aws_access_key_id"])
    assert auth.authenticate(token, DEMO) is None


def test_namespace_scoped_edit_for_an_assumed_role(emulator, demo, iam, eks):
    role, creds = assumed_role(emulator, iam, "developers")
    eks.create_access_entry(clusterName="demo", principalArn=role)
    eks.associate_access_policy(clusterName="demo", principalArn=role, policyArn=POLICY + "AmazonEKSEditPolicy",
                                accessScope={"type": "namespace", "namespaces": ["apps", "team-*"]})
    user = auth.authenticate(mint_token(emulator.url, "demo", **creds), DEMO)
    # The entry's default username, {{SessionName}} filled in ("@" becomes "-", as EKS does).
    assert user.username == f"arn:aws:sts::{ACCOUNT}:assumed-role/developers/alice-example.com"
    assert user.principal_arn == role
    assert user.extra["sessionName"] == ("alice@example.com",)
    assert user.extra["arn"] == (f"arn:aws:sts::{ACCOUNT}:assumed-role/developers/alice@example.com",)
    deployments = {"verb": "create", "api_group": "apps", "resource": "deployments"}
    allowed, reason = auth.authorize(user, {**deployments, "namespace": "apps"})
    assert allowed and reason == "allowed by EKS access policy AmazonEKSEditPolicy (namespace scope: apps, team-*)"
    assert auth.authorize(user, {**deployments, "namespace": "team-a"})[0]
    assert auth.authorize(user, Attributes("get", resource="secrets", namespace="apps", name="db"))[0]
    for attributes in ({**deployments, "namespace": "default"}, {**deployments, "namespace": "teams"},
                       {"verb": "list", "resource": "namespaces"},
                       {"verb": "create", "api_group": "rbac.authorization.k8s.io", "resource": "roles",
                        "namespace": "apps"}):
        assert not auth.authorize(user, attributes)[0], attributes
    # A namespace-scoped policy never reaches non-resource URLs (only the default discovery grants do).
    assert not auth.authorize(user, Attributes("get", path="/metrics"))[0]

    # The entry's username and groups are templates too.
    eks.update_access_entry(clusterName="demo", principalArn=role, username="dev:{{AccountID}}:{{SessionNameRaw}}",
                            kubernetesGroups=["devs"])
    user = auth.authenticate(mint_token(emulator.url, "demo", **creds), DEMO)
    assert user.username == f"dev:{ACCOUNT}:alice@example.com"
    assert user.groups == ("devs", "system:authenticated")


def test_admin_policy_and_rbac_groups(emulator, demo, iam, eks):
    arn, creds = iam_user(iam, "ops")
    eks.create_access_entry(clusterName="demo", principalArn=arn, kubernetesGroups=["app-devs"])
    user = auth.authenticate(mint_token(emulator.url, "demo", **creds), DEMO)
    assert user.groups == ("app-devs", "system:authenticated") and user.access_policies == ()
    store = ObjectList(*auth.bootstrap_rbac())
    create = {"verb": "create", "api_group": "apps", "resource": "deployments"}
    assert not auth.authorize(user, {**create, "namespace": "apps"}, store)[0]

    # A RoleBinding of the edit ClusterRole to the entry's Kubernetes group grants it in that namespace.
    store.add(role_binding("devs-edit", "apps", "ClusterRole", "edit", ("Group", "app-devs")))
    allowed, reason = auth.authorize(user, {**create, "namespace": "apps"}, store)
    assert allowed
    assert reason == 'RBAC: allowed by RoleBinding "apps/devs-edit" of ClusterRole "edit" to Group "app-devs"'
    assert not auth.authorize(user, {**create, "namespace": "default"}, store)[0]
    assert not auth.authorize(user, {"verb": "create", "api_group": "rbac.authorization.k8s.io",
                                     "resource": "rolebindings", "namespace": "apps"}, store)[0]

    # AmazonEKSAdminPolicy in a namespace: RBAC objects there too, not cluster-wide resources.
    eks.associate_access_policy(clusterName="demo", principalArn=arn, policyArn=POLICY + "AmazonEKSAdminPolicy",
                                accessScope={"type": "namespace", "namespaces": ["ops"]})
    user = auth.authenticate(mint_token(emulator.url, "demo", **creds), DEMO)
    assert auth.authorize(user, {"verb": "create", "api_group": "rbac.authorization.k8s.io",
                                 "resource": "rolebindings", "namespace": "ops"}, store)[0]
    assert not auth.authorize(user, {"verb": "create", "resource": "namespaces"}, store)[0]
    # The namespace itself (kube-apiserver gives a namespace request its own name as namespace).
    assert auth.authorize(user, {"verb": "get", "resource": "namespaces", "namespace": "ops", "name": "ops"}, store)[0]


def test_config_map_mode_creator_and_aws_auth(emulator, iam):
    create_cluster(emulator.url, mode="CONFIG_MAP")
    creator = auth.authenticate(mint_token(emulator.url, "demo"), DEMO)
    assert creator.username == "kubernetes-admin" and "system:masters" in creator.groups
    allowed, reason = auth.authorize(creator, pods("create"))
    assert allowed and "system:masters" in reason

    role, creds = assumed_role(emulator, iam, "ci")
    token = mint_token(emulator.url, "demo", **creds)
    assert auth.authenticate(token, DEMO) is None  # no aws-auth entry yet
    aws_auth = {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "aws-auth", "namespace": "kube-system"},
        "data": {"mapRoles": f"- rolearn: {role}\n  username: ci:{{{{SessionName}}}}\n  groups: [ci-deployers]\n"},
    }
    store = ObjectList(aws_auth)
    user = auth.authenticate(token, DEMO, store=store)
    assert user.username == "ci:alice-example.com" and user.groups == ("ci-deployers", "system:authenticated")

    # Once access entries are on, the creator has an access entry instead.
    client(emulator.url, "eks").update_cluster_config(name="demo",
                                                      accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})
    creator = auth.authenticate(mint_token(emulator.url, "demo"), DEMO)
    assert creator.username == MOTO_USER and creator.access_policies[0].name == "AmazonEKSClusterAdminPolicy"
    assert auth.authenticate(token, DEMO, store=store).username == "ci:alice-example.com"  # aws-auth still read


def test_cluster_without_creator_admin(emulator):
    create_cluster(emulator.url, bootstrapClusterCreatorAdminPermissions=False)
    assert auth.authenticate(mint_token(emulator.url, "demo"), DEMO) is None


def test_rejected_tokens(emulator, demo, iam, eks, caplog):
    arn, creds = iam_user(iam, "nobody")  # a valid principal without an access entry
    other = create_cluster(emulator.url, name="other", network=demo["network"])
    assert other["name"] == "other"
    role, role_creds = assumed_role(emulator, iam, "temp")
    eks.create_access_entry(clusterName="demo", principalArn=role)
    without_session_token = {key: value for key, value in role_creds.items() if key != "aws_session_token"}
    good = mint_token(emulator.url, "demo")
    url = token_url(good)
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))

    def with_query(**changes):
        new = {**query, **changes}
        return url_token(urlunsplit(parts._replace(query=urlencode({k: v for k, v in new.items() if v is not None}))))

    signature = query["X-Amz-Signature"]
    tampered = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    cases = {
        "unknown principal": mint_token(emulator.url, "demo", **creds),
        "unknown access key": mint_token(emulator.url, "demo", aws_access_key_id="AKIAUNKNOWN000000000",
                                         aws_secret_access_key="x"),
        "wrong secret": mint_token(emulator.url, "demo", aws_access_key_id="testing", aws_secret_access_key="nope"),
        "wrong cluster id": mint_token(emulator.url, "other"),
        "session without its token": mint_token(emulator.url, "demo", **without_session_token),
        "tampered signature": with_query(**{"X-Amz-Signature": tampered}),
        "non-ASCII signature": with_query(**{"X-Amz-Signature": "é" * 64}),
        "altered date": with_query(**{"X-Amz-Date": query["X-Amz-Date"][:-1] + "9"}),
        "unsigned cluster header": with_query(**{"X-Amz-SignedHeaders": "host"}),
        "other action": with_query(Action="GetSessionToken"),
        "other version": with_query(Version="2012-01-01"),
        "extra parameter": with_query(Foo="bar"),
        "long expiry": with_query(**{"X-Amz-Expires": "901"}),
        "no date": with_query(**{"X-Amz-Date": None}),
        "other host": url_token(url.replace(parts.netloc, "evil.example.com")),
        "sts over http": url_token(urlunsplit(parts._replace(scheme="http", netloc="sts.amazonaws.com"))),
        "other path": url_token(urlunsplit(parts._replace(path="/x"))),
        "padding": good + "==",
        "no prefix": good[len("k8s-aws-v1."):],
        "garbage": "k8s-aws-v1.!!!not-base64!!!",
        "empty": "",
        "prefix only": "k8s-aws-v1.",
        "not a url": url_token("definitely not a URL"),
        "too large": "k8s-aws-v1." + "A" * 5000,
        "not a string": None,
    }
    role_token = mint_token(emulator.url, "demo", **role_creds)
    # From here on, only the emulator runs (botocore's presigner logs the signatures it makes at DEBUG).
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    assert auth.authenticate(good, DEMO) is not None
    for name, token in cases.items():
        assert auth.authenticate(token, DEMO) is None, name
    assert auth.authenticate(good, ClusterRef(ACCOUNT, "us-east-1", "missing")) is None
    assert auth.authenticate(good, ClusterRef(ACCOUNT, "eu-west-1", "demo")) is None

    # Expired: 15 minutes after X-Amz-Date (whatever X-Amz-Expires says), as STS and the authenticator do.
    signed = datetime.datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    assert auth.authenticate(good, DEMO, now=signed + datetime.timedelta(minutes=14, seconds=59)) is not None
    assert auth.authenticate(good, DEMO, now=signed + datetime.timedelta(minutes=15, seconds=1)) is None
    assert auth.authenticate(good, DEMO, now=signed - datetime.timedelta(minutes=16)) is None

    # An assumed role's session works until its credentials expire (one hour by default).
    assert auth.authenticate(role_token, DEMO) is not None
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2)
    assert auth.authenticate(role_token, DEMO, now=later) is None

    # Rejections are logged with a reason, never with the token or any part of it.
    assert "token rejected" in caplog.text
    assert "signature does not match" in caplog.text
    assert "verification failed" not in caplog.text  # every case above is a reasoned rejection
    secrets = [signature, tampered, query["X-Amz-Signature"], url, role_creds["aws_session_token"]]
    secrets += [token[len("k8s-aws-v1."):][:40] for token in [good, role_token, *cases.values()] if token]
    secrets = [secret for secret in secrets if len(secret) > 12]
    for record in caplog.records:
        message = record.getMessage() + str(record.exc_info or "")
        for secret in secrets:
            assert secret not in message, record.name


def test_tokens_never_reach_logs_or_exceptions(emulator, demo, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    token = mint_token(emulator.url, "demo")

    def boom(*args, **kwargs):
        raise ValueError(f"cannot handle {args!r}")  # an exception message quoting its input

    caplog.clear()
    monkeypatch.setattr(auth, "resolve_access_key", boom)
    assert auth.authenticate(token, DEMO) is None
    assert "token verification failed (ValueError)" in caplog.text
    monkeypatch.undo()
    body = token[len("k8s-aws-v1."):]
    assert token not in caplog.text and body[:40] not in caplog.text and "X-Amz-Signature" not in caplog.text
    with pytest.raises(auth.TokenRejected) as excinfo:
        auth.verify_token(token, "other")
    assert body[:40] not in str(excinfo.value) and "X-Amz" not in str(excinfo.value)


def test_rbac_rules():
    user = auth.UserInfo("jane", ("readers", "system:authenticated"))
    robot = auth.UserInfo("system:serviceaccount:ci:deployer", ("system:serviceaccounts", "system:authenticated"))
    store = ObjectList(*auth.bootstrap_rbac()).add(
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "cm", "namespace": "a"},
         "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["settings"],
                    "verbs": ["get", "update"]},
                   {"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["get"]}]},
        role_binding("jane-cm", "a", "Role", "cm", ("User", "jane")),
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "crd-reader", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
         "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "readers"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
         "subjects": [{"kind": "Group", "name": "readers"}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "deployer", "namespace": "ci"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
         "subjects": [{"kind": "ServiceAccount", "name": "deployer"}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "metrics"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "metrics"},
         "subjects": [{"kind": "User", "name": "jane"}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "metrics"},
         "rules": [{"nonResourceURLs": ["/metrics", "/logs/*"], "verbs": ["get"]}]},
    )

    def allowed(who, **attributes):
        return auth.authorize(who, attributes, store)[0]

    # resourceNames: only that object, and never list/create (no name).
    assert allowed(user, verb="get", resource="configmaps", namespace="a", name="settings")
    assert allowed(user, verb="update", resource="configmaps", namespace="a", name="settings")
    assert not allowed(user, verb="update", resource="configmaps", namespace="a", name="other")
    assert not allowed(user, verb="create", resource="configmaps", namespace="a")
    # "*/status" matches any resource's status subresource; "*" groups.
    assert allowed(user, verb="get", api_group="apps", resource="deployments", subresource="status", namespace="a")
    assert not allowed(user, verb="get", api_group="apps", resource="deployments", subresource="rollback",
                       namespace="a")
    # view through a ClusterRoleBinding, with a custom resource aggregated into view by its label.
    assert allowed(user, verb="list", resource="pods", namespace="b")
    assert allowed(user, verb="get", api_group="example.com", resource="widgets", namespace="b", name="w")
    assert not allowed(user, verb="get", resource="secrets", namespace="b", name="s")
    # nonResourceURLs, exact and prefix.
    assert allowed(user, verb="get", path="/metrics") and allowed(user, verb="get", path="/logs/kube.log")
    assert not allowed(user, verb="post", path="/metrics") and not allowed(user, verb="get", path="/logs")
    # A ServiceAccount subject (namespace from its binding), admin aggregated from edit and view.
    assert allowed(robot, verb="create", api_group="rbac.authorization.k8s.io", resource="roles", namespace="ci")
    assert allowed(robot, verb="create", api_group="apps", resource="deployments", namespace="ci")
    assert allowed(robot, verb="watch", resource="pods", namespace="ci")
    assert not allowed(robot, verb="create", resource="pods", namespace="default")
    # Without a store only policies and default grants count.
    assert not auth.authorize(user, {"verb": "list", "resource": "pods", "namespace": "b"})[0]
    assert auth.authorize(user, {"verb": "get", "path": "/version"})[0]
    # An anonymous-ish user without system:authenticated gets nothing by default.
    assert not auth.authorize(auth.UserInfo("x", ()), {"verb": "get", "path": "/version"})[0]

    resource_rules, non_resource_rules = auth.rules_for(user, "a", store)
    assert {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["settings"],
            "verbs": ["get", "update"]} in resource_rules
    assert {"verbs": ["get"], "nonResourceURLs": ["/metrics", "/logs/*"]} in non_resource_rules


def test_bootstrap_rbac_matches_kubernetes_names_and_aggregation():
    objects = {(obj["kind"], obj["metadata"]["name"]): obj for obj in auth.bootstrap_rbac()}
    for name in ("cluster-admin", "admin", "edit", "view"):
        assert ("ClusterRole", name) in objects
    assert objects[("ClusterRoleBinding", "cluster-admin")]["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}]
    view = objects[("ClusterRole", "view")]
    assert view["aggregationRule"]["clusterRoleSelectors"] == [
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}]
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    view_user = auth.UserInfo("v", ("v",))
    store = ObjectList(*objects.values(), {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "v"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "Group", "name": "v"}]})
    assert not auth.authorize(view_user, {"verb": "get", "resource": "secrets", "namespace": "x", "name": "s"},
                              store)[0]
    # The EKS policies and the Kubernetes roles agree where AWS says they do.
    for policy, role in (("AmazonEKSViewPolicy", "view"),):
        assert auth.ACCESS_POLICY_RULES[policy] == objects[("ClusterRole", role)]["rules"]


@pytest.mark.skipif(not AWS.exists() and not shutil.which("aws"), reason="awscli is not installed")
def test_aws_eks_get_token_against_the_emulator(emulator, demo, iam, eks, tmp_path):
    aws = str(AWS) if AWS.exists() else shutil.which("aws")
    env = {**os.environ, "AWS_ENDPOINT_URL": emulator.url, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "creds")}
    env.pop("AWS_PROFILE", None)

    def get_token(*args):
        output = subprocess.run([aws, "eks", "get-token", "--cluster-name", "demo", *args], env=env, check=True,
                                capture_output=True, text=True, timeout=60).stdout
        credential = json.loads(output)
        assert credential["kind"] == "ExecCredential"
        return credential["status"]["token"]

    user = auth.authenticate(get_token(), DEMO)
    assert user is not None and user.username == MOTO_USER
    assert auth.authorize(user, pods("create"))[0]

    # --role-arn: awscli assumes the role through the emulator's STS, then signs with the session.
    role, _ = assumed_role(emulator, iam, "cli-admins")
    eks.create_access_entry(clusterName="demo", principalArn=role)
    eks.associate_access_policy(clusterName="demo", principalArn=role, policyArn=POLICY + "AmazonEKSViewPolicy",
                                accessScope={"type": "cluster"})
    user = auth.authenticate(get_token("--role-arn", role), DEMO)
    # awscli's default session name (awscli 1.x has no --session-name)
    assert user.username == f"arn:aws:sts::{ACCOUNT}:assumed-role/cli-admins/EKSGetTokenAuth"
    assert user.principal_arn == role
    assert auth.authorize(user, pods("list"))[0] and not auth.authorize(user, pods("create"))[0]


def test_authorization_reads_the_apiservers_store(emulator):
    store_module = pytest.importorskip("emulator.k8s.store")
    store = store_module.Store()

    def create(obj):
        store.create(store.resources.for_kind(obj["apiVersion"], obj["kind"]), obj)

    for obj in auth.bootstrap_rbac():
        create(obj)
    create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}})
    create(role_binding("devs", "apps", "ClusterRole", "edit", ("Group", "devs")))
    dev = auth.UserInfo("dev", ("devs", "system:authenticated"))
    allowed, reason = auth.authorize(dev, {"verb": "create", "api_group": "apps", "resource": "deployments",
                                           "namespace": "apps"}, store)
    assert allowed and reason.startswith('RBAC: allowed by RoleBinding "apps/devs"')
    assert not auth.authorize(dev, {"verb": "create", "resource": "pods", "namespace": "default"}, store)[0]
    master = auth.UserInfo("root", ("system:masters",))
    assert auth.authorize(master, {"verb": "delete", "resource": "nodes", "name": "n"}, store)[0]

    # aws-auth is read from the store too.
    create_cluster(emulator.url, mode="API_AND_CONFIG_MAP")
    create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "aws-auth", "namespace": "kube-system"},
            "data": {"mapAccounts": f"- \"{ACCOUNT}\"\n"}})
    iam = client(emulator.url, "iam")
    arn, creds = iam_user(iam, "someone")
    user = auth.authenticate(mint_token(emulator.url, "demo", **creds), DEMO, store=store)
    assert user.username == arn and user.groups == ("system:authenticated",)
